"""People on every kind of account (manager, sponsored-ads, DSP, AMC), through the CLI
against the sandbox: the same path for every kind, whose differences are `KINDS`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import World
from tests.driver import run, setup

MA = "amzn1.ads1.ma1.acme0000000000000000000001"
SA = "amzn1.ads-account.g.acmeus0000000000000000001"
DSP = "ENTITY1DSPACME01"
AMC = "ENTITY1AMCACME01"
SCOPES = {"manager": MA, "sponsored-ads": SA, "dsp": DSP, "amc": AMC}
OWNER = "amzn1.account.OWNER"
ANA = "amzn1.account.ANA"
OWNER_SEED = {"email": "owner@acme.example", "user_id": OWNER, "role": "ADMIN"}


def world(
    extra: dict[str, list[dict[str, Any]]] | None = None,
    invitations: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The owner is admin of an account of each kind; `extra` adds people per kind."""
    extra, invitations = extra or {}, invitations or {}

    def people(kind: str) -> dict[str, Any]:
        return {
            "users": [OWNER_SEED, *extra.get(kind, [])],
            "invitations": invitations.get(kind, []),
        }

    return {
        "accounts": [{"id": "ENTITYLINKED0001", "name": "Shop"}],
        "manager_accounts": [{"id": MA, "name": "Acme Agency", **people("manager")}],
        "ad_accounts": [
            {"id": SA, "type": "sponsored-ads", **people("sponsored-ads")},
            {"id": DSP, "type": "dsp", **people("dsp")},
        ],
        "amc_accounts": [{"id": AMC, **people("amc")}],
    }


def manifest(users: dict[str, list[str]], *, prune: bool = True) -> str:
    """The owner pinned as admin of each account, and `users` (YAML flow entries) per kind."""
    owner = f'{{email: owner@acme.example, userId: "{OWNER}", role: admin}}'

    def listed(kind: str) -> str:
        return "".join(f"      - {u}\n" for u in [owner, *users.get(kind, [])])

    flag = "" if prune else "    prune: false\n"
    return (
        "version: 1\n"
        "managerAccounts:\n"
        f"  - name: Acme Agency\n    id: {MA}\n{flag}    users:\n{listed('manager')}"
        "adAccounts:\n"
        f"  - id: {SA}\n    type: sponsored-ads\n{flag}    users:\n{listed('sponsored-ads')}"
        f"  - id: {DSP}\n    type: dsp\n{flag}    users:\n{listed('dsp')}"
        "amcAccounts:\n"
        f"  - id: {AMC}\n{flag}    users:\n{listed('amc')}"
    )


def cli(capsys: pytest.CaptureFixture[str], state: str, *argv: str) -> tuple[int, str]:
    return run(capsys, *argv[:1], "--sandbox-state", state, *argv[1:])


def people(state: str, kind: str) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """userId -> (role, permissions, countries) of the live users on the account of `kind`."""
    account = World.load(Path(state)).account(SCOPES[kind], _kind(kind))
    out = {}
    for user in account.users:
        (grant, *more) = user.grants
        assert not more, user
        out[user.user_id] = (grant.role, grant.permissions, grant.countries)
    return out


def _kind(kind: str) -> Any:
    from reconciler.model import ScopeKind

    return ScopeKind(kind)


def converge(capsys: pytest.CaptureFixture[str], state: str, folder: Path) -> str:
    code, out = cli(capsys, state, "apply", "--auto-approve", str(folder))
    assert code == 0, out
    code, again = cli(capsys, state, "plan", "--detailed-exitcode", str(folder))
    assert code == 0 and "No changes." in again, again
    return out


@pytest.mark.parametrize("kind", ["manager", "sponsored-ads", "dsp", "amc"])
def test_invite_accept_promote_demote_remove_on_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    state, folder = setup(tmp_path, capsys, world(), {"m.yaml": manifest({})})
    assert cli(capsys, state, "plan", "--detailed-exitcode", str(folder))[0] == 0
    ana = f'{{email: ana@acme.example, userId: "{ANA}", role: viewer}}'
    (folder / "m.yaml").write_text(manifest({kind: [ana.replace(f', userId: "{ANA}"', "")]}))
    out = converge(capsys, state, folder)
    assert f"{kind}:{SCOPES[kind]}: invite ana@acme.example as viewer" in out
    assert run(capsys, "sandbox", "accept", "--sandbox-state", state, f"{kind}:{SCOPES[kind]}",
               "ana@acme.example")[0] == 0  # fmt: skip
    (uid,) = set(people(state, kind)) - {OWNER}
    ana = ana.replace(ANA, uid)
    for role in ("admin", "viewer"):  # a promotion, then a demotion
        (folder / "m.yaml").write_text(manifest({kind: [ana.replace("viewer", role)]}))
        out = converge(capsys, state, folder)
        old = "viewer" if role == "admin" else "admin"
        assert f"set role of ana@acme.example ({uid}): {old} -> {role}" in out
        assert people(state, kind)[uid][0] == role.upper()
    (folder / "m.yaml").write_text(manifest({}))
    out = converge(capsys, state, folder)
    assert f"revoke user a***@acme.example ({uid}, viewer)" in out
    assert set(people(state, kind)) == {OWNER}


@pytest.mark.parametrize("kind", ["sponsored-ads", "dsp"])
def test_a_custom_set_to_a_role_and_back_and_countries_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    names = ["campaign_edit", "reports_view"] if kind == "sponsored-ads" else ["reports_edit"]
    where = ", countries: [US, CA]" if kind == "sponsored-ads" else ""
    custom = f'{{userId: "{ANA}", permissions: [{", ".join(names)}]{where}}}'
    seeded = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER"}
    state, folder = setup(
        tmp_path, capsys, world({kind: [seeded]}), {"m.yaml": manifest({kind: [custom]})}
    )
    shown = f"custom [{', '.join(names)}]" + (" in CA, US" if where else "")
    out = converge(capsys, state, folder)
    assert f"set access of a***@acme.example ({ANA}): viewer -> {shown}" in out
    countries = ("CA", "US") if where else ()
    assert people(state, kind)[ANA] == (None, tuple(names), countries)
    role = f'{{userId: "{ANA}", role: editor{where}}}'
    (folder / "m.yaml").write_text(manifest({kind: [role]}))
    out = converge(capsys, state, folder)
    assert f"({ANA}): {shown} -> editor" in out
    assert people(state, kind)[ANA] == ("EDITOR", (), countries)
    if kind == "sponsored-ads":
        (folder / "m.yaml").write_text(manifest({kind: [role.replace("US, CA", "GB")]}))
        out = converge(capsys, state, folder)
        assert f"({ANA}): editor in CA, US -> editor in GB" in out
        assert people(state, kind)[ANA] == ("EDITOR", (), ("GB",))
        role = role.replace("US, CA", "GB")
    # And back: the role becomes the custom set again.
    (folder / "m.yaml").write_text(manifest({kind: [custom]}))
    out = converge(capsys, state, folder)
    held = "editor in GB" if where else "editor"
    assert f"set access of a***@acme.example ({ANA}): {held} -> {shown}" in out
    assert people(state, kind)[ANA] == (None, tuple(names), countries)


