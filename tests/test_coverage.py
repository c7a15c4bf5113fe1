"""Every Assistants method of the SDK reaches the tracker, in all its forms: plain, raw, streamed.

The list of methods is read from the SDK's resource classes, so a method added to the SDK and not
listed here fails ``test_every_sdk_method_is_listed``.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

RESOURCES = ("beta.assistants", "beta.threads", "beta.threads.messages", "beta.threads.runs",
             "beta.threads.runs.steps")
WRAPPERS = ("with_raw_response", "with_streaming_response")
STREAMING_HELPERS = {"create_and_run_stream", "stream", "create_and_stream", "submit_tool_outputs_stream"}
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


class World:
    """Fresh objects for one call: an assistant whose runs wait for a function output."""

    def __init__(self, api: Any) -> None:
        beta = api.client.beta
        self.assistant = api(beta.assistants.create, model="gpt-4o-mini", name="Cov", tools=[TOOL],
                             metadata={"script": "function"})
        self.thread = api(beta.threads.create)
        self.idle_thread = api(beta.threads.create, messages=[{"role": "user", "content": "Hi"}])
        self.message = api(beta.threads.messages.create, self.thread.id, role="user", content="Hi")
        self.run = api(beta.threads.runs.create_and_poll, thread_id=self.thread.id, assistant_id=self.assistant.id)
        steps = api(beta.threads.runs.steps.list, self.run.id, thread_id=self.thread.id)
        self.step = steps.data[0]

    def outputs(self) -> list[dict[str, str]]:
        return [{"tool_call_id": c.id, "output": json.dumps({"ok": 1})}
                for c in self.run.required_action.submit_tool_outputs.tool_calls]


def _new_thread() -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "Hi"}]}


Args = Callable[[World], tuple[tuple[Any, ...], dict[str, Any]]]
CALLS: dict[str, Args] = {
    "beta.assistants.create": lambda w: ((), {"model": "gpt-4o-mini", "name": "X"}),
    "beta.assistants.retrieve": lambda w: ((w.assistant.id,), {}),
    "beta.assistants.update": lambda w: ((w.assistant.id,), {"name": "Y"}),
    "beta.assistants.list": lambda w: ((), {}),
    "beta.assistants.delete": lambda w: ((w.assistant.id,), {}),
    "beta.threads.create": lambda w: ((), {}),
    "beta.threads.retrieve": lambda w: ((w.thread.id,), {}),
    "beta.threads.update": lambda w: ((w.thread.id,), {"metadata": {"k": "v"}}),
    "beta.threads.delete": lambda w: ((w.thread.id,), {}),
    "beta.threads.create_and_run": lambda w: ((), {"assistant_id": w.assistant.id, "thread": _new_thread()}),
    "beta.threads.create_and_run_poll": lambda w: ((), {"assistant_id": w.assistant.id, "thread": _new_thread()}),
    "beta.threads.create_and_run_stream": lambda w: ((), {"assistant_id": w.assistant.id,
                                                          "thread": _new_thread()}),
    "beta.threads.messages.create": lambda w: ((w.thread.id,), {"role": "user", "content": "More"}),
    "beta.threads.messages.retrieve": lambda w: ((w.message.id,), {"thread_id": w.thread.id}),
    "beta.threads.messages.update": lambda w: ((w.message.id,), {"thread_id": w.thread.id,
                                                                 "metadata": {"k": "v"}}),
    "beta.threads.messages.list": lambda w: ((w.thread.id,), {}),
    "beta.threads.messages.delete": lambda w: ((w.message.id,), {"thread_id": w.thread.id}),
    "beta.threads.runs.create": lambda w: ((), {"thread_id": w.idle_thread.id, "assistant_id": w.assistant.id}),
    "beta.threads.runs.retrieve": lambda w: ((w.run.id,), {"thread_id": w.thread.id}),
    "beta.threads.runs.update": lambda w: ((w.run.id,), {"thread_id": w.thread.id, "metadata": {"k": "v"}}),
    "beta.threads.runs.list": lambda w: ((w.thread.id,), {}),
    "beta.threads.runs.cancel": lambda w: ((w.run.id,), {"thread_id": w.thread.id}),
    "beta.threads.runs.poll": lambda w: ((w.run.id, w.thread.id), {}),
    "beta.threads.runs.create_and_poll": lambda w: ((), {"thread_id": w.idle_thread.id,
                                                         "assistant_id": w.assistant.id}),
    "beta.threads.runs.stream": lambda w: ((), {"thread_id": w.idle_thread.id, "assistant_id": w.assistant.id}),
    "beta.threads.runs.create_and_stream": lambda w: ((), {"thread_id": w.idle_thread.id,
                                                           "assistant_id": w.assistant.id}),
    "beta.threads.runs.submit_tool_outputs": lambda w: ((), {"run_id": w.run.id, "thread_id": w.thread.id,
                                                             "tool_outputs": w.outputs()}),
    "beta.threads.runs.submit_tool_outputs_and_poll": lambda w: ((), {"run_id": w.run.id, "thread_id": w.thread.id,
                                                                      "tool_outputs": w.outputs()}),
    "beta.threads.runs.submit_tool_outputs_stream": lambda w: ((), {"run_id": w.run.id, "thread_id": w.thread.id,
                                                                    "tool_outputs": w.outputs()}),
    "beta.threads.runs.steps.retrieve": lambda w: ((w.step.id,), {"thread_id": w.thread.id, "run_id": w.run.id}),
    "beta.threads.runs.steps.list": lambda w: ((w.run.id,), {"thread_id": w.thread.id}),
}


def resolve(root: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        root = getattr(root, part)
    return root


def public_methods(resource: Any) -> set[str]:
    names = set()
    for name in dir(type(resource)):
        if name.startswith("_") or name in WRAPPERS:
            continue
        value = getattr(type(resource), name)
        if callable(value) and not isinstance(value, property):
            names.add(name)
    return names


def sdk_methods(client: Any) -> set[str]:
    found = set()
    for path in RESOURCES:
        resource = resolve(client, path)
        found |= {f"{path}.{m}" for m in public_methods(resource)}
    return found


def test_every_sdk_method_is_listed(api: Any) -> None:
    assert sdk_methods(api.client) == set(CALLS)


def wrapped_methods(client: Any, wrapper: str, resources: tuple[str, ...] = RESOURCES) -> list[str]:
    found = []
    for path in resources:
        holder = getattr(resolve(client, path), wrapper)
        found += [f"{path}.{name}" for name, value in vars(holder).items()
                  if not name.startswith("_") and callable(value)]
    return found


def test_every_raw_and_streaming_wrapper_is_listed(api: Any) -> None:
    for wrapper in WRAPPERS:
        names = set(wrapped_methods(api.client, wrapper))
        assert names and names <= set(CALLS), names - set(CALLS)


class Spy:
    def __init__(self, tracker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[str] = []
        for name in ("observe", "stream_opened"):
            original = getattr(tracker, name)
            monkeypatch.setattr(tracker, name, self._record(name, original))

    def _record(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def spy(*args: Any) -> Any:
            self.seen.append(name)
            return original(*args)
        return spy


def _invoke(api: Any, form: str, method: str, world: World) -> None:
    args, kwargs = CALLS[method](world)
    call_in_form(api, form, method, args, kwargs, streaming=method.rsplit(".", 1)[-1] in STREAMING_HELPERS)


def call_in_form(api: Any, form: str, method: str, args: Any, kwargs: Any, streaming: bool) -> None:
    """Call ``method`` (dotted, from the client) plainly, through ``.with_raw_response`` or
    ``.with_streaming_response``, sync or async, reading what the app would read."""
    if form == "plain":
        fn = resolve(api.client, method)
        if streaming:
            api.stream(fn(*args, **kwargs))
        else:
            api(fn, *args, **kwargs)
        return
    fn = getattr(getattr(resolve(api.client, method.rsplit(".", 1)[0]), form), method.rsplit(".", 1)[1])
    if form == "with_raw_response":
        api.wait(api(fn, *args, **kwargs).parse())
        return

    async def streamed_async() -> None:
        async with fn(*args, **kwargs) as response:
            await response.parse()

    if api.kind == "async":
        api.wait(streamed_async())
    else:
        with fn(*args, **kwargs) as response:
            response.parse()


def form_cases(calls: Any, resources: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every listed method in every form: plain, and each wrapper's methods as the SDK builds them."""
    import openai

    client = openai.OpenAI(api_key="sk-x", base_url="http://127.0.0.1:9/v1")
    cases = [("plain", m) for m in sorted(calls)]
    for wrapper in WRAPPERS:
        names = wrapped_methods(client, wrapper, resources)
        assert names and set(names) <= set(calls), set(names) - set(calls)
        cases += [(wrapper, m) for m in sorted(names)]
    return cases


def _cases() -> list[tuple[str, str]]:
    return form_cases(CALLS, RESOURCES)


@pytest.mark.parametrize("form,method", _cases())
def test_each_method_reaches_the_tracker(api: Any, instrumented: Any, monkeypatch: pytest.MonkeyPatch,
                                         form: str, method: str) -> None:
    world = World(api)
    spy = Spy(instrumented.instrumentor._tracker, monkeypatch)
    _invoke(api, form, method, world)
    assert spy.seen, f"{form} {method} was not observed"
