"""Per-step token usage estimated from a run's context, for runs and steps the API reported no usage for.

The model (CONTEXT §2, reverse-engineered from billing and checked against reported usage): every
run step is one model completion. Its prompt is the whole context so far: a hidden system prompt
(the *base*, by model and enabled tools), the instructions, the function definitions, the thread's
messages, and what earlier steps of this run added; its completion is what the model wrote in that
step. Figures never measured are :class:`Overheads` fields, so they can be tuned without code changes,
and every result says ``source="estimated"``; it is ``partial`` when some content could not be seen
(images, file search results, unknown step or tool types) and ``degraded`` without a real tokenizer.

Rules for what was never measured (each an Overheads field or documented here):
- Images (``Message.uncounted_parts``, ``ToolCall.images``) count 0 tokens: partial.
- File search: the call's arguments (if any) are completion + ``tool_call_completion``; the context
  grows by ``tool_call_context`` + arguments; the retrieved chunks are not visible in a step, so every
  file search call makes the estimate partial.
- Tool types other than code interpreter, file search and function are counted like a function
  call (name + arguments + output) and make the estimate partial; unknown step types add no
  completion and make the step partial.
- Earlier runs' tool calls are not in a later run's context: the thread holds messages only.
- ``truncation_last_messages`` keeps the last N thread messages (earlier messages plus the run's
  additional messages); messages the run itself writes are always in its context.
"""

from __future__ import annotations

import re
import statistics
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Literal, Optional

from .. import model
from .tokens import Encoder, TokenCounter

CODE_TYPES = frozenset({"code_interpreter", "code"})  # "code": the legacy shape of published docs
KNOWN_TOOL_TYPES = CODE_TYPES | {"file_search", "function"}

BaseKey = tuple[str, frozenset[str]]
BaseSource = Literal["table", "fallback", "learned"]


@dataclass(frozen=True)
class BaseEntry:
    """A measured hidden system prompt; ``includes_tool_schemas``: the function definitions are in it."""

    tokens: int
    includes_tool_schemas: bool = False


# Model families that share a hidden system prompt: every name of a family (aliases, dated snapshots)
# uses the family's base entry. The turbo-preview family was measured on gpt-4-1106-preview (the
# worked example of CONTEXT §2) and on gpt-4-turbo-preview alike: 105 with Code Interpreter.
DEFAULT_FAMILIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "gpt-4-turbo": (r"gpt-4-turbo(?:-.+)?", r"gpt-4-\d{4}-preview"),
        "gpt-4o-mini": (r"gpt-4o-mini(?:-.+)?",),
    }
)

# Measured bases (CONTEXT §2), by family (or by exact model name, for user entries). The function
# entry was measured on gpt-4-1106-preview with one function tool and includes that function's
# definition: its schemas are not counted again (an approximation for other functions).
DEFAULT_BASES: Mapping[BaseKey, BaseEntry] = MappingProxyType(
    {
        ("gpt-4-turbo", frozenset({"code_interpreter"})): BaseEntry(105),
        ("gpt-4o-mini", frozenset({"code_interpreter"})): BaseEntry(114),
        ("gpt-4-turbo", frozenset({"function"})): BaseEntry(283, includes_tool_schemas=True),
    }
)


def model_family(model_name: Optional[str], families: Mapping[str, tuple[str, ...]]) -> Optional[str]:
    """The family a model name belongs to (whole-name match of one of its patterns), if any."""
    name = (model_name or "").lower()
    for family, patterns in families.items():
        if any(re.fullmatch(pattern, name) for pattern in patterns):
            return family
    return None


