"""Request items for permission sets, per kind, exactly as S-INV and S-UPM spell them; what a
kind does not take never becomes a request; RoleForCountries read back without rounding."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.api.grants import (
    Grant,
    checked,
    invitation_request,
    permission_update,
    read_roles,
)
from reconciler.model import Role, ScopeKind


@pytest.mark.parametrize(
    ("kind", "grant", "permission_set", "countries"),
    [
        (ScopeKind.AMC, Grant(Role.ADMIN), {"type": "ROLE", "role": {"name": "admin"}}, None),
        (
            ScopeKind.MANAGER,
            Grant(Role.EDITOR),
            {"type": "ROLE", "role": {"name": "EDITOR"}},
            None,
        ),
        (
            ScopeKind.SPONSORED_ADS,
            Grant(None, ("reports_view", "campaign_edit", "reports_view"), ("US", "CA")),
            {
                "type": "CUSTOM_PERMISSION_SET",
                "customPermissionSet": [{"name": "campaign_edit"}, {"name": "reports_view"}],
            },
            [{"countryCode": "CA"}, {"countryCode": "US"}],
        ),
        (
            ScopeKind.DSP,
            Grant(None, ("reports_limited",)),
            {"type": "CUSTOM_PERMISSION_SET", "customPermissionSet": [{"name": "reports_limited"}]},
            None,
        ),
    ],
)
def test_an_invitation_is_built_as_s_inv_spells_it(
    kind: ScopeKind, grant: Grant, permission_set: dict[str, Any], countries: Any
) -> None:
    expected: dict[str, Any] = {
        "user": {"emailAddress": "ana@acme.example", "userName": "Ana"},
        "permissionSet": permission_set,
    }
    if countries is not None:
        expected["countries"] = countries
    assert invitation_request(kind, email="ana@acme.example", name="Ana", grant=grant) == expected


def test_a_permission_update_is_built_as_s_upm_spells_it() -> None:
    assert permission_update(ScopeKind.AMC, user_id="u1", grant=Grant(Role.VIEWER)) == {
        "userId": "u1",
        "permissionSet": {"type": "ROLE", "role": "VIEWER"},
    }
    assert permission_update(
        ScopeKind.SPONSORED_ADS, user_id="u2", grant=Grant(Role.ADMIN, (), ("US", "GB"))
    ) == {
        "userId": "u2",
        "permissionSet": {"type": "ROLE", "role": "ADMIN"},
        "countryCodes": ["GB", "US"],
    }
    assert permission_update(
        ScopeKind.DSP, user_id="u3", grant=Grant(None, ("campaign_edit",))
    ) == {
        "userId": "u3",
        "permissionSet": {
            "type": "CUSTOM_PERMISSION_SET",
            "customPermissionSet": [{"name": "campaign_edit"}],
        },
    }


@pytest.mark.parametrize(
    ("kind", "grant", "message"),
    [
        (
            ScopeKind.MANAGER,
            Grant(None, ("campaign_edit",)),
            "a manager account takes no custom permission 'campaign_edit'",
        ),
        (ScopeKind.AMC, Grant(Role.EDITOR), "an AMC account has no role editor"),
        (
            ScopeKind.DSP,
            Grant(None, ("billing_view",)),
            "a DSP account takes no custom permission 'billing_view' (it takes campaign_edit, "
            "creatives_edit, reports_edit, reports_limited)",
        ),
        (
            ScopeKind.DSP,
            Grant(Role.VIEWER, (), ("US",)),
            "a DSP account takes no countries (only sponsored-ads accounts do)",
        ),
        (
            ScopeKind.SPONSORED_ADS,
            Grant(Role.VIEWER, (), ("UK",)),
            "'UK' is not a country code of S-UPM's CountryCode",
        ),
        (
            ScopeKind.DSP,
            Grant(Role.VIEWER, ("campaign_edit",)),
            "a grant is a role or a custom permission set, not both or neither",
        ),
        (
            ScopeKind.DSP,
            Grant(),
            "a grant is a role or a custom permission set, not both or neither",
        ),
    ],
)
def test_what_a_kind_does_not_take_never_becomes_a_request(
    kind: ScopeKind, grant: Grant, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        checked(kind, grant)
    assert str(caught.value) == message
    with pytest.raises(ValueError):
        invitation_request(kind, email="a@b.example", name="A", grant=grant)
    with pytest.raises(ValueError):
        permission_update(kind, user_id="u", grant=grant)


def test_roles_are_read_back_exactly_or_not_at_all() -> None:
    assert read_roles(
        [
            {"role": "ADMIN", "type": "ROLE"},
            {"role": "editor", "type": "ROLE", "countryCodes": ["US", "CA"]},
            {
                "type": "CUSTOM_PERMISSION_SET",
                "permissions": ["reports_view"],
                "countryCodes": ["GB"],
            },
            {"type": "CUSTOM_PERMISSION_SET"},  # the older S-UPM: the set is not said
            {"role": "OWNER", "type": "ROLE"},
            {"type": "CUSTOM_PERMISSION_SET", "permissions": [1]},
            {"role": "ADMIN", "countryCodes": "US"},
        ]
    ) == (
        Grant(Role.ADMIN),
        Grant(Role.EDITOR, (), ("CA", "US")),
        Grant(None, ("reports_view",), ("GB",)),
        None,
        None,
        None,
        None,
    )
