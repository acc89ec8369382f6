"""Golden tests for the three renderers. Regenerate after a deliberate change with
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/render/test_golden.py` and review the diff."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from unittest import mock

import jsonschema
import pytest

from reconciler.model import DesiredUser, LinkRole, Region, Role
from reconciler.plan import Plan, Policy, Protected
from reconciler.planfile.codec import plan_schema
from reconciler.planfile.digest import plan_digest
from reconciler.planning.planner import make_plan
from reconciler.render import render_json, render_markdown, render_text
from reconciler.render.markdown import mask_addresses
from tests.driver import check_golden
from tests.factories import (
    NOW,
    amc,
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
)


def demo_plan() -> Plan:
    return make_plan(*demo_world(), Policy(now=NOW))


def empty_plan() -> Plan:
    """A world already in sync, with an invitation still waiting."""
    d = desired(
        [manager("Acme", link("E1"), id="amzn1.ads1.ma1.A")],
        [amc("ENTITY9AMC", user("boss@corp.com", Role.ADMIN), user("new@corp.com"))],
    )
    lv = live(
        [live_manager("amzn1.ads1.ma1.A", "Acme", live_link("E1"))],
        [
            live_amc(
                "ENTITY9AMC",
                [live_user("amzn1.account.BOSS", "boss@corp.com", Role.ADMIN)],
                [invitation("inv-new", "new@corp.com")],
            )
        ],
    )
    return make_plan(d, lv, Policy(now=NOW))


def busy_plan() -> Plan:
    """Every kind of action, a skipped removal, unresolved users, warnings and notes."""
    d = desired(
        [
            manager(
                "Acme",
                link("E1", role=LinkRole.ENTITY_VIEWER, line=4),
                link("E2", Region.EU, role=LinkRole.ENTITY_OWNER, line=5),
                id="amzn1.ads1.ma1.A",
                line=3,
            ),
        ],
        [
            amc(
                "ENTITY9AMC",
                user("boss@corp.com", Role.ADMIN, line=12),
                user("bob@example.com", Role.ADMIN, line=13),
                user("carl@example.com", line=14),
                user("alice@example.com", line=15),
                user("anna@example.com", Role.ADMIN, line=16),
                user("erin@example.com", Role.ADMIN, line=17),
                line=10,
            ),
            amc("ENTITY8AMC", user("zed@corp.com", Role.ADMIN, line=22), line=20),
        ],
    )
    lv = live(
        [
            live_manager("amzn1.ads1.ma1.A", "Acme", live_link("E1"), live_link("E3", name="Old")),
            live_manager("amzn1.ads1.ma1.OLD", "Retired Agency"),
        ],
        [
            live_amc(
                "ENTITY9AMC",
                [
                    live_user("amzn1.account.BOSS", "boss@corp.com", Role.ADMIN),
                    live_user("amzn1.account.A1", "alice@example.com"),
                    live_user("amzn1.account.A2", "anna@example.com"),
                    live_user("amzn1.account.ERIN", "erin@example.com"),
                    live_user("amzn1.account.ED", "ed@other.com", "EDITOR"),
                ],
                [
                    invitation("inv-bob", "bob@example.com", Role.VIEWER),
                    invitation("inv-carl", "carl@example.com", expires_in_days=-2),
                ],
                name="Busy AMC",
            ),
            live_amc(
                "ENTITY8AMC",
                [
                    live_user("amzn1.account.ZED", "zed@corp.com", Role.ADMIN),
                    live_user("amzn1.account.YAN", "yan@corp.com"),
                ],
                [invitation("inv-x", "x@corp.com")],
            ),
        ],
        incomplete={"manager:amzn1.ads1.ma1.A": "GET /managerAccounts on the EU host failed"},
    )
    return make_plan(
        d,
        lv,
        Policy(now=NOW, allow_incomplete=True, allow_unresolved=True, max_removal_fraction=1.0),
    )


def refused_plan() -> Plan:
    """A mass removal, refused by two guards, one limit from the manifests, one
    protected user kept; the plan is shown in full with its refusals on top."""
    team = ["alice", "bob", "carol", "dan", "eve", "fay", "gus"]
    d = desired(
        amcs=[
            amc(
                "ENTITY7TEAM",
                user("alice@corp.com", Role.ADMIN, line=4),
                user("bob@corp.com", line=5),
                line=2,
                file="teams/team.yaml",
            )
        ]
    )
    lv = live(
        amcs=[
            live_amc(
                "ENTITY7TEAM",
                [
                    live_user(
                        f"amzn1.account.{n.upper()}",
                        f"{n}@corp.com",
                        Role.ADMIN if n == "alice" else Role.VIEWER,
                    )
                    for n in team
                ],
                name="Team *AMC*",
            )
        ]
    )
    policy = Policy(
        now=NOW,
        max_removals=3,
        protected_users=(Protected("amzn1.account.GUS", "teams/policy.yaml:6"),),
        sources={"maxRemovals": "teams/policy.yaml:3", "resendWithinDays": "--resend-within"},
    )
    return make_plan(d, lv, policy)


def expiry_plan() -> Plan:
    """Every drift class an `expires:` makes: grants expired (a pinned user, an
    invitation), one held back (its live user fits by masked address only), one expiring
    soon, one expired and never invited; and a change made behind git's back."""
    day = 86_400.0

    def ends(u: DesiredUser, at: float, reason: str = "") -> DesiredUser:
        return dataclasses.replace(
            u, expires=at, expiry_reason=reason or None, expires_source=u.source
        )

    boss = user("boss@corp.com", Role.ADMIN, user_id="amzn1.account.BOSS", line=30)
    tom = user("tom@corp.com", user_id="amzn1.account.TOM", line=31)
    d = desired(
        [],
        [
            amc(
                "ENTITY7AMC",
                boss,
                ends(tom, NOW - 2 * day, "contract ended"),
                ends(user("ivy@corp.com", line=32), NOW - day),
                ends(user("andy@corp.com", line=33), NOW - day),
                ends(user("fay@corp.com", user_id="amzn1.account.FAY", line=34), NOW + 5 * day),
                ends(user("old@corp.com", line=35), NOW - 9 * day),
                user("val@corp.com", Role.ADMIN, user_id="amzn1.account.VAL", line=36),
                line=29,
            )
        ],
    )
    lv = live(
        [],
        [
            live_amc(
                "ENTITY7AMC",
                [
                    live_user("amzn1.account.BOSS", "boss@corp.com", Role.ADMIN),
                    live_user("amzn1.account.TOM", "tom@corp.com"),
                    live_user("amzn1.account.ANDY", "andy@corp.com"),
                    live_user("amzn1.account.FAY", "fay@corp.com"),
                    live_user("amzn1.account.VAL", "val@corp.com"),
                ],
                [invitation("inv-ivy", "ivy@corp.com")],
                name="Expiry AMC",
            )
        ],
    )
    return make_plan(d, lv, Policy(now=NOW, max_removal_fraction=1.0))


