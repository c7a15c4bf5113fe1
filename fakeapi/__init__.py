"""A local fake of the OpenAI Assistants v2 API (real HTTP, JSON and SSE) for tests of the instrumentation."""

from .clock import FakeClock
from .faults import Fault, Faults
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
    "Say",
    "Script",
    "Tools",
]
