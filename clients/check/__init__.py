"""``test_client.py``: the automatic end-to-end check of a running server, and the text chat.

- :mod:`.session`: one Realtime connection read as raw JSON events, and what a reply produced,
- :mod:`.steps`: the five checks (health, session, text turn, audio turn, tool call),
- :mod:`.chat`: the interactive text chat (``-i``),
- :mod:`.cli`: the command line.

It needs nothing beyond the server's own requirements (the official ``openai`` SDK).
"""
