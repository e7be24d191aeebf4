"""The beta dialect of the Realtime API, translated at the edge (docs/protocol.md §9).

The core (:mod:`realtime_session`) speaks GA only. A connection that speaks beta goes through this
package in both directions, so there is one session model and no second copy of its logic:

- :func:`parse_beta_client_event` validates a beta client event strictly against the SDK's beta
  TypedDicts (``openai.types.beta.realtime.*_param``), with the same error codes, messages and
  ``param`` paths as :func:`protocol.validation.parse_client_event`, and returns the equivalent
  GA client event as a :class:`~protocol.client_event.ClientEvent` (GA-shaped ``data``, an
  append's ``audio`` decoded; the core takes it as it takes a GA event);
- :class:`BetaServerTranslator` turns each GA server event the core emits into the beta server
  events (zero or one) that a beta client expects; each validates under the SDK's beta union
  ``openai.types.beta.realtime.RealtimeServerEvent`` in strict mode.

The modules: :mod:`.schema` (the beta schema and its corrections), :mod:`.checks` (beta checks
beyond the schema), :mod:`.client_to_ga` (client events to GA), :mod:`.parse` (the client entry
point), :mod:`.params` (how the two dialects name the same things), :mod:`.objects` and
:mod:`.server_to_beta` (server events to beta).

Client events, beta -> GA (``event_id`` is always kept):

================================  ===========================================================
beta                              GA
================================  ===========================================================
``session.update``                ``session.update`` with ``session.type = "realtime"``
``transcription_session.update``  ``session.update`` with ``session.type = "transcription"``
``conversation.item.create``      same; assistant content ``text``/``audio`` ->
                                  ``output_text``/``output_audio``
``response.create``               same, with the response fields below; ``input`` items as
                                  for ``conversation.item.create``, item references unchanged
all other client events           unchanged (``input_audio_buffer.append/commit/clear``,
                                  ``conversation.item.retrieve/truncate/delete``,
                                  ``response.cancel``, ``output_audio_buffer.clear``)
================================  ===========================================================

Session and response fields, beta -> GA (:data:`GA_TO_BETA_PARAMS` is the reverse, for errors):

=======================================  ===================================================
beta                                     GA
=======================================  ===================================================
``modalities`` with ``"audio"``          ``output_modalities: ["audio"]``
``modalities: ["text"]``                 ``output_modalities: ["text"]``
``input_audio_format``                   ``audio.input.format`` (``pcm16`` ->
                                         ``{"type": "audio/pcm", "rate": 24000}``, ``g711_ulaw``
                                         -> ``{"type": "audio/pcmu"}``, ``g711_alaw`` ->
                                         ``{"type": "audio/pcma"}``)
``input_audio_transcription``            ``audio.input.transcription``
``input_audio_noise_reduction``          ``audio.input.noise_reduction``
``turn_detection``                       ``audio.input.turn_detection`` (``type`` defaults to
                                         ``server_vad``; fields of the other VAD type dropped)
``output_audio_format``, ``voice``,      ``audio.output.format``, ``audio.output.voice``,
``speed``                                ``audio.output.speed`` (responses: no speed)
``max_response_output_tokens``           ``max_output_tokens``
``tool_choice`` ``auto|none|required``   the same string
``tool_choice`` any other string         ``{"type": "function", "name": <string>}``
``instructions``, ``tools``,             unchanged
``tracing``, ``model``, ``include``,
``conversation``, ``metadata``
``temperature`` (0.6..1.2)               validated, then dropped (GA has no temperature)
``client_secret``                        validated, then dropped (only meaningful over REST)
``modalities`` of a transcription        validated, then dropped (a transcription session
session                                  never responds)
=======================================  ===================================================

Server events, GA -> beta:

==============================================  ============================================
GA                                              beta
==============================================  ============================================
``session.created`` (realtime)                  ``session.created``, session flattened
``session.updated`` (realtime)                  ``session.updated``, session flattened
``session.created`` (transcription)             ``session.created``, transcription fields
                                                flattened (the beta union has no
                                                ``transcription_session.created``)
``session.updated`` (transcription)             ``transcription_session.updated``
``conversation.item.added``                     ``conversation.item.created``
                                                (``previous_item_id`` kept)
``response.output_audio.delta/.done``           ``response.audio.delta/.done``
``response.output_audio_transcript.*``          ``response.audio_transcript.*``
``response.output_text.delta/.done``            ``response.text.delta/.done``
``response.created``, ``response.done``         same; response object with ``modalities``,
                                                ``voice``, ``output_audio_format``
``response.function_call_arguments.done``       same without ``name``
``conversation.item.input_audio_transcription   same without ``languages``
.completed``
``error``                                       same; ``param`` (and the path in the message)
                                                mapped to the beta path
items everywhere (item events,                  assistant content ``output_text`` /
``response.output_item.*``, ``response.done``   ``output_audio`` -> ``text`` / ``audio``;
output, ``conversation.item.retrieved``)        ``input_image`` parts dropped
other events in both unions                     unchanged (top-level fields the beta model
                                                lacks are removed)
==============================================  ============================================

Dropped server events (no beta equivalent; :data:`DROPPED_SERVER_EVENT_TYPES`):
``conversation.item.done`` (beta announces an item once, with ``conversation.item.created``),
``input_audio_buffer.timeout_triggered`` (beta clients cannot set ``idle_timeout_ms``; the commit
and response that follow it are still sent), ``conversation.item.input_audio_transcription
.segment``, ``input_audio_buffer.dtmf_event_received``, ``mcp_list_tools.*``,
``response.mcp_call.*``, ``response.mcp_call_arguments.*``, any unknown type, and item events
whose item is not a message or function call (MCP items cannot be expressed in beta).

Session fields GA has and beta lacks are left out of beta sessions: ``truncation``, ``prompt``,
``include`` (realtime sessions), ``idle_timeout_ms``, noise reduction ``strength``, the newer
transcription fields; ``model`` is left out when it is not one of the beta schema's model names.
Beta's ``temperature`` is never reported (the server has none to report).
"""

from protocol.beta.params import GA_TO_BETA_PARAMS, beta_param
from protocol.beta.parse import parse_beta_client_event
from protocol.beta.schema import BETA_CLIENT_EVENT_TYPES
from protocol.beta.server_to_beta import DROPPED_SERVER_EVENT_TYPES, BetaServerTranslator

__all__ = [
    "BETA_CLIENT_EVENT_TYPES",
    "DROPPED_SERVER_EVENT_TYPES",
    "GA_TO_BETA_PARAMS",
    "BetaServerTranslator",
    "beta_param",
    "parse_beta_client_event",
]
