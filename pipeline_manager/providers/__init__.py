"""Speech and language providers chosen per stage by configuration, on Pipecat's own services.

``REALTIME_STT``, ``REALTIME_LLM`` and ``REALTIME_TTS`` pick each stage's provider; a stage left at
``default`` uses the profile's (``mock`` or ``local``). Stages mix freely, e.g. the local Whisper
and Piper with an LLM served by Ollama:

| stage | providers | Pipecat service |
| --- | --- | --- |
| STT | ``local``, ``mock``, ``openai`` (any OpenAI-compatible ``/v1/audio/transcriptions``), ``deepgram`` | ``OpenAISTTService``, ``DeepgramSTTService`` |
| LLM | ``local``, ``mock``, ``openai`` (OpenAI, vLLM, llama.cpp server, ... ``/v1/chat/completions``), ``ollama`` | ``OpenAILLMService``, ``OLLamaLLMService`` |
| TTS | ``local``, ``mock``, ``openai`` (any OpenAI-compatible ``/v1/audio/speech``), ``elevenlabs`` | ``OpenAITTSService``, ``ElevenLabsHttpTTSService`` |

:class:`ProviderServiceFactory` composes one builder per stage and wraps the profile's factory
for the stages that are not overridden; the heavy local models load only if a stage uses them.
A configuration that cannot work (a missing key or model, a provider whose Pipecat extra is not
installed) raises :class:`ProviderConfigError` at start-up. At run time every remote request is
bounded by ``REALTIME_PROVIDER_TIMEOUT_S`` (Pipecat leaves the OpenAI SDK's 600 s timeout and two
retries in place), and a failing provider fails the response (or the transcription) with a
message naming the provider, and logs what to fix.

The modules, laid out like Pipecat's services (one per provider):

- :mod:`.factory`: the composition, :func:`create_provider_factory`.
- :mod:`.common`: what the providers share (:class:`StageBuilder`, errors that name the provider).
- :mod:`.openai`, :mod:`.ollama`, :mod:`.deepgram`, :mod:`.elevenlabs`: one provider each,
  imported only when a stage uses it.

See docs/providers.md for configuration examples.
"""  # noqa: E501

from .common import Endpoint as _Endpoint  # noqa: F401
from .common import ProviderConfigError, StageBuilder
from .common import what_to_fix as _what_to_fix  # noqa: F401
from .factory import (
    ProfileLoader,
    ProviderServiceFactory,
    _deepgram_segment_class,  # noqa: F401
    create_provider_factory,
    overrides_stages,
)

# The three underscored names are internals that tests/test_providers.py reaches here
# (providers._Endpoint, ...), as it did before this module became a package.
__all__ = [
    "ProfileLoader",
    "ProviderConfigError",
    "ProviderServiceFactory",
    "StageBuilder",
    "create_provider_factory",
    "overrides_stages",
]
