"""Batching planned actions into API calls, and reading each call's per-item answer back.

What may share a call and how many fit is each family's (`reconciler.actions`); this module
only groups, chunks and maps answers back. The plan lists actions in execution order; only
consecutive actions of one kind are batched, so the order between kinds holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.actions import family
from reconciler.api import AdsClient
from reconciler.plan import Action, ActionKind

Item = tuple[int, Action]  # (position in the plan, action)


@dataclass(frozen=True, slots=True)
class Batch:
    kind: ActionKind
    items: tuple[Item, ...]


def make_batches(items: Sequence[Item]) -> list[Batch]:
    """Runs of consecutive same-kind actions, grouped by what one call can carry (the
    family's `batch_key`), chunked by its `limit`. Groups keep the order of their first
    action."""
    batches: list[Batch] = []
    run: list[Item] = []

    def flush() -> None:
        if not run:
            return
        kind = run[0][1].kind
        fam = family(kind)
        groups: dict[tuple[Any, ...], list[Item]] = {}
        for item in run:
            groups.setdefault(fam.batch_key(item[1]), []).append(item)
        limit = fam.limit(kind)
        for group in groups.values():
            for start in range(0, len(group), limit):
                batches.append(Batch(kind, tuple(group[start : start + limit])))
        run.clear()

    for item in items:
        if run and run[-1][1].kind is not item[1].kind:
            flush()
        run.append(item)
    flush()
    return batches


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the call answered, but tied none of its errors to this item


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    outcome: Outcome
    reason: str = ""
    created_id: str | None = None


def send(client: AdsClient, batch: Batch, *, manager_id: str | None) -> dict[int, ItemOutcome]:
    """Send one batch as one call through its family; the outcome of each item by plan
    position. Raises from `reconciler.errors` when the whole call fails
    (`OutcomeUnknownError` when its answer was lost)."""
    actions = [action for _, action in batch.items]
    fam = family(batch.kind)
    result = fam.call(client, batch.kind, actions, manager_id=manager_id)
    if batch.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
        body = result.succeeded[0] if result.succeeded else {}
        new_id = body.get("managerAccountId")
        if not isinstance(new_id, str) or not new_id:
            return {
                batch.items[0][0]: ItemOutcome(
                    Outcome.UNKNOWN, "createManagerAccount answered without a managerAccountId"
                )
            }
        return {batch.items[0][0]: ItemOutcome(Outcome.OK, created_id=new_id)}
    keys = [fam.item_key(batch.kind, fam.item(action)) for action in actions]
    sent = set(keys)
    failures: dict[str, str] = {}
    unmatched = 0
    for failed in result.failed:
        key = fam.item_key(batch.kind, failed.item)
        if key is None or key not in sent:
            unmatched += 1
            continue
        failures[key] = f"{failed.code}: {failed.message}" if failed.message else failed.code
    out: dict[int, ItemOutcome] = {}
    for (position, _), key in zip(batch.items, keys, strict=True):
        if key in failures:
            out[position] = ItemOutcome(Outcome.FAILED, failures[key])
        elif unmatched:
            out[position] = ItemOutcome(
                Outcome.UNKNOWN, f"the call reported {unmatched} error(s) it tied to no item"
            )
        else:
            out[position] = ItemOutcome(Outcome.OK)
    return out
