"""`access` output: hostile strings stay data in every format; the states and columns."""

from __future__ import annotations

import csv
import io
import json
import re

from reconciler.model import Scope, ScopeKind, Source
from reconciler.planning.access import INVITATION_EXPIRED, Access, Grant
from reconciler.render.access import COLUMNS, render_csv, render_json, render_markdown, render_text

NOW = 1_800_000_000.0
HOSTILE = Grant(
    Scope(ScopeKind.AMC, "ENTITYHOSTILE001"),
    "Acme\n# heading [x](https://evil.example) \x1b[2J",
    None,
    "+SUM(A1)@evil.example",
    role="viewer",
    state=INVITATION_EXPIRED,
    source=Source("m/a.yaml", 7),
    group="a|b",
)
FOUND = Access((HOSTILE,), ((Scope(ScopeKind.AMC, "ENTITYGONE000001"), "HTTP 500"),))


def test_markdown_and_text_escape_what_the_api_and_manifests_say() -> None:
    shown = render_markdown(FOUND, now=NOW, mask=False, keep=frozenset())
    (row,) = [line for line in shown.splitlines() if "ENTITYHOSTILE001" in line]
    assert "\n#" not in row and "\\n\\# heading" in row and "https&#58;//" in row
    assert "\x1b" not in shown
    assert len(re.findall(r"(?<!\\)\|", row)) == 7  # a|b cannot add a column
    text = render_text(FOUND, now=NOW, mask=False, keep=frozenset())
    assert "\x1b" not in text and "Acme\\n# heading" in text
    assert "Incomplete: these accounts could not be read in full" in text
    assert "  amc:ENTITYGONE000001: HTTP 500" in text


def test_json_and_csv_have_the_columns_and_null_for_an_invitation() -> None:
    doc = json.loads(render_json(FOUND, now=NOW, mask=False, keep=frozenset()))
    (grant,) = doc["grants"]
    assert list(grant) == list(COLUMNS)
    assert grant["userId"] is None and grant["state"] == "invitation expired"
    assert grant["source"] == "m/a.yaml:7" and grant["group"] == "a|b"
    assert doc["incomplete"] == [
        {"accountKind": "amc", "accountId": "ENTITYGONE000001", "reason": "HTTP 500"}
    ]
    rows = list(
        csv.DictReader(io.StringIO(render_csv(FOUND, now=NOW, mask=False, keep=frozenset())))
    )
    assert rows[0]["email"] == "'+SUM(A1)@evil.example"
    assert rows[0]["accountName"].startswith("Acme\\n")


def test_mask_keeps_only_the_manifests_addresses() -> None:
    kept = Grant(
        Scope(ScopeKind.AMC, "E1"), email="b***@corp.example", manifest_email="boss@corp.example"
    )
    stranger = Grant(Scope(ScopeKind.AMC, "E1"), email="=zed@evil.example")
    found = Access((stranger, kept))
    doc = json.loads(render_json(found, now=NOW, mask=True, keep=frozenset({"boss@corp.example"})))
    assert [g["email"] for g in doc["grants"]] == ["=***@evil.example", "b***@corp.example"]
    assert doc["grants"][1]["manifestEmail"] == "boss@corp.example"


def test_text_says_once_that_there_are_no_grants() -> None:
    assert render_text(Access(), now=NOW, mask=False, keep=frozenset()) == "No grants.\n"
    one = render_text(FOUND, now=NOW, mask=False, keep=frozenset())
    assert "1 grant.\n" in one and "No grants." not in one
