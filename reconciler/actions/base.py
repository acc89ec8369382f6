"""The contract every action family keeps (a family of actions is a plug-in).

A family owns a few `ActionKind`s and says, for each of its actions: which typed fields it
uses (`check`), how people read it (`describe`), how many fit in one call and which can share
one (`limit`, `batch_key`), the one request item built from it (`item`) and how an answer's
item is tied back to it (`item_key`), the call that sends a batch (`call`), and whether a
re-read shows it done (`visible`). Everything else looks the family up in
`reconciler.actions.FAMILIES`; adding a kind touches one family module and its tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reconciler.api import AdsClient, BatchResult
from reconciler.model import Live
from reconciler.plan import Action, ActionKind, typed_fields


class Family(Protocol):
    kinds: tuple[ActionKind, ...]
    symbols: Mapping[ActionKind, str]  # "+" adds, "~" changes, "-" removes (per kind)
    phrases: Mapping[ActionKind, str]  # the summary line's "N to <phrase>" (per kind)

    def check(self, action: Action) -> list[str]:
        """What is wrong with this action's fields for its kind ([] when consistent)."""
        ...

    def describe(self, action: Action) -> str:
        """The action in a few words, without its reason (untrusted text not yet escaped)."""
        ...

    def drift_target(self, action: Action) -> str:
        """What the action is about, as live knows it and whatever the manifests call it (a
        userId, an invitation id, a lower-case address, a linked account's id type and id),
        so that `--baseline` can tell whether the manifests at an older commit would change
        the same thing (`reconciler.planning.drift`). Unique within the action's scope per kind of
        target, and prefixed with that kind."""
        ...

    def limit(self, kind: ActionKind) -> int:
        """The most actions of `kind` one call may carry."""
        ...

    def batch_key(self, action: Action) -> tuple[Any, ...]:
        """Actions with equal keys (and kind) may share one call."""
        ...

    def item(self, action: Action) -> dict[str, Any]:
        """The request item for this action, exactly as sent."""
        ...

    def item_key(self, kind: ActionKind, item: Mapping[str, Any]) -> str | None:
        """The identity of a request item, or of the item an error names."""
        ...

    def call(
        self,
        client: AdsClient,
        kind: ActionKind,
        actions: Sequence[Action],
        *,
        manager_id: str | None,
    ) -> BatchResult:
        """Send one batch (all of one kind and batch key) as one call."""
        ...

    def visible(self, action: Action, fresh: Live, saved: Live, *, manager_id: str | None) -> bool:
        """Whether `fresh` shows the effect of `action` (call only on a complete read)."""
        ...


def require(action: Action, *, present: Sequence[str], absent: Sequence[str]) -> list[str]:
    """Problems with which typed fields an action sets: each of `present` must be set, each
    of `absent` must not be."""
    problems = [f"{name} is missing" for name in present if getattr(action, name) in (None, "")]
    problems += [f"{name} does not belong to this kind" for name in absent if getattr(action, name)]
    return problems


ALL_FIELDS = typed_fields()


def others(*used: str) -> tuple[str, ...]:
    return tuple(name for name in ALL_FIELDS if name not in used)
