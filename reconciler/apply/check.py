"""Re-reading what a plan touches: for the stale-plan check, for an action whose outcome was
lost, and to verify an apply.

`read_scopes` reads exactly the scopes of some actions through `reconciler.live.read_live`,
with a `Desired` that names only those scopes (`selector`). `visible` says whether one
action's effect shows in such a read. Reference §2.6: there is no GET by id for a manager
account, so a re-read is `GET /managerAccounts` on the relevant hosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from reconciler.api import AdsReader
from reconciler.errors import StalePlanError
from reconciler.live import HOME_REGION, read_live
from reconciler.model import (
    AmcRole,
    Desired,
    DesiredAmcAccount,
    DesiredLink,
    DesiredManagerAccount,
    IdType,
    Live,
    LiveAmcAccount,
    LiveManagerAccount,
    Region,
    amc_scope,
    manager_scope,
)
from reconciler.plan import Action, ActionKind, Plan, stale_changes

_ALL_REGIONS = frozenset(Region)


def manager_id_of(action: Action, created: Mapping[str, str]) -> str | None:
    """The live id an action's manager account has, or got from a create in this apply."""
    if action.manager_account_id is not None:
        return action.manager_account_id
    if action.manager_account_name is not None:
        return created.get(action.manager_account_name)
    return None


def selector(saved: Live, actions: Iterable[Action], created: Mapping[str, str]) -> Desired:
    """A `Desired` that makes `read_live` read the scopes of `actions` and nothing else.

    The regions read are the ones the plan's own read covered (so a re-read compares like
    with like), plus the regions of links this plan associates. `read_live` reads all three
    regions when a manager account has `prune`, else the home region and its links' regions;
    the links here are probes that only choose regions, never compared with anything."""
    saved_by_id = {m.id: m for m in saved.manager_accounts}
    regions: dict[tuple[str | None, str], set[Region]] = {}
    amc: dict[str, DesiredAmcAccount] = {}
    for action in actions:
        kind, _, key = action.scope.partition(":")
        if kind == "amc":
            amc.setdefault(key, DesiredAmcAccount(id=key))
            continue
        ident = manager_id_of(action, created)
        name = action.manager_account_name or key
        wanted = regions.setdefault((ident, name), {HOME_REGION})
        known = saved_by_id.get(ident) if ident is not None else None
        wanted |= set(known.regions_read if known else saved.regions_read)
        if action.region is not None:
            wanted.add(action.region)
    managers = tuple(
        DesiredManagerAccount(
            name=name,
            id=ident,
            prune=wanted >= _ALL_REGIONS,
            links=tuple(
                DesiredLink(id=f"region-probe-{r.value}", region=r) for r in sorted(wanted)
            ),
        )
        for (ident, name), wanted in sorted(
            regions.items(), key=lambda kv: (kv[0][1], kv[0][0] or "")
        )
    )
    return Desired(manager_accounts=managers, amc_accounts=tuple(amc[k] for k in sorted(amc)))


def read_scopes(
    saved: Live,
    actions: Sequence[Action],
    reader: AdsReader,
    *,
    created: Mapping[str, str] | None = None,
) -> Live:
    """Read live state for the scopes of `actions` (failed parts come back `Incomplete`)."""
    return read_live(selector(saved, actions, created or {}), reader)


def _restrict(fresh: Live, saved: Live) -> Live:
    """`fresh` with each manager account's links limited to the regions the saved read
    covered: a link in a region the plan never looked at is not a change since the plan."""
    saved_regions = {m.id: m.regions_read for m in saved.manager_accounts}
    managers = []
    for account in fresh.manager_accounts:
        regions = saved_regions.get(account.id)
        if regions is None:
            managers.append(account)
            continue
        links = tuple(x for x in account.links if x.region in regions)
        managers.append(
            LiveManagerAccount(
                id=account.id,
                name=account.name,
                links=links,
                regions_read=account.regions_read & regions,
                truncated_regions=account.truncated_regions & regions,
            )
        )
    return Live(
        manager_accounts=tuple(managers),
        amc_accounts=fresh.amc_accounts,
        incomplete=fresh.incomplete,
        regions_read=fresh.regions_read,
        read_at=fresh.read_at,
    )


def check_not_stale(plan: Plan, reader: AdsReader) -> Live:
    """Re-read the scopes `plan` touches; raise `StalePlanError` listing what moved since the
    plan was made, else return the fresh read."""
    if not plan.actions:
        return plan.live
    fresh = read_scopes(plan.live, plan.actions, reader)
    moved = stale_changes(plan.live, _restrict(fresh, plan.live), plan.scopes_touched)
    if moved:
        raise StalePlanError(moved)
    return fresh


