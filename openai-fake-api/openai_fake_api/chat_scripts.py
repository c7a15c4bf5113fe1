"""What a chat completion (or legacy completion) does: the text, tool calls and usage the fake API plays.

A chat request picks its script with ``metadata={"script": name}``, a legacy completion or an
embedding with ``user=name`` (default ``"text"``); tests add their own under
``FakeAssistantsAPI.chat_scripts[name]``. A script whose ``then`` is set plays ``then`` instead when
the request's messages carry a tool result (a ``role: "tool"`` message): the function-calling loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class ChatUsage:
    """Exact usage to report. ``prompt`` includes ``cached``, ``cache_write``, ``audio_in`` and
    ``image``; ``completion`` includes ``reasoning``, ``audio_out`` and both prediction counts."""

    prompt: int
    completion: int
    cached: int = 0
    cache_write: int = 0
    audio_in: int = 0
    image: int = 0
    reasoning: int = 0
    audio_out: int = 0
    accepted: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class ToolCallPlan:
    """A function call the model requests (``finish_reason`` becomes ``tool_calls``)."""

    name: str
    arguments: str = "{}"


@dataclass(frozen=True)
class ChatScript:
    """One answer. ``usage`` None: derived from the words of the request and answer (per choice);
    ``report_usage`` False: the API leaves ``usage`` out (a stream then never sends it)."""

    text: str = "Hello! How can I help you today?"
    tool_calls: Tuple[ToolCallPlan, ...] = ()
    usage: Optional[ChatUsage] = None
    report_usage: bool = True
    served_tier: Optional[str] = None  # the tier the API says it served (default: as asked, "auto" -> "default")
    chunk: int = 8  # characters per streamed content delta
    then: Optional[ChatScript] = None
    finish_reason: Optional[str] = None  # default: "tool_calls" with tool calls, else "stop"
    extra: Dict[str, str] = field(default_factory=dict)


BUILTIN_CHAT_SCRIPTS: Dict[str, ChatScript] = {
    "text": ChatScript(),
    "detailed": ChatScript("Here you are.", usage=ChatUsage(2000, 300, cached=1200, image=50,
                                                              reasoning=120, accepted=20, rejected=10)),
    "audio": ChatScript("Spoken answer.", usage=ChatUsage(900, 700, cached=100, audio_in=400, audio_out=500)),
    "lookup": ChatScript(tool_calls=(ToolCallPlan("lookup", '{"q": "weather"}'),),
                         usage=ChatUsage(120, 30), then=ChatScript("It is sunny.", usage=ChatUsage(160, 12))),
    "two_tools": ChatScript(tool_calls=(ToolCallPlan("lookup", '{"q": "a"}'), ToolCallPlan("convert", '{"x": 1}')),
                            usage=ChatUsage(140, 40), then=ChatScript("Done.", usage=ChatUsage(200, 8))),
    "no_usage": ChatScript("An answer whose usage the API does not report.", report_usage=False),
    "flex": ChatScript("Served on flex.", usage=ChatUsage(1000, 100), served_tier="flex"),
    "long": ChatScript(" ".join(f"Sentence {i} adds a detail." for i in range(30)), usage=ChatUsage(400, 180)),
}
