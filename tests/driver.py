"""Runs one test body against the sync or the async client."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable

import openai


class Driver:
    """Runs SDK calls on a sync or an async client, so one test body covers both."""

    def __init__(self, kind: str, base_url: str) -> None:
        self.kind = kind
        self.base_url = base_url
        self.loop = asyncio.new_event_loop() if kind == "async" else None
        self.client = self.new_client()

    def new_client(self, **kwargs: Any) -> Any:
        cls = openai.AsyncOpenAI if self.kind == "async" else openai.OpenAI
        return cls(base_url=self.base_url, api_key="sk-test-not-a-real-key", **kwargs)

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call an SDK method and return its result, awaiting it on the async client."""
        result = fn(*args, **newer_params_as_extra_body(fn, kwargs))
        return self.wait(result)

    def wait(self, result: Any) -> Any:
        if inspect.isawaitable(result):
            assert self.loop is not None
            return self.loop.run_until_complete(result)
        return result

    def stream(self, manager: Any, on_stream: Callable[[Any], Any] | None = None) -> Any:
        """Enter a stream manager, let ``on_stream`` read it (default: until done), return its result."""

        def consume(stream: Any) -> Any:
            return on_stream(stream) if on_stream else stream.until_done()

        if self.kind == "sync":
            with manager as stream:
                consume(stream)
                return stream

        async def run() -> Any:
            async with manager as stream:
                result = consume(stream)
                if inspect.isawaitable(result):
                    await result
                return stream

        return self.wait(run())

    def close(self) -> None:
        self.wait(self.client.close())
        if self.loop is not None:
            self.loop.close()


NEWER_PARAMS = ("background_options",)  # request parameters openai 2.x does not declare


def newer_params_as_extra_body(fn: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """What an app on an older SDK does: a parameter its method lacks goes in ``extra_body``."""
    missing = [name for name in NEWER_PARAMS if name in kwargs]
    if not missing or any(name in inspect.signature(fn).parameters for name in missing):
        return kwargs
    extra = {name: kwargs[name] for name in missing}
    rest = {k: v for k, v in kwargs.items() if k not in missing}
    return {**rest, "extra_body": {**(rest.get("extra_body") or {}), **extra}}
