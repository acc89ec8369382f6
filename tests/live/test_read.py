"""read_live / read_all against the in-process sandbox: what is read, how it is converted,
and when a scope is marked incomplete."""

import io
from typing import Any

import httpx
import pytest

from reconciler.errors import AuthError
from reconciler.live.progress import Progress
from reconciler.live.read import (
    epoch_seconds,
    live_invitation,
    live_user,
    manager_regions,
    read_all,
    read_live,
)
from reconciler.model import (
    Desired,
    DesiredAccount,
    DesiredManagerAccount,
    Grant,
    Incomplete,
    Region,
    Role,
    Scope,
    ScopeKind,
    amc_scope,
    manager_scope,
)
from reconciler.sandbox import SandboxTransport, World
from tests.api.helpers import ACME, AMC, Intercept, sandbox_client
from tests.factories import amc, desired, link, manager

DAY = 86_400.0


def _desired(*items: DesiredManagerAccount | DesiredAccount) -> Desired:
    return desired(
        [i for i in items if isinstance(i, DesiredManagerAccount)],
        [i for i in items if isinstance(i, DesiredAccount)],
    )


def test_reads_only_the_regions_the_manifests_touch(sandbox_world: World) -> None:
    want = _desired(manager("Acme Agency", link("ENTITY1ACME0001"), prune=False))
    assert manager_regions(want) == (Region.NA,)
    with sandbox_client(sandbox_world) as client:
        live = read_live(want, client.reader())
    assert sandbox_world.stats.requests["getManagerAccountsForUser"] == 1
    (acme,) = live.manager_accounts
    assert acme.id == ACME
    assert [x.account_id for x in acme.links][:2] == ["ENTITY1ACME0001", "ENTITY1ACME0002"]
    assert all(x.region is Region.NA for x in acme.links)
    assert live.accounts == ()
    assert live.incomplete == ()


def test_prune_reads_all_three_regions_and_links_take_the_hosts_region(
    sandbox_world: World,
) -> None:
    sandbox_world.link(ACME, "ENTITY2EURO0001")
    sandbox_world.link(ACME, "ENTITY3ASIA0001")
    want = _desired(manager("Acme", id=ACME))
    assert manager_regions(want) == (Region.NA, Region.EU, Region.FE)
    with sandbox_client(sandbox_world) as client:
        live = read_live(want, client.reader())
    (acme,) = live.manager_accounts
    regions = {x.account_id: x.region for x in acme.links}
    assert regions["ENTITY2EURO0001"] is Region.EU
    assert regions["ENTITY3ASIA0001"] is Region.FE
    assert acme.regions_read == frozenset(Region)


def test_unmanaged_and_missing_manager_accounts_are_absent(sandbox_world: World) -> None:
    want = _desired(manager("Not There Yet", prune=False))
    with sandbox_client(sandbox_world) as client:
        live = read_live(want, client.reader())
    assert live.manager_accounts == ()
    assert live.incomplete == ()