def test_an_invitation_carries_the_custom_set_and_countries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ana = "{email: ana@acme.example, permissions: [reports_view, campaign_edit], countries: [US]}"
    state, folder = setup(tmp_path, capsys, world(), {"m.yaml": manifest({"sponsored-ads": [ana]})})
    out = converge(capsys, state, folder)
    assert "invite ana@acme.example as custom [campaign_edit, reports_view] in US" in out
    (invitation,) = World.load(Path(state)).account(SA, _kind("sponsored-ads")).invitations
    assert (invitation.permissions, invitation.countries) == (
        ("campaign_edit", "reports_view"),
        ("US",),
    )


def test_a_console_stranger_on_a_manager_account_is_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = {"email": "zed@elsewhere.example", "user_id": "amzn1.account.ZED", "role": "EDITOR"}
    state, folder = setup(
        tmp_path, capsys, world({"manager": [stranger]}), {"m.yaml": manifest({})}
    )
    code, out = cli(capsys, state, "plan", "--detailed-exitcode", str(folder))
    assert code == 2
    assert f"manager:{MA}: revoke user z***@elsewhere.example (amzn1.account.ZED, editor)" in out
    converge(capsys, state, folder)
    assert set(people(state, "manager")) == {OWNER}


def test_a_custom_set_nobody_describes_is_shown_exactly_and_left_with_prune_false(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = {
        "email": "cy@acme.example",
        "user_id": "amzn1.account.CY",
        "permissions": ["billing_view", "reports_view"],
        "countries": ["US", "MX"],
    }
    state, folder = setup(
        tmp_path,
        capsys,
        world({"sponsored-ads": [odd]}),
        {"m.yaml": manifest({}, prune=False)},
    )
    code, out = cli(capsys, state, "plan", "--detailed-exitcode", str(folder))
    assert code == 0, out
    (folder / "m.yaml").write_text(manifest({}))
    code, out = cli(capsys, state, "plan", str(folder))
    assert (
        "revoke user c***@acme.example (amzn1.account.CY, custom [billing_view, reports_view] "
        "in MX, US)" in out
    )


def test_min_admins_on_a_manager_account_refuses_and_the_last_admin_is_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "ADMIN"}
    demoted = f'{{userId: "{ANA}", role: viewer}}'
    text = manifest({"manager": [demoted]}).replace(
        "    users:\n", "    minAdmins: 2\n    users:\n", 1
    )
    state, folder = setup(tmp_path, capsys, world({"manager": [ana]}), {"m.yaml": text})
    code, out = cli(capsys, state, "plan", str(folder))
    assert code != 0
    assert (
        f"m.yaml:3:5: Manager account `{MA}` lists 1 admin(s) but minAdmins is 2: add an "
        "admin, or lower `minAdmins`"
    ) in out
    # With prune: false the manifest may list fewer; the plan's guard refuses the demotion.
    (folder / "m.yaml").write_text(
        text.replace("    minAdmins: 2\n", "    minAdmins: 2\n    prune: false\n", 1)
    )
    code, out = cli(capsys, state, "plan", str(folder))
    assert code != 0
    assert f"x manager:{MA}: min-admins\n      counted: 1 active admin(s) left (now 2)" in out
    assert people(state, "manager")[ANA][0] == "ADMIN"
    # Whatever minAdmins says, the last admin of a manager account is never removed.
    owner_viewer = manifest({}).replace(
        f'{{email: owner@acme.example, userId: "{OWNER}", role: admin}}',
        f'{{email: owner@acme.example, userId: "{OWNER}", role: viewer}}',
        1,
    )
    (folder / "m.yaml").write_text(
        owner_viewer.replace("    users:\n", "    minAdmins: 0\n    users:\n", 1)
    )
    (tmp_path / "again").mkdir()
    state, _ = setup(tmp_path / "again", capsys, world(), {})
    code, out = cli(capsys, state, "apply", "--auto-approve", str(folder))
    assert f"manager:{MA}" in out and "would leave no active admin" in out, out
    assert people(state, "manager")[OWNER][0] == "ADMIN"


GRANTS = {  # a grant of each kind, as the manifests write it, as the seed writes it, as shown
    "manager": ("role: editor", {"role": "EDITOR"}, "editor"),
    "sponsored-ads": (
        "permissions: [reports_view], countries: [US]",
        {"permissions": ["reports_view"], "countries": ["US"]},
        "custom [reports_view] in US",
    ),
    "dsp": (
        "permissions: [reports_edit]",
        {"permissions": ["reports_edit"]},
        "custom [reports_edit]",
    ),
    "amc": ("role: viewer", {"role": "VIEWER"}, "viewer"),
}


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_expires_follows_the_sandbox_clock_on_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """Before the date: in sync, then `expiring soon` (not drift); after it: `grant
    expired`, drift, removed by apply; the plan after is empty."""
    written, seeded, shown = GRANTS[kind]
    dan = {"email": "dan@acme.example", "user_id": "amzn1.account.DAN", **seeded}
    frozen = {**world({kind: [dan]}), "clock": {"frozen_at": 1_790_000_000.0}}  # 2026-09-21
    entry = f'{{userId: "amzn1.account.DAN", {written}, expires: "2026-10-01"}}'
    state, folder = setup(tmp_path, capsys, frozen, {"m.yaml": manifest({kind: [entry]})})
    code, out = cli(capsys, state, "drift", "--expiring-within", "5", str(folder))
    assert code == 0, out
    assert "Drift:" not in out
    code, out = cli(capsys, state, "drift", "--expiring-within", "14", str(folder))
    assert code == 0, out
    assert f"[expiring soon] {kind}:{SCOPES[kind]}: " in out and "Drift: 1 expiring soon." in out
    assert run(capsys, "sandbox", "advance-clock", "--sandbox-state", state, "30d")[0] == 0
    code, out = cli(capsys, state, "drift", str(folder))
    assert code == 2
    assert f"revoke user d***@acme.example (amzn1.account.DAN, {shown})" in out
    assert "expired on 2026-10-01" in out
    assert f"[grant expired] {kind}:{SCOPES[kind]}: revoke user d***@acme.example" in out
    converge(capsys, state, folder)
    assert set(people(state, kind)) == {OWNER}


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_an_expired_invitation_is_resent_on_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    written, _, shown = GRANTS[kind]
    entry = f"{{email: eve@acme.example, {written}}}"
    state, folder = setup(tmp_path, capsys, world(), {"m.yaml": manifest({kind: [entry]})})
    out = converge(capsys, state, folder)
    assert f"invite eve@acme.example as {shown}" in out
    account = f"{kind}:{SCOPES[kind]}"
    assert run(capsys, "sandbox", "expire", "--sandbox-state", state, account,
               "eve@acme.example")[0] == 0  # fmt: skip
    code, out = cli(capsys, state, "drift", str(folder))
    assert code == 2, out
    assert f"[invitation expired] {account}: resend invitation" in out
    converge(capsys, state, folder)
    (invitation,) = [
        i
        for i in World.load(Path(state)).account(SCOPES[kind], _kind(kind)).invitations
        if i.state == "PENDING"
    ]
    assert invitation.email == "eve@acme.example"


