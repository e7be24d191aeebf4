"""The terminal clients that ship with the server, and the code they share.

``push_to_talk_app.py`` (the Textual voice client) and ``test_client.py`` (the end-to-end check
and text chat) stay at the top of the repository as the commands users run; their code lives
here so that what both need is written once:

- :mod:`clients.wav`: the ``audio/pcm`` format (24 kHz mono PCM16) and WAV files in it,
- :mod:`clients.connection`: server URLs and the ``openai`` SDK client for them,
- :mod:`clients.events`: client event builders and readable server errors,
- :mod:`clients.push_to_talk`: the TUI, split by role,
- :mod:`clients.check`: the automatic check and the interactive chat of ``test_client.py``.

Nothing in here is imported by the server.
"""
