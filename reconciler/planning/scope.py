"""Which accounts a change touches, for `--changed-since REF`.

`changed(then, now)` compares, account by account, what the manifests at REF (`then`) and
now (`now`) ask for, by meaning: the form the manifests digest hashes
(`planning.meaning.normalised_desired`), so reformatting, reordering, comments or moving an
entry between files reach no account. An account is in when:

- it is in one and not the other: added, or leaving management (REF had it, now does not);
- one of its entries was added, removed or changed, written on the account or reaching it
  through a group (groups are expanded per account, so a group change reaches exactly the
  accounts that use the group);
- one of its settings changed (`prune`, `notify`, `minAdmins`, its own `policy:`, a manager
  account's name, id or type);
- the top-level `policy:` changed: it applies to every account (removal limits, protected
  users), so every account the manifests manage now is in.

Manager accounts are matched as the planner matches them: by `id` where both sides pin one,
else by name. `narrow(desired, coverage)` keeps what a coverage plans, and nothing else;
reading and planning that is reading and planning exactly those accounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from reconciler.model import (
    Desired,
    DesiredAccount,
    DesiredManagerAccount,
    DesiredUser,
    canonical_email,
    manager_scope,
)
from reconciler.plan import Coverage, Covered
from reconciler.planning.meaning import normalised_desired

ADDED = "added to the manifests"
LEAVING = "no longer in the manifests: it leaves management (nothing is read or changed there)"


def _amc_meaning(account: DesiredAccount) -> dict[str, Any]:
    meaning: dict[str, Any] = normalised_desired(Desired(accounts=(account,)))["amcAccounts"][0]
    return meaning


def _manager_meaning(account: DesiredManagerAccount) -> dict[str, Any]:
    meaning: dict[str, Any] = normalised_desired(Desired(manager_accounts=(account,)))[
        "managerAccounts"
    ][0]
    return meaning


def _counted(noun: str, added: int, removed: int, changed: int) -> str:
    parts = [f"{n} {verb}" for n, verb in ((added, "added"), (removed, "removed")) if n]
    parts += [f"{changed} changed"] if changed else []
    return f"{noun}: {', '.join(parts)}" if parts else ""


def _settings(before: dict[str, Any], after: dict[str, Any], skip: str) -> str:
    keys = (before.keys() | after.keys()) - {skip}
    names = sorted(k for k in keys if before.get(k) != after.get(k))
    return f"settings changed: {', '.join(names)}" if names else ""


def _user_key(meaning: dict[str, Any]) -> str:
    return meaning["userId"] or canonical_email(meaning["email"] or "")


def _amc_why(before: DesiredAccount, after: DesiredAccount) -> list[str]:
    old, new = _amc_meaning(before), _amc_meaning(after)
    if old == new:
        return []
    was = {_user_key(u): u for u in old["users"]}
    now = {_user_key(u): u for u in new["users"]}
    added, removed = now.keys() - was.keys(), was.keys() - now.keys()
    changed = {k for k in was.keys() & now.keys() if was[k] != now[k]}
    why = [_counted("entries", len(added), len(removed), len(changed))]
    differing = added | removed | changed
    entries: Iterable[DesiredUser] = (*before.users, *after.users)
    groups = sorted({u.group for u in entries if u.group is not None and u.key in differing})
    if groups:
        why.append(f"through group{'s' if len(groups) > 1 else ''} {', '.join(groups)}")
    why.append(_settings(old, new, "users"))
    return [w for w in why if w] or ["entries changed"]


def _manager_why(before: DesiredManagerAccount, after: DesiredManagerAccount) -> list[str]:
    old, new = _manager_meaning(before), _manager_meaning(after)
    if old == new:
        return []

    def key(link: dict[str, Any]) -> tuple[str, str]:
        return (link["idType"], link["id"])

    was = {key(x): x for x in old["links"]}
    now = {key(x): x for x in new["links"]}
    added, removed = now.keys() - was.keys(), was.keys() - now.keys()
    changed = {k for k in was.keys() & now.keys() if was[k] != now[k]}
    why = [
        _counted("links", len(added), len(removed), len(changed)),
        _settings(old, new, "links"),
    ]
    return [w for w in why if w] or ["links changed"]


_Pair = tuple[DesiredManagerAccount | None, DesiredManagerAccount]


def _match_managers(
    then: tuple[DesiredManagerAccount, ...], now: tuple[DesiredManagerAccount, ...]
) -> tuple[list[_Pair], list[DesiredManagerAccount]]:
    """Each manager account now with its REF self (None: added), and those only at REF. By
    id where both pin one, else by name, as the planner finds a live account."""
    left = list(then)
    pairs: list[_Pair] = []
    for manager in now:
        match = next((m for m in left if manager.id is not None and m.id == manager.id), None)
        if match is None:
            unpinned = [m for m in left if m.id is None or manager.id is None]
            match = next((m for m in unpinned if m.name == manager.name), None)
        if match is not None:
            left.remove(match)
        pairs.append((match, manager))
    return pairs, left


def _policy_why(then: Desired, now: Desired) -> str:
    old = normalised_desired(replace(Desired(), policy=then.policy)).get("policy", {})
    new = normalised_desired(replace(Desired(), policy=now.policy)).get("policy", {})

    def unset(value: Any) -> Any:
        return None if value == [] else value  # an empty list is what an unset list means

    names = sorted(k for k in old.keys() | new.keys() if unset(old.get(k)) != unset(new.get(k)))
    if not names:
        return ""
    return f"policy changed ({', '.join(names)}): it applies to every account"


def changed(then: Desired, now: Desired) -> tuple[Covered, ...]:
    """The accounts whose desired state differs between `then` (the manifests at REF) and
    `now`, each with why, sorted by scope (module docstring)."""
    reasons: dict[str, list[str]] = {}
    leaving: set[str] = set()
    policy = _policy_why(then, now)
    was_amc = {a.scope: a for a in then.accounts}
    for account in now.accounts:
        before = was_amc.pop(account.scope, None)
        why = [ADDED] if before is None else _amc_why(before, account)
        why += [policy] if policy else []
        if why:
            reasons[str(account.scope)] = why
    for gone in was_amc.values():
        leaving.add(str(gone.scope))
    pairs, dropped = _match_managers(then.manager_accounts, now.manager_accounts)
    for before_m, manager in pairs:
        why = [ADDED] if before_m is None else _manager_why(before_m, manager)
        why += [policy] if policy else []
        if why:  # a manager account's people may have reasons in the same scope already
            reasons.setdefault(str(manager_scope(manager.key)), []).extend(why)
    for gone_m in dropped:
        leaving.add(str(manager_scope(gone_m.key)))
    out = [Covered(scope, tuple(why)) for scope, why in reasons.items()]
    # Planned wins where a scope is both (a name REF keyed one account by, now another's).
    out += [Covered(scope, (LEAVING,), leaving=True) for scope in leaving - reasons.keys()]
    return tuple(sorted(out))


def narrow(desired: Desired, coverage: Coverage) -> Desired:
    """`desired` with only the accounts `coverage` plans; policy and groups as they are."""
    planned = coverage.planned
    return replace(
        desired,
        accounts=tuple(a for a in desired.accounts if str(a.scope) in planned),
        manager_accounts=tuple(
            m for m in desired.manager_accounts if str(manager_scope(m.key)) in planned
        ),
    )
