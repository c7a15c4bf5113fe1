"""What a response does: the output items and usage the fake Responses API plays for each request.

A request picks its script with ``metadata={"script": name}`` (default ``"text"``); tests add their
own under ``FakeAssistantsAPI.response_scripts[name]``. A script whose ``then`` is set plays ``then``
instead when the request's input carries tool results (``function_call_output``,
``mcp_approval_response``, ...): the function-calling loop of the Responses API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Union


@dataclass(frozen=True)
class Usage:
    """Exact usage to report: ``input`` includes ``cached`` and ``cache_write``; ``output`` includes
    ``reasoning``; ``cache_write_12h`` of the cache writes had 12-hour retention (the rest 30 minutes)."""

    input: int
    output: int
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0
    cache_write_12h: int = 0


@dataclass(frozen=True)
class ImageGenUsage:
    """``tool_usage.image_gen`` of one response (image model tokens, separate from the text model's)."""

    input_tokens: int
    output_tokens: int
    input_image_tokens: int = 0


@dataclass(frozen=True)
class Text:
    """An assistant ``message`` item with ``text`` (streamed in chunks of ``chunk`` characters)."""

    text: str
    chunk: int = 12


@dataclass(frozen=True)
class Reasoning:
    """A ``reasoning`` item with a summary (its tokens are the usage's ``reasoning`` figure)."""

    summary: str = "Thinking about the question."


@dataclass(frozen=True)
class FunctionCall:
    """A ``function_call`` item: the response ends ``completed`` and the app runs the function."""

    name: str
    arguments: str = "{}"


@dataclass(frozen=True)
class CodeCall:
    """A ``code_interpreter_call`` in the request's container (explicit id, or an auto container)."""

    code: str
    logs: Sequence[str] = ()
    images: int = 0
    files: Sequence[str] = ()


@dataclass(frozen=True)
class WebSearch:
    """A ``web_search_call``; ``action`` is ``search`` (billed), ``open_page`` or ``find_in_page``."""

    action: str = "search"
    query: str = "weather in Paris"
    url: str = "https://example.com/weather"


@dataclass(frozen=True)
class FileSearchCall:
    """A ``file_search_call`` with ``queries`` and ``results`` results (listed when included)."""

    queries: Sequence[str] = ("launch date",)
    results: int = 2


@dataclass(frozen=True)
class ImageGen:
    """An ``image_generation_call`` returning a tiny base64 image."""

    prompt: str = "a cat"


@dataclass(frozen=True)
class McpCall:
    """An ``mcp_call`` to ``server_label``'s tool ``name`` (``failed``: it ends ``failed``, no output)."""

    name: str = "lookup"
    arguments: str = "{}"
    output: str = "ok"
    server_label: str = "docs"
    failed: bool = False


@dataclass(frozen=True)
class McpListTools:
    """An ``mcp_list_tools`` item listing ``tools`` of ``server_label``."""

    tools: Sequence[str] = ("lookup",)
    server_label: str = "docs"


@dataclass(frozen=True)
class McpApproval:
    """An ``mcp_approval_request``: the app answers with an ``mcp_approval_response`` next time."""

    name: str = "lookup"
    arguments: str = "{}"
    server_label: str = "docs"


@dataclass(frozen=True)
class ShellCall:
    """A hosted ``shell_call`` running ``commands`` in a container."""

    commands: Sequence[str] = ("ls",)


@dataclass(frozen=True)
class ComputerCall:
    """A ``computer_call`` (a screenshot action)."""


@dataclass(frozen=True)
class UnknownItem:
    """An output item of a type the SDK does not know (``type``), as a newer API would send."""

    type: str = "hologram_call"


@dataclass(frozen=True)
class Fail:
    """The response ends ``failed`` with ``error`` after the items before it."""

    code: str = "server_error"
    message: str = "The model failed to generate a response."


@dataclass(frozen=True)
class Incomplete:
    """The response ends ``incomplete`` (``reason``) after the items before it."""

    reason: str = "max_output_tokens"


Item = Union[
    Text,
    Reasoning,
    FunctionCall,
    CodeCall,
    WebSearch,
    FileSearchCall,
    ImageGen,
    McpCall,
    McpListTools,
    McpApproval,
    ShellCall,
    ComputerCall,
    UnknownItem,
    Fail,
    Incomplete,
]


@dataclass
class ResponseScript:
    """A response's plan.

    ``usage``: exact usage (None: derived from the words of input and output). ``report_usage``
    overrides the server's setting when not None. ``served_tier`` is the ``service_tier`` answered
    (None: the requested one, ``default`` for ``auto``). ``image_gen`` is reported in ``tool_usage``;
    ``web_searches`` overrides the count of billable searches there. ``queued_s`` and ``work_s``:
    a background response stays ``queued`` / ``in_progress`` that long on the fake clock (0: one poll
    each). ``open_container``: an auto container is created (and billed) at the start though no
    call may use it, as the real API sometimes does. ``then``: played instead when the input carries
    tool results.
    """

    items: Sequence[Item] = ()
    usage: Optional[Usage] = None
    report_usage: Optional[bool] = None
    served_tier: Optional[str] = None
    image_gen: Optional[ImageGenUsage] = None
    web_searches: Optional[int] = None
    queued_s: float = 0.0
    work_s: float = 0.0
    open_container: bool = False
    then: Optional[ResponseScript] = None


def as_response_script(value: Union[ResponseScript, Sequence[Item]]) -> ResponseScript:
    return value if isinstance(value, ResponseScript) else ResponseScript(list(value))


BUILTIN_RESPONSE_SCRIPTS: Dict[str, ResponseScript] = {
    "text": ResponseScript([Text("Hello! How can I help you today?")]),
    "cached": ResponseScript(
        [Reasoning(), Text("Cached and reasoned.")],
        usage=Usage(input=2000, output=300, cached=1200, cache_write=500, reasoning=200, cache_write_12h=100),
    ),
    "function": ResponseScript(
        [FunctionCall("get_weather", '{"city": "Paris"}')],
        usage=Usage(input=120, output=20),
        then=ResponseScript([Text("It is sunny in Paris.")], usage=Usage(input=160, output=12)),
    ),
    "code_interpreter": ResponseScript(
        [CodeCall("print(2 + 2)", logs=["4\n"]), Text("The result of 2 + 2 is 4.")],
        usage=Usage(input=300, output=40),
    ),
    "web_search": ResponseScript(
        [
            WebSearch("search", "weather in Paris"),
            WebSearch("open_page", url="https://example.com/weather"),
            WebSearch("find_in_page", url="https://example.com/weather"),
            Text("It is sunny in Paris."),
        ],
        usage=Usage(input=8200, output=30),
    ),
    "file_search": ResponseScript(
        [FileSearchCall(("launch date",), 2), Text("The document says the launch is in May.")],
        usage=Usage(input=900, output=25),
    ),
    "image": ResponseScript(
        [ImageGen("a cat"), Text("Here is your cat.")],
        usage=Usage(input=50, output=15),
        image_gen=ImageGenUsage(input_tokens=40, output_tokens=1056, input_image_tokens=0),
    ),
    "mcp": ResponseScript(
        [McpListTools(), McpCall("lookup", '{"q": "x"}', "found"), Text("The docs say x.")],
        usage=Usage(input=400, output=35),
    ),
    "mcp_approval": ResponseScript(
        [McpListTools(), McpApproval("lookup", '{"q": "x"}')],
        usage=Usage(input=300, output=20),
        then=ResponseScript([McpCall("lookup", '{"q": "x"}', "found"), Text("Done.")], usage=Usage(350, 25)),
    ),
    "shell": ResponseScript([ShellCall(("ls", "cat a.txt")), Text("Listed.")], usage=Usage(input=250, output=30)),
    "computer": ResponseScript([ComputerCall()], usage=Usage(input=500, output=10)),
    "unknown": ResponseScript([UnknownItem(), Text("Something new happened.")], usage=Usage(input=60, output=9)),
    "every_tool": ResponseScript(
        [
            Reasoning(),
            CodeCall("print(6 * 7)", logs=["42\n"]),
            WebSearch("search", "weather in Paris"),
            WebSearch("open_page"),
            FileSearchCall(),
            ImageGen(),
            McpListTools(),
            McpCall(),
            ShellCall(),
            Text("All tools used."),
        ],
        usage=Usage(input=9000, output=400, cached=1000, reasoning=150),
        image_gen=ImageGenUsage(input_tokens=40, output_tokens=1056),
    ),
    "fail": ResponseScript([CodeCall("import pandas as pd"), Fail()], usage=Usage(input=200, output=10)),
    "incomplete": ResponseScript([Text("This answer is cut off before"), Incomplete()], usage=Usage(80, 16)),
    "long": ResponseScript([Text("word " * 280, chunk=5)], usage=Usage(input=50, output=280)),
}