@pytest.mark.parametrize(
    ("entry", "where", "message"),
    [
        (
            "{email: a@acme.example, permissions: [campaign_edit]}",
            ("manager",),
            "a manager account takes no custom permission set: give a `role` (admin, editor, "
            "viewer)",
        ),
        (
            "{email: a@acme.example, permissions: [campaign_edit, reports_view]}",
            ("dsp",),
            "`reports_view` is not a permission of a DSP account: use one of campaign_edit, "
            "creatives_edit, reports_edit, reports_limited",
        ),
        (
            "{email: a@acme.example, role: viewer, countries: [US]}",
            ("dsp",),
            "a DSP account takes no `countries` (only sponsored-ads accounts do): remove it",
        ),
        (
            "{email: a@acme.example, role: viewer, countries: [XX]}",
            ("sponsored-ads",),
            "`XX` is not a country code a sponsored-ads account takes: use one of AE, AU, BE",
        ),
        (
            "{email: a@acme.example, role: editor}",
            ("amc",),
            "an AMC account has no role `editor`: use one of admin, viewer",
        ),
        (
            "{email: a@acme.example, role: viewer, permissions: [reports_edit]}",
            ("dsp",),
            "an entry has a `role` or `permissions`, not both: keep one",
        ),
    ],
)
def test_validate_checks_each_grant_against_its_kind(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    entry: str,
    where: tuple[str],
    message: str,
) -> None:
    path = tmp_path / "m.yaml"
    text = manifest({where[0]: [entry]})
    path.write_text(text, encoding="utf-8")
    code, out = run(capsys, "validate", str(path))
    assert code != 0
    line = text.splitlines().index(f"      - {entry}") + 1
    found = [x for x in out.splitlines() if x.startswith(f"{path}:{line}:")]
    assert any(f": {message}" in x for x in found), out


def test_a_manager_account_with_users_needs_its_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nmanagerAccounts:\n  - name: New\n    users:\n"
        "      - {email: a@acme.example, role: admin}\n",
        encoding="utf-8",
    )
    code, out = run(capsys, "validate", str(path))
    assert code != 0
    assert (
        f"{path}:4:5: manager account `New` lists `users:` but has no `id:`: people are "
        "managed on an existing manager account; add its `id:` (amzn1.ads1.ma1...)"
    ) in out


@pytest.mark.parametrize("kind", ["manager", "sponsored-ads", "dsp", "amc"])
def test_drift_classes_of_a_console_change_on_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER"}
    entry = f'{{email: ana@acme.example, userId: "{ANA}", role: viewer}}'
    state, folder = setup(
        tmp_path, capsys, world({kind: [ana]}), {"m.yaml": manifest({kind: [entry]})}
    )
    assert cli(capsys, state, "drift", str(folder))[0] == 0
    account = f"{kind}:{SCOPES[kind]}"
    assert run(capsys, "sandbox", "set-role", "--sandbox-state", state, account, ANA,
               "admin")[0] == 0  # fmt: skip
    code, out = cli(capsys, state, "drift", str(folder))
    assert code == 2
    assert (
        f"[changed behind git's back or not applied yet] {account}: set role of "
        f"ana@acme.example ({ANA}): admin -> viewer"
    ) in out
    converge(capsys, state, folder)
    assert people(state, kind)[ANA][0] == "VIEWER"


def test_grants_that_differ_by_country_are_shown_as_amazon_says_and_never_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER", "countries": ["US"]}
    entry = f'{{email: ana@acme.example, userId: "{ANA}", role: viewer, countries: [US]}}'
    state, folder = setup(
        tmp_path,
        capsys,
        world({"sponsored-ads": [ana]}),
        {"m.yaml": manifest({"sponsored-ads": [entry]})},
    )
    assert cli(capsys, state, "drift", str(folder))[0] == 0
    assert run(capsys, "sandbox", "set-role", "--sandbox-state", state, SA, ANA, "admin",
               "--countries", "CA", "--keep-other-countries")[0] == 0  # fmt: skip
    code, out = cli(capsys, state, "drift", str(folder))
    assert code == 2, out  # drift: live differs, and no plan can make it right
    assert "ana@acme.example (amzn1.account.ANA) has role ADMIN/VIEWER, which reconciler " in out
    assert "set role" not in out and "revoke user" not in out
    assert [(g.role, g.countries) for g in _grants(state, ANA)] == [
        ("VIEWER", ("US",)),
        ("ADMIN", ("CA",)),
    ]


def _grants(state: str, user_id: str) -> tuple[Any, ...]:
    account = World.load(Path(state)).account(SA, _kind("sponsored-ads"))
    user = account.user(user_id)
    assert user is not None
    return tuple(user.grants)


def test_import_writes_a_manager_accounts_people_and_plan_is_then_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zed = {"email": "zed@elsewhere.example", "user_id": "amzn1.account.ZED", "role": "EDITOR"}
    state, _ = setup(tmp_path, capsys, world({"manager": [zed]}), {})
    out_dir = tmp_path / "imported"
    code, out = cli(capsys, state, "import", "--out", str(out_dir))
    assert code == 0, out
    (manager_file,) = (out_dir / "managers").iterdir()
    text = manager_file.read_text(encoding="utf-8")
    assert '      - {userId: "amzn1.account.ZED", role: editor}' in text
    assert f'      - {{userId: "{OWNER}", role: admin}}' in text
    code, out = cli(capsys, state, "plan", "--detailed-exitcode", str(out_dir))
    assert code == 0 and "No changes." in out, out


def test_access_lists_the_people_of_every_kind_a_custom_set_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cy = {
        "email": "cy@acme.example",
        "user_id": "amzn1.account.CY",
        "permissions": ["billing_view"],
        "countries": ["US"],
    }
    entry = '{userId: "amzn1.account.CY", permissions: [billing_view], countries: [US]}'
    state, folder = setup(
        tmp_path,
        capsys,
        world({"sponsored-ads": [cy]}),
        {"m.yaml": manifest({"sponsored-ads": [entry]})},
    )
    code, out = cli(capsys, state, "access", str(folder))
    assert code == 0, out
    for kind, key in SCOPES.items():
        assert f"{kind} {key}" in out and f"({OWNER}): admin, active" in out
    assert (
        f"sponsored-ads {SA}: c***@acme.example (amzn1.account.CY): permissions custom "
        "[billing_view] in US, active; " in out
    )


