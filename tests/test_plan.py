"""The plan value, its JSON file (schema, round trip, bad files) and the stale-plan diff."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import jsonschema
import pytest

from reconciler.errors import PlanFileError
from reconciler.model import Region, Role, Scope, ScopeKind
from reconciler.plan import Action, ActionKind, ManagerRef, Plan, Policy, sort_actions
from reconciler.planfile.codec import decode, encode, plan_schema
from reconciler.planning.planner import make_plan
from reconciler.planning.stale import changes
from tests.factories import (
    ACME_AMC,
    ACME_ID,
    NOW,
    demo_live,
    demo_world,
    invitation,
    live,
    live_amc,
    live_link,
    live_manager,
    live_user,
)

POLICY = Policy(now=NOW, allow_incomplete=True)


def demo_plan() -> Plan:
    return make_plan(*demo_world(), POLICY)


def test_summary_is_empty_and_scopes() -> None:
    plan = demo_plan()
    assert {k.value: n for k, n in plan.summary().items()} == {
        "create-manager-account": 1,
        "associate": 4,
        "disassociate": 1,
        "invite": 1,
        "set-role": 1,
        "revoke-user": 1,
    }
    assert not plan.is_empty
    assert Plan(waiting=plan.waiting, warnings=plan.warnings).is_empty  # waiting is no change


def test_removals_are_what_the_guards_count() -> None:
    kinds = {a.kind: a.is_removal for a in demo_plan().actions}
    assert kinds[ActionKind.REVOKE_USER] and kinds[ActionKind.DISASSOCIATE]
    assert not kinds[ActionKind.ASSOCIATE] and not kinds[ActionKind.SET_ROLE]


def test_plan_file_round_trip_is_exact() -> None:
    plan = demo_plan()
    data = json.loads(json.dumps(plan_to_json(plan)))
    back = plan_from_json(data)
    assert back == plan
    assert back.live == demo_live()
    assert plan_to_json(back) == data


def test_plan_file_is_valid_against_the_shipped_schema() -> None:
    data = plan_to_json(demo_plan())
    jsonschema.Draft202012Validator.check_schema(plan_schema())
    jsonschema.validate(data, plan_schema())
    assert data["formatVersion"] == 4
    assert data["planDigest"].startswith("sha256:")
    assert data["summary"] == {
        "create-manager-account": 1,
        "associate": 4,
        "disassociate": 1,
        "invite": 1,
        "set-role": 1,
        "revoke-user": 1,
    }
    assert data["policy"]["allowIncomplete"] is True


def test_plan_file_carries_no_secret_shaped_text() -> None:
    text = json.dumps(plan_to_json(demo_plan()))
    for needle in ("Atza|", "Atzr|", "client_secret", "refresh_token", "Bearer"):
        assert needle not in text


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return encode(plan)


def plan_from_json(data: Any, *, source: str = "the plan file") -> Plan:
    return decode(data, source=source)


def stale_changes(saved: Any, fresh: Any, scopes: Any) -> list[str]:
    return changes(saved, fresh, [s if isinstance(s, Scope) else Scope.parse(s) for s in scopes])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            [],
            "plan.json is not a reconciler plan file (no `formatVersion`): write one with "
            "`reconciler plan --out FILE`",
        ),
        ({"format": "terraform"}, "plan.json is not a reconciler plan file (no `formatVersion`)"),
        (
            {"formatVersion": 1},
            "plan.json has plan format version 1; this reconciler reads "
            "version 4: make the plan again with this version",
        ),
        (
            {"formatVersion": 2},
            "plan.json has plan format version 2; this reconciler reads "
            "version 4: make the plan again with this version",
        ),
        (  # minAdmins was keyed by bare id: a DSP and an AMC account may share one
            {"formatVersion": 3},
            "plan.json has plan format version 3; this reconciler reads "
            "version 4: make the plan again with this version",
        ),
    ],
)
def test_foreign_or_future_files_are_refused(data: Any, message: str) -> None:
    with pytest.raises(PlanFileError) as caught:
        plan_from_json(data, source="plan.json")
    assert str(caught.value).startswith(message)


def test_edited_file_names_every_problem_by_path() -> None:
    data = plan_to_json(demo_plan())
    data["actions"][0]["kind"] = "delete-everything"
    del data["actions"][1]["reason"]
    with pytest.raises(PlanFileError) as caught:
        plan_from_json(data, source="plan.json")
    text = str(caught.value)
    assert text.startswith("plan.json is not a valid plan file (was it edited by hand?):\n")
    assert "  at /actions/0/kind: 'delete-everything' is not one of" in text
    assert "  at /actions/1: 'reason' is a required property" in text


# ---- stale plans ----------------------------------------------------------------------------


def test_nothing_moved() -> None:
    plan = demo_plan()
    assert stale_changes(plan.live, demo_live(), plan.scopes_touched) == []


def test_what_moved_in_an_amc_account() -> None:
    saved = demo_live()
    fresh_amc = live_amc(
        ACME_AMC,
        [
            live_user("amzn1.account.ALICE0001", "alice@example.com", Role.VIEWER),
            live_user("amzn1.account.ERIN0001", "erin@example.com"),
            live_user("amzn1.account.FRANK0001", "frank@example.com"),
            live_user("amzn1.account.ZOE0001", "zoe@example.com", "EDITOR"),
        ],
        [invitation("inv-bob-0001", "bob@example.com", expires_in_days=14)],
        name="Acme AMC",
    )
    fresh = dataclasses.replace(saved, accounts=(fresh_amc,))
    assert stale_changes(saved, fresh, [f"amc:{ACME_AMC}"]) == [
        f"amc:{ACME_AMC}: invitation inv-bob-0001 expiresAt 2025-06-25 15:06 UTC -> "
        "2025-06-29 15:06 UTC",
        f"amc:{ACME_AMC}: user amzn1.account.ALICE0001 role admin -> viewer",
        f"amc:{ACME_AMC}: user amzn1.account.DAVE0001 (d***@example.com, viewer) removed",
        f"amc:{ACME_AMC}: user amzn1.account.ZOE0001 (z***@example.com, EDITOR) added",
    ]


def test_what_moved_in_manager_accounts() -> None:
    saved = demo_live()
    acme = saved.manager_accounts[0]
    moved = dataclasses.replace(
        acme, links=(*acme.links[1:], live_link("ENTITY2EURO0001", Region.EU))
    )
    fresh = live([moved, live_manager("amzn1.ads1.ma1.glx", "Globex Brands")], saved.accounts)
    assert stale_changes(saved, fresh, [f"manager:{ACME_ID}", "manager:Globex Brands"]) == [
        "manager:Globex Brands: manager account amzn1.ads1.ma1.glx ('Globex Brands') now exists",
        f"manager:{ACME_ID}: manager account {ACME_ID} link ENTITY1ACME0001 (NA) removed",
        f"manager:{ACME_ID}: manager account {ACME_ID} link ENTITY2EURO0001 (EU) added",
    ]


def test_only_touched_scopes_count() -> None:
    saved = demo_live()
    fresh = dataclasses.replace(saved, manager_accounts=())
    assert stale_changes(saved, fresh, [f"amc:{ACME_AMC}"]) == []
    assert stale_changes(saved, fresh, [f"manager:{ACME_ID}"]) == [
        f"manager:{ACME_ID}: manager account {ACME_ID} ('Acme Agency') is gone"
    ]


def test_completeness_change_is_a_change() -> None:
    saved = demo_live()
    fresh = live(saved.manager_accounts, saved.accounts, {f"amc:{ACME_AMC}": "read failed"})
    assert stale_changes(saved, fresh, [f"amc:{ACME_AMC}"]) == [
        f"amc:{ACME_AMC}: read completeness complete -> read failed"
    ]


def test_actions_sort_by_phase_scope_kind_target() -> None:
    def act(kind: ActionKind, phase: int, scope: str, target: str) -> Action:
        where, _, key = scope.partition(":")
        if where == "manager":
            return Action(kind=kind, manager=ManagerRef(key), target=target, phase=phase)
        return Action(kind=kind, account=Scope.parse(f"amc:{key}"), target=target, phase=phase)

    actions = [
        act(ActionKind.INVITE, 1, "amc:B", "x"),
        act(ActionKind.REVOKE_INVITATION, 1, "amc:B", "z"),
        act(ActionKind.CREATE_MANAGER_ACCOUNT, 0, "manager:Z", "Z"),
        act(ActionKind.REVOKE_USER, 2, "amc:A", "u"),
        act(ActionKind.INVITE, 1, "amc:A", "b"),
        act(ActionKind.INVITE, 1, "amc:A", "a"),
    ]
    assert [(str(a.scope), a.kind.value, a.target) for a in sort_actions(actions)] == [
        ("manager:Z", "create-manager-account", "Z"),
        ("amc:A", "invite", "a"),
        ("amc:A", "invite", "b"),
        ("amc:B", "revoke-invitation", "z"),  # a re-issue revokes before it invites
        ("amc:B", "invite", "x"),
        ("amc:A", "revoke-user", "u"),
    ]


def test_schema_checks_each_typed_field() -> None:
    data = plan_to_json(demo_plan())
    invite = next(a for a in data["actions"] if a["kind"] == "invite")
    invite["role"] = "owner"
    with pytest.raises(PlanFileError, match="'owner' is not one of"):
        plan_from_json(data, source="plan.json")


def test_what_moved_among_a_manager_accounts_people_and_a_custom_set() -> None:
    people = dataclasses.replace(
        live_amc(ACME_ID, [live_user("amzn1.account.ANN", "ann@corp.example", Role.ADMIN)]),
        kind=ScopeKind.MANAGER,
    )
    saved = dataclasses.replace(demo_live(), accounts=(*demo_live().accounts, people))
    custom = live_user(
        "amzn1.account.ANN",
        "ann@corp.example",
        kind=ScopeKind.MANAGER,
        permissions=("reports_view",),
        countries=("US",),
    )
    fresh_people = dataclasses.replace(people, users=(custom,))
    fresh = dataclasses.replace(saved, accounts=(*demo_live().accounts, fresh_people))
    assert stale_changes(saved, fresh, [f"manager:{ACME_ID}"]) == [
        f"manager:{ACME_ID}: user amzn1.account.ANN role admin -> custom [reports_view] in US"
    ]
