"""What moved in live state since a saved plan was made.

Each touched scope is reduced to a plain dict keyed by identity (userId, invitationId, link
id), the saved and fresh dicts are compared with deepdiff, and every difference becomes one
line a person can read, e.g. `amc:ENTITY1: user amzn1.account.X role viewer -> admin`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deepdiff import DeepDiff

from reconciler.model import Live, Scope
from reconciler.plan import when


def _manager_view(live: Live, key: str) -> dict[str, Any]:
    """The manager accounts a scope names: by live id, or by name for one the plan creates."""
    view: dict[str, Any] = {}
    for account in live.manager_accounts:
        if key not in (account.id, account.name):
            continue
        view[account.id] = {
            "name": account.name,
            "links": {
                f"{link.account_id} ({link.region.value})": {
                    "accountType": link.account_type,
                    "dspAdvertiserId": link.dsp_advertiser_id,
                }
                for link in account.links
            },
            "truncated": sorted(r.value for r in account.truncated_regions),
        }
    return view


def _amc_view(live: Live, scope: Scope) -> dict[str, Any]:
    """The people of the account at `scope` (any kind): what each holds, as people read it
    (a custom set and its countries exactly)."""
    for account in live.accounts:
        if account.scope != scope:
            continue
        return {
            "reachable": account.reachable,
            "users": {u.user_id: {"email": u.email, "role": u.shown} for u in account.users},
            "invitations": {
                i.invitation_id: {
                    "email": i.email,
                    "role": str(i.grant) if i.grant is not None else _role(i.role, ()),
                    "state": i.state.upper(),
                    "expiresAt": i.expires_at,
                }
                for i in account.invitations
            },
        }
    return {}


def _role(role: object, raw: tuple[str, ...]) -> str:
    value = getattr(role, "value", None)
    return str(value) if value is not None else ("/".join(raw) or "unmanaged")


def _view(live: Live, scope: Scope) -> dict[str, Any]:
    if not scope.is_manager:
        return {"view": _amc_view(live, scope), "incomplete": live.unreadable(scope)}
    view = _manager_view(live, scope.key)
    people = _amc_view(live, scope)
    if people:  # a manager account's people, when the manifests manage them
        view[PEOPLE] = people
    return {"view": view, "incomplete": live.unreadable(scope)}


PEOPLE = "people"  # never a manager account's id (amzn1.ads1.ma1...)


def _describe(scope: Scope, path: list[Any], old: Any, new: Any, change: str) -> str:
    amc = not scope.is_manager
    if path == ["incomplete"]:
        return f"{scope}: read completeness {old or 'complete'} -> {new or 'complete'}"
    path = path[1:]  # drop "view"
    if not path:
        return f"{scope}: {'AMC' if amc else 'manager'} account {change}"
    if not amc and path[0] == PEOPLE:
        amc, path = True, path[1:]
        if not path:
            return f"{scope}: its people {'are now read' if change == 'added' else 'went'}"
    if not amc:
        what = f"manager account {path[0]}"
        if len(path) == 1:
            name = (new if change == "added" else old)["name"]
            return f"{scope}: {what} ({name!r}) {'now exists' if change == 'added' else 'is gone'}"
        if path[1] == "links" and len(path) == 3:
            return f"{scope}: {what} link {path[2]} {change}"
        return f"{scope}: {what} {' '.join(map(str, path[1:]))} {old!r} -> {new!r}"
    if path[0] in ("users", "invitations") and len(path) >= 2:
        noun = "user" if path[0] == "users" else "invitation"
        if len(path) == 2:
            item = new if change == "added" else old
            return f"{scope}: {noun} {path[1]} ({item['email']}, {item['role']}) {change}"
        if path[2] == "expiresAt":
            old, new = (when(t) if t is not None else "never" for t in (old, new))
        return f"{scope}: {noun} {path[1]} {path[2]} {old} -> {new}"
    return f"{scope}: {' '.join(map(str, path))} {old!r} -> {new!r}"


_CHANGES = {
    "dictionary_item_added": "added",
    "dictionary_item_removed": "removed",
    "values_changed": "changed",
    "type_changes": "changed",
    "iterable_item_added": "changed",
    "iterable_item_removed": "changed",
}


def changes(saved: Live, fresh: Live, scopes: Iterable[Scope]) -> list[str]:
    lines: list[str] = []
    for scope in sorted(set(scopes)):
        # threshold_to_diff_deeper=0: always itemise, never report a whole dict as replaced.
        diff = DeepDiff(
            _view(saved, scope), _view(fresh, scope), view="tree", threshold_to_diff_deeper=0
        )
        found: list[str] = []
        for report, levels in diff.items():
            change = _CHANGES.get(report, "changed")
            for level in levels:
                path = level.path(output_format="list")
                if report.startswith("iterable_item"):
                    path = path[:-1]  # a whole list (truncated regions) is one fact
                    level = level.up
                old = None if change == "added" else level.t1
                new = None if change == "removed" else level.t2
                found.append(_describe(scope, path, old, new, change))
        lines.extend(sorted(set(found)))
    return lines