def baseline_plan() -> Plan:
    """`--baseline main`: val's role was lowered in the console after main was
    applied (main wants admin too: changed behind git's back); kim is new since main (not
    applied yet); lee was made admin in the console and is removed since main (both on one
    target: changed); an `expires:` that passed keeps its own class."""
    from reconciler.workflows.baseline import Revision, compare

    def ends(u: DesiredUser, at: float) -> DesiredUser:
        return dataclasses.replace(u, expires=at, expires_source=u.source)

    boss = user("boss@corp.com", Role.ADMIN, user_id="amzn1.account.BOSS", line=30)
    val = user("val@corp.com", Role.ADMIN, user_id="amzn1.account.VAL", line=31)
    tom = ends(user("tom@corp.com", user_id="amzn1.account.TOM", line=32), NOW - 86_400)
    lee = user("lee@corp.com", user_id="amzn1.account.LEE", line=33)
    now = desired(
        [],
        [
            amc(
                "ENTITY8AMC",
                boss,
                val,
                tom,
                user("kim@corp.com", line=34),
                line=29,
            )
        ],
    )
    then = desired([], [amc("ENTITY8AMC", boss, val, tom, lee, line=29)])
    lv = live(
        [],
        [
            live_amc(
                "ENTITY8AMC",
                [
                    live_user("amzn1.account.BOSS", "boss@corp.com", Role.ADMIN),
                    live_user("amzn1.account.VAL", "val@corp.com"),
                    live_user("amzn1.account.TOM", "tom@corp.com"),
                    live_user("amzn1.account.LEE", "lee@corp.com", Role.ADMIN),
                ],
                name="Baseline AMC",
            )
        ],
    )
    policy = Policy(now=NOW, max_removal_fraction=1.0)
    made = make_plan(now, lv, policy)
    revision = Revision("main", "0123456789abcdef0123456789abcdef01234567", then)
    return dataclasses.replace(made, baseline=compare(made, revision, lv, policy, now))