def _manager(live: Live, manager_id: str | None) -> LiveManagerAccount | None:
    return next((m for m in live.manager_accounts if m.id == manager_id), None)


def _amc(live: Live, account_id: str | None) -> LiveAmcAccount | None:
    return next((a for a in live.amc_accounts if a.id == account_id and a.reachable), None)


def created_ids(action: Action, fresh: Live, saved: Live) -> list[str]:
    """Ids of live manager accounts named like the one `action` creates that the plan's read
    did not see: the ones created since (by this apply, or behind its back)."""
    before = {m.id for m in saved.manager_accounts}
    return sorted(
        m.id for m in fresh.manager_accounts if m.name == action.target and m.id not in before
    )


def read_home(action: Action, reader: AdsReader) -> Live:
    """Re-read the home region for the manager account a create action names, right before
    the create is sent: one `GET /managerAccounts` (manager accounts are global, so the home
    host shows that one exists, reference §2.2). Amazon does not refuse a second account with
    the same name and none can be deleted ([UNK] reference §2.3), so an apply that started
    together with another (on another machine) looks again at the last moment."""
    probe = DesiredManagerAccount(name=action.target, prune=False)
    return read_live(Desired(manager_accounts=(probe,)), reader)


def incomplete(action: Action, fresh: Live, created: Mapping[str, str]) -> str | None:
    """Why `fresh` cannot tell whether `action` took effect, or None when it can."""
    scopes = [action.scope]
    ident = manager_id_of(action, created)
    if ident is not None:
        scopes.append(manager_scope(ident))
    if action.scope.startswith("manager:"):
        scopes.append(manager_scope("*"))
    for scope in scopes:
        reason = fresh.incomplete_reason(scope)
        if reason is not None:
            return reason
    if action.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
        return None
    if action.scope.startswith("amc:") and _amc(fresh, action.amc_account_id) is None:
        return f"{amc_scope(str(action.amc_account_id))} was not readable"
    if action.scope.startswith("manager:") and _manager(fresh, ident) is None:
        return f"manager account {ident or action.manager_account_name} was not found"
    return None


def visible(action: Action, fresh: Live, saved: Live, created: Mapping[str, str]) -> bool:
    """Whether `fresh` shows the effect of `action`. Call `incomplete` first: on a scope
    that was not read completely this answers False."""
    payload = action.payload
    match action.kind:
        case ActionKind.CREATE_MANAGER_ACCOUNT:
            return bool(created_ids(action, fresh, saved))
        case ActionKind.ASSOCIATE | ActionKind.DISASSOCIATE:
            account = _manager(fresh, manager_id_of(action, created))
            if account is None:
                return False
            want = DesiredLink(id=str(payload["id"]), id_type=IdType(payload["type"]))
            linked = any(x.matches(want) for x in account.links)
            return linked if action.kind is ActionKind.ASSOCIATE else not linked
    amc = _amc(fresh, action.amc_account_id)
    if amc is None:
        return False
    match action.kind:
        case ActionKind.INVITE:
            email = str(payload["user"]["emailAddress"]).lower()
            role = AmcRole.from_api(str(payload["permissionSet"]["role"]["name"]))
            before = {
                i.invitation_id for a in saved.amc_accounts if a.id == amc.id for i in a.invitations
            }
            return any(
                i.email.lower() == email and i.role is role and i.invitation_id not in before
                for i in amc.invitations
            )
        case ActionKind.REVOKE_INVITATION:
            return all(i.invitation_id != action.target for i in amc.invitations)
        case ActionKind.RESEND_INVITATION:
            old = _saved_expiry(saved, amc.id, action.target)
            return any(
                i.invitation_id == action.target
                and i.expires_at is not None
                and (old is None or i.expires_at > old)
                for i in amc.invitations
            )
        case ActionKind.SET_ROLE:
            role = AmcRole.from_api(str(payload["permissionSet"]["role"]))
            return any(u.user_id == action.target and u.role is role for u in amc.users)
        case ActionKind.REVOKE_USER:
            return all(u.user_id != action.target for u in amc.users)
    return False


def _saved_expiry(saved: Live, amc_id: str, invitation_id: str) -> float | None:
    for account in saved.amc_accounts:
        if account.id == amc_id:
            for invitation in account.invitations:
                if invitation.invitation_id == invitation_id:
                    return invitation.expires_at
    return None
