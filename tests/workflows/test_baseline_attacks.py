"""Adversarial review of `--baseline REF` (review-15b): adopt's evidence gate,
the layout-based line editor and the git handling in `reconciler.workflows.baseline`. The review
found 14 defects, each first a strict xfail; all are fixed (one by decision: no symbolic
link at REF is followed, so such a baseline is refused, never read as absent), and every
attack stays as a regression test."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from tests.driver import (
    A_ANN,
    A_BOSS,
    A_ZED,
    AMC,
    ANN,
    BOSS,
    CHANGED,
    CY,
    SEED,
    UNAPPLIED,
    amc_doc,
    bytes_of,
    commit,
    console_role,
    day,
    drift,
    git,
    line_of,
    run,
    seed,
    seed_state,
    settled,
    setup,
    users_of,
)
from tests.driver import adopt as a_adopt

OUTSIDE_AMC = "ENTITYOUTSIDE001"
AMC2 = "ENTITYWHO0000002"
MANAGER = "amzn1.ads1.ma1.REVIEW15B"


# --- adopt's evidence gate and the drift classes it rests on -------------------------------


def test_adopt_never_adds_back_a_user_a_merged_change_removed(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, a = applied
    commit(repo, [BOSS, CY], "B: ann leaves")  # merged, not applied yet
    console_role(capsys, state, "ann", "admin")  # meanwhile, in the console
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, str(repo / "m"))
    assert code in (EXIT_OK, EXIT_CHANGES), out
    assert "amzn1.account.ANN" not in users_of(repo), out


def test_adopt_never_raises_a_role_a_merged_change_set_lower(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = seed_state(tmp_path, capsys, [SEED[0], SEED[2]])
    a = commit(repo, [BOSS, CY], "A")
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", str(repo / "m"))
    assert code == EXIT_OK, out
    code, out = run(
        capsys, "sandbox", "add-user", "--sandbox-state", state, AMC, "ann@corp.example",
        "--role", "admin", "--user-id", "amzn1.account.ANN",
    )  # fmt: skip
    assert code == EXIT_OK, out
    commit(repo, [BOSS, ANN, CY], "B: ann joins as viewer")
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, str(repo / "m"))
    assert code in (EXIT_OK, EXIT_CHANGES), out
    assert users_of(repo)["amzn1.account.ANN"] == "viewer", out


def test_a_console_change_on_a_grant_expired_at_ref_is_not_called_unapplied(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    a = commit(repo, [BOSS, {**ANN, "expires": day(-1)}, CY], "A (applied before ann's end)")
    commit(repo, [BOSS, {**ANN, "expires": day(300)}, CY], "B: ann stays a year")
    console_role(capsys, state, "ann", "admin")
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert not line_of(out, "amzn1.account.ANN").startswith(f"  {UNAPPLIED} "), out


DSP_WORLD = seed(
    accounts=[
        {"id": "ENTITYATTACK0001", "name": "Shop 1"},
        {
            "id": "ENTITYATTACKDSP1",
            "name": "DSP one",
            "type": "DSP_ADVERTISING_ACCOUNT",
            "dsp_advertiser_id": "5830000000001",
        },
    ],
    manager_accounts=[
        {
            "id": MANAGER,
            "name": "Review Co",
            "type": "Agency",
            "links": ["ENTITYATTACK0001", "ENTITYATTACKDSP1"],
        }
    ],
)


def links_commit(root: Path, links: list[dict[str, str]], message: str) -> str:
    doc = {
        "version": 1,
        "managerAccounts": [{"name": "Review Co", "id": MANAGER, "linkedAccounts": links}],
    }
    (root / "m").mkdir(exist_ok=True)
    (root / "m" / "links.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", message)
    return git(root, "rev-parse", "HEAD")


def no_changes(capsys: pytest.CaptureFixture[str], state: str, root: Path) -> None:
    code, out = run(
        capsys, "plan", "--sandbox-state", state, "--detailed-exitcode", str(root / "m")
    )
    assert code == EXIT_OK and "No changes." in out, out


def test_a_console_unlink_of_a_link_relisted_by_another_id_is_not_called_unapplied(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(DSP_WORLD), encoding="utf-8")
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed_file))[0] == 0
    )
    shop = {"id": "ENTITYATTACK0001"}
    a = links_commit(
        repo, [shop, {"id": "5830000000001", "idType": "DSP_ADVERTISER_ID"}], "A (applied)"
    )
    no_changes(capsys, state, repo)  # A is what is live
    links_commit(repo, [shop, {"id": "ENTITYATTACKDSP1"}], "B: the same link, by account id")
    no_changes(capsys, state, repo)  # B changes nothing live
    code, out = run(
        capsys, "sandbox", "unlink", "--sandbox-state", state, MANAGER, "ENTITYATTACKDSP1"
    )
    assert code == EXIT_OK, out
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert not line_of(out, "ENTITYATTACKDSP1").startswith(f"  {UNAPPLIED} "), out


def test_adopt_against_the_last_apply_adopts_a_console_unlink_and_keeps_a_merged_link(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(DSP_WORLD), encoding="utf-8")
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed_file))[0] == 0
    )
    dsp = {"id": "5830000000001", "idType": "DSP_ADVERTISER_ID"}
    a = links_commit(repo, [{"id": "ENTITYATTACK0001"}, dsp], "A (applied)")
    no_changes(capsys, state, repo)
    # Merged, not applied: the DSP link goes (prune). Console: shop 1 is unlinked.
    links_commit(repo, [{"id": "ENTITYATTACK0001"}], "B: the DSP link goes")
    code, out = run(
        capsys, "sandbox", "unlink", "--sandbox-state", state, MANAGER, "ENTITYATTACK0001"
    )
    assert code == EXIT_OK, out
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, str(repo / "m"))
    assert code == EXIT_CHANGES, out
    doc = yaml.safe_load((repo / "m" / "links.yaml").read_text(encoding="utf-8"))
    assert doc["managerAccounts"][0]["linkedAccounts"] == []  # the console unlink, adopted
    # The DSP link B removes is still linked live: not added back.
    assert "not adopted: not applied yet" in out, out
    code, out = run(capsys, "plan", "--sandbox-state", state, "--format", "json", str(repo / "m"))
    document, _ = json.JSONDecoder().raw_decode(out[out.index("{") :])
    assert [(x["kind"], x["target"]) for x in document["actions"]] == [
        ("disassociate", "5830000000001")
    ]


def pinned_without_email(
    root: Path, state: str, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    """A lists ann by `userId:` alone (applied); B adds quinn so, never live; the console
    removes ann. adopt --baseline A: (its output, quinn's line)."""
    only_ann = {"userId": "amzn1.account.ANN", "role": "viewer"}
    a = commit(root, [BOSS, only_ann, CY], "A: ann by id")
    no_changes(capsys, state, root)
    quinn = {"userId": "amzn1.account.QUINN", "role": "viewer"}
    commit(root, [BOSS, only_ann, CY, quinn], "B: quinn by id")
    code, out = run(
        capsys, "sandbox", "remove-user", "--sandbox-state", state, AMC, "amzn1.account.ANN"
    )
    assert code == EXIT_OK, out
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, str(root / "m"))
    assert code == EXIT_CHANGES, out
    (line,) = [x for x in out.splitlines() if "QUINN" in x]
    return out, line


