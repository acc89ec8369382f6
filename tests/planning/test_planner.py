"""The planning rules, one behaviour per test, on values built with factories."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reconciler.actions import describe
from reconciler.errors import GuardError, PlanError
from reconciler.model import (
    Desired,
    DesiredAccount,
    DesiredPolicy,
    DesiredUser,
    Grant,
    LinkRole,
    Live,
    LiveInvitation,
    LiveUser,
    ManagerAccountType,
    Region,
    Role,
    ScopeKind,
    Source,
)
from reconciler.plan import AccountLimits, Action, ActionKind, ManagerRef, Plan, Policy, Protected
from reconciler.planning.planner import allowed_plan, make_plan
from tests.factories import (
    ACME_AMC,
    ACME_ID,
    DAY,
    FILE,
    NOW,
    amc,
    demo_desired,
    demo_live,
    demo_world,
    desired,
    invitation,
    link,
    live,
    live_amc,
    live_link,
    live_manager,
    live_user,
    manager,
    user,
    wire,
)

POLICY = Policy(now=NOW)
AMC = "ENTITY9AMC"


def rows(plan: Plan) -> list[tuple[int, str, str, str]]:
    return [(a.phase, str(a.scope), a.kind.value, a.target) for a in plan.actions]


def only(plan: Plan, kind: ActionKind) -> list[Action]:
    return [a for a in plan.actions if a.kind is kind]


# ---- the demo world -------------------------------------------------------------------------


def test_demo_world_plan() -> None:
    plan = make_plan(*demo_world(), POLICY)
    assert rows(plan) == [
        (0, "manager:Globex Brands", "create-manager-account", "Globex Brands"),
        (1, f"amc:{ACME_AMC}", "invite", "carol@example.com"),
        (1, f"amc:{ACME_AMC}", "set-role", "amzn1.account.ERIN0001"),
        (1, "manager:Globex Brands", "associate", "5830000000001"),
        (1, "manager:Globex Brands", "associate", "ENTITY1ACME0006"),
        (1, f"manager:{ACME_ID}", "associate", "ENTITY1ACME0005"),
        (1, f"manager:{ACME_ID}", "associate", "ENTITY2EURO0001"),
        (2, f"amc:{ACME_AMC}", "revoke-user", "amzn1.account.DAVE0001"),
        (2, f"manager:{ACME_ID}", "disassociate", "ENTITY1ACME0007"),
    ]
    assert [(w.email, w.role) for w in plan.waiting] == [("bob@example.com", "viewer")]
    assert plan.warnings == () and plan.notes == ()
    assert tuple(map(str, plan.scopes_touched)) == (
        f"amc:{ACME_AMC}",
        "manager:Globex Brands",
        f"manager:{ACME_ID}",
    )


def test_demo_payloads_are_the_api_items() -> None:
    plan = make_plan(*demo_world(), POLICY)
    payloads = {(a.kind.value, a.target): dict(wire(a)) for a in plan.actions}
    assert payloads[("create-manager-account", "Globex Brands")] == {
        "managerAccountName": "Globex Brands",
        "managerAccountType": "Advertiser",
    }
    assert payloads[("associate", "5830000000001")] == {
        "id": "5830000000001",
        "type": "DSP_ADVERTISER_ID",
    }
    assert payloads[("invite", "carol@example.com")] == {
        "user": {"emailAddress": "carol@example.com", "userName": "carol"},
        "permissionSet": {"type": "ROLE", "role": {"name": "viewer"}},
    }
    assert payloads[("set-role", "amzn1.account.ERIN0001")] == {
        "userId": "amzn1.account.ERIN0001",
        "permissionSet": {"type": "ROLE", "role": "ADMIN"},
    }
    assert payloads[("revoke-user", "amzn1.account.DAVE0001")] == {
        "userId": "amzn1.account.DAVE0001"
    }
    assert payloads[("disassociate", "ENTITY1ACME0007")] == {
        "id": "ENTITY1ACME0007",
        "type": "ACCOUNT_ID",
    }


def test_demo_reasons_cite_the_manifest() -> None:
    plan = make_plan(*demo_world(), POLICY)
    reasons = {(a.kind.value, a.target): a.reason for a in plan.actions}
    assert (
        reasons[("associate", "ENTITY1ACME0005")]
        == "listed in examples/manifests/acme.yaml:10 but not linked"
    )
    assert reasons[("disassociate", "ENTITY1ACME0007")] == (
        "linked live but not listed in examples/manifests/acme.yaml:3 (prune: true)"
    )
    assert reasons[("revoke-user", "amzn1.account.DAVE0001")] == (
        "active user not listed in examples/manifests/acme.yaml:21 (prune: true)"
    )


def test_created_manager_links_carry_the_name_and_no_id() -> None:
    plan = make_plan(*demo_world(), POLICY)
    globex = [a for a in plan.actions if str(a.scope) == "manager:Globex Brands"]
    assert {a.manager for a in globex} == {ManagerRef(name="Globex Brands", id=None)}
    acme = only(plan, ActionKind.DISASSOCIATE)[0]
    assert acme.manager is not None
    assert (acme.manager.id, acme.region) == (ACME_ID, Region.NA)


def test_same_inputs_same_plan() -> None:
    first = make_plan(*demo_world(), POLICY)
    shuffled_live = dataclasses.replace(
        demo_live(), manager_accounts=tuple(reversed(demo_live().manager_accounts))
    )
    d = demo_desired()
    shuffled = dataclasses.replace(d, manager_accounts=tuple(reversed(d.manager_accounts)))
    assert make_plan(shuffled, shuffled_live, POLICY).actions == first.actions
    assert make_plan(*demo_world(), POLICY) == first


# ---- manager accounts -----------------------------------------------------------------------


def test_manager_found_by_name_and_links_without_prune() -> None:
    plan = make_plan(
        desired(
            [
                manager(
                    "Acme",
                    link("E1"),
                    link("E2", Region.FE, role=LinkRole.ENTITY_VIEWER),
                    prune=False,
                )
            ]
        ),
        live([live_manager("amzn1.ads1.ma1.X", "Acme", live_link("E1"), live_link("E9"))]),
        POLICY,
    )
    assert rows(plan) == [(1, "manager:amzn1.ads1.ma1.X", "associate", "E2")]
    assert dict(wire(plan.actions[0])) == {
        "id": "E2",
        "type": "ACCOUNT_ID",
        "roles": ["ENTITY_VIEWER"],
    }
    assert plan.actions[0].region is Region.FE


def test_role_on_an_existing_link_is_noted_not_acted_on() -> None:
    plan = make_plan(
        desired([manager("Acme", link("E1", role=LinkRole.ENTITY_VIEWER), line=3)]),
        live([live_manager("amzn1.ads1.ma1.X", "Acme", live_link("E1"))]),
        POLICY,
    )
    assert plan.is_empty
    (note,) = plan.notes
    assert "cannot be checked: the API does not return link roles" in note.message


def test_dsp_link_matches_by_advertiser_id_and_is_disassociated_by_it() -> None:
    dsp = live_link(
        "ENTITY1DSP00001", account_type="DSP_ADVERTISING_ACCOUNT", dsp_advertiser_id="583"
    )
    kept = make_plan(
        desired([manager("M", link("583", dsp=True))]),
        live([live_manager("ma1", "M", dsp)]),
        POLICY,
    )
    assert kept.is_empty
    gone = make_plan(desired([manager("M")]), live([live_manager("ma1", "M", dsp)]), POLICY)
    assert [dict(wire(a)) for a in gone.actions] == [{"id": "583", "type": "DSP_ADVERTISER_ID"}]


def test_unmanaged_live_manager_account_is_only_noted() -> None:
    plan = make_plan(
        desired(), live([live_manager("amzn1.ads1.ma1.OLD", "Old Agency", live_link("E1"))]), POLICY
    )
    assert plan.is_empty
    assert [n.message for n in plan.notes] == [
        "live manager account 'Old Agency' (amzn1.ads1.ma1.OLD) is not in the manifests; manager "
        "accounts cannot be deleted through the API, so it is left alone"
    ]


def test_plan_errors_are_reported_together() -> None:
    d = desired(
        [
            manager("New One", link("E1"), line=3),
            manager("Pinned", id="amzn1.ads1.ma1.NOPE", line=9),
            manager("Twice", line=15),
        ]
    )
    lv = live(
        [live_manager("amzn1.ads1.ma1.T1", "Twice"), live_manager("amzn1.ads1.ma1.T2", "Twice")]
    )
    with pytest.raises(PlanError) as caught:
        make_plan(d, lv, POLICY)
    assert not isinstance(caught.value, GuardError)
    assert list(caught.value.problems) == [
        "examples/manifests/acme.yaml:3: manager account 'New One' does not exist live and has "
        "no `type`, so it cannot be created: add `type: Advertiser` or `type: Agency`, or pin "
        "the `id` of an existing account",
        "examples/manifests/acme.yaml:9: manager account id amzn1.ads1.ma1.NOPE ('Pinned') does "
        "not exist live for these credentials: correct the `id`, or remove it to find or create "
        "the account by name",
        "examples/manifests/acme.yaml:15: 2 live manager accounts are named 'Twice' "
        "(amzn1.ads1.ma1.T1, amzn1.ads1.ma1.T2): pin the one you mean with `id:`",
    ]


def test_pin_settles_two_accounts_with_one_name() -> None:
    lv = live(
        [
            live_manager("amzn1.ads1.ma1.T1", "Twice"),
            live_manager("amzn1.ads1.ma1.T2", "Twice", live_link("E1")),
        ]
    )
    plan = make_plan(desired([manager("Twice", link("E1"), id="amzn1.ads1.ma1.T2")]), lv, POLICY)
    assert plan.is_empty
    assert [n.scope for n in plan.notes] == ["manager:amzn1.ads1.ma1.T1"]


def test_unreachable_amc_account_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="ENTITY9AMC is not among the AMC accounts"):
        make_plan(
            desired(amcs=[amc(AMC, user("a@x.com", Role.ADMIN))]),
            live(amcs=[live_amc(AMC, reachable=False)]),
            POLICY,
        )


# ---- AMC users ------------------------------------------------------------------------------


def admin_live(*users_: LiveUser, invitations: tuple[LiveInvitation, ...] = ()) -> Live:
    boss = live_user("amzn1.account.BOSS", "boss@corp.com", Role.ADMIN)
    return live(amcs=[live_amc(AMC, [boss, *users_], invitations)])


BOSS = user("boss@corp.com", Role.ADMIN, user_id="amzn1.account.BOSS", line=5)


def test_wrong_role_invitation_is_revoked_then_reissued_in_phase_one() -> None:
    plan = make_plan(
        desired(amcs=[amc(AMC, BOSS, user("bob@example.com", Role.ADMIN, line=7), line=2)]),
        admin_live(invitations=(invitation("inv-bob", "bob@example.com", Role.VIEWER),)),
        POLICY,
    )
    assert rows(plan) == [
        (1, f"amc:{AMC}", "revoke-invitation", "inv-bob"),
        (1, f"amc:{AMC}", "invite", "bob@example.com"),
    ]
    assert dict(wire(plan.actions[0])) == {"invitationId": "inv-bob", "state": "REVOKED"}
    assert wire(plan.actions[1])["permissionSet"] == {"type": "ROLE", "role": {"name": "admin"}}


@pytest.mark.parametrize(
    ("days_left", "resent"),
    [(-1.0, True), (0.0, True), (2.9, True), (3.0, True), (3.1, False), (12.0, False)],
)
def test_expired_or_expiring_invitation_is_resent(days_left: float, resent: bool) -> None:
    inv = invitation("inv-bob", "bob@example.com", expires_in_days=days_left)
    plan = make_plan(
        desired(amcs=[amc(AMC, BOSS, user("bob@example.com"))]),
        admin_live(invitations=(inv,)),
        POLICY,
    )
    if resent:
        (action,) = plan.actions
        assert (action.kind, dict(wire(action))) == (
            ActionKind.RESEND_INVITATION,
            {"invitationId": "inv-bob", "state": "RESENT"},
        )
        assert action.notify is True
        assert ("expired" in action.reason) is (days_left <= 0)
    else:
        assert plan.is_empty and [w.invitation_id for w in plan.waiting] == ["inv-bob"]


def test_resend_window_follows_policy() -> None:
    inv = invitation("inv-bob", "bob@example.com", expires_in_days=5)
    d = desired(amcs=[amc(AMC, BOSS, user("bob@example.com"))])
    assert make_plan(d, admin_live(invitations=(inv,)), POLICY).is_empty
    wide = dataclasses.replace(POLICY, resend_within_days=6)
    assert only(make_plan(d, admin_live(invitations=(inv,)), wide), ActionKind.RESEND_INVITATION)


def test_promotion_is_a_grant_and_demotion_a_removal_phase() -> None:
    plan = make_plan(
        desired(
            amcs=[
                amc(
                    AMC,
                    user("boss@corp.com", Role.VIEWER, user_id="amzn1.account.BOSS"),
                    user("erin@example.com", Role.ADMIN, user_id="amzn1.account.ERIN"),
                )
            ]
        ),
        admin_live(live_user("amzn1.account.ERIN", "erin@example.com")),
        POLICY,
    )
    assert [
        (a.phase, a.target, wire(a)["permissionSet"]["role"], describe(a).split(": ")[-1])
        for a in plan.actions
    ] == [
        (1, "amzn1.account.ERIN", "ADMIN", "viewer -> admin"),
        (2, "amzn1.account.BOSS", "VIEWER", "admin -> viewer"),
    ]


def test_prune_revokes_unlisted_users_and_invitations() -> None:
    plan = make_plan(
        desired(amcs=[amc(AMC, BOSS)]),
        admin_live(
            live_user("amzn1.account.ZED", "zed@example.com"),
            invitations=(invitation("inv-x", "x@example.com"),),
        ),
        dataclasses.replace(POLICY, max_removal_fraction=1.0),
    )
    assert rows(plan) == [
        (2, f"amc:{AMC}", "revoke-invitation", "inv-x"),
        (2, f"amc:{AMC}", "revoke-user", "amzn1.account.ZED"),
    ]


def test_without_prune_unlisted_are_kept() -> None:
    plan = make_plan(
        desired(amcs=[amc(AMC, BOSS, prune=False)]),
        admin_live(
            live_user("amzn1.account.ZED", "zed@example.com"),
            invitations=(invitation("inv-x", "x@example.com"),),
        ),
        POLICY,
    )
    assert plan.is_empty


def test_unmanaged_roles_are_reported_never_touched() -> None:
    plan = make_plan(
        desired(amcs=[amc(AMC, BOSS, user("erin@example.com", Role.ADMIN, line=8))]),
        admin_live(
            live_user("amzn1.account.ERIN", "erin@example.com", "EDITOR"),
            live_user("amzn1.account.ED", "ed@other.com", "EDITOR"),
        ),
        POLICY,
    )
    assert plan.is_empty
    assert [w.message for w in plan.off_policy] == [  # drift: not what the manifests say
        "erin@example.com (amzn1.account.ERIN) has role EDITOR, which reconciler does not manage; "
        "examples/manifests/acme.yaml:8 wants admin: change it in the console, then plan again"
    ]
    assert [n.message for n in plan.unmanaged] == [
        "e***@other.com (amzn1.account.ED) has role EDITOR, which reconciler does not manage: "
        "left alone"
    ]
    assert not plan.in_sync  # erin's entry wants admin
    alone = make_plan(
        desired(amcs=[amc(AMC, BOSS)]),
        admin_live(live_user("amzn1.account.ED", "ed@other.com", "EDITOR")),
        POLICY,
    )
    assert len(alone.unmanaged) == 1 and alone.in_sync  # as the manifests allow: not drift


def test_an_unmanaged_role_outside_the_allowed_domains_is_drift() -> None:
    editor = live_user("amzn1.account.ED", "ed@evil.example", "EDITOR")
    plan = make_plan(ruled(amc(AMC, BOSS)), admin_live(editor), POLICY)
    assert plan.is_empty and plan.unmanaged == ()
    assert [n.message for n in plan.off_policy] == [
        "e***@evil.example (amzn1.account.ED) has role EDITOR, which reconciler does not "
        f"manage, and is at evil.example, not an allowed email domain of AMC account {AMC} "
        "(agency.example, corp.com; policy.allowedEmailDomains at policy.yaml:3): remove them "
        "in the console"
    ]
    assert not plan.in_sync


def test_pinned_user_absent_without_email_cannot_be_restored_and_is_not_in_sync() -> None:
    plan = make_plan(
        desired(amcs=[amc(AMC, BOSS, user(None, user_id="amzn1.account.GONE", line=9))]),
        admin_live(),
        POLICY,
    )
    assert plan.is_empty and not plan.in_sync  # drift sees every person
    assert "userId amzn1.account.GONE is not a user" in plan.unrestorable[0].message


def test_duplicate_people_in_one_amc_account_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match=r"lists bob@example\.com more than once"):
        make_plan(
            desired(amcs=[amc(AMC, BOSS, user("bob@example.com"), user("Bob@example.com"))]),
            admin_live(),
            POLICY,
        )


# ---- unresolved masked users ----------------------------------------------------------------


def test_unresolved_needing_a_change_is_guarded_and_lifted_without_touching_anyone() -> None:
    d = desired(amcs=[amc(AMC, BOSS, user("alice@example.com", Role.ADMIN, line=6), line=2)])
    lv = admin_live(
        live_user("amzn1.account.A1", "alice@example.com"),
        live_user("amzn1.account.A2", "anna@example.com"),
    )
    with pytest.raises(GuardError) as caught:
        allowed_plan(d, lv, POLICY)
    assert list(caught.value.problems) == [
        f"amc:{AMC}: masked users cannot be told apart (alice@example.com vs live "
        "amzn1.account.A1, amzn1.account.A2), and settling them needs a removal or role change: "
        "pin `userId:` on the manifest entries, or pass --allow-unresolved to plan while "
        "leaving them untouched"
    ]
    plan = make_plan(d, lv, dataclasses.replace(POLICY, allow_unresolved=True))
    assert plan.is_empty  # neither revoked, nor promoted, nor alice invited
    assert plan.warnings[0].message == (
        "examples/manifests/acme.yaml:6: alice@example.com cannot be told apart from other masked "
        "users; candidates: amzn1.account.A1 (a***@example.com, viewer), amzn1.account.A2 "
        "(a***@example.com, viewer). Pin the right one with `userId:`. Until then it is not "
        "invited, changed or revoked"
    )


def test_unresolved_group_that_needs_nothing_is_only_a_warning() -> None:
    plan = make_plan(
        desired(amcs=[amc(AMC, BOSS, user("alice@example.com"), user("anna@example.com"))]),
        admin_live(
            live_user("amzn1.account.A1", "alice@example.com"),
            live_user("amzn1.account.A2", "anna@example.com"),
        ),
        POLICY,
    )
    assert plan.is_empty and len(plan.warnings) == 2


def test_unresolved_missing_person_is_not_invited() -> None:
    plan = make_plan(
        desired(amcs=[amc(AMC, BOSS, user("alice@example.com"), user("anna@example.com"))]),
        admin_live(live_user("amzn1.account.A1", "alice@example.com")),
        POLICY,
    )
    assert plan.is_empty and len(plan.warnings) == 2


def test_pinning_resolves_it() -> None:
    plan = make_plan(
        desired(
            amcs=[amc(AMC, BOSS, user("alice@example.com", Role.ADMIN, user_id="amzn1.account.A1"))]
        ),
        admin_live(
            live_user("amzn1.account.A1", "alice@example.com"),
            live_user("amzn1.account.A2", "anna@example.com"),
        ),
        dataclasses.replace(POLICY, max_removal_fraction=1.0),
    )
    assert [(a.kind.value, a.target) for a in plan.actions] == [
        ("set-role", "amzn1.account.A1"),
        ("revoke-user", "amzn1.account.A2"),
    ]


# ---- guards ---------------------------------------------------------------------------------


def many_links(n: int) -> list[str]:
    return [f"E{i:03d}" for i in range(n)]


def test_max_removals_counts_the_whole_plan() -> None:
    lv = live(
        [live_manager(f"ma{m}", f"M{m}", *(live_link(x) for x in many_links(24))) for m in range(2)]
    )
    keep = many_links(24)[6:]
    d = desired([manager(f"M{m}", *(link(x) for x in keep)) for m in range(2)])
    refused = make_plan(d, lv, POLICY)
    # Refused, but made in full: every action is there to be shown.
    assert len(refused.actions) == 12 and refused.refused
    (r,) = refused.refusals
    assert (r.scope, r.guard, r.counted, r.limit, r.source) == (
        "",
        "max-removals",
        "12 removals",
        "10",
        "default",
    )
    assert r.message == (
        "the plan removes 12 links, users or invitations, more than the limit of 10 (default): "
        "review the plan, then pass --max-removals 12 for this change, or set "
        "`maxRemovals: 12` in the manifests' `policy:`"
    )
    with pytest.raises(GuardError) as caught:
        allowed_plan(d, lv, POLICY)
    assert list(caught.value.problems) == [r.message]
    assert not make_plan(d, lv, dataclasses.replace(POLICY, max_removals=12)).refused


def amc_of(n: int) -> Live:
    """An AMC account of one admin (the boss) and `n - 1` viewers p1..."""
    people = [live_user(f"amzn1.account.P{i}", f"p{i}@corp.com", masked=False) for i in range(1, n)]
    return admin_live(*people)


def leaving(n: int, gone: int, **policy: object) -> Plan:
    stay = [user(f"p{i}@corp.com") for i in range(1, n - gone)]
    return make_plan(
        desired(amcs=[amc(AMC, BOSS, *stay)]), amc_of(n), dataclasses.replace(POLICY, **policy)
    )


@pytest.mark.parametrize(
    ("members", "gone", "refused"),
    [
        (1, 1, False),  # one of one (no admin left is another guard's business)
        (3, 2, False),  # two of three: the floor
        (7, 2, False),  # two of seven: a routine change
        (7, 3, True),  # three of seven: over the floor and over a quarter
        (7, 5, True),  # five of seven: a mass removal
        (12, 3, False),  # a quarter of twelve
        (12, 4, True),
        (40, 10, False),
        (40, 11, True),
    ],
)
def test_removal_fraction_has_a_floor_per_account(members: int, gone: int, refused: bool) -> None:
    if gone >= members:
        lv = live([live_manager("ma1", "M", *(live_link(x) for x in many_links(members)))])
        plan = make_plan(desired([manager("M")]), lv, POLICY)
    else:
        plan = leaving(members, gone, max_removals=100)
    assert len(plan.actions) == gone
    assert [r.guard for r in plan.refusals] == (["max-removal-fraction"] if refused else [])


def test_the_fraction_refusal_says_what_it_counted_and_how_to_lift_it() -> None:
    (r,) = leaving(7, 5).refusals
    assert (r.scope, r.counted, r.limit, r.source) == (
        f"amc:{AMC}",
        "5 of 7 live members (71%)",
        "2 (0.25 of 7, at least 2)",
        "default",
    )
    assert r.lift == (
        "review the plan, then pass --max-removal-fraction 0.72 for this change, or set "
        "`maxRemovalFraction: 0.72` in the manifests' `policy:` (or in this account's `policy:`)"
    )
    assert not leaving(7, 5, max_removal_fraction=0.72).refused
    assert not leaving(7, 5, removal_floor=5).refused


def test_an_accounts_own_limits_win_over_the_plan_wide_ones() -> None:
    own = {AMC: AccountLimits(max_removal_fraction=0.75, source="teams/client.yaml:3")}
    assert not leaving(7, 5, account_limits=own).refused
    tight = {AMC: AccountLimits(removal_floor=0, source="teams/client.yaml:3")}
    (r,) = leaving(7, 2, account_limits=tight, sources={"maxRemovalFraction": "p.yaml:2"}).refusals
    assert (r.limit, r.source) == ("1 (0.25 of 7, at least 0)", "p.yaml:2, teams/client.yaml:3")


# ---- protected users ------------------------------------------------------------------------


def protected(*who: str) -> Policy:
    return dataclasses.replace(
        POLICY, protected_users=tuple(Protected(w, f"policy.yaml:{n}") for n, w in enumerate(who))
    )


def test_protected_users_are_never_revoked_or_demoted() -> None:
    lv = admin_live(
        live_user("amzn1.account.GLASS", "break-glass@corp.com", Role.ADMIN, masked=False),
        live_user("amzn1.account.BOT", "b***@corp.com", Role.ADMIN, masked=False),
        live_user("amzn1.account.P1", "p1@corp.com", masked=False),
        invitations=(invitation("inv-1", "ops@corp.com", Role.ADMIN),),
    )
    d = desired(amcs=[amc(AMC, BOSS, user("b@corp.com", user_id="amzn1.account.BOT"))])
    plan = make_plan(d, lv, protected("break-glass@corp.com", "amzn1.account.BOT", "ops@corp.com"))
    assert rows(plan) == [(2, f"amc:{AMC}", "revoke-user", "amzn1.account.P1")]
    assert [w.message for w in plan.kept] == [
        "kept: demoting b***@corp.com (amzn1.account.BOT) not planned; protected by "
        "policy.protectedUsers amzn1.account.BOT at policy.yaml:1",
        "kept: revoking break-glass@corp.com (amzn1.account.GLASS) not planned; protected by "
        "policy.protectedUsers break-glass@corp.com at policy.yaml:0",
        "kept: revoking the invitation of ops@corp.com (inv-1) not planned; protected by "
        "policy.protectedUsers ops@corp.com at policy.yaml:2",
    ]


def test_a_masked_address_that_could_be_protected_keeps_every_candidate() -> None:
    # Two live users whose masked address could be the protected one, and nothing proves who
    # the protected user is: a guess cannot say which, so neither is revoked (kept back, as
    # drift); a third that cannot be it goes.
    lv = admin_live(
        live_user("amzn1.account.A1", "alice@corp.com"),
        live_user("amzn1.account.A2", "anna@corp.com"),
        live_user("amzn1.account.Z1", "zed@corp.com"),
    )
    plan = make_plan(desired(amcs=[amc(AMC, BOSS)]), lv, protected("alice@corp.com"))
    assert rows(plan) == [(2, f"amc:{AMC}", "revoke-user", "amzn1.account.Z1")]
    assert all("nothing proves who that is" in w.message for w in plan.kept)
    assert len(plan.kept) == 2 and not plan.in_sync


def test_incomplete_scope_refuses_removals_and_the_flag_skips_them() -> None:
    lv = live(
        [live_manager("ma1", "M", live_link("E1"), live_link("E2"))],
        incomplete={"manager:ma1": "GET /managerAccounts on the EU host failed"},
    )
    d = desired([manager("M", link("E1"), link("E3"))])
    with pytest.raises(GuardError) as caught:
        allowed_plan(d, lv, POLICY)
    assert list(caught.value.problems) == [
        "manager:ma1: the live read failed or may be incomplete (GET /managerAccounts on the EU "
        "host failed). No action is planned on such a read, not even an addition (everything "
        "would look missing): fix the read, or pass --allow-incomplete to plan everything else"
    ]
    plan = make_plan(d, lv, dataclasses.replace(POLICY, allow_incomplete=True))
    assert rows(plan) == []  # a failed read is an error, not drift: no adds either
    assert "2 planned action(s) not planned here" in plan.unread[0].message
    assert not plan.in_sync


def test_truncated_region_counts_as_incomplete() -> None:
    lv = live(
        [
            live_manager(
                "ma1", "M", live_link("E1"), live_link("E2"), truncated=frozenset({Region.NA})
            )
        ]
    )
    with pytest.raises(GuardError, match="exactly 50 entries in NA"):
        allowed_plan(desired([manager("M", link("E1"))]), lv, POLICY)


def test_no_create_on_an_incomplete_read() -> None:
    d = desired([manager("New", link("E1"), type=ManagerAccountType.AGENCY)])
    lv = live(incomplete={"manager:*": "GET /managerAccounts on the NA host failed"})
    with pytest.raises(GuardError, match=r"manager:\*: the live read failed") as caught:
        allowed_plan(d, lv, POLICY)
    assert len(caught.value.problems) == 1  # the whole kind, named once
    plan = make_plan(d, lv, dataclasses.replace(POLICY, allow_incomplete=True))
    assert plan.is_empty and "2 planned action(s) not planned" in plan.unread[0].message


def test_min_admins_guard() -> None:
    two = [
        live_user("amzn1.account.A", "a@x.com", Role.ADMIN),
        live_user("amzn1.account.B", "b@x.com", Role.ADMIN),
    ]
    d = desired(
        amcs=[
            amc(
                AMC,
                user("a@x.com", Role.ADMIN, user_id="amzn1.account.A"),
                user("b@x.com", user_id="amzn1.account.B"),
                min_admins=2,
                line=2,
            )
        ]
    )
    with pytest.raises(GuardError) as caught:
        allowed_plan(d, live(amcs=[live_amc(AMC, two)]), POLICY)
    assert list(caught.value.problems) == [
        f"amc:{AMC}: the plan leaves 1 active admin(s) (now 2), fewer than minAdmins 2 "
        "(examples/manifests/acme.yaml:2): list more admins, lower minAdmins, or pass "
        "--allow-fewer-admins"
    ]
    plan = make_plan(
        d, live(amcs=[live_amc(AMC, two)]), dataclasses.replace(POLICY, allow_fewer_admins=True)
    )
    assert [(a.old_role, a.role) for a in plan.actions] == [(Role.ADMIN, Role.VIEWER)]


def test_min_admins_are_told_apart_by_kind_when_two_kinds_share_an_id() -> None:
    """A DSP and an AMC account may both be `ENTITY…`: the floor apply keeps on each is
    looked up by typed address, never by the bare id one of them would overwrite."""
    admin = live_user("amzn1.account.A", "a@x.com", Role.ADMIN)
    wanted = user("a@x.com", Role.ADMIN, user_id="amzn1.account.A")
    d = desired(
        amcs=[
            amc(AMC, wanted, min_admins=1),
            dataclasses.replace(amc(AMC, wanted, min_admins=3), kind=ScopeKind.DSP),
        ]
    )
    dsp_admin = live_user("amzn1.account.A", "a@x.com", Role.ADMIN, kind=ScopeKind.DSP)
    lv = live(
        amcs=[
            live_amc(AMC, [admin]),
            dataclasses.replace(live_amc(AMC, [dsp_admin]), kind=ScopeKind.DSP),
        ]
    )
    plan = make_plan(d, lv, dataclasses.replace(POLICY, allow_fewer_admins=True))
    assert dict(plan.min_admins) == {f"amc:{AMC}": 1, f"dsp:{AMC}": 3}


def test_no_flag_allows_zero_admins() -> None:
    lv = live(amcs=[live_amc(AMC, [live_user("amzn1.account.A", "a@x.com", Role.ADMIN)])])
    d = desired(
        amcs=[amc(AMC, user("a@x.com", user_id="amzn1.account.A"), user("new@x.com", Role.ADMIN))]
    )
    everything = Policy(
        now=NOW,
        allow_fewer_admins=True,
        allow_incomplete=True,
        allow_unresolved=True,
        max_removals=99,
    )
    plan = allowed_plan(d, lv, everything)  # held back there, never refused or made
    assert [a.kind for a in plan.actions] == [ActionKind.INVITE]
    assert "held: demoting a@x.com (amzn1.account.A) would leave no active admin" in (
        plan.kept[0].message
    )


def test_min_admins_zero_still_refuses_to_remove_the_last_admin() -> None:
    lv = live(amcs=[live_amc(AMC, [live_user("amzn1.account.A", "a@x.com", Role.ADMIN)])])
    d = desired(amcs=[amc(AMC, user("a@x.com", user_id="amzn1.account.A"), min_admins=0)])
    plan = allowed_plan(d, lv, dataclasses.replace(POLICY, allow_fewer_admins=True))
    assert plan.actions == () and len(plan.kept) == 1 and not plan.in_sync


def test_already_below_min_admins_is_a_warning() -> None:
    lv = live(amcs=[live_amc(AMC, [live_user("amzn1.account.A", "a@x.com", Role.ADMIN)])])
    d = desired(
        amcs=[amc(AMC, user("a@x.com", Role.ADMIN), user("n@y.com", Role.ADMIN), min_admins=2)]
    )
    plan = make_plan(d, lv, POLICY)
    assert [a.kind for a in plan.actions] == [ActionKind.INVITE]
    assert "fewer than minAdmins 2" in plan.warnings[0].message


def test_every_violation_is_reported_at_once() -> None:
    lv = live(
        [live_manager("ma1", "M", *(live_link(x) for x in many_links(12)))],
        [
            live_amc(
                AMC,
                [
                    live_user("amzn1.account.A", "a@x.com", Role.ADMIN),
                    live_user("amzn1.account.B", "b@x.com", Role.ADMIN),
                ],
            )
        ],
        incomplete={f"amc:{AMC}": "users read failed"},
    )
    d = desired([manager("M")], [amc(AMC, user("a@x.com", Role.ADMIN), min_admins=2)])
    with pytest.raises(GuardError) as caught:
        allowed_plan(d, lv, POLICY)
    assert [r.guard for r in make_plan(d, lv, POLICY).refusals] == [
        "incomplete-read",
        "max-removals",
        "max-removal-fraction",
        "min-admins",
    ]
    flags = ["--allow-incomplete", "--max-removal-fraction", "--max-removals", "--allow-fewer-"]
    assert [next(f for f in flags if f in p) for p in caught.value.problems] == [
        "--allow-incomplete",
        "--max-removals",
        "--max-removal-fraction",
        "--allow-fewer-",
    ]


# ---- property: plan, simulate the apply, plan again: nothing left ---------------------------

PEOPLE = (
    "alice@example.com",
    "anna@example.com",
    "bob@example.com",
    "bert@other.com",
    "carol@example.com",
    "dave@other.com",
)
LINKS = ("E1", "E2", "E3", "E4")
ROLES = st.sampled_from([Role.ADMIN, Role.VIEWER])


def _uid(email: str) -> str:
    return "amzn1.account." + email.split("@")[0].upper()


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Desired, Live]:
    live_people = draw(st.lists(st.sampled_from(PEOPLE), unique=True))
    live_users = [
        live_user(_uid(p), p, draw(st.sampled_from(["ADMIN", "VIEWER", "EDITOR"])))
        for p in live_people
    ]
    invited = draw(st.lists(st.sampled_from(PEOPLE), unique=True, max_size=3))
    invitations = [
        invitation(f"inv-{i}", p, draw(ROLES), expires_in_days=draw(st.integers(-3, 14)))
        for i, p in enumerate(invited)
    ]
    wanted = draw(st.lists(st.sampled_from(PEOPLE), unique=True))
    users = [
        user(p, draw(ROLES), user_id=_uid(p) if p in live_people and draw(st.booleans()) else None)
        for p in wanted
    ]
    d_links = draw(st.lists(st.sampled_from(LINKS), unique=True))
    l_links = draw(st.lists(st.sampled_from(LINKS), unique=True))
    exists = draw(st.booleans())
    prune = draw(st.booleans())
    d = desired(
        [manager("M", *(link(x) for x in d_links), type=ManagerAccountType.AGENCY, prune=prune)],
        [amc(AMC, *users, prune=draw(st.booleans()), min_admins=draw(st.integers(0, 2)))],
    )
    incomplete = {f"amc:{AMC}": "read failed"} if draw(st.booleans()) else {}
    lv = live(
        [live_manager("ma1", "M", *(live_link(x) for x in l_links))] if exists else [],
        [live_amc(AMC, live_users, invitations)],
        incomplete,
    )
    return d, lv


def simulate(lv: Live, plan: Plan) -> Live:
    """What the sandbox would hold after applying `plan`: a tiny pure model of the API."""
    managers = {m.id: m for m in lv.manager_accounts}
    (account,) = lv.accounts
    users = {u.user_id: u for u in account.users}
    invitations = {i.invitation_id: i for i in account.invitations}
    for n, a in enumerate(plan.actions):
        p = wire(a)
        if a.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
            managers["new-" + a.target] = live_manager("new-" + a.target, a.target)
        elif a.kind in (ActionKind.ASSOCIATE, ActionKind.DISASSOCIATE):
            assert a.manager is not None
            mid = a.manager.id or "new-" + a.manager.name
            m = managers[mid]
            links = [x for x in m.links if x.account_id != p["id"]]
            if a.kind is ActionKind.ASSOCIATE:
                links.append(live_link(p["id"], a.region or Region.NA))
            managers[mid] = dataclasses.replace(m, links=tuple(links))
        elif a.kind is ActionKind.INVITE:
            role = Role(p["permissionSet"]["role"]["name"])
            email = p["user"]["emailAddress"]
            invitations[f"new-{n}"] = invitation(f"new-{n}", email, role, expires_in_days=14)
        elif a.kind is ActionKind.REVOKE_INVITATION:
            del invitations[p["invitationId"]]
        elif a.kind is ActionKind.RESEND_INVITATION:
            old = invitations[p["invitationId"]]
            invitations[old.invitation_id] = dataclasses.replace(old, expires_at=NOW + 14 * DAY)
        elif a.kind is ActionKind.SET_ROLE:
            role = Role.from_api(p["permissionSet"]["role"])
            grant = Grant(role) if role is not None else None
            users[p["userId"]] = dataclasses.replace(users[p["userId"]], role=role, grant=grant)
        elif a.kind is ActionKind.REVOKE_USER:
            del users[p["userId"]]
    amc_after = live_amc(AMC, list(users.values()), list(invitations.values()))
    return dataclasses.replace(lv, manager_accounts=tuple(managers.values()), accounts=(amc_after,))


LIFTED = Policy(
    now=NOW,
    max_removals=100,
    max_removal_fraction=1.0,
    allow_incomplete=True,
    allow_unresolved=True,
    allow_fewer_admins=True,
)


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_plan_apply_plan_converges(world: tuple[Desired, Live]) -> None:
    d, lv = world
    try:
        first = allowed_plan(d, lv, LIFTED)
    except GuardError as exc:
        # Only the unliftable guard may refuse: leaving an AMC account with no admin.
        assert all("leaves no active admin" in p for p in exc.problems)
        assume(False)
        return
    after = simulate(lv, first)
    second = make_plan(d, after, LIFTED)
    assert second.actions == (), [(a.kind.value, a.target) for a in second.actions]
    assert make_plan(d, after, LIFTED) == second  # and planning is deterministic


def test_a_protected_invitation_is_not_reissued_with_a_lesser_role() -> None:
    lv = admin_live(invitations=(invitation("inv-ops", "ops@corp.com", Role.ADMIN),))
    d = desired(amcs=[amc(AMC, BOSS, user("ops@corp.com", Role.VIEWER))])
    plan = make_plan(d, lv, protected("ops@corp.com"))
    assert plan.actions == ()
    assert "kept: revoking the invitation of ops@corp.com (inv-ops)" in plan.kept[0].message
    # A promotion takes nothing away: it goes ahead.
    lv = admin_live(invitations=(invitation("inv-ops", "ops@corp.com", Role.VIEWER),))
    d = desired(amcs=[amc(AMC, BOSS, user("ops@corp.com", Role.ADMIN))])
    assert [a.kind for a in make_plan(d, lv, protected("ops@corp.com")).actions] == [
        ActionKind.REVOKE_INVITATION,
        ActionKind.INVITE,
    ]


# ---- trust: labels, look-alikes and time ----------------------------------------------------

AGENCY = "agency.example"


def ruled(*accounts: DesiredAccount, admins: tuple[DesiredUser, ...] = ()) -> Desired:
    """Manifests under `allowedEmailDomains: [agency.example, corp.com]` (boss's) and, with
    an admin group `platform-admins` of boss and `admins`."""
    rules = DesiredPolicy(
        allowed_email_domains=(AGENCY, "corp.com"),
        admin_groups=("platform-admins",),
        sources={
            "allowedEmailDomains": Source("policy.yaml", 3, 3),
            "adminGroups": Source("policy.yaml", 4, 3),
        },
    )
    return dataclasses.replace(
        desired(amcs=accounts),
        policy=rules,
        groups={"platform-admins": (user("boss@corp.com", user_id="amzn1.account.BOSS"), *admins)},
    )


def test_a_pins_address_must_fit_what_amazon_shows_for_that_user() -> None:
    """eve pinned under bob's address, bob being in the admin group: the label never
    decides who someone is. The plan is refused naming both addresses and the entry."""
    lv = admin_live(live_user("amzn1.account.EVE", "eve@evil.example"))
    bob = user("bob@agency.example", Role.ADMIN, user_id="amzn1.account.EVE", line=9)
    d = ruled(amc(AMC, BOSS, bob), admins=(user("bob@agency.example"),))
    with pytest.raises(PlanError) as caught:
        make_plan(d, lv, POLICY)
    assert list(caught.value.problems) == [
        f"{FILE}:9: userId amzn1.account.EVE is e***@evil.example at Amazon, which cannot be "
        "bob@agency.example, the address this entry gives it: the pin names someone else. "
        "Correct the `userId:` (`reconciler pin` proposes the right one) or the address"
    ]


def test_a_bare_pin_outside_the_allowed_domains_is_a_violation() -> None:
    lv = admin_live(live_user("amzn1.account.EVE", "eve@evil.example"))
    d = ruled(amc(AMC, BOSS, user(None, user_id="amzn1.account.EVE", line=9)))
    with pytest.raises(PlanError) as caught:
        make_plan(d, lv, POLICY)
    assert list(caught.value.problems) == [
        f"{FILE}:9: live user amzn1.account.EVE (e***@evil.example) is at evil.example, not "
        f"an allowed email domain of AMC account {AMC} (agency.example, corp.com; "
        "policy.allowedEmailDomains at policy.yaml:3): remove the entry, or allow "
        "`evil.example` in `policy.allowedEmailDomains` (for one client's account: in that "
        "account's `policy:`)"
    ]


def test_admin_groups_judge_the_pinned_person_not_the_label() -> None:
    """The group member bob is pinned to BOB; an entry pinning someone else under bob's
    address (the masked address fits) is not a member of the admin group."""
    lv = admin_live(live_user("amzn1.account.BART", "bart@agency.example"))
    entry = user("bob@agency.example", Role.ADMIN, user_id="amzn1.account.BART", line=9)
    member = user("bob@agency.example", user_id="amzn1.account.BOB")
    with pytest.raises(PlanError) as caught:
        make_plan(ruled(amc(AMC, BOSS, entry), admins=(member,)), lv, POLICY)
    assert list(caught.value.problems) == [
        f"{FILE}:9: live user amzn1.account.BART (b***@agency.example) is made admin of AMC "
        f"account {AMC}, but it is not a member of `platform-admins` (policy.adminGroups at "
        "policy.yaml:4): bob@agency.example there is amzn1.account.BOB. Make them a viewer, "
        "or correct the `userId:`"
    ]


def test_a_protected_address_covers_only_the_user_proven_to_be_it() -> None:
    """The README's example: the bot is protected by address and pinned. rogue, whose
    masked address fits the bot's, is not the bot: revoked under prune: true."""
    lv = admin_live(
        live_user("amzn1.account.BOT", "reconciler-bot@agency.example", Role.ADMIN),
        live_user("amzn1.account.ROGUE", "rogue@agency.example", Role.ADMIN),
    )
    bot = user("reconciler-bot@agency.example", Role.ADMIN, user_id="amzn1.account.BOT")
    plan = make_plan(
        desired(amcs=[amc(AMC, BOSS, bot)]), lv, protected("reconciler-bot@agency.example")
    )
    assert rows(plan) == [(2, f"amc:{AMC}", "revoke-user", "amzn1.account.ROGUE")]
    assert plan.kept == ()


def test_what_protection_keeps_is_drift_never_in_sync() -> None:
    lv = admin_live(live_user("amzn1.account.GLASS", "glass@corp.com", Role.ADMIN))
    plan = make_plan(desired(amcs=[amc(AMC, BOSS)]), lv, protected("amzn1.account.GLASS"))
    assert rows(plan) == []
    assert [n.message for n in plan.kept] == [
        "kept: revoking g***@corp.com (amzn1.account.GLASS) not planned; protected by "
        "policy.protectedUsers amzn1.account.GLASS at policy.yaml:0"
    ]
    assert not plan.in_sync


def test_an_expired_pinned_contractor_is_not_covered_by_a_look_alike_protection() -> None:
    lv = admin_live(live_user("amzn1.account.RAY", "ray@agency.example"))
    ray = dataclasses.replace(
        user("ray@agency.example", user_id="amzn1.account.RAY"), expires=NOW - DAY
    )
    bot = "reconciler-bot@agency.example"
    plan = make_plan(desired(amcs=[amc(AMC, BOSS, ray)]), lv, protected(bot))
    assert rows(plan) == [(2, f"amc:{AMC}", "revoke-user", "amzn1.account.RAY")]


@pytest.mark.parametrize("prune", [True, False])
def test_an_expired_entry_fitted_by_masked_address_alone_is_removed(prune: bool) -> None:
    """The only entry the live user can be has ended: on prune: true deleting the entry
    would remove them as unlisted anyway; on prune: false time ends it all the same."""
    lv = admin_live(live_user("amzn1.account.ANDREW", "andrew@corp.com"))
    andrew = dataclasses.replace(user("andrew@corp.com", line=8), expires=NOW - DAY)
    plan = make_plan(desired(amcs=[amc(AMC, BOSS, andrew, prune=prune)]), lv, POLICY)
    assert rows(plan) == [(2, f"amc:{AMC}", "revoke-user", "amzn1.account.ANDREW")]
    assert [e.target for e in plan.expiries] == ["amzn1.account.ANDREW"]
    assert plan.held == ()


def test_an_expired_last_admin_holds_that_account_alone() -> None:
    """One account's last admin has expired: that removal is held back there and listed;
    every other account's changes proceed, and nothing is refused."""
    other = "ENTITY9OTHER"
    lv = live(
        amcs=[
            live_amc(AMC, [live_user("amzn1.account.A", "a@x.com", Role.ADMIN)]),
            live_amc(
                other,
                [
                    live_user("amzn1.account.BOSS", "boss@corp.com", Role.ADMIN),
                    live_user("amzn1.account.OLD", "old@corp.com"),
                ],
            ),
        ]
    )
    a = dataclasses.replace(
        user("a@x.com", Role.ADMIN, user_id="amzn1.account.A"), expires=NOW - DAY
    )
    d = desired(amcs=[amc(AMC, a, min_admins=0), amc(other, BOSS)])
    plan = make_plan(d, lv, POLICY)
    assert plan.refusals == ()
    assert rows(plan) == [(2, f"amc:{other}", "revoke-user", "amzn1.account.OLD")]
    assert [(n.scope, n.message) for n in plan.kept] == [
        (
            f"amc:{AMC}",
            "held: revoking a***@x.com (amzn1.account.A) would leave no active admin; "
            "nobody could manage its users until an invitation is accepted. Keep or promote "
            "an admin in this apply (invite one, or pin one who is there) and the removal "
            "follows in a later one",
        )
    ]
    assert not plan.in_sync


def test_a_look_alike_domain_amazon_shows_is_not_an_allowed_one() -> None:
    """`\u212acorp.example` starts with the Kelvin sign, which Unicode NFC makes a `K`:
    judged in canonical form it would pass for the allowed kcorp.example; judged as Amazon
    shows it, it is no allowed domain."""
    mal = LiveUser("amzn1.account.MAL", "m***@\u212acorp.example", Role.VIEWER, ("VIEWER",))
    d = ruled(amc(AMC, BOSS, user(None, user_id="amzn1.account.MAL", line=9)))
    d = dataclasses.replace(
        d, policy=dataclasses.replace(d.policy, allowed_email_domains=("corp.com", "kcorp.example"))
    )
    with pytest.raises(PlanError) as caught:
        make_plan(d, admin_live(mal), POLICY)
    assert "is at \u212acorp.example, not an allowed email domain" in str(caught.value)


def test_each_action_names_the_manifest_entry_it_came_from_and_no_digest_sees_it() -> None:
    """`origin` (and the group `member`) is where the planner found the change: what adopt
    inverts. An action nobody lists (prune) has none; the plan's digest ignores both."""
    from reconciler.planfile.digest import plan_digest

    team = DesiredUser(
        role=Role.VIEWER,
        email="gil@corp.example",
        user_id="amzn1.account.GIL",
        group="team",
        source=Source(FILE, 9, 9),
    )
    want = desired(
        [manager("Acme", link("ENTITYLINK1", line=4), id="amzn1.ads1.ma1.M")],
        [
            amc(
                AMC,
                user("boss@corp.example", Role.ADMIN, user_id="amzn1.account.BOSS", line=7),
                user("new@corp.example", line=8),
                team,
            )
        ],
    )
    found = live(
        [live_manager("amzn1.ads1.ma1.M", "Acme")],
        [
            live_amc(
                AMC,
                [
                    live_user("amzn1.account.BOSS", "boss@corp.example", Role.ADMIN),
                    live_user("amzn1.account.GIL", "gil@corp.example", permissions=("x",)),
                    live_user("amzn1.account.ZED", "zed@corp.example"),
                ],
            )
        ],
    )
    plan = make_plan(want, found, POLICY)
    origins = {(a.kind.value, a.target): (a.origin, a.member) for a in plan.actions}
    assert origins == {
        ("associate", "ENTITYLINK1"): (Source(FILE, 4), None),
        ("invite", "new@corp.example"): (Source(FILE, 8), "new@corp.example"),
        ("set-role", "amzn1.account.GIL"): (Source(FILE, 9, 9), team.key),
        ("revoke-user", "amzn1.account.ZED"): (None, None),
    }
    bare = [dataclasses.replace(a, origin=None, member=None) for a in plan.actions]
    assert plan_digest(bare) == plan_digest(plan.actions)
