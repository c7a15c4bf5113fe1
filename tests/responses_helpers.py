"""Shared pieces of the Responses tests: prices worked by hand, stream draining, metric sums."""

from __future__ import annotations

import asyncio
import inspect
from decimal import Decimal
from typing import Any

# A model priced only by this override, so every dollar figure below can be worked by hand.
MODEL = "gpt-hand"
PRICES = {"models": {MODEL: {"input_per_1m": "2", "output_per_1m": "8", "cached_input_per_1m": "0.5",
                            "cache_write_per_1m": "2.5"}}}
RATE = {"input": Decimal(2), "output": Decimal(8), "cached": Decimal("0.5"), "write": Decimal("2.5")}


def hand_cost(tokens: int, rate: str) -> float:
    return float(Decimal(tokens) * RATE[rate] / Decimal(1_000_000))


def drain(api: Any, stream: Any) -> list[Any]:
    """Read a raw SSE stream (sync or async) to its end."""
    if api.kind == "sync":
        return list(stream)

    async def read() -> list[Any]:
        return [event async for event in stream]

    return api.wait(read())


def drain_manager(api: Any, manager: Any) -> Any:
    """Enter a ``responses.stream(...)`` manager and read it to its final response (sync or async)."""
    if api.kind == "sync":
        with manager as stream:
            for _ in stream:
                pass
            return stream.get_final_response()

    async def read() -> Any:
        async with manager as stream:
            async for _ in stream:
                pass
            return await stream.get_final_response()

    return api.wait(read())


def last_response(api: Any, manager: Any) -> Any:
    """Read a ``responses.stream(...)`` manager to its end; the response of its last response event
    (a failed or incomplete response has no ``response.completed`` for ``get_final_response``)."""
    found: list[Any] = []

    def keep(event: Any) -> None:
        if getattr(event, "response", None) is not None:
            found.append(event.response)

    if api.kind == "sync":
        with manager as stream:
            for event in stream:
                keep(event)
        return found[-1]

    async def read() -> Any:
        async with manager as stream:
            async for event in stream:
                keep(event)
        return found[-1]

    return api.wait(read())


def in_thread(api: Any, fn: Any) -> Any:
    """Run ``fn(client)`` on another thread (its own event loop for the async client)."""
    import threading

    result: list[Any] = []

    def work() -> None:
        client = api.new_client()
        if api.kind == "sync":
            result.append(fn(client))
            client.close()
            return

        async def run() -> None:
            value = fn(client)
            result.append(await value if inspect.isawaitable(value) else value)
            await client.close()

        asyncio.run(run())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)
    return result[0] if result else None


def points(otel: Any, name: str, **labels: Any) -> list[Any]:
    return [p for p in otel.metrics().get(name, []) if all(p.attributes.get(k) == v for k, v in labels.items())]


def total(otel: Any, name: str, **labels: Any) -> float:
    return sum(getattr(p, "sum", None) if hasattr(p, "sum") else p.value for p in points(otel, name, **labels))