@dataclass(frozen=True)
class Overheads:
    """Token overheads of the estimate; defaults are CONTEXT §2's measured figures or stated guesses.

    ``base_fallback`` (114) is used for configurations missing from ``bases``: the base measured on a
    current-generation model (gpt-4o-mini with Code Interpreter), the larger of the two Code
    Interpreter measurements; function definitions are added on top of it. Its error is what the
    ``openai_cost.usage.estimate_error`` metric shows, and :class:`BaseLearner` replaces it as soon as
    the API reports usage for the configuration.
    """

    bases: Mapping[BaseKey, BaseEntry] = field(default_factory=lambda: DEFAULT_BASES)
    families: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_FAMILIES)
    base_fallback: int = 114
    user_message: int = 4  # user message in context: text + 4 (measured)
    assistant_message_completion: int = 2  # assistant message written: text + 2 (measured)
    assistant_message_context: int = 4  # assistant message in later prompts: text + 4 (measured)
    other_message: int = 4  # messages of other roles: like user messages (guess)
    code_call_completion: int = 6  # code + 6 (measured)
    code_call_context: int = 14  # once per call: 14 + code + log outputs (measured, one output)
    extra_output_context: int = 4  # each output after the first (guess: like a message separator)
    # Function call written: name + arguments + 5. Guess by analogy with code calls, whose + 6 holds
    # the one-token tool name "python" and 5 tokens of framing.
    function_call_completion: int = 5
    # Function call and output in later prompts: 14 + name + arguments + output (guess, as code calls).
    function_call_context: int = 14
    tool_call_completion: int = 6  # file search and unknown tools written (guess, as code calls)
    tool_call_context: int = 14  # file search and unknown tools in later prompts (guess)
    instructions: int = 0  # instructions cost just their own tokens (measured on gpt-4-turbo-preview)
    additional_instructions: int = 0  # appended to the instructions: own tokens (guess)
    tool_schema: int = 0  # per function definition, on top of its JSON text's tokens (guess)

    def base(
        self, model_name: Optional[str], tools: frozenset[str]
    ) -> tuple[Optional[BaseEntry], BaseSource]:
        """The table entry for (model, tools): exact model, then its family, then the longest table
        name that prefixes it (for user entries such as a dated snapshot's base name)."""
        name = (model_name or "").lower()
        for key in (name, model_family(name, self.families)):
            entry = self.bases.get((key, tools)) if key else None
            if entry is not None:
                return entry, "table"
        best: Optional[tuple[int, BaseEntry]] = None
        for (key_model, key_tools), entry in self.bases.items():
            if key_tools == tools and name.startswith(key_model + "-") and (best is None or len(key_model) > best[0]):
                best = (len(key_model), entry)
        return (best[1], "table") if best else (None, "fallback")


def tool_types(tools: Sequence[model.ToolDefinition]) -> frozenset[str]:
    """Enabled tool types, with the legacy "code" spelled "code_interpreter"."""
    return frozenset("code_interpreter" if t.type in CODE_TYPES else t.type for t in tools)


@dataclass
class RunContext:
    """What the estimate needs about one run.

    ``history``: the thread's messages before the run, oldest first (see ``history.ThreadHistory``).
    ``messages``: message id -> message, for the text of ``message_creation`` steps.
    ``model``: the model's real name when ``run.model`` is a deployment name.
    ``steps``: in creation order; they are sorted by ``created_at`` keeping this order for ties.
    """

    run: model.Run
    steps: Sequence[model.Step] = ()
    messages: Mapping[str, model.Message] = field(default_factory=dict)
    history: Sequence[model.Message] = ()
    request: Optional[model.RunRequest] = None
    model: Optional[str] = None

    @property
    def model_name(self) -> Optional[str]:
        return self.model or self.run.model


@dataclass
class StepEstimate:
    """One step's estimated usage, and the base it assumed (what :class:`BaseLearner` corrects).

    ``base_tokens``: the hidden system prompt alone, without function definitions, even when the
    table entry used includes them.
    """

    step_id: str
    usage: model.Usage
    base_tokens: int
    base_source: BaseSource


MessageTokens = Callable[[model.Message, Encoder], int]


def _text_tokens(message: model.Message, encoder: Encoder) -> int:
    return encoder.count(message.text)


class _Tally:
    """Running context size and whether anything was uncountable."""

    def __init__(self) -> None:
        self.context = 0
        self.partial = False


def _message_context(msg: model.Message, tokens: int, o: Overheads) -> int:
    if msg.role == "user":
        return tokens + o.user_message
    if msg.role == "assistant":
        return tokens + o.assistant_message_context
    return tokens + o.other_message


def _thread_messages(ctx: RunContext) -> list[model.Message]:
    """Earlier messages plus the run's additional messages not already among them, truncated."""
    history = list(ctx.history)
    extra = list(ctx.request.additional_messages) if ctx.request else []
    ids = {m.id for m in history if m.id}
    created = ctx.run.created_at
    recent = {(m.role, m.text) for m in history if created is not None and (m.created_at or 0) >= created}
    for msg in extra:
        if (msg.id and msg.id in ids) or (not msg.id and (msg.role, msg.text) in recent):
            continue  # already in the thread as read back after the run started
        history.append(msg)
    n = ctx.run.truncation_last_messages
    if n is not None and n >= 0:
        history = history[-n:] if n else []
    return history


