"""The sandbox as an in-process httpx transport: no sockets, used by `--sandbox` and tests."""

from __future__ import annotations

import httpx

from reconciler.sandbox.app import Request, Sandbox, UnknownHost, parse_query
from reconciler.sandbox.faults import Faults
from reconciler.sandbox.state import World


class SandboxTransport(httpx.BaseTransport):
    """Routes each request by its URL host to the emulated region or token endpoint.

    A host the sandbox does not emulate raises `httpx.ConnectError`; a dropped connection
    raises `httpx.RemoteProtocolError`, as httpx does when a server closes without a
    response.
    """

    def __init__(
        self, world: World, *, faults: Faults | None = None, strict_media_types: bool = False
    ) -> None:
        self.world = world
        self.sandbox = Sandbox(world, faults, strict_media_types=strict_media_types)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = f"{url.scheme}://{url.host}"
        if url.port is not None:
            origin = f"{origin}:{url.port}"
        req = Request(
            method=request.method,
            origin=origin,
            path=url.path,
            query=parse_query(url.query.decode()),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.read(),
        )
        try:
            response = self.sandbox.handle(req)
        except UnknownHost as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        if response.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        headers = list(response.headers)
        if response.content_type:
            headers.append(("Content-Type", response.content_type))
        return httpx.Response(
            response.status, headers=headers, content=response.body, request=request
        )
