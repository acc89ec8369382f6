"""Adversarial review of `--baseline` against time (review-15c): REF's plan
once left out every `expires:`, so a grant REF ended on purpose looked like one REF asked
for; `plan_then` now keeps each `expires:` as it stood at REF's commit time. Also adopt's
`_Evidence.agreed`, the minAdmins checks in `_adopt_amc` (live admins the plan keeps) and a
submodule under the top-level path. The 7 defects found are fixed; the attacks stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import EXIT_CHANGES, EXIT_OK
from tests.driver import (
    A_AMC,
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
    setup,
    users_of,
)
from tests.driver import adopt as a_adopt


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


def test_prune_false_live_admins_whose_grant_ended_are_not_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = {"email": "old@corp.example", "user_id": "amzn1.account.OLD", "role": "ADMIN"}
    amy = {"email": "amy@corp.example", "user_id": "amzn1.account.AMY", "role": "ADMIN"}
    text = (
        "version: 1\n"
        "amcAccounts:\n"
        f"  - id: {A_AMC}\n"
        "    prune: false\n"
        "    minAdmins: 2\n"
        "    users:\n"
        "      - {email: boss@corp.example, userId: amzn1.account.BOSS, role: admin}\n"
        "      - {email: amy@corp.example, userId: amzn1.account.AMY, role: admin}\n"
        f"      - {{email: old@corp.example, userId: amzn1.account.OLD, role: admin, "
        f"expires: '{day(-1)}'}}\n"
    )
    # Live: boss removed in the console; amy and old (whose grant ended) are admins.
    state, folder = setup(tmp_path, capsys, seed((A_AMC, [amy, old])), {"access.yaml": text})
    code, out = a_adopt(capsys, state, folder)
    assert code in (EXIT_OK, EXIT_CHANGES), out
    # Adopting boss's removal leaves amy alone once the plan removes old: refused.
    assert bytes_of(folder).decode() == text, out


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


def test_a_submodule_under_the_top_level_path_is_not_read_as_absent_at_ref(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = seed_state(tmp_path, capsys, SEED)
    (repo / "policy.yaml").write_text("version: 1\n", encoding="utf-8")
    nested = repo / "team"
    nested.mkdir()
    git(nested, "init", "--quiet", "-b", "main")
    (nested / "amc.yaml").write_text(amc_doc([BOSS, ANN, CY]), encoding="utf-8")
    git(nested, "add", "-A")
    git(nested, "commit", "--quiet", "-m", "team manifests")
    git(repo, "add", "-A")  # `team` becomes a gitlink (an embedded repository)
    git(repo, "commit", "--quiet", "-m", "A")
    a = git(repo, "rev-parse", "HEAD")
    code, out = run(capsys, "apply", "--sandbox-state", state, "--auto-approve", str(repo))
    assert code == EXIT_OK, out
    console_role(capsys, state, "ann", "admin")
    code, out = run(capsys, "drift", "--sandbox-state", state, "--baseline", a, str(repo))
    assert UNAPPLIED not in out, out


def test_prune_false_live_admins_the_plan_demotes_are_not_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boss = {"email": "boss@corp.example", "user_id": "amzn1.account.BOSS", "role": "ADMIN"}
    ann = {"email": "ann@corp.example", "user_id": "amzn1.account.ANN", "role": "ADMIN"}
    text = (
        "version: 1\n"
        "policy:\n"
        "  adminGroups: [admins]\n"
        "groups:\n"
        "  admins:\n"
        "    - {email: boss@corp.example, userId: amzn1.account.BOSS}\n"
        "    - {email: amy@corp.example, userId: amzn1.account.AMY}\n"
        "amcAccounts:\n"
        f"  - id: {A_AMC}\n"
        "    prune: false\n"
        "    minAdmins: 2\n"
        "    users:\n"
        "      - {group: admins, role: admin}\n"
        "      - {email: ann@corp.example, userId: amzn1.account.ANN, role: viewer}\n"
    )
    # Live: amy removed in the console, ann raised to admin there.
    state, folder = setup(tmp_path, capsys, seed((A_AMC, [boss, ann])), {"access.yaml": text})
    code, out = a_adopt(capsys, state, folder)
    assert code in (EXIT_OK, EXIT_CHANGES), out
    # Amy's removal is not adopted: the account still lists her (through the group).
    assert bytes_of(folder).decode() == text, out


def test_a_console_readd_of_a_grant_still_ended_in_git_is_expired_and_never_adopted(
    repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Passes: stripping REF's expires: does not let adopt re-add a person whose access git
    # ended and still ends; drift calls it what it is.
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