def test_pinned_users_without_email_gone_live_against_the_last_apply(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ann, listed by id at A and removed in the console, goes from the manifests; quinn,
    listed so only since A, is kept and listed."""
    out, line = pinned_without_email(repo, applied[0], capsys)
    assert users_of(repo) == {
        "amzn1.account.BOSS": "admin",
        "amzn1.account.CY": "viewer",
        "amzn1.account.QUINN": "viewer",
    }, out
    assert line.startswith("not adopted: "), out


def test_adopt_never_tells_to_apply_what_apply_cannot_make(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _out, line = pinned_without_email(repo, applied[0], capsys)
    assert "apply it" not in line, line


def dropped_account(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    """A manages AMC and a second account (applied); B stops managing the second one
    (merged, so nothing of it is read now); ann is made admin in the console. (state, A)"""
    world = seed((AMC, [A_BOSS, A_ANN]), (AMC2, [A_BOSS]))
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(world), encoding="utf-8")
    state = str(tmp_path / "state.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed_file))[0] == 0
    )
    two = {
        "version": 1,
        "amcAccounts": [
            {"id": AMC, "users": [dict(BOSS), dict(ANN)]},
            {"id": AMC2, "users": [dict(BOSS)]},
        ],
    }
    (root / "m").mkdir()
    (root / "m" / "amc.yaml").write_text(yaml.safe_dump(two), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "A: two accounts")
    a = git(root, "rev-parse", "HEAD")
    commit(root, [BOSS, ANN], "B: the second account is no longer managed here")
    console_role(capsys, state, "ann", "admin")
    return state, a


def test_an_account_dropped_from_the_manifests_since_ref_is_no_baseline_error(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, a = dropped_account(repo, tmp_path, capsys)
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {CHANGED} "), out
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, str(repo / "m"))
    assert code == EXIT_CHANGES, out
    assert users_of(repo)["amzn1.account.ANN"] == "admin", out


def test_a_baseline_plan_error_names_the_file_in_the_repository_not_the_temporary_copy(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, a = dropped_account(repo, tmp_path, capsys)
    _code, out = drift(capsys, state, repo, "--baseline", a)
    assert "reconciler-baseline-" not in out, out


def test_ref_whose_only_admin_grant_has_passed_since_is_still_a_baseline(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A was valid when applied: its one admin's `expires:` passed only since (B extends
    it). REF's manifests are judged as they were, not refused as under minAdmins today."""
    state = seed_state(tmp_path, capsys, SEED)
    a = commit(repo, [{**BOSS, "expires": day(-1)}, ANN, CY], "A (applied before boss's end)")
    commit(repo, [{**BOSS, "expires": day(300)}, ANN, CY], "B: boss stays a year")
    console_role(capsys, state, "cy", "admin")
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.CY").startswith(f"  {CHANGED} "), out


# --- the plan file's baseline and drift array ----------------------------------------------


def saved_plan(
    root: Path, state: str, a: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    console_role(capsys, state, "ann", "admin")
    commit(root, [BOSS, ANN, {**CY, "role": "admin"}], "B")
    plan_file = tmp_path / "plan.json"
    code, out = run(
        capsys, "plan", "--sandbox-state", state, "--baseline", a, "--out", str(plan_file),
        str(root / "m"),
    )  # fmt: skip
    assert code == EXIT_OK, out
    data: dict[str, Any] = json.loads(plan_file.read_text(encoding="utf-8"))
    return data


HOSTILE_REF = (
    "main\x1b[2J\x1b]8;;https://evil.example\x07\n# Drift: none\u202e\u2028x"
    "<img src=x onerror=alert(1)>|[link](https://evil.example)"
)


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_a_hostile_baseline_ref_in_a_plan_file_is_shown_escaped(
    repo: Path,
    applied: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    state, a = applied
    data = saved_plan(repo, state, a, tmp_path, capsys)
    data["baseline"]["ref"] = HOSTILE_REF
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data), encoding="utf-8")
    code, out = run(capsys, "show", "--format", fmt, str(forged))
    assert code == EXIT_OK, out
    for raw in ("\x1b", "\x07", "\u202e", "\u2028", "\n# Drift: none"):
        assert raw not in out, (raw, out)
    if fmt == "markdown":
        for raw in ("<img", "](https:"):
            assert raw not in out, (raw, out)


@pytest.mark.parametrize(
    "cls", ["read-incomplete", "identity-unresolved", "waiting-for-acceptance"]
)
def test_a_forged_display_only_drift_item_in_a_plan_file_is_never_shown(
    repo: Path,
    applied: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cls: str,
) -> None:
    state, a = applied
    data = saved_plan(repo, state, a, tmp_path, capsys)
    data["drift"].append({"class": cls, "scope": f"amc:{AMC}", "message": "FORGED all clear"})
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data), encoding="utf-8")
    for fmt in ("text", "markdown", "json"):
        code, out = run(capsys, "show", "--format", fmt, str(forged))
        assert "FORGED" not in out, (fmt, code, out)