PLANS = {
    "demo": demo_plan,
    "empty": empty_plan,
    "busy": busy_plan,
    "refused": refused_plan,
    "expiry": expiry_plan,
    "baseline": baseline_plan,
}


@pytest.mark.parametrize("name", sorted(PLANS))
def test_text(name: str) -> None:
    check_golden(f"{name}.txt", render_text(PLANS[name](), color=False))


def test_text_colour_only_when_asked() -> None:
    coloured = render_text(demo_plan(), color=True)
    check_golden("demo.color.txt", coloured)
    assert "\x1b[32m+ associate ENTITY1ACME0005 (NA)\x1b[0m" in coloured
    assert "\x1b[31m- revoke user" in coloured and "\x1b[33m~ set role" in coloured
    assert "\x1b[" not in render_text(demo_plan(), color=False)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == render_text(demo_plan(), color=False)


def test_text_summary_lines() -> None:
    text = render_text(demo_plan(), color=False)
    assert text.endswith(f"1 to revoke.\nPlan digest: {plan_digest(demo_plan().actions)}\n")
    assert (
        "Plan: 1 to create, 4 to associate, 1 to invite, 1 to change access, 1 to disassociate, "
        "1 to revoke.\n" in text
    )
    empty = render_text(empty_plan(), color=False)
    assert empty.endswith("No changes. Live state matches the manifests.\n")
    assert "= waiting for new@corp.com to accept the invitation as viewer" in empty


@pytest.mark.parametrize("name", sorted(PLANS))
def test_markdown(name: str) -> None:
    check_golden(f"{name}.md", render_markdown(PLANS[name](), mask_emails=False))


def test_markdown_masked_has_no_address() -> None:
    masked = render_markdown(busy_plan(), mask_emails=True)
    check_golden("busy.masked.md", masked)
    for address in ("bob@example.com", "carl@example.com", "boss@corp.com", "x@corp.com"):
        assert address not in masked
    assert r"b\*\*\*&#64;example.com" in masked and r"x\*\*\*&#64;corp.com" in masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("alice@example.com", "a***@example.com"),
        ("(Bob.Smith+ads@corp.co.uk)", "(B***@corp.co.uk)"),
        ("a***@example.com", "a***@example.com"),  # already masked by the API
        ("x@y.com and z.q@w.org", "x***@y.com and z***@w.org"),
        ("no address @ here", "no address @ here"),
    ],
)
def test_mask_addresses(text: str, masked: str) -> None:
    assert mask_addresses(text) == masked


def test_markdown_escapes_table_cells() -> None:
    d = desired([manager("A|B <script>", link("E1"), id="ma1")])
    plan = make_plan(d, live([live_manager("ma1", "A|B <script>")]), Policy(now=NOW))
    md = render_markdown(plan, mask_emails=False)
    assert "<script>" not in md and "A\\|B &lt;script&gt;" in md


