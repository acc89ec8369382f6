"""`adopt --baseline REF` through the CLI against the sandbox and a real git
repository: the nightly adopt must never undo a reviewed, merged change that apply has not
made yet. Against the last applied commit, a console change is adopted and a manifest change
not applied yet is listed, not reverted; without a baseline both are adopted (the hazard the
option exists for)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_USAGE
from tests.driver import AMC, BOSS, CY, commit, console_role, git, run, users_of

DEE = {"email": "dee@corp.example", "role": "viewer"}


def test_adopt_against_the_last_apply_keeps_what_is_merged_but_not_applied(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, a = applied
    # Behind git's back: ann promoted in the console, a stranger added.
    console_role(capsys, state, "ann", "admin")
    code, out = run(
        capsys, "sandbox", "add-user", "--sandbox-state", state, AMC, "zed@corp.example",
        "--role", "viewer", "--user-id", "amzn1.account.ZED",
    )  # fmt: skip
    assert code == 0, out
    # Merged, not applied yet: cy made admin, dee invited.
    ann = {"email": "ann@corp.example", "userId": "amzn1.account.ANN", "role": "viewer"}
    commit(repo, [BOSS, ann, {**CY, "role": "admin"}, DEE], "B")
    folder = str(repo / "m")

    # Without a baseline adopt cannot tell: it would revert B (cy back to viewer, dee gone).
    code, out = run(capsys, "adopt", "--diff", "--sandbox-state", state, folder)
    assert code == EXIT_CHANGES, out
    assert "dee@corp.example is neither a user" in out and "cy@corp.example is viewer live" in out

    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, folder)
    assert code == EXIT_CHANGES, out
    assert users_of(repo) == {
        "amzn1.account.BOSS": "admin",
        "amzn1.account.ANN": "admin",  # adopted: changed behind git's back
        "amzn1.account.CY": "admin",  # kept: merged in B, not applied yet
        "dee@corp.example": "viewer",  # kept
        "amzn1.account.ZED": "viewer",  # adopted
    }
    for kept in ("cy@corp.example is viewer live", "dee@corp.example is neither a user"):
        (line,) = [x for x in out.splitlines() if kept in x]
        assert line.startswith(f"not adopted: amc:{AMC}: {kept}")
        assert line.endswith(f"not adopted: not applied yet: the manifests changed it after "
                             f"{a!r} ({a[:12]}); apply it")  # fmt: skip

    # What is left is exactly B, for apply to make.
    code, out = run(capsys, "plan", "--sandbox-state", state, "--format", "json", folder)
    assert code == 0, out
    document, _ = json.JSONDecoder().raw_decode(out[out.index("{") :])
    assert sorted((x["kind"], x["target"]) for x in document["actions"]) == [
        ("invite", "dee@corp.example"),
        ("set-role", "amzn1.account.CY"),
    ]
    # And adopting again against the same baseline changes nothing more.
    code, out = run(capsys, "adopt", "--baseline", a, "--sandbox-state", state, folder)
    assert code == 0 and "Nothing to adopt." in out, out


def test_adopt_baseline_errors_are_one_line_and_expiring_takes_none(
    repo: Path,
    applied: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, _ = applied
    folder = str(repo / "m")
    code, out = run(capsys, "adopt", "--baseline", "--upload-pack=x", "--sandbox-state", state,
                    folder)  # fmt: skip
    assert code == EXIT_ERROR and "looks like an option" in out and "Traceback" not in out, out
    code, out = run(capsys, "adopt", "--baseline", "nope", "--sandbox-state", state, folder)
    assert code == EXIT_ERROR and "--baseline 'nope'" in out, out
    code, out = run(capsys, "adopt", "--expiring", "--baseline", "HEAD", folder)
    assert code == EXIT_USAGE and "--baseline is for adopt alone" in out, out
    assert git(repo, "status", "--porcelain") == ""  # nothing written
