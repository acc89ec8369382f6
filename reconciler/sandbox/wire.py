"""The sandbox's wire vocabulary: requests, responses, routes and the error shapes of each
API family. Operation modules (`ops_*`, `auth`, `control`, `paging`) and the app that routes
to them both build on this module, so the app can import the operations without a cycle."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import Region, ScopeKind
from reconciler.sandbox.state import World


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    origin: str  # scheme://host the client addressed, e.g. API_HOSTS[Region.NA]
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # keys lower-case
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False  # close the connection without answering


class UnknownHost(LookupError):
    """A request for a host the sandbox does not emulate: never answered silently."""


class ApiFailure(Exception):
    """Raised by an operation to answer with its API's error shape."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def json_response(status: int, data: Any, content_type: str) -> Response:
    return Response(status, json.dumps(data).encode(), content_type)


@dataclass(frozen=True, slots=True)
class Call:
    """What an operation handler receives."""

    world: World
    region: Region
    request: Request
    params: Mapping[str, str]  # path parameters
    body: Any  # parsed JSON, or None when the request had no body
    account_id: str | None  # the account an account-scoped operation is about
    kind: ScopeKind | None = None  # its kind (the header that named it says which)


Handler = Callable[[Call], Response]

# Error bodies per API family (reference §2.2-2.4, §3.1, §4.2, §5).
_MA_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 429: "TOO_MANY_REQUESTS"}
_UPM_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    406: "NOT_ACCEPTABLE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
}


def error_body(family: str, status: int, message: str, code: str | None, rid: str) -> Any:
    if family == "ma":  # S-MA ErrorDetail; its code enum has no 404/406/415 member
        return {
            "code": _MA_CODES.get(
                status, "INTERNAL_SERVICE_ERROR" if status >= 500 else "BAD_REQUEST"
            ),
            "message": message,
        }
    if family == "upm":
        return {"code": code or _UPM_CODES.get(status, "INTERNAL_ERROR"), "message": message}
    if family == "amc":
        return {"message": message, "requestId": rid}
    if family == "prof":  # S-PROF3 SPError
        return {"code": code or _MA_CODES.get(status, "INTERNAL_ERROR"), "details": message}
    if family == "lwa":
        return {"error": code or "invalid_request", "error_description": message}
    return {"message": message}  # S-INV: {message}


@dataclass(frozen=True, slots=True)
class Route:
    operation: str  # the spec's operationId
    method: str
    segments: tuple[str, ...]  # "{name}" segments are parameters
    family: str  # ma | inv | upm | amc | prof: picks the error shape
    request_type: str | None  # the Content-Type a body must have
    response_type: str  # the 2xx media type (checked against Accept)
    error_type: str  # the media type of error bodies
    handler: Handler
    write: bool = False
    account_scoped: bool = False  # needs the header naming an account (reference §4.1)
    body_required: bool = False

    def match(self, path: str) -> dict[str, str] | None:
        parts = tuple(p for p in path.split("/") if p)
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for want, got in zip(self.segments, parts, strict=True):
            if want.startswith("{"):
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params
