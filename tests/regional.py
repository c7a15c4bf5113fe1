"""An SDK client addressed to a data-residency host (``eu.api.openai.com``) whose requests reach the
local fake API: the production path of regional pricing (the client's base URL) over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx2
from driver import Driver


def _reroute(request: httpx2.Request, target: httpx2.URL) -> None:
    request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)


class Rerouted(httpx2.HTTPTransport):
    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = httpx2.URL(target)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        _reroute(request, self.target)
        return super().handle_request(request)


class AsyncRerouted(httpx2.AsyncHTTPTransport):
    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = httpx2.URL(target)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        _reroute(request, self.target)
        return await super().handle_async_request(request)


class RegionalDriver(Driver):
    """A driver whose clients address ``host`` while their requests reach the fake API at ``fake_url``."""

    def __init__(self, kind: str, fake_url: str, host: str) -> None:
        self.fake_url = fake_url
        super().__init__(kind, f"https://{host}/v1")

    def new_client(self, **kwargs: Any) -> Any:
        http: Any
        if self.kind == "async":
            http = httpx2.AsyncClient(transport=AsyncRerouted(self.fake_url))
        else:
            http = httpx2.Client(transport=Rerouted(self.fake_url))
        return super().new_client(http_client=http, **kwargs)


def driver(kind: str, fake_url: str, host: str) -> Driver:
    """A plain driver on the fake's own address for ``host="fake"``, else one addressed to ``host``."""
    return Driver(kind, fake_url) if host == "fake" else RegionalDriver(kind, fake_url, host)
