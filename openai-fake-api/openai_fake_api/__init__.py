"""A local fake of the OpenAI Assistants v2 API, and of the Responses, Conversations and Containers APIs
(real HTTP, JSON and SSE), for tests of the instrumentation. Responses play a ``ResponseScript``; its
output items are the classes of ``openai_fake_api.responses_scripts``."""

from .clock import FakeClock
from .faults import Fault, Faults
from .responses_scripts import BUILTIN_RESPONSE_SCRIPTS, ResponseScript
from .scripts import (
    BUILTIN_SCRIPTS,
    Code,
    Expire,
    Fail,
    FileSearch,
    Function,
    Incomplete,
    Say,
    Script,
    Tools,
)
from .server import FakeAssistantsAPI, RecordedRequest

__all__ = [
    "BUILTIN_RESPONSE_SCRIPTS",
    "BUILTIN_SCRIPTS",
    "Code",
    "Expire",
    "Fail",
    "FakeAssistantsAPI",
    "FakeClock",
    "Fault",
    "Faults",
    "FileSearch",
    "Function",
    "Incomplete",
    "RecordedRequest",
    "ResponseScript",
    "Say",
    "Script",
    "Tools",
]
