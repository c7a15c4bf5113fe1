"""Plain records of what was observed about a run, independent of the API that produced them.

The accounting core (``accounting/``) and the telemetry writers read only these records, so a
front end for another API (the Responses API, a compatible server) only has to fill them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

UsageSource = Literal["reported", "estimated"]

TERMINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
ERROR_RUN_STATUSES = frozenset({"failed", "cancelled", "expired", "incomplete"})


@dataclass
class Usage:
    """Tokens of one inference (a run step) or a roll-up of several."""

    input_tokens: int
    output_tokens: int
    source: UsageSource = "reported"
    partial: bool = False  # some content could not be counted (images, file search results)
    degraded: bool = False  # no tokenizer could be loaded: counts are approximations
    cached_input_tokens: int = 0  # part of input_tokens read from the prompt cache (Responses)
    cache_write_tokens: int = 0  # part of input_tokens written to the prompt cache (Responses)
    reasoning_tokens: int = 0  # part of output_tokens (Responses): never priced again
    audio_input_tokens: int = 0  # part of input_tokens (chat audio models), at the audio input rate
    audio_output_tokens: int = 0  # part of output_tokens (chat audio models), at the audio output rate
    accepted_prediction_tokens: int = 0  # part of output_tokens (Predicted Outputs): billed as output
    rejected_prediction_tokens: int = 0  # part of output_tokens (Predicted Outputs): billed as output though unused

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class ToolCall:
    """One tool call inside a tool-calls step."""

    id: str
    type: str  # "code_interpreter" | "file_search" | "function" | anything new
    name: str  # the function's name, else the tool type
    arguments: Optional[str] = None  # function arguments (JSON text) or the interpreter's code
    output: Optional[str] = None  # a function's submitted output
    logs: list[str] = field(default_factory=list)  # code interpreter log outputs, in order
    images: int = 0  # code interpreter image outputs
    results: int = 0  # file search results (their text is not counted)
    status: Optional[str] = None  # the item's own status (Responses output items)
    container_id: Optional[str] = None  # code interpreter and shell calls (Responses): the container used
    action: Optional[str] = None  # web search: search | open_page | find_in_page (only searches are billed)
    item_id: Optional[str] = None  # the output item's id (Responses), where ``id`` is a function's call_id


@dataclass
class Step:
    """One run step: one model completion."""

    id: str
    run_id: str
    thread_id: str
    type: str  # "message_creation" | "tool_calls" | anything new
    status: str
    assistant_id: Optional[str] = None
    created_at: Optional[int] = None  # API timestamps, whole seconds since the epoch
    completed_at: Optional[int] = None
    failed_at: Optional[int] = None
    cancelled_at: Optional[int] = None
    expired_at: Optional[int] = None
    message_id: Optional[str] = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Optional[Usage] = None  # as reported by the API
    error_code: Optional[str] = None
    error_message: Optional[str] = None

    @property
    def ended_at(self) -> Optional[int]:
        return self.completed_at or self.failed_at or self.cancelled_at or self.expired_at


@dataclass
class Message:
    """A thread message, reduced to what accounting and content capture need."""

    id: str
    thread_id: str
    role: str  # "user" | "assistant"
    text: str = ""  # the text parts, joined with newlines
    uncounted_parts: int = 0  # image and unknown parts: not countable as text
    run_id: Optional[str] = None
    assistant_id: Optional[str] = None
    created_at: Optional[int] = None


@dataclass
class ToolDefinition:
    """A tool enabled for an assistant or a run."""

    type: str  # "code_interpreter" | "file_search" | "function" | ...
    name: Optional[str] = None  # function name
    schema_json: Optional[str] = None  # the function definition as JSON text (name, description, parameters)


@dataclass
class Assistant:
    id: str
    name: Optional[str] = None
    model: Optional[str] = None
    instructions: Optional[str] = None
    tools: list[ToolDefinition] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    """A snapshot of a run as the API last described it."""

    id: str
    thread_id: str
    status: str
    assistant_id: Optional[str] = None
    model: Optional[str] = None
    instructions: Optional[str] = None
    tools: list[ToolDefinition] = field(default_factory=list)
    created_at: Optional[int] = None
    started_at: Optional[int] = None
    completed_at: Optional[int] = None
    failed_at: Optional[int] = None
    cancelled_at: Optional[int] = None
    expires_at: Optional[int] = None
    usage: Optional[Usage] = None
    error_code: Optional[str] = None  # last_error.code
    error_message: Optional[str] = None  # last_error.message
    incomplete_reason: Optional[str] = None  # incomplete_details.reason
    required_tool_call_ids: list[str] = field(default_factory=list)  # function calls awaiting outputs
    truncation_last_messages: Optional[int] = None  # truncation_strategy last_messages, when set
    metadata: dict[str, str] = field(default_factory=dict)
    # function calls the run asked the app for (required_action): model output, kept by the tracker for
    # the run's life (later snapshots no longer carry them), counted by a run-level estimate
    function_calls: list[ToolCall] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


@dataclass
class RunRequest:
    """What the app asked for when it created a run (fields absent from the Run object)."""

    additional_instructions: Optional[str] = None
    additional_messages: list[Message] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PriceTerms:
    """What changes a token's price besides model and date (Responses): all as served or requested."""

    service_tier: Optional[str] = None  # as served: default | flex | priority | scale | auto
    completion_window: Optional[str] = None  # background_options.completion_window: soonest | 2h | 8h
    regional: bool = False  # regional data processing
    window_waived: Optional[str] = None  # why a requested completion window is not discounted


