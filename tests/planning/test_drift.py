"""`reconciler.planning.drift` with `--baseline`: which target an action is about, and how
the baseline plan's actions classify the plan's own. Pure: no git, no API."""

from __future__ import annotations

import dataclasses

from reconciler.actions import drift_key
from reconciler.model import Desired, IdType, Live, Region, Role, amc_scope
from reconciler.plan import Action, ActionKind, Baseline, DriftClass, ManagerRef, Plan, Policy
from reconciler.planning.drift import classify
from reconciler.planning.planner import make_plan
from reconciler.workflows.baseline import Revision, compare
from tests.factories import NOW, amc, desired, live, live_amc, live_user, user

AMC = "ENTITYDRIFT1"
SHA = "89abcdef" * 5


def classes(now: Desired, then: Desired, lv: Live) -> dict[str, DriftClass]:
    policy = Policy(now=NOW, max_removal_fraction=1.0)
    made = make_plan(now, lv, policy)
    shared = compare(made, Revision("A", SHA, then), lv, policy, now)
    plan = Plan(actions=made.actions, baseline=shared)
    return {item.message.split(":")[0]: item.drift_class for item in classify(plan)}


def test_targets_are_what_live_knows_whatever_the_manifests_call_them() -> None:
    invite = Action(ActionKind.INVITE, 1, "Dee@Corp.Example", account=amc_scope(AMC))
    assert drift_key(invite) == (f"amc:{AMC}", "address:dee@corp.example")
    revoke = Action(ActionKind.REVOKE_INVITATION, 2, "inv-1", account=amc_scope(AMC))
    assert drift_key(revoke) == (f"amc:{AMC}", "invitation:inv-1")
    role = Action(ActionKind.SET_ROLE, 1, "amzn1.account.X", account=amc_scope(AMC))
    assert drift_key(role) == (f"amc:{AMC}", "user:amzn1.account.X")
    link = Action(
        ActionKind.DISASSOCIATE, 2, "583", manager=ManagerRef("M", "ma1"),
        id_type=IdType.DSP_ADVERTISER_ID, region=Region.NA,
    )  # fmt: skip
    assert drift_key(link) == ("manager:ma1", "link:DSP_ADVERTISER_ID:583")


def test_a_pin_added_since_the_baseline_still_matches_by_the_live_user() -> None:
    users = [
        live_user("amzn1.account.BOSS", "b@corp.com", Role.ADMIN),
        live_user("amzn1.account.ANN", "ann@corp.com", masked=False),
    ]
    lv = live([], [live_amc(AMC, users)])
    boss = user("b@corp.com", Role.ADMIN, user_id="amzn1.account.BOSS")
    then = desired([], [amc(AMC, boss, user("ann@corp.com", Role.ADMIN))])
    now = desired(
        [], [amc(AMC, boss, user("ann@corp.com", Role.ADMIN, user_id="amzn1.account.ANN"))]
    )
    assert classes(now, then, lv) == {
        "set role of ann@corp.com (amzn1.account.ANN)": DriftClass.CHANGED
    }


def test_an_invite_matches_whatever_the_case_of_the_address() -> None:
    lv = live([], [live_amc(AMC, [live_user("amzn1.account.BOSS", "b@corp.com", Role.ADMIN)])])
    boss = user("b@corp.com", Role.ADMIN, user_id="amzn1.account.BOSS")
    then = desired([], [amc(AMC, boss, user("dee@corp.com"))])
    now = desired([], [amc(AMC, boss, user("Dee@Corp.com", Role.ADMIN), user("eve@corp.com"))])
    assert classes(now, then, lv) == {
        "invite Dee@Corp.com as admin": DriftClass.CHANGED,  # the console took dee's access
        "invite eve@corp.com as viewer": DriftClass.UNAPPLIED,
    }


def test_without_a_baseline_an_action_is_differs_and_expired_classes_stay() -> None:
    action = Action(ActionKind.SET_ROLE, 1, "amzn1.account.X", account=amc_scope(AMC), label="x")
    resend = Action(ActionKind.RESEND_INVITATION, 1, "inv-1", account=amc_scope(AMC), email="y")
    (item,) = classify(Plan(actions=(action,)))
    assert item.drift_class is DriftClass.DIFFERS
    for baseline in (None, Baseline("A", SHA), Baseline("A", SHA, frozenset({drift_key(resend)}))):
        (item,) = classify(Plan(actions=(resend,), baseline=baseline))
        assert item.drift_class is DriftClass.INVITATION_EXPIRED


def test_what_time_made_at_the_baseline_is_not_a_console_change() -> None:
    """tom's `expires:` passed after REF was applied; since REF his entry was deleted. The
    baseline plan removes him too, but because time passed, not because live moved: the
    removal is not applied yet, not a change behind git's back."""
    lv = live(
        [],
        [
            live_amc(
                AMC,
                [
                    live_user("amzn1.account.BOSS", "b@corp.com", Role.ADMIN),
                    live_user("amzn1.account.TOM", "tom@corp.com"),
                ],
            )
        ],
    )
    boss = user("b@corp.com", Role.ADMIN, user_id="amzn1.account.BOSS")
    tom = user("tom@corp.com", user_id="amzn1.account.TOM")
    ended = dataclasses.replace(tom, expires=NOW - 60, expires_source=tom.source)
    then = desired([], [amc(AMC, boss, ended)])
    now = desired([], [amc(AMC, boss)])
    assert classes(now, then, lv) == {
        "revoke user t***@corp.com (amzn1.account.TOM, viewer)": DriftClass.UNAPPLIED
    }


def test_where_the_baseline_held_a_change_back_no_claim_is_made() -> None:
    """At REF ann was listed by address only, and the API shows a***@corp.com: REF's plan
    holds her role change back, so whether her role moved in the console since is not
    known. Pinned since, the change is neither `changed` nor `unapplied`."""
    users = [
        live_user("amzn1.account.BOSS", "b@corp.com", Role.ADMIN),
        live_user("amzn1.account.ANN", "ann@corp.com"),  # masked, as the API shows it
    ]
    lv = live([], [live_amc(AMC, users)])
    boss = user("b@corp.com", Role.ADMIN, user_id="amzn1.account.BOSS")
    then = desired([], [amc(AMC, boss, user("ann@corp.com", Role.ADMIN))])
    now = desired(
        [], [amc(AMC, boss, user("ann@corp.com", Role.ADMIN, user_id="amzn1.account.ANN"))]
    )
    assert classes(now, then, lv) == {
        "set role of ann@corp.com (amzn1.account.ANN)": DriftClass.DIFFERS
    }
