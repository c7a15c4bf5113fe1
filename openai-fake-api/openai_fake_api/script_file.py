"""Scripts from JSON, for ``python -m openai_fake_api --scripts FILE``: what each run does, without writing Python.

A file maps script names to a list of steps, or to ``{"steps": [...], "report_usage": false}``::

    {"weather": [{"function": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"},
                 {"say": "It is sunny in Paris.", "usage": [120, 9]}],
     "analyst": [{"code": "print(2 + 2)", "logs": ["4\\n"]}, {"say": "2 + 2 is 4."}]}

Step keys: ``say`` (text), ``code`` (input; ``logs``, ``images``), ``function`` (name; ``arguments``),
``file_search`` (number of results), ``tools`` (a list of code/function/file_search calls in one step),
``fail`` (error code; ``message``), ``expire``, ``incomplete`` (reason; ``text``). Any step may carry
``usage``: ``[prompt_tokens, completion_tokens]``. A run plays the script named by the ``script`` key of
its or its assistant's metadata; runs without one play ``text`` (a file may redefine it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from .scripts import (
    Code,
    Expire,
    Fail,
    FileSearch,
    Function,
    Incomplete,
    PlannedStep,
    Say,
    Script,
    StepUsage,
    ToolCallPlan,
    Tools,
)


class ScriptError(ValueError):
    """A script file that does not describe steps."""


def _usage(step: Dict[str, Any]) -> Optional[StepUsage]:
    usage = step.get("usage")
    if usage is None:
        return None
    if not (isinstance(usage, list) and len(usage) == 2 and all(isinstance(n, int) for n in usage)):
        raise ScriptError(f"usage must be [prompt_tokens, completion_tokens], not {usage!r}")
    return (usage[0], usage[1])


def _call(step: Dict[str, Any]) -> ToolCallPlan:
    usage = _usage(step)
    if "code" in step:
        return Code(step["code"], logs=list(step.get("logs", [])), images=int(step.get("images", 0)), usage=usage)
    if "function" in step:
        return Function(step["function"], step.get("arguments", "{}"), usage=usage)
    if "file_search" in step:
        return FileSearch(int(step["file_search"]), usage=usage)
    raise ScriptError(f"not a tool call: {step!r}")


_KINDS: Dict[str, Callable[[Dict[str, Any]], PlannedStep]] = {
    "say": lambda s: Say(s["say"], usage=_usage(s)),
    "tools": lambda s: Tools([_call(c) for c in s["tools"]], usage=_usage(s)),
    "fail": lambda s: Fail(s["fail"], s.get("message", "Sorry, something went wrong.")),
    "expire": lambda s: Expire(),
    "incomplete": lambda s: Incomplete(s["incomplete"], s.get("text", "The answer is cut"), usage=_usage(s)),
}


def step_from(step: Any) -> PlannedStep:
    """One planned step from its JSON object."""
    if not isinstance(step, dict):
        raise ScriptError(f"a step is an object, not {step!r}")
    for kind, make in _KINDS.items():
        if kind in step:
            return make(step)
    return _call(step)


def script_from(value: Any) -> Script:
    """A script from a list of steps or ``{"steps": [...], "report_usage": bool}``."""
    steps, report_usage = (value.get("steps"), value.get("report_usage")) if isinstance(value, dict) else (value, None)
    if not isinstance(steps, list) or not steps:
        raise ScriptError(f"a script is a non-empty list of steps, not {steps!r}")
    return Script([step_from(s) for s in steps], report_usage=report_usage)


def load_scripts(path: str | Path) -> Dict[str, Script]:
    """Every script of a JSON file, by name."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        raise ScriptError("a scripts file is an object mapping names to scripts")
    return {str(name): script_from(value) for name, value in data.items()}


def describe(script: Any) -> str:
    """A short description of a script (its steps, or a response script's items), for ``--list-scripts``."""
    parts: Any = getattr(script, "steps", None) or getattr(script, "items", ())
    return ", ".join(type(part).__name__.lower() for part in parts)


__all__ = ["ScriptError", "describe", "load_scripts", "script_from", "step_from"]