TERMINAL_RESPONSE_STATUSES = frozenset({"completed", "failed", "cancelled", "incomplete"})
ERROR_RESPONSE_STATUSES = frozenset({"failed", "cancelled", "incomplete"})


@dataclass
class Response:
    """A snapshot of a Responses API response as the API last described it: one inference."""

    id: str
    status: str  # queued | in_progress | completed | failed | cancelled | incomplete
    model: Optional[str] = None
    created_at: Optional[int] = None
    completed_at: Optional[int] = None
    conversation_id: Optional[str] = None
    previous_response_id: Optional[str] = None
    background: bool = False
    service_tier: Optional[str] = None  # as served
    instructions: Optional[str] = None
    usage: Optional[Usage] = None  # as reported, on the terminal object only
    error_code: Optional[str] = None
    error_message: Optional[str] = None
    incomplete_reason: Optional[str] = None
    tool_calls: list[ToolCall] = field(default_factory=list)  # tool-call output items, in output order
    output_text: str = ""  # the text of its message items
    metadata: dict[str, str] = field(default_factory=dict)
    tool_usage: Optional[ToolUsage] = None  # tool_usage as reported (hosted tool fees), when present

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_RESPONSE_STATUSES


@dataclass
class ResponseRequest:
    """What the app asked for when it created a response (fields the Response does not echo)."""

    model: Optional[str] = None
    input_text: str = ""  # the text of the input items and instructions, for an estimate
    conversation_id: Optional[str] = None
    previous_response_id: Optional[str] = None
    service_tier: Optional[str] = None  # as requested
    background: bool = False
    completion_window: Optional[str] = None  # background_options.completion_window
    tool_outputs: list[str] = field(default_factory=list)  # call ids of function outputs sent back
    stream: bool = False  # created with stream=true (the completion window's discount needs it off)


DEFAULT_CONTAINER_EXPIRY_MINUTES = 20


@dataclass
class Container:
    """A hosted-tool container (Code Interpreter, hosted shell): what containers are billed by.

    All times are the API's own timestamps (whole seconds), never this process's clock, so a replay
    gives the bill of its day. ``observed`` says the container object itself was read (its own
    ``created_at``/``last_active_at``); otherwise its life is inferred from the responses naming it.
    """

    id: str
    memory_limit: Optional[str] = None  # 1g | 4g | 16g | 64g; None: not known (priced as the default tier)
    created_at: Optional[int] = None
    last_active_at: Optional[int] = None
    deleted_at: Optional[int] = None
    expires_after_minutes: int = DEFAULT_CONTAINER_EXPIRY_MINUTES
    observed: bool = False
    first_seen_at: Optional[int] = None  # the first response or call that named it

    @property
    def started_at(self) -> Optional[int]:
        return self.created_at if self.created_at is not None else self.first_seen_at


