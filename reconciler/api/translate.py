"""Turn an unhappy HTTP response into the `reconciler.errors` tree (errors.py principle 5)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from reconciler.errors import ApiError
from reconciler.redact import redact

_MAX_DETAIL = 300


def error_fields(response: httpx.Response) -> tuple[str | None, str | None]:
    """(code, detail) from any of the error shapes the specs declare: generic `{code, details}`,
    `ErrorDetail {code, message}`, AMC `{message, requestId}`, LWA `{error, error_description}`
    (reference §1.6, §2.2 "parse both defensively", §3.1, §1.3)."""
    try:
        body: Any = response.json()
    except ValueError:
        text = _plain(response.text)
        return None, (redact(text[:_MAX_DETAIL]) or None)
    if not isinstance(body, dict):
        return None, None
    code = body.get("code") or body.get("errorCode") or body.get("error")
    detail = (
        body.get("details")
        or body.get("message")
        or body.get("errorMessage")
        or body.get("error_description")
    )
    return (
        redact(str(code)) if code is not None else None,
        redact(str(detail)[:_MAX_DETAIL]) if detail is not None else None,
    )


def _plain(text: str) -> str:
    """A gateway's HTML error page (seen on 429s, issue #16) as its title, or its text."""
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
