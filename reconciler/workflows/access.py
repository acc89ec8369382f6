"""`reconciler access PATH...`: every grant live on the accounts the manifests manage, one
row per person and account (`planning.access`), read by the one reader the plan uses."""

from __future__ import annotations

from dataclasses import replace

from reconciler.api import AdsClient
from reconciler.live.progress import Progress
from reconciler.live.read import read_live
from reconciler.model import Desired
from reconciler.planning.access import Access
from reconciler.planning.access import access as grants_of
from reconciler.planning.review import review_of


def access(
    desired: Desired,
    client: AdsClient,
    *,
    now: float,
    person: str | None = None,
    overdue: bool = False,
    progress: Progress | None = None,
) -> Access:
    """Read what `desired` manages and list its grants; with `person` (an address or a
    userId) only that person's (`Grant.names`: a masked address names nobody unproven);
    with `overdue` only the grants whose access review is due."""
    live = read_live(desired, client.reader(), now=now, progress=progress)
    found = grants_of(desired, live, now=now, review=review_of(desired, now=now))
    rows = found.grants
    if person is not None:
        rows = tuple(g for g in rows if g.names(person.strip()))
    if overdue:
        rows = tuple(g for g in rows if g.overdue(now))
    return replace(found, grants=rows)
