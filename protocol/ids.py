"""Identifiers in the shapes the OpenAI Realtime API uses (``event_...``, ``item_...``, ...)."""

from __future__ import annotations

import random
import string

_ALPHABET = string.ascii_letters + string.digits
# Ids only need to be unique, not secret (secrets such as ``ek_`` keys use the ``secrets`` module),
# and one is minted per server event, so the fast non-cryptographic generator is the right tool.
_rng = random.Random()


def new_id(prefix: str, length: int = 21) -> str:
    """Return ``<prefix>_<21 random alphanumerics>`` (~125 bits: unique in practice)."""
    return f"{prefix}_" + "".join(_rng.choices(_ALPHABET, k=length))