# --- git handling in reconciler.workflows.baseline ---------------------------------------------


def manifest(account: str) -> str:
    doc = {"version": 1, "amcAccounts": [{"id": account, "users": [BOSS]}]}
    return yaml.safe_dump(doc, sort_keys=False)


def symlinks_commit(
    root: Path,
    links: dict[str, str],
) -> str:
    """A commit holding `links` (path -> symlink target) and nothing else; then HEAD puts
    plain manifests at the same paths, as the working tree a user runs from."""
    for path, to in links.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(to, root / path)
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "links")
    ref = git(root, "rev-parse", "HEAD")
    for path in links:
        (root / path).unlink()
        (root / path).write_text(manifest(AMC), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "plain")
    return ref


def test_a_symlink_at_ref_never_leads_out_of_the_copy_through_another_symlink(
    repo: Path,
    tmp_path: Path,
) -> None:
    from reconciler.errors import BaselineError
    from reconciler.workflows.baseline import manifests_at

    outside = tmp_path / "outside.yaml"
    outside.write_text(manifest(OUTSIDE_AMC), encoding="utf-8")
    hops = 12  # more than the copy's depth below /, fewer than the kernel's 40 links
    escape = "../b/" + "y.yaml/" * hops + "../" * (hops + 1) + str(outside).lstrip("/")
    ref = symlinks_commit(repo, {"a/x.yaml": escape, "b/y.yaml": "."})
    paths = [str(repo / "a" / "x.yaml"), str(repo / "b" / "y.yaml")]
    try:
        revision = manifests_at(ref, paths)
    except BaselineError:
        return
    assert OUTSIDE_AMC not in {a.id for a in revision.desired.amc_accounts}