@pytest.mark.parametrize("name", sorted(PLANS))
def test_json(name: str) -> None:
    text = render_json(PLANS[name]())
    check_golden(f"{name}.json", text)
    data = json.loads(text)
    jsonschema.validate(data, plan_schema())
    assert data["formatVersion"] == 4
    assert all(action["reason"] for action in data["actions"])


# ---- reconciler show: a saved plan, offline ---------------------------------------------------


def bound_plan() -> Plan:
    """The demo plan with fixed bindings, as `plan --out` would have written it."""
    from reconciler.plan import Bindings
    from reconciler.planfile.digest import desired_digest

    want, lv = demo_world()
    plan = make_plan(want, lv, Policy(now=NOW))
    return dataclasses.replace(
        plan,
        bindings=Bindings(
            desired_digest=desired_digest(want),
            api_identity="client amzn1.application-oa2-client.example at "
            "https://advertising-api.amazon.com:443",
            tool_version="0.1.0",
            commit="0123456789abcdef0123456789abcdef01234567",
        ),
    )


@pytest.mark.parametrize(("fmt", "suffix"), [("text", "txt"), ("markdown", "md"), ("json", "json")])
def test_show_renders_a_saved_plan_with_its_digest_and_bindings(
    fmt: str, suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main
    from reconciler.planfile import codec as planfile

    path = tmp_path / "plan.json"
    planfile.write(path, bound_plan())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAZON_ADS_")}
    with mock.patch.dict(os.environ, env, clear=True), pytest.raises(SystemExit) as stop:
        main(["show", "--format", fmt, str(path)])  # no credentials: offline
    out, err = capsys.readouterr()
    assert stop.value.code in (0, None), err
    check_golden(f"show.{suffix}", out)
    if fmt != "json":
        assert f"Plan digest: {plan_digest(bound_plan().actions)}" in out
        assert "Commit: 0123456789abcdef0123456789abcdef01234567" in out


def test_a_plan_file_whose_drift_classes_were_edited_is_refused() -> None:
    from reconciler.errors import PlanFileError
    from reconciler.planfile import codec as planfile

    data = json.loads(render_json(expiry_plan()))
    assert planfile.decode(data, source="plan.json").expiries  # round trip
    data["drift"][0]["class"] = "changed"  # a grant expired passed off as ordinary drift
    with pytest.raises(PlanFileError, match="the drift classes do not match"):
        planfile.decode(data, source="plan.json")


def test_a_baseline_round_trips_and_is_not_part_of_the_digest() -> None:
    from reconciler.errors import PlanFileError
    from reconciler.planfile import codec as planfile
    from reconciler.planning.drift import classify

    plan = baseline_plan()
    data = json.loads(render_json(plan))
    back = planfile.decode(data, source="plan.json")
    assert back.baseline == plan.baseline
    assert classify(back) == classify(plan)
    without = dataclasses.replace(plan, baseline=None)
    assert json.loads(render_json(without))["planDigest"] == data["planDigest"]
    assert {i["class"] for i in json.loads(render_json(without))["drift"]} >= {"differs"}
    # Dropping the baseline but keeping its classes is a tampered file.
    data["baseline"] = None
    with pytest.raises(PlanFileError, match="the drift classes do not match"):
        planfile.decode(data, source="plan.json")


def test_a_baseline_naming_an_account_the_plan_does_not_touch_is_refused() -> None:
    from reconciler.errors import PlanFileError
    from reconciler.planfile import codec as planfile

    data = json.loads(render_json(baseline_plan()))
    data["baseline"]["heldBackInBaseline"] = ["amc:ELSEWHERE"]
    with pytest.raises(PlanFileError, match="baseline: no action in amc:ELSEWHERE"):
        planfile.decode(data, source="plan.json")


KEPT = frozenset({"carol@example.com", "ops@corp.example"})


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("invite Carol@Example.com as viewer", "invite Carol@Example.com as viewer"),
        ("(carol@example.com)", "(carol@example.com)"),
        ("a line ends with carol@example.com.", "a line ends with carol@example.com."),
        ("revoke dave@example.com", "revoke d***@example.com"),  # live only
        ("carol@example.com.evil.test", "c***@example.com.evil.test"),  # a longer domain
        ("xcarol@example.com", "x***@example.com"),  # a longer local part
        ("carol@exаmple.com", "c***@exаmple.com"),  # a Cyrillic а: a look-alike
        ("ops@corp.example, dave@corp.example", "ops@corp.example, d***@corp.example"),
    ],
)
def test_mask_shows_only_what_the_manifests_hold(text: str, masked: str) -> None:
    """An address the reviewed manifests hold is no secret: shown as written, so a reviewer
    sees which group member a line means. Anything else, look-alikes first, is masked."""
    assert mask_addresses(text, KEPT) == masked
    assert "@" not in mask_addresses(text).replace("***@", "")


