"""Request handling: one `Sandbox` answers requests for every host it emulates.

Both ways in (the in-process httpx transport and the loopback server) turn their requests
into a `Request` and send back the `Response`. The order of checks for an API call: route
(404/405) -> load faults (429/5xx/drop) -> auth (401) -> media types (415/406) -> body
(400) -> account header (400/403) -> the operation -> faults after a write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from reconciler.model import Region
from reconciler.sandbox import constants as c
from reconciler.sandbox.faults import Fault, FaultRun, Faults
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
    account_id: str | None  # Amazon-Ads-AccountId for the AMC user operations


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
    if family == "lwa":
        return {"error": code or "invalid_request", "error_description": message}
    return {"message": message}  # S-INV: {message}


@dataclass(frozen=True, slots=True)
class Route:
    operation: str  # the spec's operationId
    method: str
    segments: tuple[str, ...]  # "{name}" segments are parameters
    family: str  # ma | inv | upm | amc: picks the error shape
    request_type: str | None  # the Content-Type a body must have
    response_type: str  # the 2xx media type (checked against Accept)
    error_type: str  # the media type of error bodies
    handler: Handler
    write: bool = False
    account_scoped: bool = False  # needs Amazon-Ads-AccountId naming an AMC account
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


def _routes() -> tuple[Route, ...]:
    from reconciler.sandbox.ops_amc import ROUTES as AMC
    from reconciler.sandbox.ops_manager import ROUTES as MANAGER
    from reconciler.sandbox.ops_users import ROUTES as USERS

    return (*MANAGER, *AMC, *USERS)


def _media_type(value: str | None) -> str | None:
    return value.split(";")[0].strip() if value else None


def _accepts(accept: str | None, media_type: str) -> bool:
    """An absent Accept takes anything ([UNK] decision); otherwise one of the listed ranges
    must be */*, the vendored type's top-level wildcard, or the vendored type itself."""
    if not accept:
        return True
    ranges = {r.split(";")[0].strip() for r in accept.split(",")}
    top = media_type.split("/")[0]
    return bool(ranges & {"*/*", f"{top}/*", media_type})


class Sandbox:
    """Answers `Request`s from one `World`, applying one `Faults` policy."""

    def __init__(self, world: World, faults: Faults | None = None) -> None:
        self.world = world
        self.faults = faults or Faults()
        self.run = FaultRun(self.faults)
        self.routes = _routes()
        unknown = {op for op, _ in self.faults.op_rate_limits} - {r.operation for r in self.routes}
        if unknown:
            known = ", ".join(sorted({r.operation for r in self.routes}))
            raise ValueError(
                f"no such operation: {', '.join(sorted(unknown))}; the sandbox has {known}"
            )
        self._regions = {origin: region for region, origin in API_HOSTS_BY_REGION.items()}
        self._request_counter = 0

    def handle(self, request: Request) -> Response:
        host = request.origin.split("://", 1)[-1]
        region = self._regions.get(request.origin)
        if region is None and host not in c.TOKEN_HOSTS:
            raise UnknownHost(
                f"the sandbox does not emulate {request.origin!r}; it answers "
                f"{', '.join(API_HOSTS_BY_REGION.values())} and https://{'|'.join(c.TOKEN_HOSTS)}"
            )
        if request.path.startswith("/_sandbox/"):
            from reconciler.sandbox.control import handle_control

            return handle_control(self.world, request)
        if region is None:
            from reconciler.sandbox.auth import handle_token

            return handle_token(self.world, request)
        candidates = [(r, p) for r in self.routes if (p := r.match(request.path)) is not None]
        if not candidates:
            body = {"code": "NOT_FOUND", "details": f"no resource at {request.path}"}
            return json_response(404, body, c.MT_JSON)
        chosen = next(((r, p) for r, p in candidates if r.method == request.method), None)
        if chosen is None:
            allowed = ", ".join(sorted({r.method for r, _ in candidates}))
            body = {"code": "METHOD_NOT_ALLOWED", "details": f"use {allowed}"}
            return Response(405, json.dumps(body).encode(), c.MT_JSON, (("Allow", allowed),))
        route, params = chosen
        if self.faults.latency_s:
            time.sleep(self.faults.latency_s)  # outside the lock: slow, not serialised
        with self.world.lock:
            return self._dispatch(route, params, region, request)

    def _dispatch(
        self, route: Route, params: dict[str, str], region: Region, request: Request
    ) -> Response:
        world = self.world
        world.stats.requests[route.operation] += 1
        self._request_counter += 1
        rid = f"sandbox-request-{self._request_counter:08d}"

        def fail(status: int, message: str, code: str | None = None) -> Response:
            body = error_body(route.family, status, message, code, rid)
            return json_response(status, body, route.error_type)

        client_id = request.header("Amazon-Advertising-API-ClientId") or ""
        draw = self.run.draw(client_id, world.now(), route.operation)
        if draw.before is not None:
            world.stats.faults[draw.before.value] += 1
            if draw.before in (Fault.RATE_LIMITED, Fault.OP_RATE_LIMITED, Fault.THROTTLED):
                world.stats.throttled += 1
                response = fail(429, "Too Many Requests: slow down and retry", None)
                answer = self.faults.throttle_answer(
                    draw, world.now(), response.body, response.content_type
                )
                return Response(429, *answer)
            if draw.before is Fault.DROP:
                return Response(0, drop=True)
            return fail(500, "Internal server error (sandbox fault injection)")
        try:
            from reconciler.sandbox.auth import check_bearer

            check_bearer(world, request)
            body = self._parse_body(route, request)
            account_id = self._account(route, request)
            response = route.handler(Call(world, region, request, params, body, account_id))
        except ApiFailure as exc:
            return fail(exc.status, exc.message, exc.code)
        if route.write and response.status < 300:
            world.stats.writes += 1
            if draw.after_write is not None:
                world.stats.faults[draw.after_write.value] += 1
                if draw.after_write is Fault.DROP_AFTER_WRITE:
                    return Response(0, drop=True)
                return fail(500, "Internal server error (sandbox fault after the write)")
        return response

    @staticmethod
    def _parse_body(route: Route, request: Request) -> Any:
        if not _accepts(request.header("Accept"), route.response_type):
            raise ApiFailure(
                406,
                f"Not Acceptable: this operation answers {route.response_type}; "
                "send that as Accept (or */*, or no Accept)",
            )
        if not request.body:
            if route.body_required:
                raise ApiFailure(400, "the request body is required")
            return None
        sent = _media_type(request.header("Content-Type"))
        if sent != route.request_type:
            raise ApiFailure(
                415,
                f"Unsupported Media Type {sent!r}: send Content-Type: {route.request_type}",
            )
        try:
            return json.loads(request.body)
        except ValueError as exc:
            raise ApiFailure(400, f"the body is not valid JSON: {exc}") from exc

    def _account(self, route: Route, request: Request) -> str | None:
        if not route.account_scoped:
            return None
        account_id = request.header("Amazon-Ads-AccountId")
        if not account_id:
            if request.header("Amazon-Ads-ManagerAccountId") or request.header(
                "Amazon-Advertising-API-Scope"
            ):
                raise ApiFailure(
                    403, "the sandbox emulates AMC accounts only: send Amazon-Ads-AccountId"
                )
            raise ApiFailure(400, "the Amazon-Ads-AccountId header is required (S-INV/S-UPM)")
        if account_id not in self.world.amc:
            raise ApiFailure(403, f"Forbidden: no AMC_ADMIN access to account {account_id!r}")
        return account_id


API_HOSTS_BY_REGION = c.API_HOSTS


def parse_query(raw: str) -> tuple[tuple[str, str], ...]:
    return tuple(parse_qsl(raw, keep_blank_values=True))
