"""`--mask-emails`: every address in what is printed is masked but for its first character,
whatever its local part holds; the parentheses our own output puts around an address stay."""

from __future__ import annotations

import pytest

from reconciler.render.mask import mask_addresses


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("(alice@example.com)", "(a***@example.com)"),
        ("bob@x.example, carol@y.example", "b***@x.example, c***@y.example"),
        ("<dan@corp.example>", "<d***@corp.example>"),
        # An address chosen to slip past masking: a parenthesis inside its local part.
        ("invite +SUM(A1)@evil.example as viewer", "invite +***@evil.example as viewer"),
        ("x a(b)c@evil.example", "x a***@evil.example"),
        ("already a***@example.com", "already a***@example.com"),
    ],
)
def test_every_address_is_masked_whatever_its_local_part_holds(text: str, masked: str) -> None:
    assert mask_addresses(text) == masked


def test_an_address_the_manifests_hold_is_kept_as_written() -> None:
    kept = frozenset({"alice@example.com"})
    assert mask_addresses("alice@example.com and zed@example.com", kept) == (
        "alice@example.com and z***@example.com"
    )