def test_offboard_ends_a_persons_access_on_every_kind_and_the_plan_after_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ana is viewer of a manager account, a sponsored-ads account, a DSP account and an AMC
    account; offboarding her by address, then applying, leaves her nothing anywhere the
    manifests manage, and the plan after is empty."""
    seeded = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER"}
    entry = f'{{email: ana@acme.example, userId: "{ANA}", role: viewer}}'
    state, folder = setup(
        tmp_path,
        capsys,
        world({kind: [seeded] for kind in SCOPES}),
        {"m.yaml": manifest({kind: [entry] for kind in SCOPES})},
    )
    assert cli(capsys, state, "plan", "--detailed-exitcode", str(folder))[0] == 0
    code, out = cli(capsys, state, "access", "--person", ANA, "--format", "json", str(folder))
    assert code == 0, out
    assert sorted(g["accountKind"] for g in json.loads(out)["grants"]) == sorted(SCOPES)
    code, out = cli(capsys, state, "offboard", "ana@acme.example", str(folder))
    assert code == 2, out
    assert (folder / "m.yaml").read_text() == manifest({})
    converge(capsys, state, folder)
    for kind in SCOPES:
        assert ANA not in people(state, kind)
    code, out = cli(capsys, state, "access", "--person", ANA, "--format", "json", str(folder))
    assert code == 0 and json.loads(out)["grants"] == [], out


def test_the_access_review_covers_every_kind_and_prints_its_body_as_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\npolicy:\n  reviewEvery: 90d\n"
        f"managerAccounts:\n  - name: Acme Agency\n    id: {MA}\n    owners: [lead@acme.example]\n"
        "    users:\n      - {email: owner@acme.example, role: admin, reviewed: 2020-01-01}\n"
        f"adAccounts:\n  - id: {DSP}\n    type: dsp\n    owners: [lead@acme.example]\n"
        "    users:\n"
        "      - {email: dan@acme.example, permissions: [reports_edit], reviewed: 2020-01-01}\n"
        "      - {email: owner@acme.example, role: admin, reviewed: 2999-01-01}\n"
    )
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    code, out = run(capsys, "review", str(tmp_path / "m.yaml"))
    assert code == 2, out
    assert f"\n### DSP account {DSP}\nOwners: lead&#64;acme.example\n" in out
    assert "- dan&#64;acme.example: custom [reports_edit] (" in out
    assert f"\n### manager account Acme Agency ({MA})\n" in out
    assert "\\n" not in out  # the body's line breaks are lines, not escapes
    after = (tmp_path / "m.yaml").read_text(encoding="utf-8")
    assert after.count("reviewed: 2020-01-01") == 0 and after.count('reviewed: "') == 2


# ---- attacks ----------------------------------------------------------------------------------

LOOK_ALIKE = "ana@acme.ex\u0430mple"  # a Cyrillic а in the domain


def test_a_look_alike_address_on_a_manager_account_is_refused_and_never_taken_for_the_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In the manifests, a look-alike is refused with its line and the character. Live, an
    invitation to it (admin, from the console) is not ana's invitation, nor is a user whose
    masked address looks like hers her: ana is invited, both are removed, and masking masks
    the look-alike though the manifests hold the real address."""
    path = tmp_path / "lookalike.yaml"
    text = manifest({"manager": [f"{{email: {LOOK_ALIKE}, role: admin}}"]})
    path.write_text(text, encoding="utf-8")
    code, out = run(capsys, "validate", str(path))
    assert code != 0
    line = text.splitlines().index(f"      - {{email: {LOOK_ALIKE}, role: admin}}") + 1
    assert (
        f"{path}:{line}:17: address ana@acme.ex\\u0430mple mixes scripts: Cyrillic, Latin "
        "(U+0430 CYRILLIC SMALL LETTER A at position 12): a look-alike of another address; "
        "retype it in one script"
    ) in out
    invitation = {"email": LOOK_ALIKE, "role": "ADMIN", "name": "Ana"}
    eve = {"email": LOOK_ALIKE, "user_id": "amzn1.account.EVE", "role": "VIEWER"}
    state, folder = setup(
        tmp_path,
        capsys,
        world({"manager": [eve]}, {"manager": [invitation]}),
        {"m.yaml": manifest({"manager": ["{email: ana@acme.example, role: admin}"]})},
    )
    code, out = cli(capsys, state, "plan", "--mask-emails", str(folder))
    assert code == 0, out
    account = f"manager:{MA}"
    assert "  + invite ana@acme.example as admin\n" in out
    assert "  - revoke invitation of a***@acme.exаmple (a***@acme.ex\\u0430mple) (" in out
    assert "  - revoke user a***@acme.exаmple (amzn1.account.EVE, viewer)\n" in out
    assert LOOK_ALIKE not in out
    out = converge(capsys, state, folder)
    assert f"ok       {account}: invite ana@acme.example as admin" in out
    assert set(people(state, "manager")) == {OWNER}
    invitations = World.load(Path(state)).account(MA, _kind("manager")).invitations
    assert {(i.email, i.state) for i in invitations} == {
        ("ana@acme.example", "PENDING"),
        (LOOK_ALIKE, "REVOKED"),
    }