@dataclass
class ImageGenUsage:
    """``tool_usage.image_gen`` of one response: image generation tokens, billed at the image model's rates."""

    input_tokens: int  # text and image input
    output_tokens: int
    input_image_tokens: int = 0  # part of input_tokens
    cached_tokens: int = 0  # part of input_tokens
    cached_image_tokens: int = 0  # part of cached_tokens
    output_image_tokens: Optional[int] = None  # part of output_tokens (output_tokens_details); None: not reported


@dataclass
class ToolUsage:
    """What one response tells about its hosted tools' billable use (besides containers)."""

    web_search_requests: Optional[int] = None  # tool_usage.web_search.num_requests; None: absent, unknown
    web_search_tool: str = "web_search"  # the request's tool version: web_search | web_search_preview
    web_search_actions: dict[str, int] = field(default_factory=dict)  # web_search_call items by action type
    file_search_calls: int = 0  # file_search_call items
    image_gen: Optional[ImageGenUsage] = None
    image_model: Optional[str] = None  # the image_generation tool's model; None: the default one
    other_calls: dict[str, int] = field(default_factory=dict)  # other tool call items by item type


@dataclass
class Completion:
    """One chat completion, legacy completion, embedding or moderation call: one request, one billed unit.

    ``kind`` is its ``openai.api.type``; ``usage`` as reported (chat, completions, embeddings), else None.
    """

    id: str
    kind: str  # chat_completions | completions | embeddings | moderations
    model: Optional[str] = None
    created_at: Optional[int] = None
    service_tier: Optional[str] = None  # as served
    usage: Optional[Usage] = None
    finish_reasons: list[str] = field(default_factory=list)  # one per choice, in choice order
    tool_calls: list[ToolCall] = field(default_factory=list)  # function calls the model requested
    output_text: str = ""  # the text of every choice, for an estimate and opt-in content
    choices: int = 0  # choices returned (n > 1)
    system_fingerprint: Optional[str] = None


@dataclass
class CompletionRequest:
    """What the app asked for when it created a completion or embedding (the response does not echo it)."""

    model: Optional[str] = None
    stream: bool = False
    include_usage: bool = False  # stream_options.include_usage
    n: int = 1
    service_tier: Optional[str] = None  # as requested
    tool_outputs: list[str] = field(default_factory=list)  # tool_call_ids of role "tool" messages sent back
    search: bool = False  # web_search_options sent (search models)


@dataclass
class MediaCall:
    """One priced call or object of the images, audio, videos or batches API, as observed: what prices it.

    Figures are as reported; ``None`` means not known (never 0 for unknown). ``claim`` names an object
    billed once however often it is read (a batch, a video): its money is claimed in the session store.
    """

    id: str
    api: str  # openai.api.type: images | audio | videos | batches
    endpoint: str  # the request path: images/generations, audio/speech, batches/{id}, ...
    model: Optional[str] = None
    created_at: Optional[int] = None  # API time (prices in force on that day)
    started_ns: int = 0
    ended_ns: int = 0
    error: Optional[str] = None  # error.type: the call failed (nothing billed)
    image_usage: Optional[ImageGenUsage] = None  # token-priced image models
    images: int = 0  # images returned
    size: Optional[str] = None
    quality: Optional[str] = None
    characters: int = 0  # speech input
    text: str = ""  # speech input, kept in process only to estimate its tokens
    audio_bytes: Optional[int] = None  # speech audio the app read (None: not read, never read by us)
    audio_format: Optional[str] = None
    usage: Optional[Usage] = None  # reported tokens (transcriptions, batches)
    audio_input_tokens: int = 0  # part of usage.input_tokens (transcriptions)
    seconds: Optional[float] = None  # audio duration (transcriptions) or video length
    batch_endpoint: Optional[str] = None  # the endpoint a batch ran (its batch rate)
    claim: Optional[str] = None  # billed once per this key across reads and processes
    streamed: bool = False
