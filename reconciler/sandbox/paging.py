"""Shared pieces of the operations: opaque pagination tokens and request accessors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from reconciler.sandbox import constants as c
from reconciler.sandbox.state import Account, World
from reconciler.sandbox.wire import ApiFailure, Call

T = TypeVar("T")


# -- pagination ---------------------------------------------------------------------------
def paginate(
    items: Sequence[T], *, world: World, kind: str, scope: str, token: Any, max_results: Any
) -> tuple[Sequence[T], str | None]:
    """One page and the nextToken (None on the last page). Tokens are opaque base64 and
    bound to the list they came from; a foreign or corrupt token is a 400."""
    cap = world.page_sizes[kind]
    size = cap
    if max_results is not None:
        if isinstance(max_results, bool) or not isinstance(max_results, int | float):
            raise ApiFailure(400, "maxResults must be a number")
        if not 1 <= max_results <= c.PAGE_SIZE_CAPS[kind]:
            raise ApiFailure(400, f"maxResults must be between 1 and {c.PAGE_SIZE_CAPS[kind]}")
        size = min(int(max_results), cap)
    offset = 0
    if token is not None:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
            if decoded["s"] != f"{kind}:{scope}":
                raise ValueError("token from another list")
            offset = int(decoded["o"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ApiFailure(400, "nextToken is not valid for this list") from exc
    page = items[offset : offset + size]
    if offset + size >= len(items):
        return page, None
    raw = json.dumps({"s": f"{kind}:{scope}", "o": offset + size}).encode()
    return page, base64.urlsafe_b64encode(raw).decode()


def body_object(call: Call) -> dict[str, Any]:
    if call.body is None:
        return {}
    if not isinstance(call.body, dict):
        raise ApiFailure(400, "the body must be a JSON object")
    return call.body


def target_account(call: Call) -> Account:
    """The account an account-scoped operation is about (the app checked the header)."""
    assert call.account_id is not None and call.kind is not None  # Route.account_scoped
    return call.world.accounts[call.kind][call.account_id]


def writable_account(call: Call) -> Account:
    """The account a write is for; 401 when the credentials reach it with Viewer
    permission only (`Account.viewer_only`): "Editor-only requests made with Viewer
    permission get 401" (reference §2.1)."""
    account = target_account(call)
    if account.viewer_only:
        raise ApiFailure(401, "Not authorized to access scope", "UNAUTHORIZED")
    return account
