"""`reconciler.planning.scope`: which accounts a change between two manifests touches, and
narrowing the manifests to them. (Through the CLI and git: tests/test_changed_since_scenarios.)"""

from __future__ import annotations

from dataclasses import replace

from reconciler.model import DesiredPolicy, ManagerAccountType, Region
from reconciler.plan import Coverage, Covered
from reconciler.planning.scope import ADDED, LEAVING, changed, narrow
from tests import factories as f

BOSS = f.user("boss@corp.example", "admin", user_id="amzn1.account.BOSS")
ANN = f.user("ann@corp.example", "viewer", line=4)


def test_nothing_changed_covers_nothing_whatever_the_layout() -> None:
    then = f.desired([f.manager("M", f.link("L1"), id="m1")], [f.amc("A", BOSS, ANN)])
    # Other lines, another file, another order, the entry from a group: the same meaning.
    moved = replace(ANN, source=f.src(40, "other.yaml"), group="team")
    now = f.desired(
        [f.manager("M", f.link("L1", line=9), id="m1", line=7)], [f.amc("A", moved, BOSS)]
    )
    assert changed(then, now) == ()


def test_entries_added_removed_and_changed_are_counted() -> None:
    then = f.desired(amcs=[f.amc("A", BOSS, ANN, f.user("cy@corp.example"))])
    now = f.desired(
        amcs=[f.amc("A", BOSS, replace(ANN, role=ANN.role.ADMIN), f.user("dee@corp.example"))]
    )
    assert changed(then, now) == (Covered("amc:A", ("entries: 1 added, 1 removed, 1 changed",)),)


def test_a_group_entry_names_its_group_and_settings_are_named() -> None:
    then = f.desired(amcs=[f.amc("A", BOSS), f.amc("B", BOSS)])
    pat = replace(f.user("pat@corp.example"), group="team")
    now = f.desired(amcs=[f.amc("A", BOSS, pat), f.amc("B", BOSS, min_admins=2, notify=False)])
    assert changed(then, now) == (
        Covered("amc:A", ("entries: 1 added", "through group team")),
        Covered("amc:B", ("settings changed: minAdmins, notify",)),
    )


def test_accounts_added_and_dropped() -> None:
    then = f.desired([f.manager("Old", id="m0")], [f.amc("A", BOSS), f.amc("GONE", BOSS)])
    now = f.desired([f.manager("New")], [f.amc("A", BOSS), f.amc("NEW", BOSS)])
    assert changed(then, now) == (
        Covered("amc:GONE", (LEAVING,), leaving=True),
        Covered("amc:NEW", (ADDED,)),
        Covered("manager:New", (ADDED,)),
        Covered("manager:m0", (LEAVING,), leaving=True),
    )


def test_manager_accounts_match_by_id_else_name_and_links_are_counted() -> None:
    then = f.desired([f.manager("Acme", f.link("L1"), f.link("L2")), f.manager("Pinned", id="p")])
    now = f.desired(
        [
            # Pinned since REF: the same account, its id a setting that changed.
            f.manager("Acme", f.link("L1", Region.EU), f.link("L3"), id="a1"),
            f.manager("Renamed", id="p", type=ManagerAccountType.AGENCY),
        ]
    )
    assert changed(then, now) == (
        Covered("manager:a1", ("links: 1 added, 1 removed, 1 changed", "settings changed: id")),
        Covered("manager:p", ("settings changed: name, type",)),
    )
    # Two accounts pinned to different ids are two accounts, whatever their names.
    other = f.desired([f.manager("Pinned", id="q")])
    assert changed(then, other)[-1] == Covered("manager:q", (ADDED,))


def test_a_top_level_policy_change_reaches_every_account() -> None:
    then = f.desired([f.manager("M", id="m1")], [f.amc("A", BOSS), f.amc("B", BOSS)])
    now = replace(then, policy=DesiredPolicy(max_removals=3))
    why = "policy changed (maxRemovals): it applies to every account"
    assert changed(then, now) == (
        Covered("amc:A", (why,)),
        Covered("amc:B", (why,)),
        Covered("manager:m1", (why,)),
    )
    # Setting a list to nothing is no change.
    assert changed(then, replace(then, policy=DesiredPolicy(admin_groups=()))) == ()


def test_narrow_keeps_exactly_what_is_planned() -> None:
    want = f.desired(
        [f.manager("M", id="m1"), f.manager("N")], [f.amc("A", BOSS), f.amc("B", BOSS)]
    )
    coverage = Coverage(
        "r",
        "0" * 40,
        (
            Covered("amc:B"),
            Covered("manager:N"),
            Covered("amc:A", leaving=True),
            Covered("manager:m9"),
        ),
    )
    kept = narrow(want, coverage)
    assert [a.id for a in kept.accounts] == ["B"]
    assert [m.key for m in kept.manager_accounts] == ["N"]
    assert kept.policy == want.policy and kept.files == want.files
