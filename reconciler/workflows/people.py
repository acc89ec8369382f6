"""The commands about people rather than accounts: `access` (who holds what), `offboard`
(remove a person from the manifests) and `review` (the access-review pull request's edit).
`access` and `offboard` judge expiry and reviews by the world's clock
(`reconciler.workflows.session`); `review` reads nothing live and goes by this machine's."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.manifest.edit import write_atomic
from reconciler.model import Desired
from reconciler.planning.access import Access
from reconciler.workflows.access import access as list_access
from reconciler.workflows.adopt import write as write_edit
from reconciler.workflows.manifests import load
from reconciler.workflows.offboard import Offboarding
from reconciler.workflows.offboard import offboard as compute_offboarding
from reconciler.workflows.review import ReviewEdit, body
from reconciler.workflows.review import review as compute_review
from reconciler.workflows.session import ApiOptions


@dataclass(frozen=True, slots=True)
class Listed:
    """The grants `access` found, the manifests they were listed against, and the time they
    were judged at."""

    desired: Desired
    found: Access
    now: float


def access(
    paths: Sequence[str], api: ApiOptions, *, person: str | None = None, overdue: bool = False
) -> Listed:
    """Every grant live on the accounts the manifests under `paths` manage
    (`reconciler.workflows.access`)."""
    desired = load(paths)
    with api.open_client() as client:
        now = client.now()
        found = list_access(
            desired, client, now=now, person=person, overdue=overdue, progress=api.progress
        )
    return Listed(desired, found, now)


@dataclass(frozen=True, slots=True)
class Offboarded:
    desired: Desired
    result: Offboarding


def offboard(
    who: str, paths: Sequence[str], api: ApiOptions, *, show_diff: bool = False
) -> Offboarded:
    """Remove every entry and group membership naming `who` from the manifests under
    `paths` (`reconciler.workflows.offboard`); writes unless `show_diff`."""
    desired = load(paths)
    with api.open_client() as client:
        result = compute_offboarding(
            who, desired, client, now=client.now(), progress=api.progress, dry_run=show_diff
        )
    if not show_diff:
        write_edit(result.adoption)
    return Offboarded(desired, result)


@dataclass(frozen=True, slots=True)
class Reviewed:
    """The review's edit and the pull request's body (markdown)."""

    edit: ReviewEdit
    body: str


def review(
    paths: Sequence[str],
    *,
    show_diff: bool = False,
    body_file: str | os.PathLike[str] | None = None,
    mask: bool = False,
) -> Reviewed:
    """`reviewed:` set to today on every entry whose access review is due; the body also
    written to `body_file` when given; the manifests written unless `show_diff`."""
    desired = load(paths)
    now = time.time()
    edit = compute_review(desired, now=now)
    text = body(edit.due, now=now, mask=mask)
    if body_file is not None:
        write_atomic(Path(body_file), text)
    if not show_diff:
        write_edit(edit.adoption)
    return Reviewed(edit, text)
