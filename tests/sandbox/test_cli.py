"""`reconciler sandbox ...` commands on a state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import EXIT_USAGE
from reconciler.sandbox import World
from tests.sandbox.helpers import ACME, AMC
from tests.workflows.test_served import Fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def test_reset_then_out_of_band_changes(
    capsys: pytest.CaptureFixture[str], sandbox_state_file: Path
) -> None:
    assert run(capsys, "sandbox", "reset")[0] == 0
    assert run(capsys, "sandbox", "link", ACME, "ENTITY1ACME0008")[0] == 0
    assert run(capsys, "sandbox", "unlink", ACME, "ENTITY1ACME0001")[0] == 0
    code, out, _ = run(capsys, "sandbox", "accept", AMC, "bob@example.com")
    assert code == 0 and "is now user" in out
    assert (
        run(
            capsys,
            "sandbox",
            "add-user",
            AMC,
            "gina@example.com",
            "--role",
            "admin",
            "--user-id",
            "amzn1.account.GINA",
        )[0]
        == 0
    )
    assert run(capsys, "sandbox", "remove-user", AMC, "amzn1.account.DAVE0001")[0] == 0
    assert run(capsys, "sandbox", "advance-clock", "2h")[0] == 0
    world = World.load(sandbox_state_file)
    links = [x.account_id for x in world.managers[ACME].links]
    assert "ENTITY1ACME0008" in links and "ENTITY1ACME0001" not in links
    users = {u.email: u.role for u in world.amc[AMC].users}
    assert users["gina@example.com"] == "ADMIN" and "bob@example.com" in users
    assert "dave@example.com" not in users
    assert world.clock_offset == 7200
    code, out, _ = run(capsys, "sandbox", "show")
    assert json.loads(out)["version"] == 1


def test_reset_with_a_seed_and_explicit_state(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seed = Path(__file__).parents[2] / "examples" / "sandbox-seed.yaml"
    state = tmp_path / "other.json"
    assert (
        run(capsys, "sandbox", "reset", "--seed", str(seed), "--sandbox-state", str(state))[0] == 0
    )
    assert "amzn1.ads1.ma1.example0001" in World.load(state).managers


def test_errors_say_what_is_wrong(
    capsys: pytest.CaptureFixture[str], sandbox_state_file: Path
) -> None:
    code, _, err = run(capsys, "sandbox", "accept", AMC, "nobody@example.com")
    assert code == EXIT_USAGE and "no open invitation for nobody@example.com" in err
    code, _, err = run(capsys, "sandbox", "advance-clock", "soon")
    assert code == EXIT_USAGE and "90m, 2h, 15d" in err
    code, _, err = run(capsys, "sandbox", "serve", "--host", "0.0.0.0")
    assert code == EXIT_USAGE and "--allow-remote" in err


def test_people_on_every_kind_of_account_change_out_of_band(
    capsys: pytest.CaptureFixture[str], sandbox_state_file: Path
) -> None:
    def ok(*argv: str) -> str:
        code, out, err = run(capsys, "sandbox", *argv)
        assert code == 0, err
        return out

    ok("reset")
    assert ok("add-account", "sponsored-ads", "amzn1.ads-account.g.cli1", "--name", "US") == (
        "added: account sponsored-ads:amzn1.ads-account.g.cli1\n"
    )
    ok("add-account", "dsp", "ENTITYDSPCLI1")
    ok("add-account", "manager", "amzn1.ads1.ma1.cli1")
    sa, dsp = "amzn1.ads-account.g.cli1", "dsp:ENTITYDSPCLI1"
    out = ok("add-user", sa, "alice@example.com", "--role", "admin", "--countries", "US,CA")
    # Alice already has an id on the demo AMC account: the same person, the same id.
    assert out == f"added: alice@example.com as admin of {sa} (userId amzn1.account.ALICE0001)\n"
    ok("add-user", dsp, "ann@example.com", "--permissions", "reports_edit,campaign_edit")
    ok("add-user", "amzn1.ads1.ma1.cli1", "ann@example.com", "--role", "editor")
    world = World.load(sandbox_state_file)
    ann = world.account("ENTITYDSPCLI1").users[0]
    assert (ann.role, ann.permissions) == ("", ("campaign_edit", "reports_edit"))
    assert world.account("amzn1.ads1.ma1.cli1").users[0].user_id == ann.user_id
    assert "amzn1.ads1.ma1.cli1" in world.managers

    ok("set-role", dsp, ann.user_id, "viewer")
    ok("set-countries", sa, "amzn1.account.ALICE0001", "GB")
    ok("set-permissions", sa, "amzn1.account.ALICE0001", "reports_view", "--countries", "US")
    ok("set-role", sa, "amzn1.account.ALICE0001", "editor", "--countries", "CA")
    ok(
        "set-role",
        sa,
        "amzn1.account.ALICE0001",
        "admin",
        "--countries",
        "FR",
        "--keep-other-countries",
    )
    world = World.load(sandbox_state_file)
    assert world.account("ENTITYDSPCLI1").users[0].role == "VIEWER"
    (alice,) = world.account(sa).users
    assert [(g.role, g.permissions, g.countries) for g in alice.grants] == [
        ("EDITOR", (), ("CA",)),
        ("ADMIN", (), ("FR",)),
    ]
    ok("remove-user", dsp, ann.user_id)
    assert World.load(sandbox_state_file).account("ENTITYDSPCLI1").users == ()


def test_a_console_change_of_permissions_keeps_where_the_user_holds(
    capsys: pytest.CaptureFixture[str], sandbox_state_file: Path
) -> None:
    """Without --countries, set-permissions and set-role change what a user may do, not
    where: a user holding one set in US and CA still holds in US and CA."""
    sa = "amzn1.ads-account.g.cli2"
    for argv in (
        ("reset",),
        ("add-account", "sponsored-ads", sa),
        ("add-user", sa, "alice@example.com", "--role", "viewer", "--countries", "US,CA"),
        ("set-permissions", sa, "amzn1.account.ALICE0001", "campaign_view,reports_view"),
    ):
        code, _, err = run(capsys, "sandbox", *argv)
        assert code == 0, err
    (alice,) = World.load(sandbox_state_file).account(sa).users
    assert [(g.role, g.permissions, g.countries) for g in alice.grants] == [
        (None, ("campaign_view", "reports_view"), ("CA", "US"))
    ]
    assert run(capsys, "sandbox", "set-role", sa, "amzn1.account.ALICE0001", "editor")[0] == 0
    (alice,) = World.load(sandbox_state_file).account(sa).users
    assert [(g.role, g.countries) for g in alice.grants] == [("EDITOR", ("CA", "US"))]
    code, _, err = run(
        capsys, "sandbox", "set-role", sa, "amzn1.account.ALICE0001", "admin", "--all-countries"
    )
    assert code == 0, err
    (alice,) = World.load(sandbox_state_file).account(sa).users
    assert [(g.role, g.countries) for g in alice.grants] == [("ADMIN", ())]
    code, _, err = run(capsys, "sandbox", "set-role", sa, "amzn1.account.ALICE0001", "viewer",
                       "--all-countries", "--countries", "US")  # fmt: skip
    assert code == EXIT_USAGE and "give --countries or --all-countries, not both" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("add-user", "ENTITYDSPCLI1", "a@example.com", "--permissions", "billing_view"),
            "sandbox add-user: unknown permission 'billing_view' for a DSP account; it takes "
            "campaign_edit, creatives_edit, reports_edit, reports_limited",
        ),
        (
            ("add-user", "ENTITYDSPCLI1", "a@example.com", "--countries", "US"),
            "sandbox add-user: countries apply to global accounts only",
        ),
        (
            ("add-user", AMC, "a@example.com", "--permissions", "campaign_edit"),
            "sandbox add-user: an AMC account does not support custom permissions: use type ROLE",
        ),
        (
            ("add-user", AMC, "a@example.com", "--role", "admin", "--permissions", "x"),
            "give a role or --permissions, not both",
        ),
        (
            ("set-role", "amc:ENTITYNOPE", "u", "admin"),
            "sandbox set-grant: no AMC account 'ENTITYNOPE'",
        ),
        (
            ("add-account", "dsp", AMC),
            f"sandbox add-account: the sandbox already has an account '{AMC}'",
        ),
    ],
)
def test_what_a_kind_does_not_take_is_refused_by_name(
    capsys: pytest.CaptureFixture[str],
    sandbox_state_file: Path,
    argv: tuple[str, ...],
    message: str,
) -> None:
    assert run(capsys, "sandbox", "reset")[0] == 0
    assert run(capsys, "sandbox", "add-account", "dsp", "ENTITYDSPCLI1")[0] == 0
    before = sandbox_state_file.read_text()
    code, _, err = run(capsys, "sandbox", *argv)
    assert code == EXIT_USAGE and message in err
    assert sandbox_state_file.read_text() == before


def test_a_missing_state_file_is_named_when_a_command_creates_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = tmp_path / "typo.json"
    code, _, err = run(capsys, "sandbox", "advance-clock", "1d", "--sandbox-state", str(state))
    assert code == 0
    assert f"note: {state} did not exist; it now holds the built-in demo world" in err
    code, _, err = run(capsys, "sandbox", "advance-clock", "1d", "--sandbox-state", str(state))
    assert code == 0 and "note:" not in err


def test_clock_prints_the_sandbox_time(
    capsys: pytest.CaptureFixture[str], sandbox_state_file: Path
) -> None:
    world = World.default()
    world.freeze_clock(1_800_000_000.0)
    world.save(sandbox_state_file)
    assert run(capsys, "sandbox", "advance-clock", "2d")[0] == 0
    code, out, _ = run(capsys, "sandbox", "clock")
    assert (code, out) == (0, "1800172800.000 2027-01-17T08:00:00+00:00\n")


@pytest.mark.parametrize(
    "argv",
    [
        ("accept", "ENTITY1", "inv1"),
        ("add-account", "amc", "ENTITY9"),
        ("add-user", "ENTITY1", "ana@example.com"),
    ],
)
def test_what_a_served_sandbox_answers_is_printed_escaped(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    """--url may name any host: the id it answers with is data, never terminal controls."""
    hostile = Fake()
    hostile.body = b'{"result": "amzn1.account.X\\u001b]8;;https://evil.example\\u0007"}'
    hostile.start()
    try:
        code, out, err = run(capsys, "sandbox", *argv, "--url", hostile.url)
    finally:
        hostile.stop()
    assert code == 0, err
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "amzn1.account.X\\x1b]8;;https://evil.example\\x07" in out
