"""The access-review keys: `reviewed:` on entries, group entries and members; `reviewEvery`
in the top-level and an account's policy; `owners:`. Bad values are named at FILE:LINE:COL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests

TEXT = """version: 1
policy: {reviewEvery: 90d}
groups:
  team:
    - {email: ana@corp.example, reviewed: "2026-01-10"}
amcAccounts:
  - id: ENTITYREVIEW0001
    owners: [ops-lead]
    policy: {reviewEvery: 30d}
    users:
      - {email: boss@corp.example, role: admin, reviewed: "2026-02-01"}
      - {group: team, role: viewer, reviewed: "2026-03-01"}
"""


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_reviewed_dates_and_intervals_are_read(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(TEXT, encoding="utf-8")
    desired = load_manifests([path])
    assert desired.policy.review_every == 90.0
    (account,) = desired.accounts
    assert account.owners == ("ops-lead",)
    assert account.policy is not None and account.policy.review_every == 30.0
    by = {u.email: u for u in account.users}
    assert by["boss@corp.example"].reviewed == _epoch("2026-02-01")
    # The latest of the member's and the group entry's.
    assert by["ana@corp.example"].reviewed == _epoch("2026-03-01")
    assert by["ana@corp.example"].reviewed_source is not None
    assert by["ana@corp.example"].reviewed_source.line == 12


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'reviewed: "2026-02-01"}',
            'reviewed: "2026-02-31"}',
            "m.yaml:11:59: `reviewed: 2026-02-31` is not a date: write the day the access was "
            "last reviewed, e.g. 2026-12-31",
        ),
        (
            "policy: {reviewEvery: 90d}",
            "policy: {reviewEvery: 90 days}",
            "m.yaml:2:23: `reviewEvery: 90 days` is not a number of days: write e.g. `90d`",
        ),
    ],
)
def test_a_bad_review_key_is_named_where_it_is(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(TEXT.replace(old, new), encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifests([path])
    assert any(str(d).endswith(message) for d in caught.value.diagnostics), [
        str(d) for d in caught.value.diagnostics
    ]
