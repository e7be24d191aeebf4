"""Zhipu's GLM-Realtime as an upstream: :class:`GLMDialect` (docs/glm.md has the sources).

GLM-Realtime (``wss://open.bigmodel.cn/api/paas/v4/realtime``, ``Authorization: Bearer <key>``,
models ``glm-realtime-flash`` / ``glm-realtime-air`` named in ``session.update``) speaks a
variant of OpenAI's *beta* Realtime protocol: flat sessions, ``response.audio.*`` events, input
audio as base64 WAV files at 16 kHz, output as PCM16 at 24 kHz, ``client_vad`` / ``server_vad``,
and extra ``beta_fields`` (``chat_mode`` is required). :class:`GLMDialect` translates one session:

Client events, GA -> GLM (``event_id`` kept; ``client_timestamp`` added, as GLM's clients do):

=================================  ==========================================================
GA                                 GLM
=================================  ==========================================================
``session.update`` (realtime)      ``session.update`` with the *whole* GLM session (GLM resets
                                   what an update leaves out): fields in the table below
``session.update`` (transcription) refused: ``error`` ``invalid_value`` (``session.type``)
``input_audio_buffer.append``      ``input_audio_buffer.append``: the client's format
                                   (``audio/pcm`` 24 kHz, ``audio/pcmu``, ``audio/pcma``)
                                   decoded, resampled (soxr, streaming) to 16 kHz and sent as
                                   100 ms WAV files (``input_format="pcm16"``/``"pcm24"``: raw
                                   PCM16 at 16/24 kHz); may send nothing until 100 ms are held
``input_audio_buffer.commit``      the held audio (resampler tail included), then ``commit``
``input_audio_buffer.clear``       ``clear`` (held audio dropped)
``conversation.item.create``       same, items as in the item table below; an item GLM cannot
                                   hold (no usable content, unknown type) is refused
``conversation.item.retrieve``,    the same event (GLM's schema has both)
``conversation.item.delete``
``conversation.item.truncate``     not sent; answered with ``conversation.item.truncated`` (GLM
                                   cannot cut its memory of the reply; it keeps all of it)
``response.create``                ``response.create`` without parameters (GLM takes none: the
                                   per-response overrides are dropped); ``conversation: "none"``
                                   and ``input`` are refused (GLM has no out-of-band responses)
``response.cancel``                ``response.cancel``; a running response is ended for the
                                   client at once (``response.done`` ``cancelled``,
                                   ``client_cancelled``) and GLM's late events for it dropped
``output_audio_buffer.clear``      refused (no output buffer upstream)
=================================  ==========================================================

The first event sent upstream is always a complete ``session.update`` (it goes out with the
first client event, whatever that is), because GLM starts in ``client_vad`` with WAV input while
a GA client expects server VAD; :meth:`GLMDialect.initial_upstream_events` gives it to a relay
that prefers to send it right after connecting.

Session fields, GA -> GLM (the GA session reported back is the client's, except where noted):

==================================  ===========================================================
GA                                  GLM
==================================  ===========================================================
(always)                            ``model``, ``output_audio_format: "pcm"``,
                                    ``input_audio_format`` (``wav``), ``beta_fields``
                                    ``{"chat_mode": "audio", "tts_source": "e2e", ...}``
``output_modalities ["audio"]``     ``modalities ["text", "audio"]``
``output_modalities ["text"]``      ``modalities ["text"]``
``instructions``                    ``instructions`` (until the client sets some, the GA
                                    session reports GLM's own, if GLM reports them)
``audio.output.voice``              ``voice`` if it is one of GLM's voices (``tongtong``,
                                    ``female-tianmei``, ...), else the dialect's default voice;
                                    the GA session reports the voice GLM uses
``audio.input.turn_detection``      ``server_vad`` (``threshold``, ``prefix_padding_ms``,
``server_vad`` / ``semantic_vad``   ``silence_duration_ms`` when the client set them); reported
                                    as ``server_vad`` with ``create_response`` and
                                    ``interrupt_response`` true (GLM always does both)
``audio.input.turn_detection null`` ``client_vad``
``audio.input.noise_reduction``     ``input_audio_noise_reduction`` (``near_field``/``far_field``)
``tools`` (function tools)          ``tools`` ``{type, name, description, parameters}``; other
                                    tool types are dropped
``max_output_tokens`` N / ``inf``   ``max_response_output_tokens`` ``"min(N, 1024)"`` / absent
``audio.input/output.format``       kept by the dialect, which converts the audio
``audio.input.transcription``       nothing (GLM always transcribes); the client gets the
                                    transcription events only while it is set, as in GA
``tool_choice``, ``speed``,         nothing (reported as the client set them, without effect)
``tracing``, ``truncation``,
``prompt``, ``include``
==================================  ===========================================================

Items, GA <-> GLM: user/system ``input_text`` <-> ``input_text``; user ``input_audio`` <->
``input_audio`` (the audio converted like appends, into one WAV file); assistant ``output_text``
<-> ``text``, assistant ``output_audio`` -> ``text`` holding its transcript (GLM ``audio`` parts
-> ``output_audio``); ``input_image`` parts are dropped (GLM's video frames are a separate,
camera-only event); ``function_call`` and ``function_call_output`` as they are. GLM may give a
function call no ``call_id``: the dialect makes one up for the client and leaves it out again in
the ``function_call_output`` it sends back (GLM pairs outputs with the latest call).

Server events, GLM -> GA (every GA event gets a fresh ``event_id``):

=====================================================  ======================================
GLM                                                    GA
=====================================================  ======================================
``session.created`` / ``session.updated``              ``session.created`` the first time,
                                                       then ``session.updated``, with the GA
                                                       session described above
``conversation.created``                               same
``conversation.item.created``                          ``conversation.item.added`` +
                                                       ``conversation.item.done`` (an
                                                       assistant item of a running response:
                                                       opens that response's message)
``input_audio_buffer.committed`` / ``.cleared``        same (``item_id`` made up if missing)
``input_audio_buffer.speech_started`` / ``_stopped``   same, with ``audio_start_ms`` /
                                                       ``audio_end_ms`` from the dialect's
                                                       clock of appended audio if GLM gives
                                                       none, and an ``item_id``
``conversation.item.input_audio_transcription.*``      same, while transcription is set;
                                                       ``usage`` is the turn's duration
``response.created``                                   ``response.created`` (GA response
                                                       object); a new one while another runs
                                                       ends that one (``cancelled``,
                                                       ``turn_detected``)
``response.audio_transcript.delta`` / ``.done``        ``response.output_audio_transcript.*``
``response.text.delta`` / ``.done``                    ``response.output_text.*`` (text
                                                       sessions; in audio sessions the text is
                                                       the transcript)
``response.audio.delta`` / ``.done``                   ``response.output_audio.*``, 24 kHz
                                                       PCM16 converted to the client's format
``response.output_item.*``, ``response.content_part.*`` folded into the GA sequence, which the
                                                       dialect opens on the first output and
                                                       closes at ``.done`` / ``response.done``
``response.function_call_arguments.done``              the GA function call sequence
                                                       (``output_item.added``, ``item.added``,
                                                       ``arguments.delta``, ``arguments.done``,
                                                       ``item.done``, ``output_item.done``)
``response.done`` / ``response.cancelled``             ``response.done`` with ``output``,
                                                       ``status_details`` and GA ``usage``
``error``                                              ``error`` (OpenAI shape)
``heartbeat``, ``response.function_call               dropped
.simple_browser`` (GLM's built-in search), unknown
=====================================================  ======================================

**Answering the client directly.** A dialect returns upstream events only, but a few GA events
must be answered without GLM (a refused event's ``error``, the truncation ack, the immediate
``response.done`` of a cancel). They are appended to :attr:`GLMDialect.pending_client_events`;
the relay sends them to the client after every ``client_to_upstream`` call, in order, and
clears the list (or calls :meth:`GLMDialect.drain_client_events`). ``upstream_to_client`` never
adds to it.
"""

from relay.dialects.glm.audio import GLM_INPUT_RATES, GLM_OUTPUT_RATE, GLMInputFormat
from relay.dialects.glm.dialect import (
    GLM_DEFAULT_MODEL,
    GLM_DEFAULT_URL,
    GLMDialect,
    glm_headers,
)
from relay.dialects.glm.session import GLM_DEFAULT_VOICE, GLM_MODELS, GLM_VOICES

__all__ = [
    "GLM_DEFAULT_MODEL",
    "GLM_DEFAULT_URL",
    "GLM_DEFAULT_VOICE",
    "GLM_INPUT_RATES",
    "GLM_MODELS",
    "GLM_OUTPUT_RATE",
    "GLM_VOICES",
    "GLMDialect",
    "GLMInputFormat",
    "glm_headers",
]
