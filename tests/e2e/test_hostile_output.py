"""Names chosen by third parties stay data in the plan's text, markdown and JSON,
and in the apply journal. Fed through a sandbox seed (the way they really arrive) and
through a plan file someone edited."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.api import AdsClient, ApiConfig
from reconciler.apply import Journal
from reconciler.live.read import read_live
from reconciler.model import Role
from reconciler.plan import Policy
from reconciler.planfile.codec import decode, encode
from reconciler.planning.planner import make_plan
from reconciler.render import render_json, render_markdown, render_text
from reconciler.sandbox import SandboxTransport, World
from reconciler.workflows.operations import apply
from tests.factories import amc, desired, link, manager, user
from tests.hostile import REPRODUCTIONS, hostile_text

AMC = "ENTITYHOSTILE001"
MANAGER = "amzn1.ads1.ma1.hostile"
UNSAFE = {"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"}


def world_named(account_name: str, amc_name: str, user_name: str) -> World:
    return World.from_seed(
        {
            "accounts": [
                {"id": "ENTITYKEEP", "name": "Keep", "marketplace": "ATVPDKIKX0DER"},
                {"id": "ENTITYGONE", "name": account_name, "marketplace": "ATVPDKIKX0DER"},
            ],
            "manager_accounts": [
                {
                    "id": MANAGER,
                    "name": "Hostile Agency",
                    "type": "Agency",
                    "links": ["ENTITYKEEP", "ENTITYGONE"],
                }
            ],
            "amc_accounts": [
                {
                    "id": AMC,
                    "name": amc_name,
                    "users": [
                        {
                            "email": "boss@corp.example",
                            "user_id": "amzn1.account.B",
                            "role": "ADMIN",
                        }
                    ],
                    "invitations": [
                        {"email": "gone@corp.example", "name": user_name, "role": "viewer"}
                    ],
                }
            ],
        }
    )


def assert_terminal_safe(text: str) -> None:
    for line in text.splitlines():
        # Our own colour codes aside, no control or format character survives.
        plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
        bad = [c for c in plain if unicodedata.category(c) in UNSAFE]
        assert not bad, (line, bad)


def assert_markdown_safe(text: str, names: list[str]) -> None:
    assert_terminal_safe(text)
    for line in text.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            assert len(cells) in (5, 7), line  # no cell broke out of its table
        if line.startswith("#"):
            assert line in (
                "## reconciler plan",
                "### Warnings",
                "### Read incomplete (nothing planned there)",
                "### Held back until identity is proven",
                "### Cannot restore",
                "### Proposed pins (`reconciler pin PATH...` writes them)",
            ), line
    # No link, image or HTML: every bracket and `<` from a name is escaped.
    assert not re.search(r"(?<!\\)\]\(|(?<!\\)!(?<!\\)\[|<img|<script", text), names


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    account=st.one_of(st.sampled_from(REPRODUCTIONS), hostile_text(long=False)),
    amc_name=hostile_text(long=False),
    person=hostile_text(long=False),
)
def test_hostile_names_stay_data_in_every_format_and_the_journal(
    account: str, amc_name: str, person: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    world = world_named(account, amc_name, person)
    want = desired(
        [manager("Hostile Agency", link("ENTITYKEEP"), id=MANAGER)],
        [amc(AMC, user("boss@corp.example", Role.ADMIN, user_id="amzn1.account.B"))],
    )
    with AdsClient(ApiConfig.sandbox(), transport=SandboxTransport(world)) as client:
        live = read_live(want, client.reader(), now=world.now())
        plan = make_plan(want, live, Policy(now=world.now(), max_removal_fraction=1.0))
        assert {a.kind.value for a in plan.actions} == {"disassociate", "revoke-invitation"}
        text = render_text(plan, color=True)
        assert_terminal_safe(text)
        assert_markdown_safe(render_markdown(plan, mask_emails=False), [account, amc_name])
        # JSON stays JSON: the plan file reads back to exactly the same values.
        assert decode(json.loads(render_json(plan)), source="plan.json") == plan
        journal = tmp_path_factory.mktemp("j") / "journal.jsonl"
        with Journal(journal) as log:
            outcome = apply(plan, want, client, journal=log)
        assert outcome.report is not None and outcome.report.exit_code == 0
    lines = journal.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(plan.actions)  # one line per action: no name split a line
    for line in lines:
        json.loads(line)


def test_a_hostile_label_in_an_edited_plan_file_is_escaped_by_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main
    from reconciler.planfile.digest import plan_digest

    world = world_named("Gone", "AMC", "Gone")
    want = desired([manager("Hostile Agency", link("ENTITYKEEP"), id=MANAGER)], [])
    with AdsClient(ApiConfig.sandbox(), transport=SandboxTransport(world)) as client:
        live = read_live(want, client.reader(), now=world.now())
    data = encode(make_plan(want, live, Policy(now=world.now(), max_removal_fraction=1.0)))
    data["actions"][0]["label"] = "\x1b[2K\x1b[1A# Plan: No changes\n![x](https://e.invalid/x)"
    data["actions"][0]["reason"] = "approved\x1b[1A by security"
    data["planDigest"] = plan_digest(decode_actions(data))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    for fmt in ("text", "markdown"):
        with pytest.raises(SystemExit):
            main(["show", "--format", fmt, str(path)])
        out, _ = capsys.readouterr()
        assert "\x1b" not in out and "\n# Plan" not in out  # no cursor moves, no new line
        if fmt == "markdown":
            assert "![x](" not in out  # no image either


def decode_actions(data: dict[str, object]) -> list[object]:
    from reconciler.planfile.codec import _decode_action

    return [_decode_action(a) for a in data["actions"]]  # type: ignore[attr-defined]