def test_an_apply_interrupted_between_grant_and_removal_on_a_sponsored_ads_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C lands while the promotion is in flight: the apply stops after that call (exit
    130), the removal is not sent, and the account keeps every admin it had; the next plan
    is the removal alone, and the next apply finishes it."""
    import os
    import signal

    import httpx

    from reconciler.sandbox import SandboxTransport

    zed = {"email": "zed@acme.example", "user_id": "amzn1.account.ZED", "role": "ADMIN"}
    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER"}
    entry = f'{{email: ana@acme.example, userId: "{ANA}", role: admin}}'
    state, folder = setup(
        tmp_path,
        capsys,
        world({"sponsored-ads": [ana, zed]}),
        {"m.yaml": manifest({"sponsored-ads": [entry]})},
    )
    sent: list[str] = []
    real = SandboxTransport.handle_request

    def ctrl_c_after_the_grant(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        response = real(self, request)
        if request.method in ("PUT", "DELETE", "POST") and "/userPermissions" in request.url.path:
            sent.append(f"{request.method} {request.url.path}")
            if request.method == "PUT":
                os.kill(os.getpid(), signal.SIGINT)
        return response

    monkeypatch.setattr(SandboxTransport, "handle_request", ctrl_c_after_the_grant)
    code, out = cli(capsys, state, "apply", "--auto-approve", str(folder))
    monkeypatch.undo()
    assert code == 130, out
    assert sent == ["PUT /userPermissions"], sent
    assert f"set role of ana@acme.example ({ANA}): viewer -> admin" in out
    assert people(state, "sponsored-ads") == {
        OWNER: ("ADMIN", (), ()),
        ANA: ("ADMIN", (), ()),
        "amzn1.account.ZED": ("ADMIN", (), ()),
    }
    code, out = cli(capsys, state, "plan", "--detailed-exitcode", str(folder))
    assert code == 2, out
    assert "Plan: 1 to revoke." in out
    assert f"sponsored-ads:{SA}: revoke user z***@acme.example (amzn1.account.ZED, admin)" in out
    converge(capsys, state, folder)
    assert set(people(state, "sponsored-ads")) == {OWNER, ANA}


NOUNS = {
    "manager": "Manager account",
    "sponsored-ads": "Sponsored-ads account",
    "dsp": "DSP account",
    "amc": "AMC account",
}


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_validate_names_the_kind_of_an_account_an_expired_admin_grant_leaves_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """minAdmins over time: an admin grant that expired (an error) or expires soon (a
    warning) is said of the account by its own kind, not as an AMC account."""
    from tests.driver import day

    gone, soon = day(-1), day(3)
    entries = {kind: [f'{{email: ana@acme.example, role: admin, expires: "{gone}"}}']}
    path = tmp_path / "m.yaml"
    text = manifest(entries).replace(
        f"  - id: {SCOPES[kind]}\n", f"  - id: {SCOPES[kind]}\n    minAdmins: 2\n"
    )
    if kind == "manager":
        text = text.replace("    id: ", "    minAdmins: 2\n    id: ", 1)
    path.write_text(text, encoding="utf-8")
    code, out = run(capsys, "validate", str(path))
    assert code == 1, out
    line = next(n for n, x in enumerate(text.splitlines(), 1) if gone in x)
    assert (
        f"{path}:{line}:57: {NOUNS[kind]} `{SCOPES[kind]}` has 1 admin(s) left, fewer than "
        f"minAdmins 2: the admin grant of ana@acme.example on {gone} expired (`expires:`), so "
        "the plan would remove it; add an admin, move the `expires:`, or lower `minAdmins`"
    ) in out
    path.write_text(text.replace(gone, soon), encoding="utf-8")
    code, out = run(capsys, "validate", str(path))
    assert code == 0, out
    assert (
        f"warning: {path}:{line}:57: {NOUNS[kind]} `{SCOPES[kind]}` will have 1 admin(s) from "
        f"{soon}, when the admin grant of ana@acme.example expires: fewer than minAdmins 2, "
        "so the plan will refuse to remove it; add an admin, move the `expires:`, or lower "
        "`minAdmins`"
    ) in out


# ---- one user id per person everywhere ----------------------------------------------------------

TEAM = "groups:\n  team:\n    - {email: eli@acme.example}\n"
ON_TWO_KINDS = {"manager": ["{group: team, role: admin}"], "dsp": ["{group: team, role: viewer}"]}


def test_a_group_member_on_a_manager_and_a_dsp_account_is_pinned_once_by_one_user_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, folder = setup(tmp_path, capsys, world(), {"m.yaml": manifest(ON_TWO_KINDS) + TEAM})
    converge(capsys, state, folder)
    for kind in ("manager", "dsp"):
        assert run(capsys, "sandbox", "accept", "--sandbox-state", state,
                   f"{kind}:{SCOPES[kind]}", "eli@acme.example")[0] == 0  # fmt: skip
    (uid,) = set(people(state, "manager")) - {OWNER}
    assert set(people(state, "dsp")) - {OWNER} == {uid}
    code, out = cli(capsys, state, "plan", str(folder))
    assert code == 0, out
    line = len((manifest(ON_TWO_KINDS) + TEAM).splitlines())
    proposal = (
        f"{folder / 'm.yaml'}:{line}: eli@acme.example is live user {uid} (e***@acme.example) "
        f"by masked address only: pin it with `userId: {uid}`"
    )
    assert out.count(proposal) == 1, out  # one entry, one pin, though two accounts fit it
    code, out = cli(capsys, state, "pin", str(folder))
    assert code == 2, out
    assert (folder / "m.yaml").read_text() == manifest(ON_TWO_KINDS) + TEAM.replace(
        "eli@acme.example}", f'eli@acme.example, userId: "{uid}"}}'
    )
    code, out = cli(capsys, state, "plan", "--detailed-exitcode", str(folder))
    assert code == 0 and "No changes." in out and "Proposed pins" not in out, out


def test_a_group_member_fitting_two_users_on_two_kinds_is_never_pinned_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """e***@acme.example is eli on the manager account and someone else on the DSP account:
    no pin is written, and each proposal names its account, so a reviewer can tell them
    apart."""
    eli = {"email": "eli@acme.example", "user_id": "amzn1.account.ELI", "role": "ADMIN"}
    evil = {"email": "evil@acme.example", "user_id": "amzn1.account.EVIL", "role": "VIEWER"}
    state, folder = setup(
        tmp_path,
        capsys,
        world({"manager": [eli], "dsp": [evil]}),
        {"m.yaml": manifest(ON_TWO_KINDS) + TEAM},
    )
    code, out = cli(capsys, state, "plan", str(folder))
    assert code == 0, out
    line = len((manifest(ON_TWO_KINDS) + TEAM).splitlines())
    for kind, uid in (("manager", "amzn1.account.ELI"), ("dsp", "amzn1.account.EVIL")):
        assert (
            f"{folder / 'm.yaml'}:{line}: eli@acme.example is live user {uid} "
            f"(e***@acme.example) on {kind}:{SCOPES[kind]} by masked address only: pin it "
            f"with `userId: {uid}`"
        ) in out
    code, out = cli(capsys, state, "pin", str(folder))
    assert code == 0, out
    assert "fits 2 live users in different accounts: pin by hand" in out
    assert (folder / "m.yaml").read_text() == manifest(ON_TWO_KINDS) + TEAM


# ---- show: a saved plan of every kind -----------------------------------------------------------

EVERY_KIND = {
    "manager": [f'{{email: ana@acme.example, userId: "{ANA}", role: admin}}'],
    "sponsored-ads": [
        f'{{email: ana@acme.example, userId: "{ANA}", role: viewer, countries: [US]}}',
        "{email: bo@acme.example, permissions: [reports_view], countries: [CA]}",
    ],
    "dsp": [
        f'{{email: ana@acme.example, userId: "{ANA}", permissions: [reports_edit]}}',
        "{email: bo@acme.example, permissions: [campaign_edit]}",
    ],
    "amc": [f'{{email: ana@acme.example, userId: "{ANA}", role: admin}}'],
}
# What each kind's account shows: its heading, and its lines.
SHOWN = {
    "manager": (
        f"Manager account {MA}",
        [f"~ set role of ana@acme.example ({ANA}): viewer -> admin"],
    ),
    "sponsored-ads": (
        f"Sponsored-ads account {SA}",
        [
            "+ invite bo@acme.example as custom [reports_view] in CA",
            f"~ set role of ana@acme.example ({ANA}): viewer -> viewer in US",
        ],
    ),
    "dsp": (
        f"DSP account {DSP}",
        [
            "+ invite bo@acme.example as custom [campaign_edit]",
            f"~ set access of ana@acme.example ({ANA}): viewer -> custom [reports_edit]",
            "- revoke user z***@acme.example (amzn1.account.ZED, editor)",
        ],
    ),
    "amc": (
        f'AMC account {AMC} "{AMC}"',
        [f"~ set role of ana@acme.example ({ANA}): viewer -> admin"],
    ),
}


@pytest.fixture
def every_kind_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    """A saved plan that changes an account of each kind: (file, its plan digest)."""
    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER"}
    zed = {"email": "zed@acme.example", "user_id": "amzn1.account.ZED", "role": "EDITOR"}
    seeded = {kind: [ana] for kind in SCOPES}
    seeded["dsp"] = [ana, zed]
    state, folder = setup(tmp_path, capsys, world(seeded), {"m.yaml": manifest(EVERY_KIND)})
    path = tmp_path / "plan.json"
    code, out = cli(capsys, state, "plan", "--out", str(path), str(folder))
    assert code == 0, out
    digest = json.loads(path.read_text(encoding="utf-8"))["planDigest"]
    assert f"Plan digest: {digest}" in out
    return path, digest


def test_show_renders_a_saved_plan_of_every_kind_as_text(
    every_kind_plan: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, digest = every_kind_plan
    code, out = run(capsys, "show", str(path))
    assert code == 0, out
    blocks = {block.splitlines()[0]: block for block in out.split("\n\n")}
    for heading, lines in SHOWN.values():
        shown = [x.strip() for x in blocks[heading].splitlines()[1::2]]
        assert shown == lines, blocks[heading]
    assert "Plan: 2 to invite, 4 to change access, 1 to revoke." in out
    assert f"Plan digest: {digest}" in out


def test_show_renders_a_saved_plan_of_every_kind_as_markdown(
    every_kind_plan: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, digest = every_kind_plan
    code, out = run(capsys, "show", "--format", "markdown", str(path))
    assert code == 0, out
    for heading, _ in SHOWN.values():
        assert f"\n<summary>{heading}: " in out
    assert (
        "| `+` | invite bo&#64;acme.example as custom \\[reports\\_view\\] in CA | " in out
        and "| `-` | revoke user z\\*\\*\\*&#64;acme.example (amzn1.account.ZED, editor) |" in out
    )
    assert f"`Plan digest: {digest}`" in out


def test_show_renders_a_saved_plan_of_every_kind_as_the_plan_file(
    every_kind_plan: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = every_kind_plan
    code, out = run(capsys, "show", "--format", "json", str(path))
    assert code == 0, out
    assert json.loads(out) == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_show_masks_every_address_of_every_kind(
    every_kind_plan: tuple[Path, str], capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    path, _ = every_kind_plan
    code, out = run(capsys, "show", "--mask-emails", "--format", fmt, str(path))
    assert code == 0, out
    for who in ("ana", "bo", "zed"):
        assert f"{who}@acme.example" not in out and f"{who}&#64;acme.example" not in out
    for kind in SCOPES:
        assert f"{kind}:{SCOPES[kind]}" in out
    star = "\\*\\*\\*" if fmt == "markdown" else "***"
    at = "&#64;" if fmt == "markdown" else "@"
    assert f"b{star}{at}acme.example" in out and f"a{star}{at}acme.example" in out


def test_plan_masks_live_addresses_of_every_kind_and_keeps_the_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In plan, an address the manifests hold is shown as written; a live one is masked,
    whichever kind of account it is on."""
    zed = {"email": "zed@acme.example", "user_id": "amzn1.account.ZED", "role": "VIEWER"}
    invitation = {"email": "yan@acme.example", "role": "VIEWER", "name": "Yan"}
    entries = {kind: ["{email: bo@acme.example, role: viewer}"] for kind in SCOPES}
    state, folder = setup(
        tmp_path,
        capsys,
        world({k: [zed] for k in SCOPES}, {k: [invitation] for k in SCOPES if k != "amc"}),
        {"m.yaml": manifest(entries)},
    )
    code, out = cli(capsys, state, "plan", "--mask-emails", "--max-removals", "100",
                    "--max-removal-fraction", "1", str(folder))  # fmt: skip
    assert code == 0, out
    assert "zed@" not in out and "yan@" not in out
    for kind in SCOPES:
        assert f"{kind}:{SCOPES[kind]}: invite bo@acme.example as viewer" in out
        assert f"{kind}:{SCOPES[kind]}: revoke user z***@acme.example" in out
    assert out.count("revoke invitation of y***@acme.example") == 2 * 3  # plan and drift


