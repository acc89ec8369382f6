"""Read live state from the Amazon Ads API: exactly what the manifests manage (`read_live`),
or everything the caller can see (`read_all`, for `import` and `offboard`).

What is read ("Reading live state"):
- `GET /managerAccounts` on the NA host (manager accounts are global, so NA shows that they
  exist) plus every region a managed manager account's links name; all three regions when
  any managed manager account has `prune` on, because links in other regions are invisible
  otherwise (reference §1.1). The region of a live link is the host that returned it.
- `GET /amc/accounts` (all pages) to confirm each managed AMC account is reachable, then per
  reachable account its pending invitations, its users and each user's roles.
- `read_all` only: `GET /v2/profiles` on the three hosts, to find the sponsored-ads and DSP
  accounts the caller can see (`live.discover`), then the people of each, as above.

Completeness: a scope is marked `Incomplete` when its read failed, when a managed AMC account
is not listed by `/amc/accounts`, or when a region's linked-account list had exactly 50
entries (Amazon silently truncates at 50, reference §2.2). A failed scope never loses the
others; only authentication and configuration errors abort the whole read.

Requests run concurrently on a thread pool of `reader.max_concurrency` workers; the client's
shared limiter keeps the pace the API allows.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from reconciler.api import AdsReader
from reconciler.api.grants import checked, read_roles
from reconciler.errors import ApiError, AuthError
from reconciler.escape import terminal
from reconciler.live.discover import DISCOVERED_KINDS, collect, is_account_id
from reconciler.live.progress import Progress
from reconciler.model import (
    KINDS,
    Desired,
    Grant,
    Incomplete,
    Live,
    LiveAccount,
    LiveInvitation,
    LiveLink,
    LiveManagerAccount,
    LiveUser,
    Region,
    Role,
    Scope,
    ScopeKind,
    amc_scope,
    manager_scope,
)
from reconciler.redact import redact

# Reference §2.2: "A maximum of 50 linked accounts are returned for each manager account".
LINKED_ACCOUNTS_CAP = 50
# [UNK] reference §7.2: units of createdAt/expiration. A number above this is taken to be
# epoch milliseconds (1e11 s is the year 5138; 1e11 ms is 1973), anything else epoch seconds.
MILLIS_THRESHOLD = 1e11
# The host used to learn that a manager account exists when no link names a region.
HOME_REGION = Region.NA

Task = Callable[[], Sequence["Task"]]


# --------------------------------------------------------------------------------------------
# API JSON -> model values
# --------------------------------------------------------------------------------------------


def epoch_seconds(value: Any) -> float | None:
    """Normalise an API time to UTC epoch seconds: numbers > 1e11 are milliseconds; numeric
    strings and ISO-8601 strings are accepted too; anything else is None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
    else:
        return None
    return number / 1000.0 if number > MILLIS_THRESHOLD else number


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _optional(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def live_link(raw: dict[str, Any], region: Region) -> LiveLink:
    """An S-MA `Account` from the host of `region` (reference §2.2)."""
    return LiveLink(
        account_id=_text(raw.get("accountId")),
        account_type=_text(raw.get("accountType")),
        region=region,
        account_name=_text(raw.get("accountName")),
        marketplace_id=_text(raw.get("marketplaceId")),
        dsp_advertiser_id=_optional(raw.get("dspAdvertiserId")),  # the guide shows "" for none
        profile_id=_optional(raw.get("profileId")),
    )


def _taken(kind: ScopeKind, grant: Grant | None) -> Grant | None:
    """`grant` in canonical order when an account of `kind` takes it, else None: a grant
    the kind does not take (EDITOR on AMC, a custom name of another kind) is never managed."""
    if grant is None:
        return None
    try:
        return checked(kind, grant)
    except ValueError:
        return None


def live_invitation(raw: dict[str, Any], kind: ScopeKind = ScopeKind.AMC) -> LiveInvitation:
    """An S-INV `UserInvitation` (reference §4.2). Emails here are not masked. Its grant is
    a role or a custom set (`customPermissionSet: [{name}]`), with `countries`."""
    user = _dict(raw.get("user"))
    permission_set = _dict(raw.get("permissionSet"))
    role_name = _text(_dict(permission_set.get("role")).get("name"))
    role = Role.from_api(role_name) if role_name else None
    custom = permission_set.get("customPermissionSet")
    names = [_text(_dict(item).get("name")) for item in custom] if isinstance(custom, list) else []
    # S-INV: `role` goes with type ROLE, `customPermissionSet` with CUSTOM_PERMISSION_SET.
    # A set that says one type and carries the other, or both, or a type we do not know,
    # is not read as either: a custom set is never rounded to a role.
    said = permission_set.get("type")
    said = None if said is None else str(said).upper()
    has_role, has_custom = permission_set.get("role") is not None, custom not in (None, [])
    if (
        said not in (None, "ROLE", "CUSTOM_PERMISSION_SET")
        or (has_role and has_custom)
        or (said == "ROLE" and has_custom)
        or (said == "CUSTOM_PERMISSION_SET" and has_role)
    ):
        role, names = None, []
    countries_raw = raw.get("countries")
    countries = tuple(
        _text(_dict(c).get("countryCode"))
        for c in (countries_raw if isinstance(countries_raw, list) else [])
    )
    grant: Grant | None = None
    if role is not None:
        grant = Grant(role, (), countries)
    elif names and all(names):
        grant = Grant(None, tuple(names), countries)
    grant = _taken(kind, grant)
    return LiveInvitation(
        invitation_id=_text(raw.get("invitationId")),
        email=_text(user.get("emailAddress")),
        name=_text(user.get("userName")),
        role=role if role is not None and role in KINDS[kind].roles else None,
        state=_text(raw.get("state")),
        created_at=epoch_seconds(raw.get("createdAt")),
        expires_at=epoch_seconds(raw.get("expiration")),
        grant=grant,
    )


def live_user(
    raw: dict[str, Any], roles: Iterable[dict[str, Any]], kind: ScopeKind = ScopeKind.AMC
) -> LiveUser:
    """An S-UPM `User` with its `RoleForCountries` (reference §5, §5.1), read exactly: one
    role or one custom set over all its entries (their countries together) is the user's
    grant; ADMIN beside VIEWER (no countries, no custom set) is ADMIN. Anything else (a role
    or name the kind does not take, a set without its names, grants that differ by country)
    leaves the grant None: shown as Amazon said it, never rounded, never changed."""
    entries = list(roles)
    raw_roles = tuple(
        sorted(
            _text(e.get("role")) if e.get("role") else _text(e.get("type") or "ROLE").upper()
            for e in entries
        )
    )
    read = [_taken(kind, g) for g in read_roles(entries)]
    grant: Grant | None = None
    if read and all(g is not None for g in read):
        exact = [g for g in read if g is not None]
        shapes = {(g.role, g.permissions) for g in exact}
        places = [g.countries for g in exact]
        if len(shapes) == 1 and (all(places) or not any(places)):
            role, names = shapes.pop()
            countries = tuple(sorted({c for p in places for c in p}))
            grant = Grant(role, names, countries)
        elif shapes == {(Role.ADMIN, ()), (Role.VIEWER, ())} and not any(places):
            grant = Grant(Role.ADMIN)
    return LiveUser(
        user_id=_text(raw.get("userId")),
        email=_text(raw.get("emailAddress")),
        role=grant.role if grant is not None else None,
        raw_roles=raw_roles,
        grant=grant,
    )


# --------------------------------------------------------------------------------------------
# The read: tasks on a pool, results gathered under a lock, frozen at the end
# --------------------------------------------------------------------------------------------


@dataclass
class _Manager:
    id: str
    name: str
    links: list[LiveLink] = field(default_factory=list)
    truncated: set[Region] = field(default_factory=set)


@dataclass
class _Amc:
    id: str
    kind: ScopeKind
    name: str = ""
    reachable: bool = True
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    invitations: list[dict[str, Any]] = field(default_factory=list)
    pending: int = 0  # tasks still running for this account


class _Read:
    """One read in progress. Mutable by design, private, and guarded by `lock`."""

    def __init__(self, reader: AdsReader, progress: Progress | None) -> None:
        self.reader = reader
        self.progress = progress
        self.lock = threading.Lock()
        self.regions_ok: set[Region] = set()
        self.managers: dict[str, _Manager] = {}
        self.amc: dict[str, _Amc] = {}
        self.problems: dict[Scope, list[str]] = {}
        # `read_all`: accounts whose people an earlier read holds (not read again), the
        # profiles each host listed, and the listings still running before discovery.
        self.skip: frozenset[str] = frozenset()
        self.profiles: dict[Region, list[Any]] = {}
        self.listings_running = 0

    def incomplete(self, scope: Scope, reason: str) -> None:
        with self.lock:
            reasons = self.problems.setdefault(scope, [])
            if reason not in reasons:
                reasons.append(reason)

    def guarded(self, scopes: Callable[[], Iterable[Scope]], what: str, fn: Task) -> Task:
        """`fn` with API failures recorded as Incomplete on `scopes()` instead of raised.
        Authentication failures still abort everything."""

        def run() -> Sequence[Task]:
            try:
                return fn()
            except AuthError:
                raise
            except ApiError as exc:
                reason = redact(f"{what} failed: {exc}")
                for scope in scopes():
                    self.incomplete(scope, reason)
                return ()

        return run

    def run(self, tasks: Iterable[Task]) -> None:
        """Run `tasks` and every follow-up task they return, on a bounded pool.

        Finished futures arrive through a queue fed by done-callbacks: one `wait()` over the
        whole pending set per finished task would cost O(pending) each time, quadratic over a
        read of thousands of role look-ups (measured: CPU x12 for 4x the accounts)."""
        finished: queue.SimpleQueue[Future[Sequence[Task]]] = queue.SimpleQueue()
        with ThreadPoolExecutor(
            max_workers=self.reader.max_concurrency, thread_name_prefix="reconciler-read"
        ) as pool:
            outstanding = 0

            def submit(task: Task) -> None:
                nonlocal outstanding
                outstanding += 1
                pool.submit(task).add_done_callback(finished.put)

            try:
                for task in tasks:
                    submit(task)
                while outstanding:
                    future = finished.get()
                    outstanding -= 1
                    for follow in future.result():
                        submit(follow)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    # -- manager accounts ----------------------------------------------------------------

    def read_region(
        self, region: Region, keep: Callable[[dict[str, Any]], bool], *, people: bool = False
    ) -> Task:
        """`GET /managerAccounts` on one host; with `people`, each manager account found
        first here has its people read too (`read_all`)."""

        def task() -> Sequence[Task]:
            found: list[_Amc] = []
            unknown: list[str] = []
            try:
                accounts = self.reader.list_manager_accounts(region)
                with self.lock:
                    self.regions_ok.add(region)
                    for raw in accounts:
                        if not keep(raw):
                            continue
                        account_id = _text(raw.get("managerAccountId"))
                        if people and not is_account_id(account_id):
                            unknown.append(account_id)
                            continue
                        key = str(manager_scope(account_id))
                        if people and key not in self.amc and key not in self.skip:
                            self.amc[key] = _Amc(account_id, ScopeKind.MANAGER)
                            found.append(self.amc[key])
                        entry = self.managers.setdefault(
                            account_id, _Manager(account_id, _text(raw.get("managerAccountName")))
                        )
                        links = [x for x in raw.get("linkedAccounts") or [] if isinstance(x, dict)]
                        entry.links.extend(live_link(x, region) for x in links)
                        if len(links) >= LINKED_ACCOUNTS_CAP:
                            entry.truncated.add(region)
            finally:
                # A failed region counts as done too (it is recorded as incomplete), so the
                # progress display does not stall short of its total.
                if self.progress is not None:
                    self.progress.done()
            if unknown:
                self.incomplete(
                    manager_scope("*"),
                    f"GET /managerAccounts on the {region.value} host listed a manager account "
                    "whose id is not an account id",
                )
            if found and self.progress is not None:
                self.progress.add_total(len(found))
            return [t for account in found for t in self.read_amc_account(account)]

        return task

    # -- AMC accounts --------------------------------------------------------------------

    def _account_task_done(self, account: _Amc) -> None:
        with self.lock:
            account.pending -= 1
            finished = account.pending == 0
        if finished and self.progress is not None:
            self.progress.done()

    def _per_account(self, account: _Amc, what: str, fn: Task) -> Task:
        with self.lock:
            account.pending += 1
        guarded = self.guarded(lambda: [Scope(account.kind, account.id)], what, fn)

        def task() -> Sequence[Task]:
            try:
                return guarded()
            finally:
                self._account_task_done(account)

        return task

    def read_amc_account(self, account: _Amc) -> list[Task]:
        """The tasks that read the people of one account of any kind: invitations, and users
        then their roles (one `users/list` walk, one `userRoles/list` per user)."""
        amc_id = account.id
        scope = Scope(account.kind, account.id)
        noun = f"{KINDS[account.kind].noun} {amc_id}"

        def invitations() -> Sequence[Task]:
            found = list(self.reader.iter_invitations(scope))
            with self.lock:
                account.invitations.extend(found)
            return ()

        def users() -> Sequence[Task]:
            found = list(self.reader.iter_users(scope))
            with self.lock:
                for raw in found:
                    account.users[_text(raw.get("userId"))] = raw
            return [
                self._per_account(
                    account,
                    f"POST /userRoles/list for user {terminal(user_id)} of {noun}",
                    _roles_task(self, account, user_id),
                )
                for user_id in sorted({_text(raw.get("userId")) for raw in found})
            ]

        return [
            self._per_account(account, f"POST /user-invitations/list for {noun}", invitations),
            self._per_account(account, f"POST /users/list for {noun}", users),
        ]

    # -- result --------------------------------------------------------------------------

    def result(self, read_at: float) -> Live:
        """The frozen read, once `run` is over. A manager account that came back with a full
        page of links on some host is incomplete there (`LINKED_ACCOUNTS_CAP`)."""
        for m in self.managers.values():
            if m.truncated:
                self.incomplete(manager_scope(m.id), _truncation_reason(m.truncated))
        managers = tuple(
            sorted(
                (
                    LiveManagerAccount(
                        id=m.id,
                        name=m.name,
                        links=tuple(
                            sorted(set(m.links), key=lambda x: (x.region.value, x.account_id))
                        ),
                        regions_read=frozenset(self.regions_ok),
                        truncated_regions=frozenset(m.truncated),
                    )
                    for m in self.managers.values()
                ),
                key=lambda m: (m.name, m.id),
            )
        )
        amc = tuple(
            LiveAccount(
                kind=a.kind,
                id=a.id,
                name=a.name,
                reachable=a.reachable,
                users=tuple(
                    sorted(
                        (
                            live_user(raw, a.roles.get(uid, ()), a.kind)
                            for uid, raw in a.users.items()
                        ),
                        key=lambda u: u.user_id,
                    )
                ),
                invitations=tuple(
                    sorted(
                        (live_invitation(raw, a.kind) for raw in a.invitations),
                        key=lambda i: (i.email.lower(), i.invitation_id),
                    )
                ),
            )
            for a in sorted(self.amc.values(), key=lambda a: (a.kind.value, a.id))
        )
        incomplete = tuple(
            sorted(
                Incomplete(scope, "; ".join(reasons)) for scope, reasons in self.problems.items()
            )
        )
        return Live(
            manager_accounts=managers,
            accounts=amc,
            incomplete=incomplete,
            regions_read=frozenset(self.regions_ok),
            read_at=read_at,
        )


def _roles_task(read: _Read, account: _Amc, user_id: str) -> Task:
    def task() -> Sequence[Task]:
        try:
            roles = read.reader.list_user_roles(Scope(account.kind, account.id), user_id)
        except ApiError as exc:
            # QueryUserRoles answers 404 for a user that is not (or no longer) on the account
            # (S-UPM: 404 `{code, message}`). ListUsers listed this one a moment ago, so it
            # was removed in between (another apply, a person): it is gone, which is a
            # complete answer, not a failed read. Decision ([UNK] §5), easy to change here.
            if exc.status != 404:
                raise
            with read.lock:
                account.users.pop(user_id, None)
            return ()
        with read.lock:
            account.roles[user_id] = roles
        return ()

    return task


def _truncation_reason(regions: Iterable[Region]) -> str:
    names = ", ".join(sorted(r.value for r in regions))
    return (
        f"GET /managerAccounts returned exactly {LINKED_ACCOUNTS_CAP} linked accounts on the "
        f"{names} host; Amazon returns at most {LINKED_ACCOUNTS_CAP}, so more may be linked"
    )


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def manager_regions(desired: Desired) -> tuple[Region, ...]:
    """The regions whose `GET /managerAccounts` the manifests need (module docstring)."""
    if not desired.manager_accounts:
        return ()
    if any(m.prune for m in desired.manager_accounts):
        return tuple(Region)
    wanted = {HOME_REGION} | {link.region for m in desired.manager_accounts for link in m.links}
    return tuple(r for r in Region if r in wanted)


def read_live(
    desired: Desired,
    reader: AdsReader,
    *,
    now: float | None = None,
    progress: Progress | None = None,
) -> Live:
    """Read exactly what `desired` manages. Manager accounts the manifests name that do not
    exist live are simply absent (the planner creates them)."""
    read_at = time.time() if now is None else now
    read = _Read(reader, progress)
    ids = {m.id for m in desired.manager_accounts if m.id is not None}
    names = {m.name for m in desired.manager_accounts if m.id is None}

    def managed(raw: dict[str, Any]) -> bool:
        return (
            _text(raw.get("managerAccountId")) in ids
            or _text(raw.get("managerAccountName")) in names
        )

    def manager_scopes_on_failure() -> list[Scope]:
        # Live ones by id (the planner's scope for existing accounts); the others by the key
        # the manifest uses, so that a failed read also blocks creating a duplicate.
        with read.lock:
            found_ids = set(read.managers)
            found_names = {m.name for m in read.managers.values()}
        scopes = [manager_scope(i) for i in sorted(found_ids)]
        scopes += [
            manager_scope(m.key)
            for m in desired.manager_accounts
            if m.key not in found_ids and m.key not in found_names
        ]
        return scopes

    tasks: list[Task] = []
    regions = manager_regions(desired)
    if progress is not None:
        progress.add_total(len(regions) + len(desired.accounts))
    for wanted in desired.accounts:
        if KINDS[wanted.kind].listing:
            continue
        # No listing says which accounts of this kind the credentials reach: the reads of
        # its people say it (a failed one marks the account incomplete).
        unlisted = _Amc(wanted.id, wanted.kind)
        with read.lock:
            read.amc[str(wanted.scope)] = unlisted
        tasks.extend(read.read_amc_account(unlisted))
    for region in regions:
        tasks.append(
            read.guarded(
                manager_scopes_on_failure,
                f"GET /managerAccounts on the {region.value} host",
                read.read_region(region, managed),
            )
        )

    wanted_amc = {a.id: a for a in desired.accounts if KINDS[a.kind].listing}
    if wanted_amc:
        tasks.append(_amc_listing(read, wanted_amc_ids=set(wanted_amc)))

    read.run(tasks)
    if progress is not None:
        progress.finish()  # the line goes before the plan is printed
    return read.result(read_at)


def _amc_listing(read: _Read, *, wanted_amc_ids: set[str] | None) -> Task:
    """List AMC accounts, then read the wanted ones (all listed ones when None)."""
    failure: list[str] = []

    def listing() -> Sequence[Task]:
        try:
            listed = {_text(a.get("accountId")): a for a in read.reader.iter_amc_accounts()}
        except AuthError:
            raise
        except ApiError as exc:
            if wanted_amc_ids is None:
                read.incomplete(amc_scope("*"), redact(f"GET /amc/accounts failed: {exc}"))
                return ()
            failure.append(redact(f"GET /amc/accounts failed: {exc}"))
            listed = {}
        if wanted_amc_ids is None and not all(is_account_id(i) for i in listed):
            listed = {i: a for i, a in listed.items() if is_account_id(i)}
            read.incomplete(
                amc_scope("*"), "GET /amc/accounts listed an account whose id is not an account id"
            )
        targets = sorted(listed) if wanted_amc_ids is None else sorted(wanted_amc_ids)
        follow: list[Task] = []
        for amc_id in targets:
            if str(amc_scope(amc_id)) in read.skip:
                continue  # read already (`read_all(reuse=...)`)
            raw = listed.get(amc_id)
            account = _Amc(amc_id, ScopeKind.AMC, _text(raw.get("accountName")) if raw else "")
            with read.lock:
                read.amc[str(amc_scope(amc_id))] = account
            if failure:
                # Reachability unknown: read it anyway, but nothing read here is complete.
                read.incomplete(amc_scope(amc_id), failure[0])
            elif raw is None:
                account.reachable = False
                read.incomplete(
                    amc_scope(amc_id),
                    f"AMC account {amc_id} is not listed by GET /amc/accounts: the user behind "
                    "the refresh token cannot see it (is it the right id? does the user hold "
                    "AMC_ADMIN?)",
                )
                if read.progress is not None:
                    read.progress.done()
                continue
            follow.extend(read.read_amc_account(account))
        return follow

    return listing


def read_all(
    reader: AdsReader,
    *,
    now: float | None = None,
    progress: Progress | None = None,
    reuse: Live | None = None,
) -> Live:
    """Everything the caller can see: manager accounts on all three hosts (their links and
    their people), every AMC account `/amc/accounts` lists, and every sponsored-ads and DSP
    account `GET /v2/profiles` names on the three hosts (`live.discover`), with their people.
    Used by `import` and `offboard`. Failed regions are recorded under `manager:*` (no
    manager account can be named for them) and per account found elsewhere; a failed
    profiles read under `sponsored-ads:*` and `dsp:*`, never as "no such account".

    `reuse`: a read made moments ago (`read_live` of the managed accounts): the accounts it
    holds are not read again but taken, with its incomplete scopes, into the result."""
    read_at = time.time() if now is None else now
    read = _Read(reader, progress)
    earlier = reuse.accounts if reuse is not None else ()
    read.skip = frozenset(str(a.scope) for a in earlier)

    def scopes_for_region_failure() -> list[Scope]:
        with read.lock:
            return [manager_scope("*"), *(manager_scope(i) for i in sorted(read.managers))]

    listings: list[Task] = [
        read.guarded(
            scopes_for_region_failure,
            f"GET /managerAccounts on the {region.value} host",
            read.read_region(region, lambda raw: True, people=True),
        )
        for region in Region
    ]
    listings += [_profiles(read, region) for region in Region]
    listings.append(_amc_listing_all(read, progress))
    read.listings_running = len(listings)
    taken = [a.scope for a in earlier]
    tasks = [_then_discover(read, task, taken) for task in listings]
    if progress is not None:
        progress.add_total(len(tasks) - 1)
    read.run(tasks)
    if progress is not None:
        progress.finish()  # the line goes before the plan is printed
    result = read.result(read_at)
    if reuse is None:
        return result
    fresh = {a.scope for a in result.accounts}
    return replace(
        result,
        accounts=tuple(
            sorted(
                (*result.accounts, *(a for a in earlier if a.scope not in fresh)),
                key=lambda a: (a.kind.value, a.id),
            )
        ),
        incomplete=tuple(sorted(set(result.incomplete) | set(reuse.incomplete))),
    )


def _profiles(read: _Read, region: Region) -> Task:
    """`GET /v2/profiles` on one host; a failure leaves every account of the kinds it
    finds unknown (`sponsored-ads:*`, `dsp:*`)."""

    def task() -> Sequence[Task]:
        try:
            found = read.reader.list_profiles(region)
            with read.lock:
                read.profiles[region] = found
        finally:
            if read.progress is not None:
                read.progress.done()
        return ()

    return read.guarded(
        lambda: [Scope(kind, "*") for kind in DISCOVERED_KINDS],
        f"GET /v2/profiles on the {region.value} host",
        task,
    )


def _then_discover(read: _Read, listing: Task, taken: Sequence[Scope]) -> Task:
    """`listing`, and when it is the last listing to end, the reads of the people of the
    accounts the profiles name: only then are all the ids known that one could clash with."""

    def task() -> Sequence[Task]:
        try:
            follow = list(listing())
        finally:
            with read.lock:
                read.listings_running -= 1
                last = read.listings_running == 0
        if last:
            follow += _discovered(read, taken)
        return follow

    return task


def _discovered(read: _Read, taken: Sequence[Scope]) -> list[Task]:
    with read.lock:
        listed = dict(read.profiles)
        known = [*taken, *(Scope(a.kind, a.id) for a in read.amc.values())]
        names = {
            link.account_id: link.account_name
            for m in sorted(read.managers.values(), key=lambda m: m.id)
            for link in m.links
            if link.account_name
        }
    found, problems = collect(listed, taken=known, names=names)
    for scope, reason in sorted(problems.items()):
        read.incomplete(scope, reason)
    accounts: list[_Amc] = []
    for scope, account in sorted(found.items()):
        key = str(scope)
        with read.lock:
            if key in read.skip or key in read.amc:
                continue
            read.amc[key] = _Amc(scope.key, scope.kind, account.name)
            accounts.append(read.amc[key])
    if accounts and read.progress is not None:
        read.progress.add_total(len(accounts))
    return [t for account in accounts for t in read.read_amc_account(account)]


def _amc_listing_all(read: _Read, progress: Progress | None) -> Task:
    inner = _amc_listing(read, wanted_amc_ids=None)

    def task() -> Sequence[Task]:
        follow = inner()
        if progress is not None:
            with read.lock:
                count = sum(1 for a in read.amc.values() if a.kind is ScopeKind.AMC)
            progress.add_total(count)
        return follow

    return task
