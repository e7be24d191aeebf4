"""The local profile's language model: a Pipecat LLM service on the shared llama.cpp model.

Why a module: one Pipecat service per module, as in Pipecat's own layout. Pipecat has no
in-process llama.cpp service, so :class:`LlamaCppLLMService` is ours: it speaks Pipecat's frames
and metrics on the event loop, and hands each completion to the llama.cpp worker thread
(:mod:`.llama_worker`, the code that runs there) through an ``asyncio.Queue``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    FunctionCallFromLLM,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.metrics.metrics import LLMTokenUsage
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings
from pipecat.utils.types import NOT_GIVEN, NotGiven, assert_given, is_given

from realtime_session.reply_policy import ToolCalling

from .llama_tools import (
    STEP_SAMPLING,
    ToolStep,
    parse_step,
    plan_tool_step,
    step_grammar,
    step_messages,
)
from .llama_worker import generate, to_llama_messages
from .model_files import LLM_MODEL_NAME
from .models import LocalModels

if TYPE_CHECKING:
    from llama_cpp import Llama


@dataclass
class LlamaCppLLMSettings(LLMSettings):
    """Settings for :class:`LlamaCppLLMService`.

    Parameters:
        repeat_penalty: llama.cpp repetition penalty. SmolLM2-135M loops on itself
            without one; 1.3 works well.
        min_p: llama.cpp min-p sampling threshold.
    """

    repeat_penalty: float | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)
    min_p: float | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)


class LlamaCppLLMService(LLMService):
    """LLM service running chat completions on a shared in-process llama.cpp model.

    On each ``LLMContextFrame`` it pushes ``LLMFullResponseStartFrame``, an ``LLMTextFrame``
    per streamed chunk (about one token) and ``LLMFullResponseEndFrame``, like Pipecat's
    OpenAI service. Messages come from the context through the OpenAI adapter.

    Tools: when the context's tools and ``tool_choice`` call for it (and ``tool_calling``
    allows, see :func:`.llama_tools.plan_tool_step`), a JSON-constrained first step decides
    the call; a call is reported as Pipecat's function call (the client runs the tool), and
    "no call" goes on to the reply in words. Otherwise tools are ignored.

    Concurrency: the ``Llama`` object is shared by all sessions and llama.cpp is not
    thread-safe, so each completion runs as one job on ``models.llm_executor`` (a single
    dedicated thread) holding ``models.llm_lock`` for the whole stream. Completions of
    different sessions therefore run one after another; ``max_tokens`` bounds how long
    one can hold the model. Tokens reach the event loop through an ``asyncio.Queue``.

    Cancellation: an ``InterruptionFrame`` (or ``CancelFrame``) cancels the task awaiting
    the tokens; that sets a ``threading.Event`` which the worker checks before every
    token, so generation stops within one token (~10 ms) and the model is released.
    """

    Settings = LlamaCppLLMSettings
    _settings: LlamaCppLLMSettings

    def __init__(
        self,
        *,
        models: LocalModels,
        settings: LlamaCppLLMSettings | None = None,
        max_prompt_tokens: int = 1024,
        tool_calling: ToolCalling | None = None,
        **kwargs: Any,
    ):
        """Initialize the service.

        Args:
            models: The shared models; ``models.llm`` is used, never copied.
            settings: Settings delta applied over the defaults (``max_tokens`` 256,
                ``temperature`` 0.2, ``repeat_penalty`` 1.3, ...).
            max_prompt_tokens: Older messages are dropped beyond this many prompt tokens.
                Prompt evaluation runs at only ~150-300 tokens/s on 2 busy cores, and
                llama.cpp reuses the evaluated prefix only while no other session has
                used the model since, so long histories directly delay the first token.
            tool_calling: What the model does with tools; None: :func:`default_tool_calling`.
            **kwargs: Passed to ``LLMService``.
        """
        merged = self.Settings(
            model=models.llm_name,
            system_instruction=None,
            temperature=0.2,
            max_tokens=256,
            top_p=0.95,
            top_k=40,
            frequency_penalty=0.0,
            presence_penalty=0.0,
            seed=None,
            filter_incomplete_user_turns=False,
            user_turn_completion_config=None,
            repeat_penalty=1.3,
            min_p=0.05,
        )
        if settings is not None:
            merged.apply_update(settings)
        super().__init__(settings=merged, **kwargs)
        self._models = models
        self._max_prompt_tokens = max_prompt_tokens
        # Stop flags of this service's in-pipeline completions still running.
        self._stop_events: set[threading.Event] = set()
        self._tool_calling: ToolCalling = tool_calling or default_tool_calling(models)
        self._warned_tools = False

    @property
    def tool_calling(self) -> ToolCalling:
        """What this service does with tools (``auto``, ``forced`` or ``none``)."""
        return self._tool_calling

    @property
    def llm(self) -> Llama:
        """The shared ``llama_cpp.Llama`` this service uses."""
        return self._models.llm

    def can_generate_metrics(self) -> bool:
        """This service reports TTFB, processing time and token usage."""
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Run a completion for each ``LLMContextFrame``; pass every other frame on.

        Args:
            frame: The frame to process.
            direction: The direction of frame processing.
        """
        await super().process_frame(frame, direction)

        if isinstance(frame, LLMContextFrame):
            try:
                await self.push_frame(LLMFullResponseStartFrame())
                await self.start_processing_metrics()
                await self._process_context(frame.context)
            except Exception as e:
                await self.push_error(error_msg=f"Error during completion: {e}", exception=e)
            finally:
                # Also runs when an interruption cancels this task, as in Pipecat's
                # OpenAI service, so downstream always sees a closed response.
                await self.stop_processing_metrics()
                await self.push_frame(LLMFullResponseEndFrame())
        else:
            await self.push_frame(frame, direction)

    async def _handle_interruptions(self, frame: InterruptionFrame) -> None:
        self.stop_generation()
        await super()._handle_interruptions(frame)

    async def stop(self, frame: EndFrame) -> None:
        """Stop the service, abandoning any completion still running."""
        self.stop_generation()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        """Cancel the service, abandoning any completion still running."""
        self.stop_generation()
        await super().cancel(frame)

    def stop_generation(self) -> None:
        """Stop the completion being written after its current token (e.g. a reply cap was
        reached); the reply then ends as usual, with ``LLMFullResponseEndFrame``."""
        for stop in self._stop_events:
            stop.set()

    async def _invocation(
        self, context: LLMContext, system_instruction: str | None
    ) -> tuple[list[dict[str, str]], ToolStep | None]:
        """The context as llama.cpp chat messages (string contents only), and its tool step."""
        params = await self.get_llm_adapter().get_llm_invocation_params(
            context,
            system_instruction=system_instruction,
            convert_developer_to_user=True,
        )
        # Absent tools are OpenAI's NOT_GIVEN, which is falsy.
        tools = list(params.get("tools") or [])
        tool_choice = params.get("tool_choice") or "auto"
        step = plan_tool_step(self._tool_calling, tools, tool_choice)
        if step is None and tools and tool_choice != "none" and not self._warned_tools:
            self._warned_tools = True
            logger.info(
                f"{self}: tools ignored (tool_calling {self._tool_calling}, "
                f"tool_choice {tool_choice}): the reply is written in words"
            )
        return to_llama_messages(params["messages"]), step

    async def _messages(
        self, context: LLMContext, system_instruction: str | None
    ) -> list[dict[str, str]]:
        """Convert the context to llama.cpp chat messages (string contents only)."""
        messages, _ = await self._invocation(context, system_instruction)
        return messages

    def _completion_kwargs(self, max_tokens: int | None = None) -> dict[str, Any]:
        """llama.cpp sampling arguments from the settings (None keeps llama's default)."""
        s = self._settings
        kwargs: dict[str, Any] = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "top_k": s.top_k,
            "min_p": s.min_p,
            "frequency_penalty": s.frequency_penalty,
            "presence_penalty": s.presence_penalty,
            "repeat_penalty": s.repeat_penalty,
            "seed": s.seed,
            "max_tokens": max_tokens if max_tokens is not None else s.max_tokens,
        }
        return {k: v for k, v in kwargs.items() if is_given(v) and v is not None}

    async def _process_context(self, context: LLMContext) -> None:
        system_instruction = assert_given(self._settings.system_instruction)
        messages, step = await self._invocation(context, system_instruction)
        await self.start_ttfb_metrics()
        usage = LLMTokenUsage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
        if step is not None and await self._tool_step(context, messages, step, usage):
            await self._report_usage(usage)
            return
        completion_tokens = 0
        t_start = time.perf_counter()
        t_first: float | None = None
        # aclosing: if this task is cancelled while pushing a token, the generator's
        # finally (which stops the worker thread) runs now rather than at GC time.
        stream_gen = self._stream(messages, self._completion_kwargs(), interruptible=True)
        async with aclosing(stream_gen) as stream:
            async for item in stream:
                if isinstance(item, LLMTokenUsage):
                    usage.prompt_tokens += item.prompt_tokens
                    continue
                if t_first is None:
                    t_first = time.perf_counter()
                    await self.stop_ttfb_metrics()
                completion_tokens += 1
                await self._push_llm_text(item)
        usage.completion_tokens += completion_tokens
        if t_first is not None:
            gen_secs = time.perf_counter() - t_first
            rate = (completion_tokens - 1) / gen_secs if gen_secs > 0 else 0.0
            logger.debug(
                f"{self}: {completion_tokens} tokens, first after "
                f"{(t_first - t_start) * 1000:.0f} ms, {rate:.0f} tok/s"
            )
        await self._report_usage(usage)

    async def _report_usage(self, usage: LLMTokenUsage) -> None:
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        await self.start_llm_usage_metrics(usage)

    async def _tool_step(
        self,
        context: LLMContext,
        messages: list[dict[str, str]],
        step: ToolStep,
        usage: LLMTokenUsage,
    ) -> bool:
        """Run the constrained first step; True if it called a tool (reported as a function
        call), False if the reply is to be written in words."""
        kwargs = {
            **STEP_SAMPLING,
            "max_tokens": self._completion_kwargs()["max_tokens"],
            "grammar": step_grammar(step),
        }
        t_start = time.perf_counter()
        parts: list[str] = []
        stream_gen = self._stream(step_messages(messages, step), kwargs, interruptible=True)
        async with aclosing(stream_gen) as stream:
            async for item in stream:
                if isinstance(item, LLMTokenUsage):
                    usage.prompt_tokens += item.prompt_tokens
                    usage.completion_tokens += item.completion_tokens
                else:
                    parts.append(item)
        call = parse_step("".join(parts), step)
        logger.debug(  # the decision only: arguments are the user's content
            f"{self}: tool step ({', '.join(step.names)}): "
            f"{call[0] if call else 'no call'} in {(time.perf_counter() - t_start) * 1000:.0f} ms"
        )
        if call is None:
            return False
        await self.stop_ttfb_metrics()
        name, arguments = call
        await self.run_function_calls(
            [
                FunctionCallFromLLM(
                    function_name=name,
                    tool_call_id=f"call_{uuid.uuid4().hex[:24]}",
                    arguments=arguments,
                    context=context,
                )
            ]
        )
        return True

    async def _stream(
        self, messages: list[dict[str, str]], kwargs: dict[str, Any], interruptible: bool = False
    ) -> AsyncGenerator[str | LLMTokenUsage, None]:
        """Yield the completion's text pieces, then its token usage, from the worker.

        With ``interruptible``, interruptions and the end of the pipeline stop it too
        (besides cancellation of the consuming task, which always does).
        """
        loop = asyncio.get_running_loop()
        # The worker's text pieces and token usage, its exception if it fails, then None.
        queue: asyncio.Queue[str | LLMTokenUsage | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        if interruptible:
            self._stop_events.add(stop)

        def emit(item: str | LLMTokenUsage | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening
                stop.set()

        def job() -> None:
            try:
                generate(self._models, messages, kwargs, self._max_prompt_tokens, stop, emit)
            except BaseException as e:  # handed to the event loop, re-raised there
                emit(e)
            finally:
                emit(None)

        future = loop.run_in_executor(self._models.llm_executor, job)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # On cancellation (interruption) or error: stop the worker after its current
            # token, or drop the job if it is still waiting for the model.
            stop.set()
            future.cancel()
            self._stop_events.discard(stop)

    async def run_inference(
        self,
        context: LLMContext,
        max_tokens: int | None = None,
        system_instruction: str | None = None,
        response_schema: dict[str, Any] | None = None,
    ) -> str | None:
        """Run a one-shot completion outside the pipeline (e.g. for summaries).

        Args:
            context: The conversation to complete.
            max_tokens: Overrides the ``max_tokens`` setting.
            system_instruction: Overrides the ``system_instruction`` setting.
            response_schema: Not supported; ignored with a warning.

        Returns:
            The generated text, or None if nothing was generated.
        """
        self._check_response_schema(response_schema)
        instruction = system_instruction or assert_given(self._settings.system_instruction)
        messages = await self._messages(context, instruction)
        async with aclosing(self._stream(messages, self._completion_kwargs(max_tokens))) as s:
            parts = [item async for item in s if isinstance(item, str)]
        return "".join(parts) or None


def default_tool_calling(models: LocalModels) -> ToolCalling:
    """``forced`` for the packaged SmolLM2-135M, which cannot tell when a tool is needed (see
    :mod:`.llama_tools`); ``auto`` for any other model."""
    return "forced" if models.llm_name == LLM_MODEL_NAME else "auto"


def create_llm(
    models: LocalModels,
    *,
    settings: LlamaCppLLMSettings | None = None,
    **kwargs: Any,
) -> LlamaCppLLMService:
    """Create a per-session llama.cpp LLM service around the shared model.

    Args:
        models: The shared models.
        settings: Settings delta (``system_instruction``, ``max_tokens``, ...).
        **kwargs: Passed to :class:`LlamaCppLLMService` (e.g. ``max_prompt_tokens``,
            ``tool_calling``) and on to ``LLMService``.

    Returns:
        A new service wrapping ``models.llm``.
    """
    return LlamaCppLLMService(models=models, settings=settings, **kwargs)
