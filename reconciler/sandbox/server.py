"""`reconciler sandbox serve`: the sandbox over loopback HTTP for any client (curl too).

One listener per emulated origin: the LWA token endpoint and one per region, each on its
own port (consecutive from `--port`, or all ephemeral with port 0), so a client sets its
base URLs and sends requests exactly as Amazon's docs show them. Stdlib only.

It speaks HTTP/1.1 like a server (found by a spec-driven fuzzer and third-party
clients): `Content-Length` and chunked request bodies; every method reaches the app, which
answers 405 in JSON for one it does not serve (TRACE, OPTIONS, ...); every error the HTTP
layer itself raises (a malformed request line, a bad `Content-Length`) is a JSON body too;
a body the app cannot parse is its 400, on a connection that stays usable; and a request
that makes the app fail is a JSON 500, never a connection closed without an answer.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import sys
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from reconciler.errors import ConfigError, UsageError
from reconciler.model import Region
from reconciler.sandbox import constants as c
from reconciler.sandbox.app import Request, Sandbox, parse_query
from reconciler.sandbox.faults import Faults
from reconciler.sandbox.state import World

TOKEN_ORIGIN = "https://api.amazon.com"


MAX_BODY_BYTES = 16 * 1024 * 1024


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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

    def __getattr__(self, name: str) -> object:
        # `do_TRACE`, `do_OPTIONS`, any method at all: the app routes it (and answers 405).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        """The request body: chunked (RFC 9112 §7.1) or by Content-Length, at most
        MAX_BODY_BYTES. A framing error closes the connection after the answer: where the
        next request starts is unknown."""
        encoding = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        if encoding:
            if encoding != "chunked":
                self.close_connection = True
                raise _BadRequest(501, f"Transfer-Encoding {encoding!r} is not supported")
            if self.headers.get("Content-Length") is not None:
                # Both framings (a smuggling pattern, RFC 9112 §6.3): chunked wins, and the
                # connection is not trusted for another request.
                self.close_connection = True
            return self._read_chunked()
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not raw.isdigit():
            self.close_connection = True
            raise _BadRequest(400, f"Content-Length {raw[:40]!r} is not a number")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise _BadRequest(413, f"the body is over {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            raise _BadRequest(400, "the body ended before Content-Length bytes")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            size_field = line.split(b";", 1)[0].strip()
            try:
                length = int(size_field, 16) if size_field.isalnum() else -1
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                raise _BadRequest(400, "a malformed chunk size line")
            if length == 0:
                break
            size += length
            if size > MAX_BODY_BYTES:
                self.close_connection = True
                raise _BadRequest(413, f"the body is over {MAX_BODY_BYTES} bytes")
            chunk = self.rfile.read(length)
            if len(chunk) < length or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                self.close_connection = True
                raise _BadRequest(400, "a chunk shorter than its size line")
            chunks.append(chunk)
        for _ in range(100):  # trailer fields, up to the blank line
            if self.rfile.readline(8192) in (b"\r\n", b"\n", b""):
                break
        return b"".join(chunks)

    def _answer(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer has headers only (RFC 9110 §9.3.2)
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors of the HTTP layer itself (a bad request line, headers too long) in JSON,
        like every other answer of the sandbox, instead of the stdlib's HTML page."""
        self.close_connection = True
        body = json.dumps({"code": str(code), "message": message or explain or ""}).encode()
        with contextlib.suppress(OSError):
            self._answer(code, body, [("Content-Type", c.MT_JSON)])

    def _serve(self) -> None:
        try:
            self._serve_one()
        except _BadRequest as exc:
            body = json.dumps({"code": str(exc.status), "message": exc.message}).encode()
            self._answer(exc.status, body, [("Content-Type", c.MT_JSON)])
        except OSError:
            self.close_connection = True
        except Exception:  # a bug in the sandbox: answer, and say where on stderr
            sys.stderr.write(traceback.format_exc())
            self.close_connection = True
            body = json.dumps({"code": "500", "message": "sandbox bug: see its stderr"}).encode()
            self._answer(500, body, [("Content-Type", c.MT_JSON)])

    def _serve_one(self) -> None:
        path, _, query = self.path.partition("?")
        body = self._read_body()
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
        headers = list(response.headers)
        if response.content_type:
            headers.append(("Content-Type", response.content_type))
        self._answer(response.status, response.body, headers)

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
        strict_media_types: bool = False,
    ) -> None:
        self.world = world
        self.sandbox = Sandbox(world, faults, strict_media_types=strict_media_types)
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
                raise ConfigError(
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
