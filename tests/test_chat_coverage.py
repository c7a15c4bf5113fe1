"""Every Chat Completions, Completions, Embeddings and Moderations method of the SDK reaches the chat
front end, in all its forms: plain, raw, streamed. The list is read from the SDK's resource classes,
so a method added to the SDK and not listed here fails ``test_every_sdk_method_is_listed``: each
method is priced (one span, tokens and dollars), free (counted, no money) or read-only (nothing)."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from chat_helpers import MODEL, points
from spanutil import named
from test_coverage import Spy, call_in_form, form_cases, public_methods, resolve

RESOURCES = ("chat.completions", "chat.completions.messages", "completions", "embeddings", "moderations")
STREAMING_HELPERS = {"chat.completions.stream"}
HELLO = [{"role": "user", "content": "Hi"}]

# What each method costs: "priced" (one span, tokens and dollars), "free" (one span, counted, no money),
# "read" (stored completions read, updated or deleted: no span, nothing accounted). No limits here: every
# method of these resources goes over HTTP.
COST = {
    "chat.completions.create": "priced",
    "chat.completions.parse": "priced",
    "chat.completions.stream": "priced",
    "chat.completions.retrieve": "read",
    "chat.completions.list": "read",
    "chat.completions.update": "read",
    "chat.completions.delete": "read",
    "chat.completions.messages.list": "read",
    "completions.create": "priced",
    "embeddings.create": "priced",
    "moderations.create": "free",
}
SPAN = {"chat.completions": "chat ", "completions": "text_completion ", "embeddings": "embeddings ",
        "moderations": "moderations"}


class World:
    """A stored completion for the read methods."""

    def __init__(self, api: Any) -> None:
        self.stored = api(api.client.chat.completions.create, model=MODEL, messages=HELLO, store=True)


Args = Callable[[World], tuple[tuple[Any, ...], dict[str, Any]]]
NEW = {"model": MODEL, "messages": HELLO}
CALLS: dict[str, Args] = {
    "chat.completions.create": lambda w: ((), NEW),
    "chat.completions.parse": lambda w: ((), NEW),
    "chat.completions.stream": lambda w: ((), {**NEW, "stream_options": {"include_usage": True}}),
    "chat.completions.retrieve": lambda w: ((w.stored.id,), {}),
    "chat.completions.list": lambda w: ((), {}),
    "chat.completions.update": lambda w: ((w.stored.id,), {"metadata": {"k": "v"}}),
    "chat.completions.delete": lambda w: ((w.stored.id,), {}),
    "chat.completions.messages.list": lambda w: ((w.stored.id,), {}),
    "completions.create": lambda w: ((), {"model": "gpt-3.5-turbo-instruct", "prompt": "Hi"}),
    "embeddings.create": lambda w: ((), {"model": "text-embedding-3-small", "input": "Hi there"}),
    "moderations.create": lambda w: ((), {"input": "Hi"}),
}


def sdk_methods(client: Any) -> set[str]:
    return {f"{path}.{m}" for path in RESOURCES for m in public_methods(resolve(client, path))}


def test_every_sdk_method_is_listed(api: Any) -> None:
    assert sdk_methods(api.client) == set(CALLS) == set(COST)


def _cases() -> list[tuple[str, str]]:
    return form_cases(CALLS, RESOURCES)


@pytest.mark.parametrize("form,method", _cases())
def test_each_method_is_priced_free_or_a_read(api: Any, instrumented: Any, monkeypatch: pytest.MonkeyPatch,
                                              form: str, method: str) -> None:
    world = World(api)
    prefix = next(span for resource, span in SPAN.items() if method.startswith(resource + "."))
    before = len(named(instrumented.spans(), prefix))
    tokens_before = sum(p.sum for p in points(instrumented, "gen_ai.client.token.usage"))
    spy = Spy(instrumented.instrumentor._chat, monkeypatch)
    args, kwargs = CALLS[method](world)
    call_in_form(api, form, method, args, kwargs, streaming=method in STREAMING_HELPERS)
    assert spy.seen or COST[method] == "read", f"{form} {method} was not observed"
    made = len(named(instrumented.spans(), prefix)) - before
    assert made == (0 if COST[method] == "read" else 1), (form, method, made)
    added = sum(p.sum for p in points(instrumented, "gen_ai.client.token.usage")) - tokens_before
    assert (added > 0) == (COST[method] == "priced"), (form, method, added)
    spent = [p for p in points(instrumented, "openai_cost.spend") if p.attributes["openai.api.type"] == "moderations"]
    assert not spent
