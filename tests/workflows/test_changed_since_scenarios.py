"""`--changed-since REF` through the CLI against the sandbox and a real git repository: a
plan reads and plans only the accounts whose desired state differs between the manifests
at REF and now, says which and why, binds them in its digest, and `apply --plan` re-reads
and re-plans exactly those, so a change on any other account never refuses it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, EXIT_USAGE
from reconciler.planfile.digest import action_meaning
from reconciler.sandbox import World
from tests.driver import git, run

AMC = [f"ENTITYSCOPEAMC{n:02d}" for n in range(1, 6)]  # A1..A5
MANAGER = "amzn1.ads1.ma1.scope0000001"
LINKS = ["ENTITYSCOPELNK01", "ENTITYSCOPELNK02", "ENTITYSCOPELNK03"]
BOSS = {"email": "boss@corp.example", "userId": "amzn1.account.BOSS", "role": "admin"}
ANN = {"email": "ann@corp.example", "userId": "amzn1.account.ANN", "role": "viewer"}
TEAM = ["pat@corp.example"]  # the group `team`, used by A1, A2 and A3


def _seed(amc_ids: list[str]) -> dict[str, Any]:
    return {
        "accounts": [
            {"id": x, "name": f"Seller {x}", "type": "SELLER", "marketplace": "ATVPDKIKX0DER"}
            for x in LINKS
        ],
        "manager_accounts": [
            {"id": MANAGER, "name": "Scope Agency", "type": "Agency", "links": LINKS[:2]}
        ],
        "amc_accounts": [
            {
                "id": amc_id,
                "name": f"AMC {amc_id[-2:]}",
                "users": [
                    {
                        "email": f"{who}@corp.example",
                        "user_id": f"amzn1.account.{who.upper()}",
                        "role": role,
                    }
                    for who, role in (("boss", "ADMIN"), ("ann", "VIEWER"))
                ],
            }
            for amc_id in amc_ids
        ],
    }


def seed(tmp_path: Path, capsys: pytest.CaptureFixture[str], amc_ids: list[str]) -> str:
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(_seed(amc_ids)), encoding="utf-8")
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(path))[0] == EXIT_OK
    )
    return state


def write(
    repo: Path,
    *,
    extra: dict[str, list[dict[str, Any]]] | None = None,
    team: list[str] = TEAM,
    links: list[str] = LINKS[:2],
    accounts: list[str] = AMC,
    policy: dict[str, Any] | None = None,
) -> None:
    """The manifests under repo/m: one file per AMC account (A1..A3 use the group `team`),
    the group, the manager account, and `policy.yaml` when given."""
    folder = repo / "m"
    if folder.exists():
        for old in folder.rglob("*.yaml"):
            old.unlink()
    (folder / "amc").mkdir(parents=True, exist_ok=True)
    for n, amc_id in enumerate(accounts):
        users: list[dict[str, Any]] = [BOSS, ANN, *(extra or {}).get(amc_id, [])]
        if amc_id in AMC[:3]:
            users.append({"group": "team", "role": "viewer"})
        doc = {"version": 1, "amcAccounts": [{"id": amc_id, "users": users}]}
        (folder / "amc" / f"a{n + 1}.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    groups = {"version": 1, "groups": {"team": [{"email": e} for e in team]}}
    (folder / "groups.yaml").write_text(yaml.safe_dump(groups), encoding="utf-8")
    manager = {
        "version": 1,
        "managerAccounts": [
            {
                "name": "Scope Agency",
                "id": MANAGER,
                "type": "Agency",
                "linkedAccounts": [{"id": x} for x in links],
            }
        ],
    }
    (folder / "managers.yaml").write_text(yaml.safe_dump(manager), encoding="utf-8")
    if policy is not None:
        doc = {"version": 1, "policy": policy}
        (folder / "policy.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")


def commit(repo: Path, message: str, **manifests: Any) -> str:
    write(repo, **manifests)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "--quiet", "-b", "main")
    return path


@pytest.fixture
def base(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """The manifests at BASE applied: (state file, BASE's sha). The group's pat is invited
    to A1..A3 and waits there."""
    state = seed(tmp_path, capsys, AMC)
    sha = commit(repo, "base")
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", str(repo / "m"))
    assert code == EXIT_OK, out
    return state, sha


def requests(out: str) -> list[str]:
    """The API requests a `--debug` run sent (not the token endpoint's)."""
    return [
        line
        for line in out.splitlines()
        if "reconciler.api DEBUG request " in line and "/auth/o2/token" not in line
    ]


def plan(
    capsys: pytest.CaptureFixture[str], state: str, repo: Path, *extra: str
) -> tuple[int, str]:
    return run(capsys, "plan", "--sandbox-state", state, *extra, str(repo / "m"))


def covers(out: str) -> list[str]:
    """The lines listing the accounts covered, as the text plan shows them."""
    lines = out.splitlines()
    (start,) = [n for n, line in enumerate(lines) if line.startswith("Covers ")]
    return [line.removeprefix("  - ") for line in lines[start + 1 :] if line.startswith("  - ")]


def invitations(state: str, amc_id: str) -> dict[str, str]:
    return {
        i.email: i.role
        for i in World.load(state).amc[amc_id].invitations
        if i.state.lower() == "pending"
    }


def test_a_one_account_change_reads_plans_and_applies_that_account_alone(
    repo: Path, base: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, sha = base
    carol = {"email": "carol@corp.example", "role": "viewer"}
    commit(repo, "invite carol to A4", extra={AMC[3]: [carol]})
    saved = tmp_path / "plan.json"
    code, out = plan(
        capsys, state, repo, "--changed-since", sha, "--debug", "--out", str(saved),
        "--detailed-exitcode",
    )  # fmt: skip
    assert code == EXIT_CHANGES, out
    assert f"Covers 1 account changed since {sha[:12]} (no other account was read" in out
    assert covers(out) == [f"amc:{AMC[3]}: entries: 1 added"]
    assert "+ invite carol@corp.example as viewer" in out
    assert "Plan: 1 to invite." in out
    sent = requests(out)
    # Only A4 is read: the AMC account list, A4's invitations, users and their roles.
    assert sent and all(AMC[3] in line or "/amc/accounts" in line for line in sent), sent
    assert not [line for line in sent if any(x in line for x in (*AMC[:3], AMC[4], MANAGER))]
    assert not [line for line in sent if "/managerAccounts" in line]
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["coverage"] == {
        "ref": sha,
        "commit": sha,
        "accounts": [{"scope": f"amc:{AMC[3]}", "why": ["entries: 1 added"], "leaving": False}],
    }
    code, out = run(capsys, "show", str(saved))
    assert code == EXIT_OK and f"Covers: 1 account changed since {sha[:12]}" in out
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--plan", str(saved), str(repo / "m")
    )
    assert code == EXIT_OK, out
    assert invitations(state, AMC[3]) == {"carol@corp.example": "viewer"}
    code, out = plan(capsys, state, repo, "--changed-since", sha, "--detailed-exitcode")
    assert code == EXIT_OK, out
    assert "No changes. Live state matches the manifests in the accounts covered." in out


def test_a_group_change_reaches_every_account_using_the_group(
    repo: Path, base: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, sha = base
    commit(repo, "quinn joins the team", team=[*TEAM, "quinn@corp.example"])
    code, out = plan(capsys, state, repo, "--changed-since", sha, "--debug")
    assert code == EXIT_OK, out
    assert covers(out) == [f"amc:{x}: entries: 1 added; through group team" for x in AMC[:3]]
    assert out.count("+ invite quinn@corp.example as viewer") == 3
    assert "Plan: 3 to invite." in out
    sent = requests(out)
    assert not [line for line in sent if any(x in line for x in (*AMC[3:], MANAGER))]
    # Moving an entry into a group, or reformatting, is not a change: nothing is covered.
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "nothing")
    code, out = plan(capsys, state, repo, "--changed-since", "HEAD", "--debug")
    assert "Covers no account: nothing the manifests ask changed since " in out
    assert requests(out) == []


def test_a_policy_change_reaches_every_account(
    repo: Path, base: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, sha = base
    commit(repo, "protect ann", policy={"protectedUsers": ["amzn1.account.ANN"]})
    code, out = plan(capsys, state, repo, "--changed-since", sha)
    assert code == EXIT_OK, out
    why = "policy changed (protectedUsers): it applies to every account"
    assert covers(out) == [
        *(f"amc:{x}: {why}" for x in AMC),
        f"manager:{MANAGER}: {why}",
    ]
    assert "Covers 6 accounts changed since" in out
    # A link and the policy in one change: the manager account says both.
    commit(repo, "link a third", links=LINKS, policy={"maxRemovals": 3})
    code, out = plan(capsys, state, repo, "--changed-since", "HEAD~1")
    assert f"manager:{MANAGER}: links: 1 added; policy changed (maxRemovals, protectedUsers)" in out


def test_an_account_dropped_leaves_management_and_is_not_read(
    repo: Path, base: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, sha = base
    commit(repo, "A5 is no longer managed", accounts=AMC[:4])
    saved = tmp_path / "plan.json"
    code, out = plan(capsys, state, repo, "--changed-since", sha, "--debug", "--out", str(saved))
    assert code == EXIT_OK, out
    assert "Covers 0 accounts changed since" in out
    assert covers(out) == [
        f"amc:{AMC[4]}: no longer in the manifests: it leaves management (nothing is read or "
        "changed there)"
    ]
    assert requests(out) == []
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["coverage"]["accounts"][0]["leaving"] is True
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--plan", str(saved), str(repo / "m")
    )
    assert code == EXIT_OK, out
    assert {u.user_id for u in World.load(state).amc[AMC[4]].users} == {
        "amzn1.account.BOSS",
        "amzn1.account.ANN",
    }


def test_an_invitation_accepted_elsewhere_between_plan_and_merge_does_not_refuse_the_plan(
    repo: Path, base: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, sha = base
    carol = {"email": "carol@corp.example", "role": "viewer"}
    commit(repo, "invite carol to A4", extra={AMC[3]: [carol]})
    scoped, full = tmp_path / "scoped.json", tmp_path / "full.json"
    assert plan(capsys, state, repo, "--changed-since", sha, "--out", str(scoped))[0] == 0
    assert plan(capsys, state, repo, "--out", str(full))[0] == EXIT_OK
    # Between plan and merge pat accepts the invitation to A1, and another pull request
    # changes A5 and is merged first.
    (invitation,) = World.load(state).amc[AMC[0]].invitations
    code, out = run(
        capsys, "sandbox", "accept", AMC[0], invitation.invitation_id, "--sandbox-state", state
    )
    assert code == EXIT_OK, out
    dee = {"email": "dee@corp.example", "role": "viewer"}
    commit(repo, "merged: dee to A5, carol to A4", extra={AMC[3]: [carol], AMC[4]: [dee]})
    # The plan over everything is refused: A1 moved, and A5 means something else now.
    code, out = run(capsys, "apply", "--sandbox-state", state, "--plan", str(full), str(repo / "m"))
    assert code == EXIT_ERROR, out
    # The plan over A4 applies: nothing moved there, and A4 means what it meant.
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--plan", str(scoped), str(repo / "m")
    )
    assert code == EXIT_OK, out
    assert "is the plan of these manifests now in the 1 account it covers." in out
    assert invitations(state, AMC[3]) == {"carol@corp.example": "viewer"}
    assert invitations(state, AMC[4]) == {}  # dee is the other pull request's to apply


def test_a_change_on_a_covered_account_still_refuses_the_saved_plan(
    repo: Path, base: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, sha = base
    carol = {"email": "carol@corp.example", "role": "viewer"}
    commit(repo, "invite carol to A4", extra={AMC[3]: [carol]})
    saved = tmp_path / "plan.json"
    assert plan(capsys, state, repo, "--changed-since", sha, "--out", str(saved))[0] == 0
    code, out = run(
        capsys, "sandbox", "remove-user", "--sandbox-state", state, AMC[3], "amzn1.account.ANN"
    )
    assert code == EXIT_OK, out
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--plan", str(saved), str(repo / "m")
    )
    assert code == EXIT_ERROR, out
    assert "the plan is stale: live state changed since it was made:" in out
    assert invitations(state, AMC[3]) == {}
    # A4 meaning something else on merge refuses it too.
    run(capsys, "sandbox", "add-user", "--sandbox-state", state, AMC[3], "ann@corp.example",
        "--role", "viewer", "--user-id", "amzn1.account.ANN")  # fmt: skip
    commit(repo, "carol as admin", extra={AMC[3]: [{**carol, "role": "admin"}]})
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--plan", str(saved), str(repo / "m")
    )
    assert code == EXIT_ERROR, out
    assert "the manifests given mean something else for the accounts the plan covers" in out


def _digest(data: dict[str, Any]) -> str:
    """What `plan_digest` computes, from the file's own fields (an attacker can too)."""
    from reconciler.planfile.codec import _decode_action, _decode_coverage

    actions = [action_meaning(_decode_action(a)) for a in data["actions"]]
    coverage = _decode_coverage(data["coverage"])
    assert coverage is not None
    value = {
        "actions": actions,
        "coverage": {
            "commit": coverage.commit,
            "planned": sorted(coverage.planned),
            "leaving": sorted(a.scope for a in coverage.accounts if a.leaving),
        },
    }
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_a_tampered_coverage_is_refused(
    repo: Path, base: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, sha = base
    carol = {"email": "carol@corp.example", "role": "viewer"}
    commit(repo, "invite carol to A4", extra={AMC[3]: [carol]})
    saved = tmp_path / "plan.json"
    assert plan(capsys, state, repo, "--changed-since", sha, "--out", str(saved))[0] == 0
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["planDigest"] == _digest(data)

    def tampered(name: str, edit: Any, *, rehash: bool = False) -> str:
        edited = json.loads(json.dumps(data))
        edit(edited)
        if rehash:
            edited["planDigest"] = _digest(edited)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(edited), encoding="utf-8")
        code, out = run(
            capsys, "apply", "--sandbox-state", state, "--plan", str(path), str(repo / "m")
        )
        assert code == EXIT_ERROR, (name, out)
        return out

    def widen(d: dict[str, Any]) -> None:
        d["coverage"]["accounts"].append({"scope": f"amc:{AMC[0]}", "why": [], "leaving": False})

    out = tampered("widened", widen)
    assert "the actions and the accounts covered do not match the plan digest" in out

    def shrink(d: dict[str, Any]) -> None:
        d["coverage"]["accounts"] = []

    out = tampered("shrunk", shrink, rehash=True)
    assert f"action 1: amc:{AMC[3]} is not an account the plan covers" in out

    def twice(d: dict[str, Any]) -> None:
        d["coverage"]["accounts"] *= 2

    out = tampered("twice", twice, rehash=True)
    assert f"coverage: amc:{AMC[3]} is listed twice" in out

    def not_a_scope(d: dict[str, Any]) -> None:
        d["coverage"]["accounts"][0]["scope"] = "user:x"

    out = tampered("scope", not_a_scope, rehash=True)
    assert (
        "is not a valid plan file" in out
        and "does not match '^(manager|sponsored-ads|dsp|amc):.+$'" in out
    )

    def leave(d: dict[str, Any]) -> None:
        d["coverage"]["accounts"][0]["leaving"] = True

    out = tampered("leaving", leave, rehash=True)
    assert f"action 1: amc:{AMC[3]} is not an account the plan covers" in out

    # Why an account is in is for people, like a reason: not in the digest, and escaped.
    hostile = json.loads(json.dumps(data))
    hostile["coverage"]["accounts"][0]["why"] = ["\x1b[2J\x1b[31mall clear\n## Approved"]
    path = tmp_path / "why.json"
    path.write_text(json.dumps(hostile), encoding="utf-8")
    for fmt in ("text", "markdown"):
        code, out = run(capsys, "show", "--format", fmt, str(path))
        assert code == EXIT_OK, out
        assert "\x1b" not in out and "\n## Approved" not in out, out

    # A widened scope that hashes right is another digest than the one reviewed (an
    # approval names the digest), and its manifests digest (of A4 alone) is not what the
    # manifests mean for A1 and A4: refused too.
    widened = json.loads(json.dumps(data))
    widen(widened)
    widened["coverage"]["accounts"].sort(key=lambda a: a["scope"])
    widened["planDigest"] = _digest(widened)
    assert widened["planDigest"] != data["planDigest"]
    assert invitations(state, AMC[3]) == {}  # nothing was applied by any refused file
    path = tmp_path / "rehashed.json"
    path.write_text(json.dumps(widened), encoding="utf-8")
    code, out = run(capsys, "show", str(path))
    assert f"Plan digest: {widened['planDigest']}" in out and "Covers: 2 accounts" in out
    code, out = run(capsys, "apply", "--sandbox-state", state, "--plan", str(path), str(repo / "m"))
    assert code == EXIT_ERROR, out
    assert "the manifests given mean something else for the accounts the plan covers" in out
    assert invitations(state, AMC[3]) == {}


def test_changed_since_refusals_name_the_flag(
    repo: Path, base: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, _ = base
    code, out = plan(capsys, state, repo, "--changed-since", "no-such-ref")
    assert code == EXIT_ERROR, out
    (line,) = out.strip().splitlines()
    assert line.startswith("Error: --changed-since 'no-such-ref': is not a commit in ")
    assert "pass the commit the change starts from (a pull request's merge base)" in line
    code, out = plan(capsys, state, repo, "--changed-since=-x")
    assert "Error: --changed-since '-x': looks like an option, not a git revision" in out
    code, out = plan(capsys, state, repo, "--changed-since", "x" * 1025)
    assert "is 1025 characters long, not a revision" in out
    saved = tmp_path / "plan.json"
    assert plan(capsys, state, repo, "--out", str(saved))[0] == EXIT_OK
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--plan", str(saved), "--changed-since",
        "HEAD", str(repo / "m"),
    )  # fmt: skip
    assert code == EXIT_USAGE, out
    assert "--changed-since with --plan: a saved plan applies over the accounts it records" in out


def test_apply_and_drift_take_changed_since(
    repo: Path, base: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, sha = base
    carol = {"email": "carol@corp.example", "role": "viewer"}
    commit(repo, "invite carol to A4", extra={AMC[3]: [carol]})
    # A console change on A2 is not this change's: drift since BASE does not see it.
    run(capsys, "sandbox", "remove-user", "--sandbox-state", state, AMC[1], "amzn1.account.ANN")
    code, out = run(
        capsys, "drift", "--sandbox-state", state, "--changed-since", sha, str(repo / "m")
    )
    assert code == EXIT_CHANGES, out
    assert "invite carol@corp.example" in out and AMC[1] not in out
    # With a baseline as well: told apart over the accounts covered.
    code, out = run(
        capsys, "drift", "--sandbox-state", state, "--changed-since", sha, "--baseline", sha,
        "--format", "markdown", str(repo / "m"),
    )  # fmt: skip
    assert code == EXIT_CHANGES, out
    assert f"<summary>Covers 1 account changed since {sha[:12]} (no other account" in out
    assert "Drift: 1 not applied yet." in out
    assert AMC[1] not in out
    # The one-step re-plan and apply: shows the new digest, applies A4 alone.
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--changed-since", sha, "--auto-approve",
        str(repo / "m"),
    )  # fmt: skip
    assert code == EXIT_OK, out
    assert "Plan digest: sha256:" in out and "Converged" in out
    assert invitations(state, AMC[3]) == {"carol@corp.example": "viewer"}
    assert "amzn1.account.ANN" not in {u.user_id for u in World.load(state).amc[AMC[1]].users}


def test_one_account_of_a_hundred_reads_at_most_two_percent_of_a_full_plan(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = [f"ENTITYSCOPEM{n:04d}" for n in range(100)]
    state = seed(tmp_path, capsys, many)
    sha = commit(repo, "base", accounts=many)
    code, out = plan(capsys, state, repo, "--debug")
    assert code == EXIT_OK, out
    full = len(requests(out))
    carol = {"email": "carol@corp.example", "role": "viewer"}
    commit(repo, "carol", accounts=many, extra={many[42]: [carol]})
    saved = tmp_path / "plan.json"
    code, out = plan(capsys, state, repo, "--changed-since", sha, "--debug", "--out", str(saved))
    assert code == EXIT_OK, out
    scoped = len(requests(out))
    assert 0 < scoped <= 0.02 * full, (scoped, full)
    assert "+ invite carol@corp.example as viewer" in out
    # A console change elsewhere before the merge: the saved plan still applies.
    run(capsys, "sandbox", "remove-user", "--sandbox-state", state, many[7], "amzn1.account.ANN")
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--plan", str(saved), str(repo / "m")
    )
    assert code == EXIT_OK, out
    assert invitations(state, many[42]) == {"carol@corp.example": "viewer"}
