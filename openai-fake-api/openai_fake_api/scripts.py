"""What a run does, step by step: the scripts the fake API plays for each run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

#: Exact usage of one step: (prompt_tokens, completion_tokens).
StepUsage = Tuple[int, int]


@dataclass(frozen=True)
class Say:
    """A message_creation step: the assistant writes ``text`` (streamed in chunks of ``chunk`` chars)."""

    text: str
    usage: Optional[StepUsage] = None
    chunk: int = 12


@dataclass(frozen=True)
class Code:
    """One Code Interpreter call: ``input`` code, its log outputs and ``images`` image outputs."""

    input: str
    logs: Sequence[str] = ()
    images: int = 0
    usage: Optional[StepUsage] = None


@dataclass(frozen=True)
class Function:
    """One function call: the run waits at ``requires_action`` until the app submits its output."""

    name: str
    arguments: str = "{}"
    usage: Optional[StepUsage] = None


@dataclass(frozen=True)
class FileSearch:
    """One file_search call returning ``results`` results."""

    results: int = 2
    usage: Optional[StepUsage] = None


ToolCallPlan = Union[Code, Function, FileSearch]


@dataclass(frozen=True)
class Tools:
    """A tool_calls step holding several calls (e.g. two Code Interpreter calls, or parallel functions)."""

    calls: Sequence[ToolCallPlan]
    usage: Optional[StepUsage] = None


@dataclass(frozen=True)
class Fail:
    """The run fails with ``last_error``."""

    code: str = "server_error"
    message: str = "Sorry, something went wrong."
    in_step: bool = False  # the failing step is listed too (failed, with the same last_error), as the API does


@dataclass(frozen=True)
class Expire:
    """The run expires here. (A live run also expires when the clock passes its ``expires_at``.)"""


@dataclass(frozen=True)
class Incomplete:
    """The assistant starts writing ``text``, is cut off, and the run ends ``incomplete``."""

    reason: str = "max_completion_tokens"
    text: str = "The answer is cut"
    usage: Optional[StepUsage] = None


PlannedStep = Union[Say, Code, Function, FileSearch, Tools, Fail, Expire, Incomplete]


@dataclass
class Script:
    """A run's plan; ``report_usage`` overrides the server's setting when not None."""

    steps: List[PlannedStep] = field(default_factory=list)
    report_usage: Optional[bool] = None


def as_script(value: Union[Script, Sequence[PlannedStep]]) -> Script:
    return value if isinstance(value, Script) else Script(list(value))


SEED_CODE = "import math\nresult = math.sqrt(1764)\nprint(result)"

BUILTIN_SCRIPTS: Dict[str, Script] = {
    "text": Script([Say("Hello! How can I help you today?")]),
    "code_interpreter": Script([Code("print(2 + 2)", logs=["4\n"]), Say("The result of 2 + 2 is 4.")]),
    "code_interpreter_multi": Script(
        [
            Tools(
                [
                    Code("print('a')\nprint('b')", logs=["a\n", "b\n"]),
                    Code("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()", images=1),
                ]
            ),
            Say("I printed two lines and drew a plot."),
        ]
    ),
    "function": Script(
        [
            Function("get_weather", '{"city": "Paris"}'),
            Say("It is sunny in Paris."),
        ]
    ),
    "function_twice": Script(
        [
            Function("get_weather", '{"city": "Paris"}'),
            Function("get_weather", '{"city": "Rome"}'),
            Say("Paris is sunny and Rome is rainy."),
        ]
    ),
    "file_search": Script([FileSearch(results=2), Say("The document says the launch is in May.")]),
    "fail": Script([Code("import pandas as pd", logs=[""]), Fail("server_error", "Something went wrong.")]),
    "expire": Script([Code("import time\ntime.sleep(3600)"), Expire()]),
    "incomplete": Script([Incomplete("max_completion_tokens", "This answer is cut off before")]),
    # CONTEXT.md section 2: one user message, one Code Interpreter call with one log output, then an answer.
    # The step usages add up to the run observed there (288 prompt, 47 completion tokens).
    "seed": Script(
        [
            Code(SEED_CODE, logs=["42.0\n"], usage=(137, 26)),
            Say("The square root of 1764 is 42.", usage=(151, 21)),
        ]
    ),
}