# ---- --baseline REF ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_the_baseline_tells_a_console_change_from_a_merged_one_on_every_kind(
    tmp_path: Path, repo: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """REF applied; then the console raises ana and a merged change invites bo: with the
    baseline the first is `changed behind git's back`, the second `not applied yet`."""
    from tests.driver import CHANGED, UNAPPLIED, git

    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER"}
    entry = f'{{email: ana@acme.example, userId: "{ANA}", role: viewer}}'
    state, _ = setup(tmp_path, capsys, world({kind: [ana]}), {})
    folder = repo / "m"
    folder.mkdir()

    def commit(entries: list[str], message: str) -> str:
        (folder / "m.yaml").write_text(manifest({kind: entries}), encoding="utf-8")
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", message)
        return git(repo, "rev-parse", "HEAD")

    ref = commit([entry], "A")
    converge(capsys, state, folder)
    account = f"{kind}:{SCOPES[kind]}"
    assert run(capsys, "sandbox", "set-role", "--sandbox-state", state, account, ANA,
               "admin")[0] == 0  # fmt: skip
    commit([entry, "{email: bo@acme.example, role: viewer}"], "B")
    code, out = cli(capsys, state, "drift", "--baseline", ref, str(folder))
    assert code == 2, out
    assert f"{CHANGED} {account}: set role of ana@acme.example ({ANA}): admin -> viewer" in out, out
    assert f"{UNAPPLIED} {account}: invite bo@acme.example as viewer" in out
    assert "Drift: 1 changed behind git's back, 1 not applied yet." in out
    converge(capsys, state, folder)
    assert people(state, kind)[ANA][0] == "VIEWER"


