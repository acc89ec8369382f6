"""Small builders for Desired and Live values, shared by every test (and the benchmarks).

Each builder takes only what a test cares about and fills the rest with plain defaults.
`demo_world()` is the world of `examples/manifests/` against the sandbox's default seed.
"""

from __future__ import annotations

from typing import Any

from reconciler.model import (
    KINDS,
    Desired,
    DesiredAccount,
    DesiredLink,
    DesiredManagerAccount,
    DesiredUser,
    Grant,
    IdType,
    Incomplete,
    LinkRole,
    Live,
    LiveAccount,
    LiveInvitation,
    LiveLink,
    LiveManagerAccount,
    LiveUser,
    ManagerAccountType,
    Region,
    Role,
    Scope,
    ScopeKind,
    Source,
)

FILE = "examples/manifests/acme.yaml"
DAY = 86_400.0
NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC: the clock of every test plan

_MARKETPLACE = {
    Region.NA: "ATVPDKIKX0DER",
    Region.EU: "A1F83G8C2ARO7P",
    Region.FE: "A1VC38T7YXB528",
}


def src(line: int, file: str = FILE) -> Source:
    return Source(file, line)


def mask(email: str) -> str:
    """How `POST /users/list` shows an address: `alice@example.com` -> `a***@example.com`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


# ---- desired --------------------------------------------------------------------------------


def link(
    id: str,
    region: Region = Region.NA,
    *,
    dsp: bool = False,
    role: LinkRole | None = None,
    line: int | None = None,
    file: str = FILE,
) -> DesiredLink:
    return DesiredLink(
        id=id,
        id_type=IdType.DSP_ADVERTISER_ID if dsp else IdType.ACCOUNT_ID,
        region=region,
        role=role,
        source=src(line, file) if line else None,
    )


def manager(
    name: str,
    *links: DesiredLink,
    id: str | None = None,
    type: ManagerAccountType | None = None,
    prune: bool = True,
    line: int = 1,
    file: str = FILE,
) -> DesiredManagerAccount:
    return DesiredManagerAccount(
        name=name, id=id, type=type, prune=prune, links=links, source=src(line, file)
    )


def user(
    email: str | None,
    role: Role | str = Role.VIEWER,
    *,
    user_id: str | None = None,
    name: str = "",
    line: int | None = None,
) -> DesiredUser:
    return DesiredUser(
        role=Role(role),
        email=email,
        user_id=user_id,
        name=name,
        source=src(line) if line else None,
    )


def amc(
    id: str,
    *users: DesiredUser,
    prune: bool = True,
    min_admins: int = 1,
    notify: bool = True,
    line: int = 1,
    file: str = FILE,
) -> DesiredAccount:
    return DesiredAccount(
        id=id,
        prune=prune,
        notify=notify,
        min_admins=min_admins,
        users=users,
        source=src(line, file),
    )


def desired(
    managers: tuple[DesiredManagerAccount, ...] | list[DesiredManagerAccount] = (),
    amcs: tuple[DesiredAccount, ...] | list[DesiredAccount] = (),
) -> Desired:
    return Desired(manager_accounts=tuple(managers), accounts=tuple(amcs), files=(FILE,))


# ---- live -----------------------------------------------------------------------------------


def live_link(
    account_id: str,
    region: Region = Region.NA,
    *,
    account_type: str = "SELLER",
    dsp_advertiser_id: str | None = None,
    name: str = "",
) -> LiveLink:
    return LiveLink(
        account_id=account_id,
        account_type=account_type,
        region=region,
        account_name=name,
        marketplace_id=_MARKETPLACE[region],
        dsp_advertiser_id=dsp_advertiser_id,
    )


def live_manager(
    id: str, name: str, *links: LiveLink, truncated: frozenset[Region] = frozenset()
) -> LiveManagerAccount:
    return LiveManagerAccount(
        id=id,
        name=name,
        links=tuple(sorted(links, key=lambda x: (x.region, x.account_id))),
        regions_read=frozenset(Region),
        truncated_regions=truncated,
    )


def live_user(
    user_id: str,
    email: str,
    role: Role | str | None = Role.VIEWER,
    *,
    masked: bool = True,
    kind: ScopeKind = ScopeKind.AMC,
    permissions: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
) -> LiveUser:
    """A live user as the reader makes it: a role the kind does not take (EDITOR on AMC)
    is read as no grant; `permissions` make a custom set (role None)."""
    parsed = Role.from_api(role) if isinstance(role, str) else role
    if parsed is not None and parsed not in KINDS[kind].roles:
        parsed = None
    raw = (role.upper(),) if isinstance(role, str) else ((role.value.upper(),) if role else ())
    grant = Grant(parsed, (), countries) if parsed is not None else None
    if permissions:
        parsed, raw = None, ("CUSTOM_PERMISSION_SET",)
        grant = Grant(None, permissions, countries)
    return LiveUser(
        user_id=user_id,
        email=mask(email) if masked else email,
        role=parsed,
        raw_roles=raw,
        grant=grant,
    )


def invitation(
    invitation_id: str,
    email: str,
    role: Role | str | None = Role.VIEWER,
    *,
    expires_in_days: float = 10.0,
    state: str = "PENDING",
    now: float = NOW,
) -> LiveInvitation:
    parsed = Role.from_api(role) if isinstance(role, str) else role
    if parsed is not None and parsed not in KINDS[ScopeKind.AMC].roles:
        parsed = None
    return LiveInvitation(
        invitation_id=invitation_id,
        email=email,
        name=email.split("@")[0],
        role=parsed,
        state=state,
        created_at=now - DAY,
        expires_at=now + expires_in_days * DAY,
        grant=Grant(parsed) if parsed is not None else None,
    )


def live_amc(
    id: str,
    users: tuple[LiveUser, ...] | list[LiveUser] = (),
    invitations: tuple[LiveInvitation, ...] | list[LiveInvitation] = (),
    *,
    name: str = "",
    reachable: bool = True,
) -> LiveAccount:
    return LiveAccount(
        id=id,
        name=name,
        reachable=reachable,
        users=tuple(sorted(users, key=lambda u: u.user_id)),
        invitations=tuple(sorted(invitations, key=lambda i: i.invitation_id)),
    )


def live(
    managers: tuple[LiveManagerAccount, ...] | list[LiveManagerAccount] = (),
    amcs: tuple[LiveAccount, ...] | list[LiveAccount] = (),
    incomplete: dict[str, str] | None = None,
) -> Live:
    return Live(
        manager_accounts=tuple(sorted(managers, key=lambda m: m.id)),
        accounts=tuple(sorted(amcs, key=lambda a: a.id)),
        incomplete=tuple(
            sorted(Incomplete(Scope.parse(s), r) for s, r in (incomplete or {}).items())
        ),
        regions_read=frozenset(Region),
        read_at=NOW,
    )


# ---- the demo world -------------------------------------------------------------------------

ACME_ID = "amzn1.ads1.ma1.acme00000001"
ACME_AMC = "ENTITY1AA1AA11AAA1"


def demo_desired() -> Desired:
    acme = manager(
        "Acme Agency",
        *(link(f"ENTITY1ACME000{i}", line=5 + i) for i in range(1, 6)),
        link("ENTITY2EURO0001", Region.EU, line=11),
        id=ACME_ID,
        line=3,
    )
    globex = manager(
        "Globex Brands",
        link("ENTITY1ACME0006", line=16, file="examples/manifests/globex.yaml"),
        link("5830000000001", dsp=True, line=17, file="examples/manifests/globex.yaml"),
        type=ManagerAccountType.ADVERTISER,
        line=14,
        file="examples/manifests/globex.yaml",
    )
    acme_amc = amc(
        ACME_AMC,
        user("alice@example.com", Role.ADMIN, line=24),
        user("erin@example.com", Role.ADMIN, user_id="amzn1.account.ERIN0001", line=25),
        user("frank@example.com", line=26),
        user("bob@example.com", line=28),
        user("carol@example.com", line=29),
        line=21,
    )
    return desired([acme, globex], [acme_amc])


def demo_live() -> Live:
    acme = live_manager(
        ACME_ID,
        "Acme Agency",
        *(live_link(f"ENTITY1ACME000{i}", name=f"Acme {i}") for i in (1, 2, 3, 4, 7)),
    )
    acme_amc = live_amc(
        ACME_AMC,
        [
            live_user("amzn1.account.ALICE0001", "alice@example.com", Role.ADMIN),
            live_user("amzn1.account.DAVE0001", "dave@example.com"),
            live_user("amzn1.account.ERIN0001", "erin@example.com"),
            live_user("amzn1.account.FRANK0001", "frank@example.com"),
        ],
        [invitation("inv-bob-0001", "bob@example.com")],
        name="Acme AMC",
    )
    return live([acme], [acme_amc])


def demo_world() -> tuple[Desired, Live]:
    return demo_desired(), demo_live()


def run_apply(plan: Any, want: Desired, client: Any, **options: Any) -> Any:
    """`workflows.operations.apply` without a prompt: the report, convergence decided from
    `want` as the CLI does."""
    from reconciler.workflows import operations

    report = operations.apply(plan, want, client, **options).report
    assert report is not None
    return report


def wire(action: Any) -> dict[str, Any]:
    """The request item `action` is sent as: built by its family, the one place that does."""
    from reconciler.actions import family

    return family(action.kind).item(action)
