"""`reconciler.workflows.pin`: pins are written into exactly the entries they name, and a
file whose edit would change anything else is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.model import Scope, ScopeKind
from reconciler.plan import Pin
from reconciler.workflows.pin import write_pins

AMC = Scope(ScopeKind.AMC, "ENTITY1AA1AA11AAA1")
ALICE = "amzn1.account.ALICE0001"

TWO_ACCOUNTS = """\
version: 1
adAccounts:
  - id: amzn1.ads-account.g.acme0000000001
    type: sponsored-ads
    prune: false
    users:
      - {email: alice@example.com, userId: amzn1.account.ALICE0001, role: admin}
amcAccounts:
  - id: ENTITY1AA1AA11AAA1
    prune: false
    users:
      - {email: alice@example.com, role: admin}  # the one the plan proposes to pin
"""


def _pin(file: Path, line: int, email: str = "alice@example.com", user: str = ALICE) -> Pin:
    return Pin(AMC, str(file), line, email, user, "a***@example.com")


def test_a_pin_is_written_where_the_same_person_is_already_pinned_on_another_account(
    tmp_path: Path,
) -> None:
    """One person has one user id everywhere: an entry pinned on a sponsored-ads account
    and the same address unpinned on an AMC account is the common case after an invite."""
    file = tmp_path / "access.yaml"
    file.write_text(TWO_ACCOUNTS, encoding="utf-8")
    result = write_pins([_pin(file, 12)])
    assert [p.line for p in result.written] == [12] and result.skipped == ()
    assert file.read_text(encoding="utf-8") == TWO_ACCOUNTS.replace(
        "      - {email: alice@example.com, role: admin}  #",
        '      - {email: alice@example.com, role: admin, userId: "amzn1.account.ALICE0001"}  #',
    )


def test_a_pin_on_a_line_that_names_someone_else_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    """A proposal is untrusted input to the editor: the entry at its line must be the
    address it names, or the file stays as it was."""
    file = tmp_path / "access.yaml"
    text = TWO_ACCOUNTS.replace(
        "      - {email: alice@example.com, role: admin}  #",
        "      - {email: mallory@example.com, role: admin}  #",
    )
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ReconcilerError, match="pinning would change more than the pinned"):
        write_pins([_pin(file, 12)])
    assert file.read_text(encoding="utf-8") == text