@pytest.mark.parametrize(
    ("kind", "console", "moved"),
    [
        ("sponsored-ads", ["set-countries", "CA"], "viewer in US -> viewer in CA"),
        (
            "sponsored-ads",
            ["set-permissions", "reports_view"],
            "viewer in US -> custom [reports_view] in US",
        ),
        ("dsp", ["set-permissions", "campaign_edit"], "viewer -> custom [campaign_edit]"),
        ("manager", ["set-role", "editor"], "viewer -> editor"),
        ("amc", ["set-role", "admin"], "viewer -> admin"),
    ],
)
def test_a_saved_plan_is_stale_when_a_grant_moved_on_any_kind(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    console: list[str],
    moved: str,
) -> None:
    """A console change to a person the plan does not touch, on an account it does: a
    country, a custom set or a role. `apply --plan` refuses, listing it, and writes nothing."""
    countries = ["US"] if kind == "sponsored-ads" else []
    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER", "countries": countries}
    where = ", countries: [US]" if countries else ""
    entry = f'{{email: ana@acme.example, userId: "{ANA}", role: viewer{where}}}'
    bo = "{email: bo@acme.example, role: viewer}"
    state, folder = setup(
        tmp_path, capsys, world({kind: [ana]}), {"m.yaml": manifest({kind: [entry, bo]})}
    )
    path = tmp_path / "plan.json"
    assert cli(capsys, state, "plan", "--out", str(path), str(folder))[0] == 0
    account = f"{kind}:{SCOPES[kind]}"
    assert run(capsys, "sandbox", console[0], "--sandbox-state", state, account, ANA,
               *console[1:])[0] == 0  # fmt: skip
    before = Path(state).read_bytes()
    code, out = cli(capsys, state, "apply", "--plan", str(path), str(folder))
    assert code == 1, out
    assert (
        "the plan is stale: live state changed since it was made:\n"
        f"  {account}: user {ANA} role {moved}\n"
    ) in out
    assert Path(state).read_bytes() == before


@pytest.mark.parametrize(
    ("held", "wanted", "phase"),
    [
        ("admin", "role: admin, countries: [US]", 2),  # fewer countries: a lowering
        ("admin in US", "role: admin, countries: [US, CA]", 1),  # more countries: a raise
        ("admin in US", "role: admin", 1),  # the whole account
        ("viewer in US", "role: admin, countries: [CA]", 2),  # US lost: not only a raise
        ("viewer", "role: editor, countries: [US]", 2),
        ("viewer in US", "role: editor, countries: [US]", 1),
    ],
)
def test_a_grant_narrowed_to_fewer_countries_waits_for_the_grants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], held: str, wanted: str, phase: int
) -> None:
    """Only a change that takes nothing away runs with the grants: admin over fewer
    countries is a lowering, sent after every grant of its account held, like a demotion."""
    role, _, countries = held.partition(" in ")
    ana = {
        "email": "ana@acme.example",
        "user_id": ANA,
        "role": role.upper(),
        "countries": countries.split(", ") if countries else [],
    }
    entry = f'{{email: ana@acme.example, userId: "{ANA}", {wanted}}}'
    state, folder = setup(
        tmp_path,
        capsys,
        world({"sponsored-ads": [ana]}),
        {"m.yaml": manifest({"sponsored-ads": [entry]})},
    )
    path = tmp_path / "plan.json"
    assert cli(capsys, state, "plan", "--out", str(path), str(folder))[0] == 0
    (action,) = json.loads(path.read_text(encoding="utf-8"))["actions"]
    assert (action["kind"], action["phase"]) == ("set-role", phase)
    converge(capsys, state, folder)


