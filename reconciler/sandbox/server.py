"""`reconciler sandbox serve`: the sandbox over loopback HTTP for any client (curl too).

One listener per emulated origin: the LWA token endpoint and one per region, each on its
own port (consecutive from `--port`, or all ephemeral with port 0), so a client sets its
base URLs and sends requests exactly as Amazon's docs show them. Stdlib only.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from reconciler.errors import UsageError
from reconciler.model import Region
from reconciler.sandbox import constants as c
from reconciler.sandbox.app import Request, Sandbox, parse_query
from reconciler.sandbox.faults import Faults
from reconciler.sandbox.state import World

TOKEN_ORIGIN = "https://api.amazon.com"


def check_loopback(host: str, *, force: bool) -> None:
    """Refuse a non-loopback bind unless forced: the sandbox has no real authentication."""
    if force or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(
            f"refusing to serve the sandbox on {host}: it is not a loopback address and the "
            "sandbox's credentials are public. Use 127.0.0.1, or pass --allow-remote."
        )


class _Handler(BaseHTTPRequestHandler):
    server: _Listener
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            origin=self.server.origin,
            path=path,
            query=parse_query(query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.owner.sandbox.handle(request)
        if self.command != "GET":  # saved before answering: a client never outruns the file
            self.server.owner.persist()
        if response.drop:  # a dropped connection: close without a byte of response
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: object) -> None:
        if self.server.owner.verbose:
            # Only the request line and status: never headers, so never a token.
            sys.stderr.write(f"{self.server.origin} {format % args}\n")


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], origin: str, owner: SandboxServer) -> None:
        self.origin = origin
        self.owner = owner
        super().__init__(address, _Handler)


@dataclass(frozen=True, slots=True)
class Endpoints:
    token_url: str
    api_urls: dict[Region, str]

    def env_lines(self) -> list[str]:
        lines = [f"AMAZON_ADS_TOKEN_URL={self.token_url}"]
        lines += [f"AMAZON_ADS_API_URL_{r.value}={u}" for r, u in self.api_urls.items()]
        return lines


class SandboxServer:
    """Four loopback listeners over one `Sandbox`; `start` returns the URLs to use."""

    ORIGINS: ClassVar[tuple[str, ...]] = (TOKEN_ORIGIN, *c.API_HOSTS.values())

    def __init__(
        self,
        world: World,
        *,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: Path | None = None,
        verbose: bool = False,
    ) -> None:
        self.world = world
        self.sandbox = Sandbox(world, faults)
        self.host = host
        self.port = port
        self.state_path = state_path
        self.verbose = verbose
        self._listeners: list[_Listener] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> Endpoints:
        """Bind the four listeners and serve. A port that cannot be bound (in use, or not
        ours to bind) is a UsageError naming it, and nothing stays bound."""
        for i, origin in enumerate(self.ORIGINS):
            port = self.port + i if self.port else 0
            try:
                listener = _Listener((self.host, port), origin, self)
            except OSError as exc:
                self.stop()
                what = f"port {port}" if port else "a free port"
                raise UsageError(
                    f"cannot serve the sandbox on {self.host}, {what}: {exc.strerror or exc}. "
                    "It uses 4 consecutive ports from --port: choose another --port, or 0 for "
                    "any free ports."
                ) from None
            self._listeners.append(listener)
            thread = threading.Thread(target=listener.serve_forever, args=(0.05,), daemon=True)
            thread.start()
            self._threads.append(thread)
        urls = [f"http://{self.host}:{lst.server_address[1]}" for lst in self._listeners]
        return Endpoints(
            token_url=urls[0] + c.TOKEN_PATH,
            api_urls=dict(zip(c.API_HOSTS, urls[1:], strict=True)),
        )

    def persist(self) -> None:
        if self.state_path is not None:
            with self.world.lock:
                self.world.save(self.state_path)

    def stop(self) -> None:
        for listener in self._listeners:
            listener.shutdown()
            listener.server_close()
        for thread in self._threads:
            thread.join()
        self._listeners.clear()
        self._threads.clear()
