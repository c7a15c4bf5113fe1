"""An SDK client addressed to a data-residency host (``eu.api.openai.com``) whose requests reach the
local fake API: the production path of regional pricing (the client's base URL) over real HTTP."""

from __future__ import annotations

from typing import Any

from driver import Driver
from sdk import http  # httpx in openai 2.x, httpx2 in 3.x


def _reroute(request: Any, target: Any) -> None:
    request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)


class Rerouted(http.HTTPTransport):  # type: ignore[name-defined,misc]
    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = http.URL(target)

    def handle_request(self, request: Any) -> Any:
        _reroute(request, self.target)
        return super().handle_request(request)


class AsyncRerouted(http.AsyncHTTPTransport):  # type: ignore[name-defined,misc]
    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = http.URL(target)

    async def handle_async_request(self, request: Any) -> Any:
        _reroute(request, self.target)
        return await super().handle_async_request(request)


class RegionalDriver(Driver):
    """A driver whose clients address ``host`` while their requests reach the fake API at ``fake_url``."""

    def __init__(self, kind: str, fake_url: str, host: str) -> None:
        self.fake_url = fake_url
        super().__init__(kind, f"https://{host}/v1")

    def new_client(self, **kwargs: Any) -> Any:
        client: Any
        if self.kind == "async":
            client = http.AsyncClient(transport=AsyncRerouted(self.fake_url))
        else:
            client = http.Client(transport=Rerouted(self.fake_url))
        return super().new_client(http_client=client, **kwargs)


def driver(kind: str, fake_url: str, host: str) -> Driver:
    """A plain driver on the fake's own address for ``host="fake"``, else one addressed to ``host``."""
    return Driver(kind, fake_url) if host == "fake" else RegionalDriver(kind, fake_url, host)