def _call_tokens(call: model.ToolCall, enc: Encoder, o: Overheads, tally: _Tally) -> tuple[int, int]:
    """(completion tokens of writing the call, context growth after it)."""
    args = enc.count(call.arguments or "")
    if call.type in CODE_TYPES:
        outputs = len(call.logs) + call.images
        if call.images:
            tally.partial = True
        logs = sum(enc.count(log) for log in call.logs)
        growth = o.code_call_context + args + logs + o.extra_output_context * max(outputs - 1, 0)
        return args + o.code_call_completion, growth
    if call.type == "file_search":
        tally.partial = True  # the retrieved chunks are in the prompt but not in the step
        return args + o.tool_call_completion, o.tool_call_context + args
    name = enc.count(call.name or "")
    output = enc.count(call.output or "")
    if call.type == "function":
        return name + args + o.function_call_completion, o.function_call_context + name + args + output
    tally.partial = True
    return name + args + o.tool_call_completion, o.tool_call_context + name + args + output


def ordered_steps(steps: Sequence[model.Step]) -> list[model.Step]:
    """Steps by API creation time, keeping the given order for steps created in the same second."""
    indexed = list(enumerate(steps))
    indexed.sort(key=lambda pair: (pair[1].created_at if pair[1].created_at is not None else 0, pair[0]))
    return [step for _, step in indexed]


def estimate_run(
    ctx: RunContext,
    counter: TokenCounter | Encoder,
    overheads: Optional[Overheads] = None,
    *,
    learner: Optional[BaseLearner] = None,
    message_tokens: Optional[MessageTokens] = None,
) -> list[StepEstimate]:
    """Estimated usage of each step of ``ctx`` (pure: same inputs, same result).

    ``counter``: a :class:`TokenCounter` (the model's encoder is taken from it) or an encoder.
    ``message_tokens``: counts a thread message's text, e.g. ``ThreadHistory.message_tokens`` (cached).
    """
    o = overheads or Overheads()
    enc: Encoder = counter.encoder(ctx.model_name) if isinstance(counter, TokenCounter) else counter
    count_message = message_tokens or _text_tokens
    run = ctx.run
    tools = tool_types(run.tools)
    tally = _Tally()

    entry, table_source = o.base(ctx.model_name, tools)
    base_source: BaseSource = table_source
    learned = learner.base_for(ctx.model_name, tools) if learner else None
    schemas = sum(enc.count(t.schema_json) + o.tool_schema for t in run.tools if t.schema_json)
    if learned is not None:
        base, base_source = learned, "learned"
        tally.context = base + schemas
    elif entry is not None and entry.includes_tool_schemas:
        base = entry.tokens - schemas  # the hidden part alone, as the learner measures it
        tally.context = entry.tokens
    else:
        base = entry.tokens if entry else o.base_fallback
        tally.context = base + schemas
    if run.instructions:
        tally.context += enc.count(run.instructions) + o.instructions
    if ctx.request and ctx.request.additional_instructions:
        tally.context += enc.count(ctx.request.additional_instructions) + o.additional_instructions
    for msg in _thread_messages(ctx):
        if msg.uncounted_parts:
            tally.partial = True
        tally.context += _message_context(msg, count_message(msg, enc), o)

    estimates: list[StepEstimate] = []
    for step in ordered_steps(ctx.steps):
        prompt = tally.context
        step_partial = False
        completion = 0
        growth = 0
        if step.type == "message_creation":
            written = ctx.messages.get(step.message_id or "")
            if written is None:
                step_partial = True  # the message's text is unknown
            else:
                tokens = enc.count(written.text)
                step_partial = written.uncounted_parts > 0
                completion = tokens + o.assistant_message_completion
                growth = tokens + o.assistant_message_context
        elif step.type == "tool_calls":
            call_tally = _Tally()
            for call in step.tool_calls:
                call_completion, added = _call_tokens(call, enc, o, call_tally)
                completion += call_completion
                growth += added
            step_partial = call_tally.partial
        else:
            step_partial = True  # an unknown step type: nothing known to count
        usage = model.Usage(
            input_tokens=prompt,
            output_tokens=completion,
            source="estimated",
            partial=tally.partial or step_partial,
            degraded=enc.degraded,
        )
        estimates.append(StepEstimate(step.id, usage, base, base_source))
        tally.context += growth
        tally.partial = tally.partial or step_partial  # what was uncounted stays in later prompts
    return estimates


