"""Turn an unhappy HTTP response into the `reconciler.errors` tree (errors.py principle 5)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from reconciler.errors import ApiError
from reconciler.escape import terminal
from reconciler.redact import redact

_MAX_DETAIL = 300
# A response body larger than this is refused (answers are read bounded). The
# largest real answer, a page of 100 users, is a few tens of kB.
MAX_BODY_BYTES = 8 * 1024 * 1024


class BodyError(ValueError):
    """A response body that cannot be used as JSON: not JSON, too large or nested too deep.
    Its message says which, in words fit for an error message."""


def json_body(content: bytes) -> Any:
    """`content` parsed as JSON, or BodyError. Nesting deep enough to exhaust the parser's
    recursion (`[` 100,000 deep) is an error like any other, never a RecursionError."""
    if len(content) > MAX_BODY_BYTES:
        raise BodyError(f"a body of {len(content)} bytes, over the {MAX_BODY_BYTES} byte limit")
    try:
        return json.loads(content)
    except RecursionError:
        raise BodyError("a JSON body nested too deep to read") from None
    except ValueError:
        raise BodyError("a body that is not JSON") from None


def error_fields(response: httpx.Response) -> tuple[str | None, str | None]:
    """(code, detail) from any of the error shapes the specs declare: generic `{code, details}`,
    `ErrorDetail {code, message}`, AMC `{message, requestId}`, LWA `{error, error_description}`
    (reference §1.6, §2.2 "parse both defensively", §3.1, §1.3)."""
    try:
        body: Any = json_body(response.content)
    except BodyError:
        text = _plain(response.content[: 64 * _MAX_DETAIL].decode("utf-8", errors="replace"))
        return None, (terminal(redact(text[:_MAX_DETAIL])) or None)
    if not isinstance(body, dict):
        return None, None
    code = body.get("code") or body.get("errorCode") or body.get("error")
    detail = (
        body.get("details")
        or body.get("message")
        or body.get("errorMessage")
        or body.get("error_description")
    )
    # Server text is data: escaped so it can neither break the message into lines nor
    # reach a terminal as control characters.
    return (
        terminal(redact(str(code))) if code is not None else None,
        terminal(redact(str(detail)[:_MAX_DETAIL])) if detail is not None else None,
    )


def _plain(text: str) -> str:
    """A gateway's HTML error page (seen on 429s) as its title, or its text."""
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        text = title.group(1)
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", text)).split())


def describe(request: httpx.Request) -> str:
    return f"{request.method} {request.url.copy_with(query=None)}"


def api_error(
    response: httpx.Response,
    *,
    operation: str,
    cls: type[ApiError] = ApiError,
    hint: str = "",
) -> ApiError:
    code, detail = error_fields(response)
    parts = [f"{operation} ({describe(response.request)}) failed: HTTP {response.status_code}"]
    if code:
        parts.append(f" {code}")
    if detail:
        parts.append(f": {detail}")
    if hint:
        parts.append(f". {hint}")
    return cls(
        redact("".join(parts)),
        operation=operation,
        status=response.status_code,
        code=code,
        detail=detail,
    )


def read_bounded(response: httpx.Response, *, operation: str) -> None:
    """Read the body of a streamed `response`, refusing one over MAX_BODY_BYTES (counted
    after decompression) before it is all in memory."""
    declared = response.headers.get("Content-Length", "")
    too_large = ApiError(
        f"{operation}: HTTP {response.status_code} with a body over the {MAX_BODY_BYTES} byte "
        "limit; refusing to read it",
        operation=operation,
        status=response.status_code,
    )
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    if hasattr(response, "_content"):  # already read, by the --debug log hook
        if len(response.content) > MAX_BODY_BYTES:
            raise too_large
        return
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    # What `Response.read()` does, with the bound applied as it goes.
    response._content = b"".join(chunks)
