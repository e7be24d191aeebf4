"""WebRTC calls on the same core and driver as the WebSocket (docs/protocol.md §1, §11, §12).

An app built for OpenAI's Realtime API over WebRTC posts its SDP offer here instead and talks to
this server unchanged: events on the ``oai-events`` data channel, the microphone on an audio
track, the reply on the track back. The modules, each small:

- :mod:`.endpoint`: the HTTP endpoints (offer/answer, hangup) and the sideband WebSocket join;
- :mod:`.call`: one call, its peer connection wired to one ``SessionDriver``, and its ending;
- :mod:`.datachannel`: the ``oai-events`` channel, both directions;
- :mod:`.audio_in`: the peer's audio track into the session's input buffer;
- :mod:`.audio_out`: the paced outbound track, which plays the responses and reports playback;
- :mod:`.sideband`: an app server joined to a call's event stream;
- :mod:`.registry`: calls by id (the one place that changes when routing moves to Redis);
- :mod:`.ice`: ``REALTIME_ICE_SERVERS``.
"""

from transport.webrtc.endpoint import hang_up_all, join_call, router

__all__ = ["hang_up_all", "join_call", "router"]
