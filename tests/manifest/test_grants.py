"""What one `users:` entry grants, checked against its account's kind: each bad value is
reported once, at its own position, naming the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest import load_manifests

CODES = (
    "AE, AU, BE, BR, CA, CL, CO, DE, EG, ES, FR, GB, IE, IN, IT, JP, MX, NG, NL, PL, SA, SE, SG, "
    "TR, US, ZA"
)


def _messages(tmp_path: Path, entry: str) -> list[str]:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nadAccounts:\n  - id: ENTITY1\n    type: sponsored-ads\n    users:\n"
        "      - {email: owner@acme.example, role: admin}\n"
        f"      - {entry}\n",
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as caught:
        load_manifests([path])
    return [str(d).removeprefix(f"{path}:") for d in caught.value.diagnostics]


@pytest.mark.parametrize(
    ("written", "col", "shown"),
    [
        ("USA", 59, "USA"),
        ("us", 59, "us"),
        ("U1", 59, "U1"),
        ("'12'", 59, "12"),
    ],
)
def test_a_malformed_country_is_one_message_naming_it_and_the_codes(
    tmp_path: Path, written: str, col: int, shown: str
) -> None:
    messages = _messages(
        tmp_path, f"{{email: a@acme.example, role: viewer, countries: [{written}]}}"
    )
    assert messages == [
        f"7:{col}: `{shown}` is not a country code a sponsored-ads account takes: "
        f"use one of {CODES}" + ("; did you mean `US`?" if shown == "us" else "")
    ]


def test_a_country_the_schema_refuses_is_reported_by_the_schema_only(tmp_path: Path) -> None:
    messages = _messages(tmp_path, "{email: a@acme.example, role: viewer, countries: [[US]]}")
    assert messages == ["7:59: each entry of `countries` must be a string, not a list"]


def test_a_malformed_permission_is_one_message_naming_it_and_the_names(
    tmp_path: Path,
) -> None:
    messages = _messages(tmp_path, "{email: a@acme.example, permissions: [Campaign-Edit]}")
    assert messages == [
        "7:47: `Campaign-Edit` is not a permission of a sponsored-ads account: use one of "
        "campaign_edit, campaign_view, reports_view, brand_posts_edit, store_edit, "
        "payment_method_edit, payment_method_view, billing_edit, billing_view, user_edit"
    ]