def test_the_only_admin_narrowed_to_fewer_countries_stays_admin_and_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Admin in fewer countries is still admin: the apply's own count of admins does not
    take it for the last admin leaving."""
    text = manifest({})
    at = text.index(f"  - id: {SA}\n")
    end = text.index(f"  - id: {DSP}\n")
    text = (
        text[:at]
        + text[at:end].replace("role: admin}", "role: admin, countries: [US]}")
        + text[end:]
    )
    state, folder = setup(tmp_path, capsys, world(), {"m.yaml": text})
    out = converge(capsys, state, folder)
    assert (
        f"ok       sponsored-ads:{SA}: set role of owner@acme.example ({OWNER}): "
        "admin -> admin in US" in out
    )
    assert people(state, "sponsored-ads") == {OWNER: ("ADMIN", (), ("US",))}


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_a_masked_only_fit_is_held_back_on_every_kind_until_pinned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """a***@acme.example fits ana's entry, but nothing proves it is her: the raise to
    admin is held back (drift, `identity unresolved`), nothing is sent; pinned, it is
    made."""
    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER"}
    entries = {kind: ["{email: ana@acme.example, role: admin}"]}
    state, folder = setup(tmp_path, capsys, world({kind: [ana]}), {"m.yaml": manifest(entries)})
    before = people(state, kind)
    code, out = cli(capsys, state, "apply", "--auto-approve", str(folder))
    assert code == 3, out
    account = f"{kind}:{SCOPES[kind]}"
    assert "Held back until identity is proven:" in out
    assert f"[identity unresolved] {account}: " in out
    assert "set role" not in out
    assert people(state, kind) == before
    code, out = cli(capsys, state, "pin", "--held", str(folder))
    assert code == 2, out
    out = converge(capsys, state, folder)
    assert f"set role of ana@acme.example ({ANA}): viewer -> admin" in out
    assert people(state, kind)[ANA][0] == "ADMIN"


def test_a_protected_user_is_kept_back_on_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zed = {"email": "zed@acme.example", "user_id": "amzn1.account.ZED", "role": "VIEWER"}
    text = manifest({}) + 'policy:\n  protectedUsers: ["amzn1.account.ZED"]\n'
    state, folder = setup(tmp_path, capsys, world({k: [zed] for k in SCOPES}), {"m.yaml": text})
    code, out = cli(capsys, state, "apply", "--auto-approve", str(folder))
    assert code == 3, out
    for kind in SCOPES:
        assert (
            f"[kept back by a safety rule] {kind}:{SCOPES[kind]}: kept: revoking "
            "z***@acme.example (amzn1.account.ZED) not planned; protected by "
            "policy.protectedUsers amzn1.account.ZED at "
        ) in out
        assert "amzn1.account.ZED" in people(state, kind)
    assert "Drift: 4 kept back by a safety rule." in out


@pytest.mark.parametrize("kind", ["sponsored-ads", "dsp", "manager"])
def test_an_accounts_own_policy_is_shown_under_its_own_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    text = manifest({}).replace(
        f"    id: {SCOPES[kind]}\n" if kind == "manager" else f"  - id: {SCOPES[kind]}\n",
        (f"    id: {SCOPES[kind]}\n" if kind == "manager" else f"  - id: {SCOPES[kind]}\n")
        + "    policy:\n      removalFloor: 5\n",
        1,
    )
    state, folder = setup(tmp_path, capsys, world(), {"m.yaml": text})
    line = text.splitlines().index("    policy:") + 1
    for fmt in ("text", "markdown"):
        code, out = cli(capsys, state, "plan", "--format", fmt, str(folder))
        assert code == 0, out
        shown = f"{kind}:{SCOPES[kind]}: removalFloor 5 ({folder / 'm.yaml'}:{line})"
        if fmt == "markdown":
            shown = shown.replace("_", "\\_")
        assert shown in out, out
        assert f"amc:{SCOPES[kind]}" not in out


@pytest.mark.parametrize("kind", ["manager", "sponsored-ads", "dsp"])
def test_a_failed_promotion_leaves_the_removal_of_its_account_unsent_on_every_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Amazon refuses ana's promotion (an item error): zed's removal on that account is not
    sent (exit 3, listed under Not sent), and the next apply, once the grant holds, does it."""
    import httpx

    from reconciler.sandbox import SandboxTransport

    zed = {"email": "zed@acme.example", "user_id": "amzn1.account.ZED", "role": "ADMIN"}
    ana = {"email": "ana@acme.example", "user_id": ANA, "role": "VIEWER"}
    entry = f'{{email: ana@acme.example, userId: "{ANA}", role: admin}}'
    state, folder = setup(
        tmp_path, capsys, world({kind: [ana, zed]}), {"m.yaml": manifest({kind: [entry]})}
    )
    deletes: list[bytes] = []
    real = SandboxTransport.handle_request

    def refuse_the_promotion(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/userPermissions" and request.method == "PUT":
            item = {"userId": ANA, "code": "INTERNAL_ERROR", "message": "injected"}
            body = {"successes": [], "errors": [item]}
            return httpx.Response(200, json=body, request=request)
        if request.url.path == "/userPermissions/delete" or request.method == "DELETE":
            deletes.append(request.read())
        return real(self, request)

    monkeypatch.setattr(SandboxTransport, "handle_request", refuse_the_promotion)
    code, out = cli(capsys, state, "apply", "--auto-approve", str(folder))
    monkeypatch.undo()
    assert code == 3, out
    assert deletes == []
    assert (
        f"skipped  {kind}:{SCOPES[kind]}: revoke user z***@acme.example (amzn1.account.ZED, admin)"
    ) in out
    assert "not sent: a grant in" in out
    assert set(people(state, kind)) == {OWNER, ANA, "amzn1.account.ZED"}
    converge(capsys, state, folder)
    assert people(state, kind) == {OWNER: ("ADMIN", (), ()), ANA: ("ADMIN", (), ())}


@pytest.mark.parametrize("kind", sorted(SCOPES))
def test_an_accepted_invitation_holds_its_grant_and_the_plan_only_proposes_the_pin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    written, seeded, _ = GRANTS[kind]
    entry = f"{{email: eve@acme.example, {written}}}"
    state, folder = setup(tmp_path, capsys, world(), {"m.yaml": manifest({kind: [entry]})})
    converge(capsys, state, folder)
    assert run(capsys, "sandbox", "accept", "--sandbox-state", state, f"{kind}:{SCOPES[kind]}",
               "eve@acme.example")[0] == 0  # fmt: skip
    (uid,) = set(people(state, kind)) - {OWNER}
    role = seeded.get("role")
    assert people(state, kind)[uid] == (
        role,
        tuple(seeded.get("permissions", ())),
        tuple(seeded.get("countries", ())),
    )
    code, out = cli(capsys, state, "plan", "--detailed-exitcode", str(folder))
    assert code == 0 and "No changes." in out, out
    assert f"eve@acme.example is live user {uid} (e***@acme.example) by masked address only" in out


def test_a_pending_invitation_whose_countries_or_set_changed_is_reissued(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {
        "sponsored-ads": ["{email: eve@acme.example, role: viewer, countries: [US]}"],
        "dsp": ["{email: eve@acme.example, permissions: [reports_edit]}"],
    }
    after = {
        "sponsored-ads": ["{email: eve@acme.example, role: viewer, countries: [CA]}"],
        "dsp": ["{email: eve@acme.example, permissions: [campaign_edit]}"],
    }
    state, folder = setup(tmp_path, capsys, world(), {"m.yaml": manifest(before)})
    converge(capsys, state, folder)
    (folder / "m.yaml").write_text(manifest(after), encoding="utf-8")
    out = converge(capsys, state, folder)
    assert f"ok       sponsored-ads:{SA}: invite eve@acme.example as viewer in CA" in out
    assert f"ok       dsp:{DSP}: invite eve@acme.example as custom [campaign_edit]" in out
    assert "pending invitation is for viewer in US, " in out
    assert "pending invitation is for custom [reports_edit], " in out
    for kind, grant in (
        ("sponsored-ads", ("VIEWER", (), ("CA",))),
        ("dsp", ("", ("campaign_edit",), ())),
    ):
        pending = [
            i
            for i in World.load(Path(state)).account(SCOPES[kind], _kind(kind)).invitations
            if i.state == "PENDING"
        ]
        assert [(i.role, i.permissions, i.countries) for i in pending] == [grant]


def test_a_dsp_account_whose_read_failed_gets_nothing_and_no_word_on_its_admins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Amazon refuses the DSP account's ListUsers: its read is incomplete, so nothing is
    planned there (not even the owner's invitation), plan is refused without
    --allow-incomplete, and no count of its admins is claimed from a read that failed. With
    the flag, the other kinds go ahead."""
    import httpx

    from reconciler.sandbox import SandboxTransport

    zed = {"email": "zed@acme.example", "user_id": "amzn1.account.ZED", "role": "VIEWER"}
    state, folder = setup(
        tmp_path, capsys, world({k: [zed] for k in SCOPES}), {"m.yaml": manifest({})}
    )
    real = SandboxTransport.handle_request

    def refuse_the_dsp_read(self: SandboxTransport, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Amazon-Ads-AccountId") == DSP and request.url.path == "/users/list":
            return httpx.Response(403, json={"code": "FORBIDDEN", "message": "no"}, request=request)
        return real(self, request)

    monkeypatch.setattr(SandboxTransport, "handle_request", refuse_the_dsp_read)
    limits = ("--max-removals", "100", "--max-removal-fraction", "1")
    code, out = cli(capsys, state, "plan", *limits, str(folder))
    assert code == 1, out
    assert f"x dsp:{DSP}: incomplete-read" in out
    assert "active admin(s)" not in out, out
    code, out = cli(capsys, state, "apply", "--auto-approve", "--allow-incomplete", *limits,
                    str(folder))  # fmt: skip
    monkeypatch.undo()
    assert f"[read incomplete] dsp:{DSP}: " in out
    assert "active admin(s)" not in out, out
    assert f"dsp:{DSP}: invite" not in out
    for kind in SCOPES:
        assert ("amzn1.account.ZED" in people(state, kind)) is (kind == "dsp")
