"""Sandbox-only operations over HTTP, under `/_sandbox/` (never an Amazon path).

`POST /_sandbox/<op>` with a JSON object of keyword arguments; `GET /_sandbox/state` returns
the snapshot; `GET /_sandbox/clock` the sandbox's clock as `{"now": <epoch seconds>}` (the
time its invitations expire by). Only the loopback server exposes these to other processes.

A web page the developer visits can send requests to loopback too (a `text/plain`
POST with a foreign `Origin` reset the sandbox). A browser sends a cross-site POST without a
CORS preflight only with a form or `text/plain` body, and always names its page's `Origin`:
so a POST must say `Content-Type: application/json`, and any request whose `Origin` is not a
loopback one (absent is fine: curl and the CLI send none) is refused with 403."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from reconciler.api.config import is_loopback
from reconciler.errors import ReconcilerError
from reconciler.model import ScopeKind
from reconciler.sandbox import constants as c
from reconciler.sandbox.state import Account, World
from reconciler.sandbox.wire import Request, Response
from reconciler.sandbox.world import World as Seeded


def _ok(data: Any) -> Response:
    return Response(200, json.dumps(data).encode(), c.MT_JSON)


def _error(status: int, message: str) -> Response:
    return Response(status, json.dumps({"error": message}).encode(), c.MT_JSON)


def _loopback_origin(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and is_loopback(parts.hostname or "")
    except ValueError:
        return False


def handle_control(world: World, request: Request) -> Response:
    op = request.path.removeprefix("/_sandbox/")
    origin = request.header("Origin")
    if origin is not None and not _loopback_origin(origin):
        return _error(403, "the sandbox control API refuses requests from a web page's Origin")
    if request.method == "GET" and op == "state":
        return _ok(world.snapshot())
    if request.method == "GET" and op == "stats":
        return _ok(world.stats.as_dict())
    if request.method == "GET" and op == "clock":
        return _ok({"now": world.now()})
    if request.method != "POST":
        return _error(405, "use POST for sandbox operations, GET for state and stats")
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != c.MT_JSON:
        return _error(415, f"send sandbox operations as Content-Type: {c.MT_JSON}")
    try:
        args = json.loads(request.body or b"{}")
        if not isinstance(args, dict):
            raise TypeError("the body must be a JSON object")
        with world.lock:
            result = apply_control(world, op, args)
    except KeyError as exc:
        return _error(404, str(exc.args[0]) if exc.args else str(exc))
    except (TypeError, ValueError) as exc:
        return _error(400, str(exc))
    except RecursionError:
        return _error(400, "the body is nested too deep")
    except ReconcilerError as exc:  # an invalid seed given to reset
        return _error(400, str(exc))
    return _ok({"result": result})


def _target(args: dict[str, Any]) -> tuple[str, ScopeKind | None]:
    """The account an operation names: `account` (an id, or `kind:id` to say which kind),
    or `amc_account_id` as before accounts of other kinds were served."""
    if "amc_account_id" in args:
        return str(args["amc_account_id"]), ScopeKind.AMC
    if "account" not in args:
        raise TypeError("name the account: `account` (an id, or KIND:ID)")
    text = str(args["account"])
    kind, sep, key = text.partition(":")
    if sep and kind in {k.value for k in ScopeKind}:
        return key, ScopeKind(kind)
    return text, None


def _strings(args: dict[str, Any], key: str) -> tuple[str, ...]:
    value = args.get(key) or ()
    if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
        raise TypeError(f"`{key}` must be a list of strings")
    return tuple(value)


def apply_control(world: World, op: str, args: dict[str, Any]) -> Any:
    """Run one sandbox operation by name; the CLI and the HTTP route share it."""
    if op in ("accept", "expire"):
        account_id, kind = _target(args)
        account = world.account(account_id, kind)
        invitation = _invitation(world, account, args)
        if op == "accept":
            return world.accept_invitation(account.account_id, invitation, account.kind)
        return world.expire_invitation(account.account_id, invitation, account.kind)
    if op == "link":
        return world.link(args["manager_account_id"], args["account_id"])
    if op == "unlink":
        return world.unlink(args["manager_account_id"], args["account_id"])
    if op == "add-user":
        account_id, kind = _target(args)
        return world.add_user(
            account_id,
            args["email"],
            args.get("role"),
            args.get("user_id"),
            kind=kind,
            permissions=_strings(args, "permissions"),
            countries=_strings(args, "countries"),
        )
    if op == "set-grant":
        account_id, kind = _target(args)
        return world.set_grant(
            account_id,
            args["user_id"],
            args.get("role"),
            kind=kind,
            permissions=_strings(args, "permissions"),
            countries=_strings(args, "countries"),
            keep_other_countries=bool(args.get("keep_other_countries", False)),
            keep_countries=bool(args.get("keep_countries", False)),
        )
    if op == "set-countries":
        account_id, kind = _target(args)
        return world.set_countries(account_id, args["user_id"], _strings(args, "countries"), kind)
    if op == "remove-user":
        account_id, kind = _target(args)
        return world.remove_user(account_id, args["user_id"], kind)
    if op == "add-account":
        account = world.add_account(
            ScopeKind(args["kind"]),
            str(args["account_id"]),
            str(args.get("name") or ""),
            viewer_only=bool(args.get("viewer_only", False)),
        )
        return f"{account.kind.value}:{account.account_id}"
    if op == "advance-clock":
        return world.advance_clock(float(args["seconds"]))
    if op == "clock":
        return world.now()
    if op == "reset":
        seed = args.get("seed")
        if seed is not None and not isinstance(seed, dict):
            raise TypeError("`seed` must be a JSON object in the seed format, or null")
        fresh = Seeded.from_seed(seed) if seed else Seeded.default()
        world.replace_with(fresh)
        return None
    raise KeyError(f"no sandbox operation {op!r}")


def _invitation(world: World, account: Account, args: dict[str, Any]) -> str:
    """`invitation_id` may also be the invitee's email: the newest open invitation for it."""
    key = str(args["invitation_id"])
    if "@" not in key:
        return key
    matches = [
        i
        for i in account.invitations
        if i.email.lower() == key.lower()
        and world.invitation_state(i) in (c.STATE_PENDING, c.STATE_EXPIRED)
    ]
    if not matches:
        raise KeyError(f"no open invitation for {key} on {account.account_id}")
    return max(matches, key=lambda i: i.created_at).invitation_id