def estimate_unseen_run(
    ctx: RunContext,
    submitted: Mapping[str, Optional[str]],
    counter: TokenCounter | Encoder,
    overheads: Optional[Overheads] = None,
    *,
    learner: Optional[BaseLearner] = None,
    message_tokens: Optional[MessageTokens] = None,
) -> model.Usage:
    """A run whose steps could not be read, estimated whole from what was seen of it: one step per
    function call it asked for (``run.function_calls``: their names and arguments are its output) or
    output submitted to it (``submitted``: call id -> output text, None when not kept), then
    one per message it wrote (``ctx.messages``), or a single answer step when nothing was seen.
    Always partial: the steps are a reconstruction.
    """
    run = ctx.run
    asked = {c.id: c for c in run.function_calls}
    order = list(submitted) + [c.id for c in run.function_calls if c.id not in submitted]
    steps = [model.Step(f"observed_call_{i}", run.id, run.thread_id, "tool_calls", "completed",
                        tool_calls=[_observed_call(asked.get(call_id), call_id, submitted.get(call_id))])
             for i, call_id in enumerate(order)]
    written = sorted((m for m in ctx.messages.values() if m.role == "assistant"), key=lambda m: m.created_at or 0)
    steps += [model.Step(f"observed_message_{i}", run.id, run.thread_id, "message_creation", "completed",
                         message_id=m.id) for i, m in enumerate(written)]
    if not written:
        steps.append(model.Step("observed_answer", run.id, run.thread_id, "message_creation", "completed"))
    rebuilt = RunContext(run, steps, ctx.messages, ctx.history, ctx.request, ctx.model)
    found = estimate_run(rebuilt, counter, overheads, learner=learner, message_tokens=message_tokens)
    total = sum_usage([e.usage for e in found])
    total.partial = True
    return total


def _observed_call(asked: Optional[model.ToolCall], call_id: str, output: Optional[str]) -> model.ToolCall:
    if asked is None:
        return model.ToolCall(call_id, "function", "", output=output)
    return model.ToolCall(call_id, "function", asked.name, arguments=asked.arguments, output=output)


def sum_usage(usages: Sequence[model.Usage]) -> model.Usage:
    """Roll-up of estimated usages (prompt counted once per step, as billed)."""
    return model.Usage(
        input_tokens=sum(u.input_tokens for u in usages),
        output_tokens=sum(u.output_tokens for u in usages),
        source="estimated",
        partial=any(u.partial for u in usages),
        degraded=any(u.degraded for u in usages),
    )


class BaseLearner:
    """Learns the true hidden base of a (model, tools) configuration from reported usage.

    The residual of a first step (reported prompt minus everything the estimate counted besides the
    base) is the base of that configuration; the median of the last ``samples`` residuals is used so
    one odd run does not move it. Thread-safe; holds at most ``max_configs`` configurations (LRU).
    """

    def __init__(self, *, max_configs: int = 256, samples: int = 9) -> None:
        self._lock = threading.Lock()
        self._residuals: OrderedDict[BaseKey, deque[int]] = OrderedDict()
        self._max = max_configs
        self._samples = samples

    @staticmethod
    def key(model_name: Optional[str], tools: frozenset[str]) -> BaseKey:
        return ((model_name or "").lower(), tools)

    def observe(
        self, model_name: Optional[str], tools: frozenset[str], first: StepEstimate, reported_prompt: int
    ) -> Optional[int]:
        """Record a run's first step: its estimate and the prompt tokens the API reported for it."""
        if first.usage.partial or first.usage.degraded:
            return None  # an uncounted part or an approximate count would pollute the residual
        residual = reported_prompt - (first.usage.input_tokens - first.base_tokens)
        if residual < 0:
            return None
        key = self.key(model_name, tools)
        with self._lock:
            samples = self._residuals.get(key)
            if samples is None:
                samples = self._residuals[key] = deque(maxlen=self._samples)
            self._residuals.move_to_end(key)
            samples.append(residual)
            while len(self._residuals) > self._max:
                self._residuals.popitem(last=False)
        return residual

    def base_for(self, model_name: Optional[str], tools: frozenset[str]) -> Optional[int]:
        with self._lock:
            samples = self._residuals.get(self.key(model_name, tools))
            return int(statistics.median_low(samples)) if samples else None
