"""An entry's session defaults beneath a client secret's session: the configuration a session
opens with.

Why layered like this: an entry's ``voice`` and ``instructions`` are what its sessions start
with unless someone says otherwise, so they go first and a client secret's session (then the
client's own ``session.update``) is applied on top, by the same merge rules as an update. A
transcription session has neither field, so it gets no defaults.
"""

from __future__ import annotations

from typing import Any

from realtime_session.session_config import SessionConfig


def layered_session(
    defaults: dict[str, Any],
    *,
    model: str,
    session_type: str,
    initial: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The initial session for ``RealtimeSession(initial_session=...)``.

    Args:
        defaults: The entry's GA session fragment (may be empty).
        model: The model name the session reports (the one the client asked for).
        session_type: ``realtime`` or ``transcription`` (``initial``'s own type wins).
        initial: A client secret's validated session (or a call's), or None.

    Returns:
        ``initial`` when there is nothing to put beneath it; else the full body. Either way a
        ``model`` in it is ``model``: the session reports the name that chose its entry (a call's
        form may name another than the client secret that decided).
    """
    if initial is not None:
        session_type = initial.get("type", session_type)
    if not defaults or session_type != "realtime":
        if initial is not None and "model" in initial and initial["model"] != model:
            return {**initial, "model": model}
        return initial
    config = SessionConfig(model, "realtime")
    config.apply(config.merged(defaults))
    if initial is not None:
        config.apply(config.merged(initial))
    return config.merged({"model": model})