def test_a_manifests_folder_that_was_a_symlink_at_ref_is_not_read_as_absent(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    (repo / "real").mkdir()
    (repo / "real" / "amc.yaml").write_text(amc_doc([BOSS, ANN, CY]), encoding="utf-8")
    (repo / "m").symlink_to("real")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "A: m -> real")
    a = git(repo, "rev-parse", "HEAD")
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", str(repo / "m"))
    assert code == EXIT_OK, out
    # The folder is made a plain one since (the same manifests).
    (repo / "m").unlink()
    git(repo, "mv", "real", "m")
    git(repo, "commit", "--quiet", "-am", "m is a folder")
    console_role(capsys, state, "ann", "admin")
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert UNAPPLIED not in out, out


def test_a_manifest_file_symlinked_elsewhere_in_the_repository_is_refused_at_ref(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    (repo / "shared").mkdir()
    (repo / "shared" / "amc.yaml").write_text(amc_doc([BOSS, ANN, CY]), encoding="utf-8")
    (repo / "m").mkdir()
    (repo / "m" / "amc.yaml").symlink_to(Path("..") / "shared" / "amc.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "A")
    a = git(repo, "rev-parse", "HEAD")
    target = str(repo / "m" / "amc.yaml")
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", target)
    assert code == EXIT_OK, out
    console_role(capsys, state, "ann", "admin")
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", a, target)
    # Decision: no symbolic link at REF is followed (one could lead out of the copy through
    # another); the baseline is refused, naming the link, never read as absent.
    assert code == EXIT_ERROR, out
    assert "m/amc.yaml is a symbolic link at" in out and UNAPPLIED not in out, out


def test_manifests_in_a_nested_repository_are_not_read_as_absent_at_ref(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    (repo / "m").mkdir()
    (repo / "m" / "policy.yaml").write_text("version: 1\n", encoding="utf-8")
    nested = repo / "team"
    (nested / "m").mkdir(parents=True)
    git(nested, "init", "--quiet", "-b", "main")
    (nested / "m" / "amc.yaml").write_text(amc_doc([BOSS, ANN, CY]), encoding="utf-8")
    git(nested, "add", "-A")
    git(nested, "commit", "--quiet", "-m", "team manifests")
    git(repo, "add", "-A")  # `team` becomes a gitlink (an embedded repository)
    git(repo, "commit", "--quiet", "-m", "A")
    a = git(repo, "rev-parse", "HEAD")
    paths = [str(repo / "m"), str(nested / "m")]
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", *paths)
    assert code == EXIT_OK, out
    console_role(capsys, state, "ann", "admin")
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", a, *paths)
    assert UNAPPLIED not in out, out


def test_a_symlink_loop_at_ref_is_a_one_line_baseline_error(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, _ = applied
    (repo / "m" / "a.yaml").symlink_to("b.yaml")
    (repo / "m" / "b.yaml").symlink_to("a.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "a loop")
    looped = git(repo, "rev-parse", "HEAD")
    git(repo, "rm", "--quiet", "m/a.yaml", "m/b.yaml")
    git(repo, "commit", "--quiet", "-m", "no loop")
    code, out = drift(capsys, state, repo, "--baseline", looped)
    assert code == EXIT_ERROR, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out


@pytest.mark.parametrize(
    "ref",
    ["HEAD^{tree}", "HEAD:m/amc.yaml", "HEAD..HEAD", "HEAD\u202e", "HEAD\x9b2J", "HEAD~1"],
)
def test_a_ref_that_is_no_commit_is_refused_in_one_line(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    ref: str,
) -> None:
    state, _ = applied
    code, out = drift(capsys, state, repo, "--baseline", ref)
    assert code == EXIT_ERROR, out
    (line,) = out.strip().splitlines()
    assert "is not a commit in" in line and "Traceback" not in out
    assert "\u202e" not in out and "\x9b" not in out


def test_an_overlong_ref_is_refused_as_a_ref_not_blamed_on_git(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, _ = applied
    code, out = drift(capsys, state, repo, "--baseline", "a" * 200_000)
    assert code == EXIT_ERROR, out[:300]
    assert "git on PATH" not in out, out[:300]
    assert len(out) < 2_000, out[:300]


def test_a_manifest_at_ref_over_the_size_limit_is_refused_before_it_is_read(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """git says a blob's size before handing it over: one over the loader's cap (64 MiB;
    lowered here so the test stays small) is refused, never read into memory."""
    state, _ = applied
    (repo / "m" / "big.yaml").write_text("version: 1\n" + "#" * 4096 + "\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "big")
    big = git(repo, "rev-parse", "HEAD")
    monkeypatch.setattr("reconciler.workflows.baseline.MAX_FILE_BYTES", 1024)
    code, out = drift(capsys, state, repo, "--baseline", big)
    assert code == EXIT_ERROR, out
    assert f"m/big.yaml at {big[:12]} is larger than the manifests' limit" in out, out


def test_an_annotated_tag_and_paths_dot_dotdot_and_a_symlinked_folder_work(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, a = applied
    git(repo, "tag", "-a", "-m", "applied", "last-apply", a)
    (repo / "view").symlink_to("m")
    console_role(capsys, state, "cy", "admin")
    for cwd, path in ((repo, "."), (repo / "m", ".."), (repo / "m", "."), (repo, "view")):
        monkeypatch.chdir(cwd)
        code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", "last-apply", path)
        assert code == EXIT_CHANGES, (cwd, path, out)
        assert line_of(out, "amzn1.account.CY").startswith(f"  {CHANGED} "), (cwd, path, out)


def test_a_shallow_clone_without_ref_says_to_fetch_the_history(
    repo: Path,
    applied: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, a = applied
    commit(repo, [BOSS, ANN, {**CY, "role": "admin"}], "B")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{repo}", str(clone))
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", a, str(clone / "m"))
    assert code == EXIT_ERROR, out
    assert "fetch-depth: 0" in out and len(out.strip().splitlines()) == 1


# --- the layout-based line editor ----------------------------------------------------------


# Live: boss admin, ann promoted to admin, zed added, gone removed; adopt makes the three
# edits in every layout below, keeps every other field, and the result settles.
EDIT_WORLD = seed((AMC, [A_BOSS, {**A_ANN, "role": "ADMIN"}, A_ZED]))


HEAD = f"version: 1\namcAccounts:\n  - id: {AMC}\n    users:\n"


BOSS_LINE = "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"


EDIT_LAYOUTS = {
    "block-scalar-reason-with-blank-lines": HEAD
    + BOSS_LINE
    + "      - email: gone@corp.example\n"
    + "        role: viewer\n"
    + f"        expires: '{day(300)}'\n"
    + "        reason: |\n"
    + "          left the team\n"
    + "\n"
    + "      # ann, below\n"
    + "      - email: ann@corp.example\n"
    + "        userId: amzn1.account.ANN\n"
    + "        role: viewer\n"
    + f"        expires: '{day(300)}'\n"
    + "        reason: >-\n"
    + "          folded\n"
    + "          text\n",
    "keep-chomped-scalar-last-in-file": HEAD
    + BOSS_LINE
    + "      - email: ann@corp.example\n"
    + "        userId: amzn1.account.ANN\n"
    + "        role: viewer\n"
    + "      - email: gone@corp.example\n"
    + "        role: viewer\n"
    + f"        expires: '{day(300)}'\n"
    + "        reason: |+\n"
    + "          kept\n"
    + "\n"
    + "\n",
    "nel-ls-ps-in-quoted-names": HEAD
    + BOSS_LINE
    + '      - {email: gone@corp.example, name: "G\x85one", role: viewer}\n'
    + '      - name: "Ann\u2028Smith\u2029Jr"\n'
    + "        email: ann@corp.example\n"
    + "        userId: amzn1.account.ANN\n"
    + '        role: viewer   # "was" viewer?\n',
    "multi-line-flow-mappings": HEAD
    + BOSS_LINE
    + "      - {email: gone@corp.example,\n"
    + "         role: viewer}\n"
    + "      - {email: ann@corp.example, userId: amzn1.account.ANN,\n"
    + "         role: viewer}\n",
    "quoted-keys-and-values": HEAD
    + BOSS_LINE
    + "      - 'email': \"gone@corp.example\"\n"
    + "        \"role\": 'viewer'\n"
    + "      - \"email\": 'ann@corp.example'\n"
    + "        'userId': \"amzn1.account.ANN\"\n"
    + '        "role": "viewer"\n',
    "document-markers-and-comments": "# header\n%YAML 1.1\n---\n# after\n"
    + HEAD
    + BOSS_LINE
    + "      - {email: gone@corp.example, role: viewer}\n"
    + "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
    + "...\n# trailer\n",
    "nested-block-lists-last-in-entries": HEAD
    + BOSS_LINE
    + "      - email: gone@corp.example\n"
    + "        role: viewer\n"
    + "        notUserIds:\n"
    + "          - amzn1.account.OLD1\n"
    + "          # another, once\n"
    + "\n"
    + "          - amzn1.account.OLD2\n"
    + "      - email: ann@corp.example\n"
    + "        role: viewer\n"
    + "        userId: amzn1.account.ANN\n"
    + "        notUserIds:\n"
    + "        - amzn1.account.OLD3\n",
    "wide-dashes-and-deep-indent": f"version: 1\namcAccounts:\n-   id: {AMC}\n    users:\n"
    + "            -    email: boss@corp.example\n"
    + "                 userId: amzn1.account.BOSS\n"
    + "                 role: admin\n"
    + "            -    email: gone@corp.example\n"
    + "                 role: viewer\n"
    + "            -    {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n",
}


@pytest.mark.parametrize("name", sorted(EDIT_LAYOUTS))
@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("bom", [False, True], ids=["", "bom"])
def test_every_edit_in_unusual_layouts_settles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, ending: str, bom: bool
) -> None:
    text = ("\ufeff" if bom else "") + EDIT_LAYOUTS[name].replace("\n", ending)
    before = yaml.safe_load(text.removeprefix("\ufeff"))["amcAccounts"][0]["users"]
    state, folder = setup(tmp_path, capsys, EDIT_WORLD, {"access.yaml": text})
    code, out = a_adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    raw = bytes_of(folder)
    assert raw.startswith(b"\xef\xbb\xbf") is bom
    after = raw.decode("utf-8").removeprefix("\ufeff")
    if ending != "\n":
        assert "\n" not in after.replace(ending, ""), after
    users = yaml.safe_load(after)["amcAccounts"][0]["users"]
    ann_before = next(u for u in before if u.get("userId") == "amzn1.account.ANN")
    ann = next(u for u in users if u.get("userId") == "amzn1.account.ANN")
    assert ann == {**ann_before, "role": "admin"}, after
    assert not any(u.get("email") == "gone@corp.example" for u in users), after
    assert {"userId": "amzn1.account.ZED", "role": "viewer"} in users, after
    assert len(users) == 3, after
    settled(capsys, state, folder)


GONE_ENTRIES = (
    "      - {email: gone@corp.example, role: viewer}\n"
    "      - email: went@corp.example   # [x]: y\n"
    "        role: viewer\n"
    "\n"
    "        # went's reason, below a blank line\n"
    f"        expires: '{day(300)}'\n"
    "        reason: |\n"
    "          moved on\n"
)


EMPTIED_KEYS = {
    "plain": ("    users:\n", "    users: []\n"),
    "comment": ("    users:   # both gone # really\n", "    users: []   # both gone # really\n"),
    "space-before-colon": ("    users :\n", "    users : []\n"),
    "double-quoted": ('    "users":\n', '    "users": []\n'),
    "single-quoted": ("    'users':  #c\n", "    'users': []  #c\n"),
}


@pytest.mark.parametrize("key", sorted(EMPTIED_KEYS))
@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_list_whose_every_entry_goes_becomes_an_empty_list_in_any_key_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, ending: str
) -> None:
    line, emptied = EMPTIED_KEYS[key]
    text = (
        f"version: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0\n{line}{GONE_ENTRIES}"
        f"  - id: {AMC2}\n    users:\n      - {{email: boss@corp.example, role: admin}}\n"
    ).replace("\n", ending)
    world = seed((AMC, []), (AMC2, [A_BOSS]))
    state, folder = setup(tmp_path, capsys, world, {"access.yaml": text})
    code, out = a_adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    after = bytes_of(folder).decode()
    expected = (
        f"version: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0\n{emptied}"
        f"  - id: {AMC2}\n    users:\n      - {{email: boss@corp.example, role: admin}}\n"
    ).replace("\n", ending)
    assert after == expected
    settled(capsys, state, folder)


NO_USERS_KEY_TAILS = {
    "policy-block-lists": "    policy:\n      allowedEmailDomains:\n        - corp.example\n"
    "        # more later\n\n",
    "policy-multi-line-flow": "    policy: {allowedEmailDomains: [corp.example,\n"
    "                                   other.example]}\n",
    "notes-in-block-scalar": "    minAdmins: 0\n    # |\n    #   not a scalar\n",
}


@pytest.mark.parametrize("tail", sorted(NO_USERS_KEY_TAILS))
def test_a_users_key_is_added_after_lists_and_flows_that_end_the_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tail: str
) -> None:
    text = (
        f"version: 1\namcAccounts:\n  - id: {AMC}\n    minAdmins: 0\n"
        + NO_USERS_KEY_TAILS[tail].replace("    minAdmins: 0\n", "")
        + f"  - id: {AMC2}\n    users:\n      - {{email: boss@corp.example, role: admin}}\n"
    )
    state, folder = setup(
        tmp_path, capsys, seed((AMC, [A_ZED]), (AMC2, [A_BOSS])), {"access.yaml": text}
    )
    code, out = a_adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    assert "not adopted" not in out, out
    doc = yaml.safe_load(bytes_of(folder))
    assert doc["amcAccounts"][0]["users"] == [{"userId": "amzn1.account.ZED", "role": "viewer"}]
    assert doc["amcAccounts"][1]["users"] == [{"email": "boss@corp.example", "role": "admin"}]
    settled(capsys, state, folder)


def test_lines_adopt_writes_never_end_with_nel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1  # access for the shop\x85"
        "amcAccounts:\n"
        f"  - id: {AMC}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        f"  - id: {AMC2}\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
    )
    state, folder = setup(
        tmp_path, capsys, seed((AMC, [A_BOSS, A_ZED]), (AMC2, [A_BOSS])), {"access.yaml": text}
    )
    code, out = a_adopt(capsys, state, folder)
    assert code == EXIT_CHANGES, out
    after = bytes_of(folder).decode()
    assert "amzn1.account.ZED" in after
    assert after.count("\x85") == 1, after
