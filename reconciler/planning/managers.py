"""Plan manager accounts and their linked accounts (reference §2).

- A manager account is found by its `id` pin, else by its exact name. Missing and unpinned:
  created (it needs a `type`), and its links associated in the same apply with
  `manager_account_id=None`. A pin that is not live, or a name shared by two live accounts,
  is a `PlanError`.
- Links: associate what is listed and missing; with `prune`, disassociate what is linked but
  not listed. `GET /managerAccounts` does not return link roles (§2.2), so a role written on
  a link that already exists cannot be checked: it is noted, never acted on.
- Manager accounts cannot be deleted through the API (§2.3): one no longer in the manifests
  is only noted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from reconciler.actions import links, manager_accounts
from reconciler.model import (
    Desired,
    DesiredManagerAccount,
    IdType,
    Live,
    LiveManagerAccount,
    manager_scope,
)
from reconciler.plan import ManagerRef, Notice
from reconciler.planning.draft import Draft, where


def _find_live(
    account: DesiredManagerAccount,
    by_id: dict[str, LiveManagerAccount],
    by_name: dict[str, list[LiveManagerAccount]],
    draft: Draft,
    live: Live,
) -> LiveManagerAccount | None:
    if account.id is not None:
        found = by_id.get(account.id)
        if found is None and live.unreadable(manager_scope(account.id)) is not None:
            # Not seen because the read failed, not because it does not exist: the guards
            # report the failed read, this is no identity problem.
            draft.members[manager_scope(account.id)] = 0
        elif found is None:
            draft.problems.append(
                f"{where(account.source)}: manager account id {account.id} ({account.name!r}) "
                "does not exist live for these credentials: correct the `id`, or remove it to "
                "find or create the account by name"
            )
        return found
    named = by_name.get(account.name, [])
    if len(named) > 1:
        ids = ", ".join(sorted(m.id for m in named))
        draft.problems.append(
            f"{where(account.source)}: {len(named)} live manager accounts are named "
            f"{account.name!r} ({ids}): pin the one you mean with `id:`"
        )
        return None
    return named[0] if named else None


def plan_managers(desired: Desired, live: Live) -> Draft:
    draft = Draft()
    by_id = {m.id: m for m in live.manager_accounts}
    by_name: dict[str, list[LiveManagerAccount]] = defaultdict(list)
    for m in live.manager_accounts:
        by_name[m.name].append(m)
    managed: set[str] = set()

    for account in desired.manager_accounts:
        found = _find_live(account, by_id, by_name, draft, live)
        if found is None and (account.id is not None or len(by_name.get(account.name, [])) > 1):
            continue  # a problem was recorded
        if found is not None:
            if found.id in managed:
                draft.problems.append(
                    f"{where(account.source)}: manager account {found.id} ({found.name!r}) "
                    "is described twice in the manifests: keep one entry"
                )
                continue
            managed.add(found.id)
            _plan_existing(account, found, draft)
        else:
            _plan_new(account, draft)

    for m in sorted(live.manager_accounts, key=lambda m: (m.name, m.id)):
        if m.id not in managed:
            draft.notes.append(
                Notice(
                    str(manager_scope(m.id)),
                    f"live manager account {m.name!r} ({m.id}) is not in the manifests; "
                    "manager accounts cannot be deleted through the API, so it is left alone",
                )
            )
    return draft


def _plan_new(account: DesiredManagerAccount, draft: Draft) -> None:
    src = where(account.source)
    if account.type is None:
        draft.problems.append(
            f"{src}: manager account {account.name!r} does not exist live and has no `type`, "
            "so it cannot be created: add `type: Advertiser` or `type: Agency`, or pin the "
            "`id` of an existing account"
        )
        return
    draft.actions.append(
        manager_accounts.create(
            account, account.type, f"listed in {src} but no live manager account has this name"
        )
    )
    draft.members[manager_scope(account.name)] = 0
    ref = ManagerRef(name=account.name)
    for link in account.links:
        reason = f"listed in {where(link.source, src)}; the manager account is created by this plan"
        draft.actions.append(replace(links.associate(ref, link, reason), origin=link.source))


def _plan_existing(account: DesiredManagerAccount, found: LiveManagerAccount, draft: Draft) -> None:
    src = where(account.source)
    scope = manager_scope(found.id)
    ref = ManagerRef(name=found.name, id=found.id)
    draft.members[scope] = len(found.links)
    if account.name != found.name:
        draft.notes.append(
            Notice(
                str(scope),
                f"{src} names manager account {found.id} {account.name!r}, live it is "
                f"{found.name!r}; the API cannot rename manager accounts",
            )
        )
    # (id type, id) -> position in found.links: the test of `LiveLink.matches`, indexed.
    index: dict[tuple[str, str], int] = {}
    for i, live_link in reversed(list(enumerate(found.links))):
        index[(IdType.ACCOUNT_ID.value, live_link.account_id)] = i
        if live_link.dsp_advertiser_id:
            index[(IdType.DSP_ADVERTISER_ID.value, live_link.dsp_advertiser_id)] = i
    matched: set[int] = set()
    unverifiable = 0
    for link in account.links:
        hit = index.get(link.key)
        if hit is not None:
            matched.add(hit)
            unverifiable += link.role is not None
            continue
        reason = f"listed in {where(link.source, src)} but not linked"
        draft.actions.append(replace(links.associate(ref, link, reason), origin=link.source))
    if unverifiable:
        draft.notes.append(
            Notice(
                str(scope),
                f"{unverifiable} linked account(s) of {found.name!r} have a `role` in {src} "
                "that cannot be checked: the API does not return link roles (reference "
                "§2.2), so a role change on an existing link is not detected; to change one, "
                "disassociate and associate it again",
            )
        )
    if not account.prune:
        return
    for i, live_link in enumerate(found.links):
        if i in matched:
            continue
        reason = f"linked live but not listed in {src} (prune: true)"
        draft.actions.append(links.disassociate(ref, live_link, reason))