def test_users_roles_and_invitations_are_converted(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        live = read_live(_desired(amc(AMC)), client.reader(), now=123.0)
    assert live.read_at == 123.0
    (account,) = live.accounts
    assert (account.name, account.reachable) == ("Acme AMC", True)
    roles = {u.user_id: (u.email, u.role) for u in account.users}
    assert roles["amzn1.account.ALICE0001"] == ("a***@example.com", Role.ADMIN)
    assert roles["amzn1.account.DAVE0001"] == ("d***@example.com", Role.VIEWER)
    (bob,) = account.invitations
    assert (bob.email, bob.name, bob.role, bob.state) == (
        "bob@example.com",
        "Bob",
        Role.VIEWER,
        "PENDING",
    )
    # The sandbox sends epoch milliseconds; the model holds seconds (seed: age_days 2).
    assert bob.created_at is not None and bob.expires_at is not None
    now = sandbox_world.now()
    assert now - 2 * DAY - 5 < bob.created_at < now - 2 * DAY + 5
    assert bob.expires_at - bob.created_at == pytest.approx(14 * DAY)


def test_a_managed_amc_account_not_listed_is_unreachable_and_incomplete(
    sandbox_world: World,
) -> None:
    with sandbox_client(sandbox_world) as client:
        live = read_live(_desired(amc(AMC), amc("ENTITY0GONE")), client.reader())
    gone = next(a for a in live.accounts if a.id == "ENTITY0GONE")
    assert not gone.reachable
    reason = live.incomplete_reason(amc_scope("ENTITY0GONE"))
    assert reason is not None and "not listed by GET /amc/accounts" in reason
    assert live.incomplete_reason(amc_scope(AMC)) is None
    assert sandbox_world.stats.requests["ListUsers"] == 1  # only the reachable one was read


def _seed_with_links(count: int) -> dict[str, Any]:
    accounts = [
        {"id": f"ENTITYLINK{i:04d}", "type": "SELLER", "marketplace": "ATVPDKIKX0DER"}
        for i in range(count)
    ]
    return {
        "accounts": accounts,
        "manager_accounts": [
            {"id": "amzn1.ads1.ma1.big", "name": "Big", "links": [a["id"] for a in accounts]}
        ],
    }


@pytest.mark.parametrize(("links", "truncated"), [(49, False), (50, True), (60, True)])
def test_fifty_links_on_a_host_mark_the_manager_account_incomplete(
    links: int, truncated: bool
) -> None:
    world = World.from_seed(_seed_with_links(links))
    with sandbox_client(world) as client:
        live = read_live(_desired(manager("Big", prune=False)), client.reader())
    (big,) = live.manager_accounts
    assert len(big.links) == min(links, 50)
    if truncated:
        assert big.truncated_regions == frozenset({Region.NA})
        assert live.incomplete == (
            Incomplete(
                manager_scope("amzn1.ads1.ma1.big"),
                "GET /managerAccounts returned exactly 50 linked accounts on the NA host; "
                "Amazon returns at most 50, so more may be linked",
            ),
        )
    else:
        assert live.incomplete == ()


def _fail(host: str | None = None, account: str | None = None) -> Any:
    def rule(request: httpx.Request) -> httpx.Response | None:
        if host is not None and request.url.host == host:
            return httpx.Response(500, json={"code": "INTERNAL_SERVICE_ERROR", "message": "boom"})
        if account is not None and request.headers.get("Amazon-Ads-AccountId") == account:
            return httpx.Response(500, json={"message": "boom"})
        return None

    return rule


def test_a_failed_region_marks_its_scopes_incomplete_and_keeps_the_rest(
    sandbox_world: World,
) -> None:
    sandbox_world.link(ACME, "ENTITY3ASIA0001")
    transport = Intercept(
        SandboxTransport(sandbox_world), _fail(host="advertising-api-eu.amazon.com")
    )
    want = _desired(manager("Acme", id=ACME), manager("Brand New"), amc(AMC))
    with sandbox_client(sandbox_world, transport=transport) as client:
        live = read_live(want, client.reader())
    (acme,) = live.manager_accounts
    assert {x.region for x in acme.links} == {Region.NA, Region.FE}
    assert live.regions_read == frozenset({Region.NA, Region.FE})
    scopes = {i.scope for i in live.incomplete}
    assert scopes == {manager_scope(ACME), manager_scope("Brand New")}
    reason = live.incomplete_reason(manager_scope(ACME))
    assert reason is not None
    assert reason.startswith("GET /managerAccounts on the EU host failed: ")
    assert "HTTP 500" in reason
    assert len(live.accounts[0].users) == 4  # the AMC scope did not suffer


def test_a_failed_region_still_counts_as_done_in_the_progress_display(
    sandbox_world: World,
) -> None:
    transport = Intercept(
        SandboxTransport(sandbox_world), _fail(host="advertising-api-eu.amazon.com")
    )
    stream = io.StringIO()
    progress = Progress(stream)
    with sandbox_client(sandbox_world, transport=transport) as client:
        live = read_all(client.reader(), progress=progress)
    progress.finish()
    assert live.incomplete_reason(manager_scope("*")) is not None
    # 3 regions' manager accounts and profiles, the AMC account, the people of the manager
    # account found elsewhere, and the sponsored-ads and DSP accounts the NA profiles name
    assert stream.getvalue().splitlines()[-1].startswith("reading live state: 10/10 accounts")


def test_a_failed_amc_account_does_not_lose_the_others() -> None:
    seed = {
        "amc_accounts": [
            {"id": "ENTITYOK", "users": [{"email": "a@example.com", "role": "ADMIN"}]},
            {"id": "ENTITYBAD", "users": [{"email": "b@example.com", "role": "ADMIN"}]},
        ]
    }
    world = World.from_seed(seed)
    transport = Intercept(SandboxTransport(world), _fail(account="ENTITYBAD"))
    with sandbox_client(world, transport=transport) as client:
        live = read_live(_desired(amc("ENTITYOK"), amc("ENTITYBAD")), client.reader())
    assert [i.scope for i in live.incomplete] == [amc_scope("ENTITYBAD")]
    ok = next(a for a in live.accounts if a.id == "ENTITYOK")
    assert [u.role for u in ok.users] == [Role.ADMIN]


def test_an_auth_failure_aborts_the_whole_read(sandbox_world: World) -> None:
    def deny(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/users/list":
            return httpx.Response(401, json={"code": "UNAUTHORIZED", "message": "no"})
        return None

    transport = Intercept(SandboxTransport(sandbox_world), deny)
    with sandbox_client(sandbox_world, transport=transport) as client, pytest.raises(AuthError):
        read_live(_desired(amc(AMC)), client.reader())


def test_read_all_sees_everything_and_reports_progress(sandbox_world: World) -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    with sandbox_client(sandbox_world, on_event=progress.on_event) as client:
        live = read_all(client.reader(), progress=progress)
        requests = client.stats.requests
    progress.finish()
    assert [m.id for m in live.manager_accounts] == [ACME]
    # The people of the AMC account, the manager account, and the two the profiles name.
    assert [str(a.scope) for a in live.accounts] == [
        f"amc:{AMC}",
        f"dsp:{DSP}",
        f"manager:{ACME}",
        f"sponsored-ads:{GLOBAL}",
    ]
    assert live.regions_read == frozenset(Region)
    assert stream.getvalue().splitlines()[-1] == (
        f"reading live state: 10/10 accounts, {requests} requests, 0 throttled (0.0s waiting)"
    )


def test_epoch_seconds_normalises_units() -> None:
    assert epoch_seconds(1_750_000_000) == 1_750_000_000.0
    assert epoch_seconds(1_750_000_000_123) == 1_750_000_000.123
    assert epoch_seconds("1750000000") == 1_750_000_000.0
    assert epoch_seconds("2025-06-15T15:06:40Z") == 1_750_000_000.0
    assert epoch_seconds(None) is None
    assert epoch_seconds("tomorrow") is None


def test_live_user_roles() -> None:
    def roles(*names: str) -> list[dict[str, str]]:
        return [{"role": n, "type": "ROLE"} for n in names]

    raw = {"userId": "u", "emailAddress": "u***@x.com"}
    assert live_user(raw, roles("ADMIN")).role is Role.ADMIN
    assert live_user(raw, roles("VIEWER", "ADMIN")).role is Role.ADMIN
    assert live_user(raw, roles("VIEWER")).role is Role.VIEWER
    assert live_user(raw, roles("EDITOR")).role is None
    assert live_user(raw, roles("VIEWER", "EDITOR")).raw_roles == ("EDITOR", "VIEWER")
    assert live_user(raw, [{"type": "CUSTOM_PERMISSION_SET"}]).role is None
    assert live_user(raw, []).role is None


# --- Discovery: the sponsored-ads and DSP accounts GET /v2/profiles names --------------------

GLOBAL = "amzn1.ads-account.g.acme0000000001"
DSP = "ENTITY1DSP00001"
DISCOVERED = [Scope(ScopeKind.DSP, "*"), Scope(ScopeKind.SPONSORED_ADS, "*")]


def _profiles(region: str, *profiles: Any, status: int = 200) -> Any:
    """A rule answering `GET /v2/profiles` on one host with `profiles` (or `status`)."""

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/v2/profiles" or not request.url.host.startswith(region):
            return None
        if status != 200:
            return httpx.Response(status, json={"code": "ERROR", "details": "no"})
        return httpx.Response(200, json=list(profiles))

    return rule


def _profile(account_id: Any, kind: str = "seller", name: str = "") -> dict[str, Any]:
    return {"profileId": 1, "accountInfo": {"id": account_id, "type": kind, "name": name}}


def test_read_all_reads_each_account_the_profiles_name_once(sandbox_world: World) -> None:
    with sandbox_client(sandbox_world) as client:
        live = read_all(client.reader())
    # The global account has a profile on the NA and the EU host: one account, read once.
    assert [a.scope for a in live.accounts] == [
        amc_scope(AMC),
        Scope(ScopeKind.DSP, DSP),
        manager_scope(ACME),
        Scope(ScopeKind.SPONSORED_ADS, GLOBAL),
    ]
    assert sandbox_world.stats.requests["listProfiles"] == 3
    assert sandbox_world.stats.requests["ListUsers"] == 4
    ads = live.reachable(Scope(ScopeKind.SPONSORED_ADS, GLOBAL))
    assert ads is not None and ads.name == "Acme Global" and len(ads.users) == 2
    assert live.incomplete == ()


@pytest.mark.parametrize("status", [429, 500])
def test_a_failed_profiles_host_leaves_those_kinds_incomplete_never_empty(
    sandbox_world: World, status: int
) -> None:
    """429 forever or 500 on the EU host: the accounts the other hosts list are read; every
    account of those kinds is marked unknown, not taken as absent."""
    transport = Intercept(
        SandboxTransport(sandbox_world), _profiles("advertising-api-eu", status=status)
    )
    with sandbox_client(sandbox_world, transport=transport) as client:
        live = read_all(client.reader())
    assert [i.scope for i in live.incomplete] == DISCOVERED
    for scope in DISCOVERED:
        reason = live.incomplete_reason(scope)
        assert reason is not None and reason.startswith("GET /v2/profiles on the EU host failed")
        assert f"HTTP {status}" in reason
        assert live.unreadable(Scope(scope.kind, "amzn1.ads-account.g.other")) == reason
    assert live.reachable(Scope(ScopeKind.SPONSORED_ADS, GLOBAL)) is not None  # NA listed it


def test_a_full_page_of_profiles_may_be_cut_short_so_it_is_incomplete(
    sandbox_world: World,
) -> None:
    full = [_profile(f"ENTITYFULL{n:05d}") for n in range(5000)]
    transport = Intercept(SandboxTransport(sandbox_world), _profiles("advertising-api-fe", *full))
    with sandbox_client(sandbox_world, transport=transport) as client:
        live = read_all(client.reader())
    reason = live.incomplete_reason(DISCOVERED[0])
    assert reason is not None and "5000 profiles on the FE host" in reason
    assert not any(a.id.startswith("ENTITYFULL") for a in live.accounts)


def test_profiles_that_name_no_account_or_two_kinds_are_never_read(
    sandbox_world: World,
) -> None:
    hostile = "ENTITY\x1b[31mRED\nmanager:*"
    odd = Intercept(
        SandboxTransport(sandbox_world),
        _profiles(
            "advertising-api-fe",
            _profile(None),
            _profile(hostile, name="x"),
            _profile(DSP, "seller", "the same id as a DSP account"),  # kinds share the header
            _profile("ENTITYOTHERKIND", "KDP"),  # not a kind we govern: not ours to read
            "not a profile",
        ),
    )
    with sandbox_client(sandbox_world, transport=odd) as client:
        live = read_all(client.reader())
    assert [str(i.scope) for i in live.incomplete] == [
        "dsp:*",
        f"dsp:{DSP}",
        "sponsored-ads:*",
        f"sponsored-ads:{DSP}",
    ]
    assert live.incomplete_reason(Scope(ScopeKind.SPONSORED_ADS, DSP)) == (
        f"GET /v2/profiles names sponsored-ads account {DSP}, whose id also names dsp:{DSP}: "
        "Amazon-Ads-AccountId cannot say which one a read is about, so it is not read as this "
        "account"
    )
    assert all(hostile not in i.reason and "\x1b" not in i.reason for i in live.incomplete)
    assert live.incomplete_reason(DISCOVERED[1]) == (
        "GET /v2/profiles on the FE host: a sponsored-ads account profile without accountInfo.id"
    )
    assert {a.kind for a in live.accounts} == {
        ScopeKind.AMC,
        ScopeKind.MANAGER,
        ScopeKind.SPONSORED_ADS,
    }
    assert sandbox_world.stats.requests["ListUsers"] == 3  # the DSP account is not read


def test_a_profile_without_a_name_takes_the_name_a_manager_accounts_link_shows() -> None:
    """S-PROF2: the name is "not currently populated for sellers"; the linked account of the
    same id (the second source) names it. Its people are read once, as the profile's."""
    world = World.from_seed(
        {
            "accounts": [{"id": "ENTITYNAMELESS1", "name": "Linked Name", "profile_id": "9"}],
            "manager_accounts": [{"id": ACME, "name": "Acme", "links": ["ENTITYNAMELESS1"]}],
            "ad_accounts": [{"id": "ENTITYNAMELESS1", "type": "sponsored-ads", "name": ""}],
        }
    )
    with sandbox_client(world) as client:
        live = read_all(client.reader())
    account = live.reachable(Scope(ScopeKind.SPONSORED_ADS, "ENTITYNAMELESS1"))
    assert account is not None and account.name == "Linked Name"
    assert world.stats.requests["ListUsers"] == 2  # the manager account's and this one's


@pytest.mark.parametrize(
    "permission_set",
    [
        # S-INV: `role` is for type ROLE, `customPermissionSet` for CUSTOM_PERMISSION_SET.
        {"type": "CUSTOM_PERMISSION_SET", "role": {"name": "VIEWER"},
         "customPermissionSet": [{"name": "reports_view"}]},
        {"type": "CUSTOM_PERMISSION_SET", "role": {"name": "ADMIN"}},
        {"type": "ROLE", "customPermissionSet": [{"name": "reports_view"}]},
        {"role": {"name": "VIEWER"}, "customPermissionSet": [{"name": "reports_view"}]},
        {"type": "SOMETHING_NEW", "role": {"name": "VIEWER"}},
    ],
)  # fmt: skip
def test_an_invitation_whose_permission_set_contradicts_its_type_has_no_grant(
    permission_set: dict[str, Any],
) -> None:
    """A custom set is never read as a role (nor the other way): an invitation whose
    `permissionSet` says one type and carries the other, or both, or a type we do not
    know, has no grant, so nothing is adopted, imported or kept from it."""
    raw = {
        "invitationId": "inv-1",
        "user": {"emailAddress": "ana@corp.example"},
        "permissionSet": permission_set,
    }
    invitation = live_invitation(raw, ScopeKind.SPONSORED_ADS)
    assert (invitation.grant, invitation.role) == (None, None)


def test_an_invitation_of_each_type_keeps_its_grant() -> None:
    def grant(permission_set: dict[str, Any]) -> Grant | None:
        raw = {"invitationId": "i", "user": {"emailAddress": "a@b.example"}}
        return live_invitation({**raw, "permissionSet": permission_set}, ScopeKind.DSP).grant

    assert grant({"type": "ROLE", "role": {"name": "VIEWER"}}) == Grant(Role.VIEWER)
    assert grant({"role": {"name": "ADMIN"}}) == Grant(Role.ADMIN)
    custom = {"type": "CUSTOM_PERMISSION_SET", "customPermissionSet": [{"name": "reports_edit"}]}
    assert grant(custom) == Grant(None, ("reports_edit",))


@pytest.mark.parametrize("item", ["not a profile", 42, None, ["ENTITYLIST"]])
def test_a_profile_that_is_not_an_object_leaves_the_discovered_kinds_unknown(
    sandbox_world: World, item: Any
) -> None:
    """An item of the profiles array we cannot read may be an account: the host's list is
    not taken as complete (every sponsored-ads and DSP account unknown), never dropped."""
    odd = Intercept(SandboxTransport(sandbox_world), _profiles("advertising-api-fe", item))
    with sandbox_client(sandbox_world, transport=odd) as client:
        live = read_all(client.reader())
    for scope in DISCOVERED:
        assert live.incomplete_reason(scope) == (
            "GET /v2/profiles on the FE host: a profile that is not a JSON object"
        )


def _listing(where: str, account_id: str) -> Any:
    """A rule answering one listing (profiles on the FE host, `/amc/accounts`, or
    `/managerAccounts` on the NA host) with one account of id `account_id`."""

    def rule(request: httpx.Request) -> httpx.Response | None:
        path, host = request.url.path, request.url.host
        if where == "profiles" and path == "/v2/profiles" and host.startswith("advertising-api-fe"):
            body: Any = [_profile(account_id, "agency", "x")]
        elif where == "amc" and path == "/amc/accounts":
            body = {"amcAccounts": [{"accountId": account_id, "accountName": "x"}]}
        elif (
            where == "manager"
            and path == "/managerAccounts"
            and host.startswith("advertising-api.")
        ):
            body = {
                "managerAccounts": [{"managerAccountId": account_id, "managerAccountName": "x"}]
            }
        else:
            return None
        return httpx.Response(200, json=body)

    return rule


@pytest.mark.parametrize("account_id", ["*", "ENTITY\x1b[2J\nmanager:*", ""])
@pytest.mark.parametrize(
    ("where", "kinds"),
    [
        ("profiles", (ScopeKind.SPONSORED_ADS, ScopeKind.DSP)),
        ("amc", (ScopeKind.AMC,)),
        ("manager", (ScopeKind.MANAGER,)),
    ],
)
def test_a_listed_id_that_names_no_one_account_is_never_read_nor_echoed(
    sandbox_world: World, account_id: str, where: str, kinds: tuple[ScopeKind, ...]
) -> None:
    """`*` (every account of the kind, to us), an id that could not be a header value, or
    none: not read as an account (the read cannot crash on it), and every account of the
    kind is unknown, with a reason that does not repeat the id."""
    listing = Intercept(SandboxTransport(sandbox_world), _listing(where, account_id))
    with sandbox_client(sandbox_world, transport=listing) as client:
        live = read_all(client.reader())
    assert all(a.id != account_id for a in live.accounts)
    for kind in kinds:
        reason = live.incomplete_reason(Scope(kind, "*"))
        assert reason is not None, kind
        assert "is not an account id" in reason or "without accountInfo.id" in reason, reason
    assert all("\x1b" not in i.reason and "\n" not in i.reason for i in live.incomplete)


def test_a_hostile_user_id_whose_roles_read_fails_is_escaped_in_the_reason(
    sandbox_world: World,
) -> None:
    """The user ids `POST /users/list` returns are third-party data: the reason a failed
    roles read gives (which import and offboard print) shows one escaped, on one line."""
    hostile = "amzn1.account.X\x1b[2J\nmanager:* all read"

    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/users/list":
            user = {"userId": hostile, "emailAddress": "x***@corp.example"}
            return httpx.Response(200, json={"users": [user]})
        if request.url.path == "/userRoles/list":
            return httpx.Response(500, json={"code": "SERVER_ERROR", "details": "down"})
        return None

    with sandbox_client(
        sandbox_world, transport=Intercept(SandboxTransport(sandbox_world), rule)
    ) as client:
        live = read_live(_desired(amc(AMC)), client.reader())
    reason = live.incomplete_reason(amc_scope(AMC))
    assert reason is not None
    assert reason.startswith(
        "POST /userRoles/list for user amzn1.account.X\\x1b[2J\\nmanager:* all read of AMC "
        f"account {AMC} failed: "
    ), reason
