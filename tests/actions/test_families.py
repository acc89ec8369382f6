"""Each kind of action belongs to one family, which owns how it reads (symbol, summary
phrase); the renderers and the plan file derive from the families, so no kind can vanish
from a summary or a plan file."""

from __future__ import annotations

import pytest

from reconciler.actions import FAMILIES, PHRASE, SYMBOL
from reconciler.plan import KIND_ORDER, REMOVING_KINDS, Action, ActionKind, typed_fields
from reconciler.render.common import counts


@pytest.mark.parametrize("kind", list(ActionKind))
def test_every_kind_has_one_family_a_symbol_a_phrase_and_an_order(kind: ActionKind) -> None:
    assert kind in FAMILIES[kind].kinds
    assert SYMBOL[kind] in ("+", "~", "-")
    assert (SYMBOL[kind] == "-") == (kind in REMOVING_KINDS)
    assert PHRASE[kind].startswith("to ")
    assert kind in KIND_ORDER


def test_the_summary_counts_every_kind_grants_first() -> None:
    actions = [Action(kind=kind, phase=1, target=f"t{n}") for n, kind in enumerate(ActionKind)]
    assert counts(actions) == (
        "1 to create, 1 to associate, 1 to invite, 1 to resend, 1 to change role, "
        "1 to disassociate, 2 to revoke"
    )


def test_the_typed_fields_are_the_families_vocabulary() -> None:
    # What a family may require or forbid (`require`) is every field but the common ones.
    assert "account" in typed_fields() and "role" in typed_fields()
    assert "permissions" in typed_fields() and "countries" in typed_fields()
    assert not {"kind", "phase", "target", "reason", "label", "notify"} & set(typed_fields())
