"""`--baseline REF` through the CLI against the sandbox and a real git repository: a console
change (live moved away from what REF applied) is `changed`, a manifest change not applied
yet is `unapplied`, and without a baseline neither is claimed (`differs`). adopt against REF
never reverts a merged change apply has not made yet; REF's manifests are read from git as
they stood (each `expires:` at REF's commit time), no symbolic link at REF is followed, and
a bad REF is a one-line error naming it and the fix."""

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
    AMC,
    ANN,
    BOSS,
    CHANGED,
    CY,
    SEED,
    UNAPPLIED,
    amc_doc,
    commit,
    console_role,
    day,
    drift,
    git,
    line_of,
    run,
    seed,
    seed_state,
    users_of,
)

MANAGER = "amzn1.ads1.ma1.BASELINE"


# --- drift classes against REF: changed, not applied yet, or neither claimed -----------------


DIFFERS = "[changed behind git's back or not applied yet]"


def test_a_console_change_after_the_applied_commit_is_changed(
    repo: Path, applied: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, a = applied
    console_role(capsys, state, "ann", "admin")
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {CHANGED} amc:{AMC}: set role")
    assert f"Drift by class (against baseline {a[:12]}):" in out
    assert "Drift: 1 changed behind git's back." in out
    # A branch name works as well as a sha, and says both.
    code, out = drift(capsys, state, repo, "--baseline", "main")
    assert f"Drift by class (against baseline main at {a[:12]}):" in out


def test_without_a_baseline_neither_is_claimed(
    repo: Path, applied: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, _ = applied
    console_role(capsys, state, "ann", "admin")
    code, out = drift(capsys, state, repo)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {DIFFERS} ")
    assert CHANGED not in out and UNAPPLIED not in out
    assert "`--baseline REF` (REF: the commit of the last successful apply) tells which" in out


def test_a_manifest_change_not_applied_is_unapplied_and_both_on_one_target_is_changed(
    repo: Path, applied: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, a = applied
    console_role(capsys, state, "ann", "admin")
    # B: cy becomes admin, dee is invited, ann (made admin in the console) is removed.
    commit(
        repo,
        [BOSS, {**CY, "role": "admin"}, {"email": "Dee@Corp.example", "role": "viewer"}],
        "B",
    )
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.CY").startswith(f"  {UNAPPLIED} ")
    assert line_of(out, "invite Dee@Corp.example").startswith(f"  {UNAPPLIED} ")
    # A removed ann; the console had changed her too: live differs from what A applied.
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {CHANGED} ")
    assert "revoke user" in line_of(out, "amzn1.account.ANN")
    assert "Drift: 1 changed behind git's back, 2 not applied yet." in out
    # A commit that was never applied is no baseline: against B itself every change looks
    # like a console change. REF must be the last successful apply (README).
    code, out = drift(capsys, state, repo, "--baseline", "HEAD")
    assert "Drift: 3 changed behind git's back." in out


def test_a_path_absent_at_the_baseline_contributes_nothing(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    (repo / "README").write_text("access\n", encoding="utf-8")
    git(repo, "add", "README")
    git(repo, "commit", "--quiet", "-m", "before any manifest")
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, [BOSS, {**ANN, "role": "admin"}, CY], "manifests")
    code, out = drift(capsys, state, repo, "--baseline", first)
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {UNAPPLIED} ")


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


DSP_WORLD = seed(
    accounts=[
        {"id": "ENTITYAGENCY0001", "name": "Shop 1"},
        {
            "id": "ENTITYAGENCYDSP1",
            "name": "DSP one",
            "type": "DSP_ADVERTISING_ACCOUNT",
            "dsp_advertiser_id": "5830000000001",
        },
    ],
    manager_accounts=[
        {
            "id": MANAGER,
            "name": "Baseline Co",
            "type": "Agency",
            "links": ["ENTITYAGENCY0001", "ENTITYAGENCYDSP1"],
        }
    ],
)


def links_commit(root: Path, links: list[dict[str, str]], message: str) -> str:
    doc = {
        "version": 1,
        "managerAccounts": [{"name": "Baseline Co", "id": MANAGER, "linkedAccounts": links}],
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
    shop = {"id": "ENTITYAGENCY0001"}
    a = links_commit(
        repo, [shop, {"id": "5830000000001", "idType": "DSP_ADVERTISER_ID"}], "A (applied)"
    )
    no_changes(capsys, state, repo)  # A is what is live
    links_commit(repo, [shop, {"id": "ENTITYAGENCYDSP1"}], "B: the same link, by account id")
    no_changes(capsys, state, repo)  # B changes nothing live
    code, out = run(
        capsys, "sandbox", "unlink", "--sandbox-state", state, MANAGER, "ENTITYAGENCYDSP1"
    )
    assert code == EXIT_OK, out
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert not line_of(out, "ENTITYAGENCYDSP1").startswith(f"  {UNAPPLIED} "), out


# --- grants REF ended: each `expires:` is kept as it stood at REF's commit time --------------


def apply(capsys: pytest.CaptureFixture[str], state: str, repo: Path) -> None:
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", str(repo / "m"))
    assert code == EXIT_OK, out


def ended_then_regranted(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> tuple[str, str]:
    """A: ann's grant ended on purpose (`expires:` passed); apply A removes her. B (merged,
    not applied yet): ann's grant is renewed for a year. Live has not moved since A."""
    state = seed_state(tmp_path, capsys, SEED)
    a = commit(repo, [BOSS, {**ANN, "expires": day(-2)}, CY], "A: ann's access ended")
    apply(capsys, state, repo)
    commit(repo, [BOSS, {**ANN, "expires": day(300)}, CY], "B: ann renewed for a year")
    return state, a


def test_a_renewal_of_a_grant_ref_ended_is_not_applied_yet_in_drift(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, a = ended_then_regranted(repo, tmp_path, capsys)
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert not line_of(out, "ann@corp.example").startswith(f"  {CHANGED} "), out


def test_adopt_never_reverts_a_merged_renewal_of_a_grant_ref_ended(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, a = ended_then_regranted(repo, tmp_path, capsys)
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, str(repo / "m"))
    assert code in (EXIT_OK, EXIT_CHANGES), out
    assert "amzn1.account.ANN" in users_of(repo), out


def test_adopt_never_raises_a_role_over_a_merged_renewal_of_a_grant_ref_ended(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    a = commit(repo, [BOSS, {**ANN, "expires": day(-2)}, CY], "A: ann's access ended")
    apply(capsys, state, repo)
    # In the console, ann is let back in as admin; B (merged, not applied yet) renews her
    # grant as viewer. What ann's role should be was decided in B's review.
    code, out = run(
        capsys, "sandbox", "add-user", "--sandbox-state", state, AMC, "ann@corp.example",
        "--role", "admin", "--user-id", "amzn1.account.ANN",
    )  # fmt: skip
    assert code == EXIT_OK, out
    commit(repo, [BOSS, {**ANN, "expires": day(300)}, CY], "B: ann renewed as viewer")
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, str(repo / "m"))
    assert code in (EXIT_OK, EXIT_CHANGES), out
    assert users_of(repo)["amzn1.account.ANN"] == "viewer", out


def test_a_console_readd_after_an_expiring_cleanup_is_not_called_unapplied(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    a = commit(repo, [BOSS, {**ANN, "expires": day(-2)}, CY], "A: ann's access ended")
    apply(capsys, state, repo)  # ann removed
    # B: `adopt --expiring`'s pull request drops the ended entry (nothing for apply to do).
    commit(repo, [BOSS, CY], "B: adopt --expiring")
    code, out = run(
        capsys, "sandbox", "add-user", "--sandbox-state", state, AMC, "ann@corp.example",
        "--role", "viewer", "--user-id", "amzn1.account.ANN",
    )  # fmt: skip
    assert code == EXIT_OK, out  # someone lets ann back in through the console
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert not line_of(out, "amzn1.account.ANN").startswith(f"  {UNAPPLIED} "), out


def test_a_console_readd_of_a_grant_still_ended_in_git_is_expired_and_never_adopted(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Keeping REF's `expires:` never lets adopt re-add a person whose access git ended and
    still ends: drift calls the console re-add an expired grant, and adopt writes nothing."""
    state = seed_state(tmp_path, capsys, SEED)
    a = commit(repo, [BOSS, {**ANN, "expires": day(-2)}, CY], "A: ann's access ended")
    apply(capsys, state, repo)
    code, out = run(
        capsys, "sandbox", "add-user", "--sandbox-state", state, AMC, "ann@corp.example",
        "--role", "admin", "--user-id", "amzn1.account.ANN",
    )  # fmt: skip
    assert code == EXIT_OK, out
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert line_of(out, "amzn1.account.ANN").startswith("  [grant expired] "), out
    before = (repo / "m" / "amc.yaml").read_bytes()
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, str(repo / "m"))
    assert code == EXIT_OK and "Nothing to adopt." in out, out
    assert (repo / "m" / "amc.yaml").read_bytes() == before


# --- adopt --baseline: a merged change not applied yet is never reverted ---------------------


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
    a = links_commit(repo, [{"id": "ENTITYAGENCY0001"}, dsp], "A (applied)")
    no_changes(capsys, state, repo)
    # Merged, not applied: the DSP link goes (prune). Console: shop 1 is unlinked.
    links_commit(repo, [{"id": "ENTITYAGENCY0001"}], "B: the DSP link goes")
    code, out = run(
        capsys, "sandbox", "unlink", "--sandbox-state", state, MANAGER, "ENTITYAGENCY0001"
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
    listed so only since A, is kept and listed, and adopt never tells to apply what apply
    cannot make (quinn, listed by id alone, cannot be invited)."""
    out, line = pinned_without_email(repo, applied[0], capsys)
    assert users_of(repo) == {
        "amzn1.account.BOSS": "admin",
        "amzn1.account.CY": "viewer",
        "amzn1.account.QUINN": "viewer",
    }, out
    assert line.startswith("not adopted: "), out
    assert "apply it" not in line, line


def dropped_account(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    """A manages AMC and a second account (applied); B stops managing the second one
    (merged, so nothing of it is read now); ann is made admin in the console. (state, A)"""
    world = seed((AMC, [A_BOSS, A_ANN]), (OTHER, [A_BOSS]))
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
            {"id": OTHER, "users": [dict(BOSS)]},
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
    """REF's plan covers an account the manifests no longer list: no error, no temporary
    path in the output, and ann's console promotion is changed and adopted."""
    state, a = dropped_account(repo, tmp_path, capsys)
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert "reconciler-baseline-" not in out, out  # names files in the repository, if any
    assert line_of(out, "amzn1.account.ANN").startswith(f"  {CHANGED} "), out
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, str(repo / "m"))
    assert code == EXIT_CHANGES, out
    assert users_of(repo)["amzn1.account.ANN"] == "admin", out


# --- what leaves management, and what the policy loosened, since REF -------------------------


OTHER = "ENTITYWHO0000002"


def commit_text(repo: Path, text: str, message: str) -> str:
    folder = repo / "m"
    folder.mkdir(exist_ok=True)
    (folder / "amc.yaml").write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def two_accounts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    people = [
        {"email": f"{n}@corp.example", "user_id": f"amzn1.account.{n.upper()}", "role": r}
        for n, r in (("boss", "ADMIN"), ("ann", "VIEWER"), ("cy", "VIEWER"))
    ]
    seed = tmp_path / "seed2.yaml"
    seed.write_text(
        yaml.safe_dump(
            {"amc_accounts": [{"id": AMC, "users": people}, {"id": OTHER, "users": people}]}
        ),
        encoding="utf-8",
    )
    state = str(tmp_path / "state2.json")
    assert (
        run(capsys, "sandbox", "reset", "--sandbox-state", state, "--seed", str(seed))[0] == EXIT_OK
    )
    return state


def account_block(account: str, extra: str = "") -> str:
    return (
        f"  - id: {account}\n{extra}    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
        "      - {email: cy@corp.example, userId: amzn1.account.CY, role: viewer}\n"
    )


def test_an_account_deleted_from_the_manifests_is_no_longer_managed_drift(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = two_accounts(tmp_path, capsys)
    head = "version: 1\namcAccounts:\n"
    a = commit_text(repo, head + account_block(AMC) + account_block(OTHER), "A: both")
    assert drift(capsys, state, repo)[0] == EXIT_OK
    commit_text(repo, head + account_block(AMC), "B: the other account's block deleted")
    assert drift(capsys, state, repo)[0] == EXIT_OK  # nothing can say so without REF
    code, out = drift(capsys, state, repo, "--baseline", a)
    assert code == EXIT_CHANGES, out
    assert line_of(out, OTHER) == (
        f"  [no longer managed] amc:{OTHER}: no longer managed: 3 people keep access (3 "
        f"users, 0 invited); managed at {a[:12]} (m/amc.yaml:8), nothing watches it any "
        "more: list it again in the manifests, or remove its people in the console"
    )
    assert "Drift: 1 no longer managed." in out
    code, js = run(
        capsys, "plan", "--sandbox-state", state, "--baseline", a, "--format", "json",
        str(repo / "m"),
    )  # fmt: skip
    assert code == EXIT_OK
    (gone,) = json.loads(js)["baseline"]["noLongerManaged"]
    assert gone["scope"] == f"amc:{OTHER}"


def test_the_policy_is_shown_with_its_provenance_and_loosenings_are_marked(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = two_accounts(tmp_path, capsys)
    policy = (
        "version: 1\npolicy:\n  allowedEmailDomains: [corp.example]\n  maxRemovals: 5\n"
        "  protectedUsers: [amzn1.account.BOSS]\namcAccounts:\n"
    )
    a = commit_text(repo, policy + account_block(AMC), "A")
    looser = policy.replace("maxRemovals: 5", "maxRemovals: 50").replace(
        "  protectedUsers: [amzn1.account.BOSS]\n", ""
    )
    own = "    policy:\n      allowedEmailDomains: [evil.example]\n"
    commit_text(repo, looser + account_block(AMC, own), "B: looser")
    m = str(repo / "m")
    code, out = run(capsys, "plan", "--sandbox-state", state, m)
    assert code == EXIT_OK, out
    assert f"  amc:{AMC}: allowedEmailDomains adds evil.example (m/amc.yaml:7)" in out.replace(
        f"{repo}/", ""
    )
    code, out = run(capsys, "plan", "--sandbox-state", state, "--baseline", a, m)
    assert code == EXIT_OK, out
    shown = out.replace(f"{repo}/", "")
    assert "Policy changed since the baseline (LOOSENED: a loosening):" in shown
    assert f"  ! LOOSENED: amc:{AMC}: allowedEmailDomains adds evil.example (m/amc.yaml:7)" in (
        shown
    )
    assert "  ! LOOSENED: maxRemovals raised from 5 to 50 (m/amc.yaml:4)" in shown
    assert "  ! LOOSENED: protectedUsers no longer protects amzn1.account.BOSS" in shown


def test_every_loosening_of_the_policy_is_marked() -> None:
    from reconciler.model import Desired, DesiredPolicy, Source
    from reconciler.workflows.baseline import policy_changes

    then = Desired(
        policy=DesiredPolicy(
            max_removals=5,
            allowed_email_domains=("corp.example",),
            admin_groups=("admins",),
            protected_users=("amzn1.account.GLASS",),
            admin_members=frozenset({"a@corp.example"}),
            sources={"maxRemovals": Source("/tmp/private/m/p.yaml", 3)},
        )
    )
    now = Desired(
        policy=DesiredPolicy(
            max_removals=3,
            admin_groups=("admins", "ops"),
            admin_members=frozenset({"a@corp.example", "o@corp.example"}),
            sources={"maxRemovals": Source("m/p.yaml", 3), "adminGroups": Source("m/p.yaml", 4)},
        )
    )
    assert policy_changes(then, now) == (
        "LOOSENED: allowedEmailDomains removed: any is allowed now",
        "LOOSENED: adminGroups adds ops (m/p.yaml:4)",
        "LOOSENED: the admin groups gain o@corp.example (m/p.yaml:4)",
        "LOOSENED: protectedUsers no longer protects amzn1.account.GLASS",
        "maxRemovals lowered from 5 to 3 (m/p.yaml:3)",
    )


# --- the plan file's baseline and drift array ------------------------------------------------


def test_apply_has_no_baseline(
    repo: Path, applied: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    state, a = applied
    code, out = run(capsys, "apply", "--sandbox-state", state, "--baseline", a, str(repo / "m"))
    assert code == 64 and "No such option '--baseline'" in out


def test_a_plan_file_with_a_baseline_shows_applies_and_refuses_tampering(
    repo: Path,
    applied: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, a = applied
    console_role(capsys, state, "ann", "admin")
    commit(repo, [BOSS, ANN, {**CY, "role": "admin"}], "B")
    plan_file = tmp_path / "plan.json"
    code, out = run(
        capsys, "plan", "--sandbox-state", state, "--baseline", a, "--out", str(plan_file),
        str(repo / "m"),
    )  # fmt: skip
    assert code == EXIT_OK, out
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    assert data["baseline"] == {
        "ref": a,
        "commit": a,
        "alsoInBaseline": [{"scope": f"amc:{AMC}", "target": "user:amzn1.account.ANN"}],
        "heldBackInBaseline": [],
        "noLongerManaged": [],
        "policyChanges": [],
    }
    classes = {item["class"] for item in data["drift"]}
    assert classes == {"changed", "unapplied"}
    for fmt, expected in (
        ("text", f"{CHANGED} amc:{AMC}: set role of"),
        ("markdown", f"Against baseline {a[:12]}."),
        ("json", '"class": "unapplied"'),
    ):
        code, out = run(capsys, "show", "--format", fmt, str(plan_file))
        assert code == EXIT_OK, out
        assert expected in out
    # The baseline is not part of what runs: the saved plan applies as any other.
    code, out = run(
        capsys, "apply", "--sandbox-state", state, "--plan", str(plan_file), str(repo / "m")
    )
    assert code == EXIT_OK, out
    assert "is the plan of these manifests now" in out
    # A console change passed off as not applied yet (or the reverse) is refused.
    for tamper in ("unapplied", "changed", "differs"):
        edited = json.loads(json.dumps(data))
        for item in edited["drift"]:
            if item["class"] in ("changed", "unapplied"):
                item["class"] = tamper
        bad = tmp_path / f"{tamper}.json"
        bad.write_text(json.dumps(edited), encoding="utf-8")
        code, out = run(capsys, "show", str(bad))
        assert code == EXIT_ERROR, (tamper, out)
        assert "the drift classes do not match" in out
    # A baseline key naming no action of the plan is refused too.
    edited = json.loads(json.dumps(data))
    edited["baseline"]["alsoInBaseline"].append({"scope": f"amc:{AMC}", "target": "user:x"})
    bad = tmp_path / "key.json"
    bad.write_text(json.dumps(edited), encoding="utf-8")
    code, out = run(capsys, "show", str(bad))
    assert code == EXIT_ERROR and f"baseline: amc:{AMC} user:x is not the target" in out


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


# --- REF and paths: a bad ref is a one-line error naming it and the fix ----------------------


def test_paths_are_taken_relative_to_the_repository_top_level(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, a = applied
    console_role(capsys, state, "cy", "admin")
    (repo / "docs").mkdir()
    monkeypatch.chdir(repo / "docs")
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", a, "../m")
    assert code == EXIT_CHANGES, out
    assert line_of(out, "amzn1.account.CY").startswith(f"  {CHANGED} ")
    monkeypatch.chdir(repo)
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", a, "m/amc.yaml")
    assert line_of(out, "amzn1.account.CY").startswith(f"  {CHANGED} ")


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


NOT_A_COMMIT = "is not a commit in "


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--baseline", "no-such-ref"],
            "Error: --baseline 'no-such-ref': is not a commit in ",
            id="unknown-name",
        ),
        pytest.param(
            ["--baseline=-x"],
            "Error: --baseline '-x': looks like an option, not a git revision",
            id="option-attached",
        ),
        pytest.param(
            ["--baseline", "--output=/tmp/x"],
            "looks like an option, not a git revision",
            id="option-separate",
        ),
        pytest.param(["--baseline", ""], "Error: --baseline '': is empty", id="empty"),
        pytest.param(["--baseline", "HEAD~5"], NOT_A_COMMIT, id="before-the-first-commit"),
        pytest.param(["--baseline", "HEAD~1"], NOT_A_COMMIT, id="the-parent-of-the-only-commit"),
        pytest.param(["--baseline", "HEAD^{tree}"], NOT_A_COMMIT, id="a-tree"),
        pytest.param(["--baseline", "HEAD:m/amc.yaml"], NOT_A_COMMIT, id="a-blob"),
        pytest.param(["--baseline", "HEAD..HEAD"], NOT_A_COMMIT, id="a-range"),
        pytest.param(["--baseline", "HEAD\u202e"], NOT_A_COMMIT, id="bidi-override"),
        pytest.param(["--baseline", "HEAD\x9b2J"], NOT_A_COMMIT, id="c1-escape"),
    ],
)
def test_a_bad_ref_is_a_one_line_error_naming_it_and_the_fix(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    """Whatever REF is (no commit, an option, a tree, a blob, a range, a terminal control),
    the error is one line naming it and the fix, with no traceback and no raw control."""
    state, _ = applied
    code, out = drift(capsys, state, repo, *argv)
    assert code == EXIT_ERROR, out
    assert message in out
    (line,) = out.strip().splitlines()  # one line, no traceback
    assert "pass the commit of the last successful apply" in line
    assert "Traceback" not in out
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


def test_not_a_git_repository_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    state = seed_state(tmp_path, capsys, SEED)
    folder = tmp_path / "plain" / "m"
    folder.mkdir(parents=True)
    doc = {"version": 1, "amcAccounts": [{"id": AMC, "users": [BOSS, ANN, CY]}]}
    (folder / "amc.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", "HEAD", str(folder))
    assert code == EXIT_ERROR, out
    assert f"Error: --baseline 'HEAD': {folder} is not in a git repository" in out
    assert "or leave out --baseline" in out and len(out.strip().splitlines()) == 1


def test_manifests_that_do_not_load_at_the_baseline_are_an_error(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    (repo / "m").mkdir()
    (repo / "m" / "amc.yaml").write_text("version: 2\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "broken")
    broken = git(repo, "rev-parse", "HEAD")
    commit(repo, [BOSS, ANN, CY], "fixed")
    code, out = drift(capsys, state, repo, "--baseline", broken)
    assert code == EXIT_ERROR, out
    assert (
        f"Error: --baseline '{broken}': the manifests at {broken[:12]} do not load "
        "(m/amc.yaml:1:10: " in out
    )
    assert "pass the commit of the last successful apply, whose manifests were valid" in out
    assert "reconciler-baseline-" not in out  # no temporary path leaks
    assert len(out.strip().splitlines()) == 1


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


# --- the manifests at REF: no symbolic link followed, no nested repository read as absent ----


def test_a_symlink_at_the_baseline_is_refused_never_followed(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    secret = tmp_path / "secret.yaml"
    secret.write_text("version: 1\n# not the manifests'\n", encoding="utf-8")
    (repo / "m").mkdir()
    (repo / "m" / "amc.yaml").symlink_to(secret)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "a link out")
    linked = git(repo, "rev-parse", "HEAD")
    (repo / "m" / "amc.yaml").unlink()
    commit(repo, [BOSS, ANN, CY], "manifests")
    code, out = drift(capsys, state, repo, "--baseline", linked)
    assert code == EXIT_ERROR, out
    # No link at REF is followed (one inside the repository could still lead out through
    # another): refused, never read, naming the link.
    assert f"m/amc.yaml is a symbolic link at {linked[:12]}: --baseline reads only" in out
    assert "not the manifests" not in out


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
    # By design no symbolic link at REF is followed (one could lead out of the copy through
    # another); the baseline is refused, naming the link, never read as absent.
    assert code == EXIT_ERROR, out
    assert "m/amc.yaml is a symbolic link at" in out and UNAPPLIED not in out, out


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


OUTSIDE_AMC = "ENTITYOUTSIDE001"


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
    assert OUTSIDE_AMC not in {a.id for a in revision.desired.accounts}


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


@pytest.mark.parametrize(
    "sub", ["m", ""], ids=["a-manifests-folder-in-it", "it-under-the-top-level-path"]
)
def test_manifests_in_a_nested_repository_are_not_read_as_absent_at_ref(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    sub: str,
) -> None:
    """An embedded repository (a gitlink, as a submodule is) holds the manifests, passed as
    its folder beside the outer one, or found under the outer top-level path: REF's plan
    does not read them as absent, so nothing is called not applied yet."""
    state = seed_state(tmp_path, capsys, SEED)
    (repo / sub).mkdir(exist_ok=True)
    (repo / sub / "policy.yaml").write_text("version: 1\n", encoding="utf-8")
    nested = repo / "team"
    (nested / sub).mkdir(parents=True)
    git(nested, "init", "--quiet", "-b", "main")
    (nested / sub / "amc.yaml").write_text(amc_doc([BOSS, ANN, CY]), encoding="utf-8")
    git(nested, "add", "-A")
    git(nested, "commit", "--quiet", "-m", "team manifests")
    git(repo, "add", "-A")  # `team` becomes a gitlink (an embedded repository)
    git(repo, "commit", "--quiet", "-m", "A")
    a = git(repo, "rev-parse", "HEAD")
    paths = [str(repo / "m"), str(nested / "m")] if sub else [str(repo)]
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", *paths)
    assert code == EXIT_OK, out
    console_role(capsys, state, "ann", "admin")
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", a, *paths)
    assert UNAPPLIED not in out, out