def _wide_plan(accounts: int) -> Plan:
    """One invitation in each of `accounts` AMC accounts: a 200-account onboarding."""
    ids = [f"ENTITY{i:04d}" for i in range(accounts)]
    people = [user(f"person{n}@corp.example") for n in range(accounts)]
    d = desired([], [amc(i, who, min_admins=0) for i, who in zip(ids, people, strict=True)])
    return make_plan(d, live([], [live_amc(i) for i in ids]), Policy(now=NOW))


def test_markdown_max_length_leaves_out_the_detail_that_does_not_fit() -> None:
    plan = _wide_plan(200)
    whole = render_markdown(plan, mask_emails=True)
    assert len(whole) > 60_000 and whole.count("<summary>AMC account") == 200
    assert render_markdown(plan, mask_emails=True, max_length=len(whole)) == whole
    cut = render_markdown(plan, mask_emails=True, max_length=30_000)
    assert len(cut) <= 30_000
    kept = cut.count("<summary>AMC account")
    assert 0 < kept < 200
    drift = "<summary>Drift: 200 changed behind git's back or not applied yet.</summary>"
    assert drift in whole and drift not in cut  # the drift table, 200 rows, left out
    assert (
        f"> [!NOTE]\n> {200 - kept + 1} of 201 collapsed section(s) (the detail of each "
        "account, the drift by class, the notes) left out: this comment is limited to 30,000 "
        "characters. The whole plan: this command without `--max-length`, or the job summary "
        "on GitHub Actions.\n"
    ) in cut
    assert cut.count("[!NOTE]") == 1 and "reconciler show" not in cut
    # The summary and the table of every account stay.
    assert "**Plan: 200 to invite.**" in cut
    assert cut.count("| AMC account ENTITY") == 200
    assert cut.startswith(whole[: whole.index("<details>")] + "> [!NOTE]")
    # Even the summary over the limit: cut at a line, under the limit, and said.
    tiny = render_markdown(plan, mask_emails=True, max_length=1_000)
    assert len(tiny) <= 1_000 and tiny.count("[!NOTE]") == 1
    assert tiny.endswith(
        "(cut here)\n\n> [!NOTE]\n> 201 of 201 collapsed section(s) (the detail of each "
        "account, the drift by class, the notes) left out: this comment is limited to 1,000 "
        "characters. The whole plan: this command without `--max-length`, or the job summary "
        "on GitHub Actions.\n"
    )


def test_markdown_max_length_points_to_the_plan_file_only_when_one_was_written() -> None:
    plan = _wide_plan(200)
    for limit in (30_000, 1_000):
        cut = render_markdown(plan, mask_emails=True, max_length=limit, plan_file="out/p.json")
        assert len(cut) <= limit and cut.count("[!NOTE]") == 1
        assert (
            " characters. The whole plan: the plan file (`reconciler show out/p.json`), this "
            "command without `--max-length`, or the job summary on GitHub Actions.\n"
        ) in cut
    # A hostile file name stays one shell word and cannot break out of the code span.
    cut = render_markdown(plan, mask_emails=True, max_length=30_000, plan_file="a`b $(x).json")
    assert "The whole plan: the plan file (reconciler show 'a\\`b $(x).json'), " in cut
