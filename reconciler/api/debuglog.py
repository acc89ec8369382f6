"""`--debug`: every request and response on stderr through `logging`, secrets redacted.

Logged: method, URL, status, duration, headers (Authorization and any token-bearing header
masked), and bodies (passed through `reconciler.redact`, which masks every registered secret
and anything shaped like a token). The formatter redacts the final line once more, so nothing
a handler prints can carry a secret even if a message was built elsewhere.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any

import httpx

from reconciler.redact import MASK, redact, register

LOGGER = logging.getLogger("reconciler.api")
_SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-amz-access-token"}
)
_MAX_BODY = 4000
_START = "reconciler.started"


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def enable(stream: IO[str] | None = None) -> logging.Handler:
    """Send `reconciler` debug logs to `stream` (stderr). Idempotent per stream."""
    root = logging.getLogger("reconciler")
    target = stream if stream is not None else sys.stderr
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is target:
            return handler
    handler = logging.StreamHandler(target)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return handler


def disable(handler: logging.Handler) -> None:
    """Undo `enable`: remove the handler (the stream may be closed after a command ends)."""
    root = logging.getLogger("reconciler")
    root.removeHandler(handler)
    if not root.handlers:
        root.setLevel(logging.NOTSET)


def _headers(headers: httpx.Headers) -> str:
    shown = {
        key: (MASK if key.lower() in _SENSITIVE_HEADERS else value)
        for key, value in headers.multi_items()
    }
    return redact(json.dumps(shown, sort_keys=True))


def _body(content: bytes) -> str:
    if not content:
        return "-"
    text = content[:_MAX_BODY].decode("utf-8", errors="replace")
    suffix = f"... ({len(content)} bytes)" if len(content) > _MAX_BODY else ""
    return redact(text) + suffix


def _learn_secrets(content: bytes) -> None:
    """A token response carries fresh secrets: register them before anything is printed."""
    try:
        body: Any = json.loads(content)
    except (ValueError, RecursionError):
        return
    if isinstance(body, dict):
        for key in ("access_token", "refresh_token"):
            value = body.get(key)
            if isinstance(value, str):
                register(value)


def log_request(request: httpx.Request) -> None:
    request.extensions[_START] = time.monotonic()
    if not LOGGER.isEnabledFor(logging.DEBUG):
        return
    LOGGER.debug(
        "request %s %s headers=%s body=%s",
        request.method,
        redact(str(request.url)),
        _headers(request.headers),
        _body(request.content),
    )


def log_response(response: httpx.Response) -> None:
    if not LOGGER.isEnabledFor(logging.DEBUG):
        return
    content = response.read()
    _learn_secrets(content)
    started = response.request.extensions.get(_START)
    duration = time.monotonic() - started if isinstance(started, float) else float("nan")
    LOGGER.debug(
        "response %s %s status=%s duration=%.3fs headers=%s body=%s",
        response.request.method,
        redact(str(response.request.url)),
        response.status_code,
        duration,
        _headers(response.headers),
        _body(content),
    )
