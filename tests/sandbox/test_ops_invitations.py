"""Invitations on an account of every kind: the permission set and countries each kind takes,
the per-item errors the specs describe, and one user id per person on accept."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.model import ScopeKind
from reconciler.sandbox import World
from reconciler.sandbox import constants as c
from tests.sandbox.helpers import DSP, KINDS_SEED, OWNER, SA, SCOPES, people_call


@pytest.fixture
def sandbox_world() -> World:
    return World.from_seed(KINDS_SEED)


def _role(name: str) -> dict[str, Any]:
    return {"type": "ROLE", "role": {"name": name}}


def _custom(*names: str) -> dict[str, Any]:
    return {"type": "CUSTOM_PERMISSION_SET", "customPermissionSet": [{"name": n} for n in names]}


def _invite(
    http: httpx.Client,
    headers: dict[str, str],
    kind: ScopeKind,
    email: str,
    permission_set: dict[str, Any],
    countries: list[str] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "user": {"emailAddress": email, "userName": email.split("@")[0]},
        "permissionSet": permission_set,
    }
    if countries is not None:
        item["countries"] = [{"countryCode": code} for code in countries]
    response = people_call(
        http,
        headers,
        SCOPES[kind],
        "POST",
        "/user-invitations",
        c.MT_CREATE_INVITATIONS,
        {"userInvitationRequests": [item]},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# The role each kind's invitations spell (AMC's guide: lower-case; the others: S-UPM's).
ROLE_SPELLING = {
    ScopeKind.MANAGER: "EDITOR",
    ScopeKind.SPONSORED_ADS: "VIEWER",
    ScopeKind.DSP: "EDITOR",
    ScopeKind.AMC: "viewer",
}


@pytest.mark.parametrize("kind", list(ScopeKind))
def test_a_role_invitation_is_listed_as_sent_on_every_kind(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str], kind: ScopeKind
) -> None:
    created = _invite(
        sandbox_http, sandbox_headers, kind, "ana@acme.example", _role(ROLE_SPELLING[kind])
    )
    assert created["errors"] == []
    listed = people_call(
        sandbox_http,
        sandbox_headers,
        SCOPES[kind],
        "POST",
        "/user-invitations/list",
        c.MT_LIST_INVITATIONS,
        {},
    ).json()["invitations"]
    assert [(i["user"]["emailAddress"], i["permissionSet"], i["targetId"]) for i in listed] == [
        ("ana@acme.example", _role(ROLE_SPELLING[kind]), SCOPES[kind].key)
    ]
    assert "countries" not in listed[0]


def test_a_custom_set_with_countries_is_invited_and_accepted_on_a_sponsored_ads_account(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str], sandbox_world: World
) -> None:
    created = _invite(
        sandbox_http,
        sandbox_headers,
        ScopeKind.SPONSORED_ADS,
        "ana@acme.example",
        _custom("reports_view", "campaign_edit", "reports_view"),
        ["US", "CA"],
    )
    (invitation,) = created["successes"]
    assert invitation["permissionSet"] == _custom("campaign_edit", "reports_view")
    assert invitation["countries"] == [{"countryCode": "CA"}, {"countryCode": "US"}]
    user_id = sandbox_world.accept_invitation(SA, invitation["invitationId"])
    user = sandbox_world.account(SA).user(user_id)
    assert user is not None
    assert (user.role, user.permissions, user.countries) == (
        "",
        ("campaign_edit", "reports_view"),
        ("CA", "US"),
    )


# (kind, permission set, countries, error code, message): what the specs forbid per item.
REFUSED = [
    (
        ScopeKind.MANAGER,
        _custom("campaign_edit"),
        None,
        "INVALID_PERMISSION_SET",
        "a manager account does not support custom permissions: use type ROLE",
    ),
    (
        ScopeKind.AMC,
        _custom("campaign_edit"),
        None,
        "INVALID_PERMISSION_SET",
        "AMC accounts take permissionSet.type ROLE",
    ),
    (
        ScopeKind.DSP,
        _custom("billing_view"),
        None,
        "INVALID_PERMISSION_SET",
        "unknown permission 'billing_view' for a DSP account; it takes campaign_edit, "
        "creatives_edit, reports_edit, reports_limited",
    ),
    (
        ScopeKind.SPONSORED_ADS,
        _custom("creatives_edit"),
        None,
        "INVALID_PERMISSION_SET",
        "unknown permission 'creatives_edit' for a sponsored-ads account; it takes "
        "campaign_edit, campaign_view, reports_view, brand_posts_edit, store_edit, "
        "payment_method_edit, payment_method_view, billing_edit, billing_view, user_edit",
    ),
    (
        ScopeKind.DSP,
        _role("VIEWER"),
        ["US"],
        "INVALID_COUNTRIES",
        "countries apply to global accounts only",
    ),
    (
        ScopeKind.MANAGER,
        _role("VIEWER"),
        ["US"],
        "INVALID_COUNTRIES",
        "countries apply to global accounts only",
    ),
    (
        ScopeKind.SPONSORED_ADS,
        _role("VIEWER"),
        ["XX"],
        "INVALID_COUNTRIES",
        "'XX' is not a country code; use AE, AU, BE, BR, CA, CL, CO, DE, EG, ES, FR, GB, IE, "
        "IN, IT, JP, MX, NG, NL, PL, SA, SE, SG, TR, US, ZA",
    ),
    (
        ScopeKind.MANAGER,
        _role("admin"),
        None,
        "INVALID_PERMISSION_SET",
        "role 'admin': a manager account takes ADMIN, EDITOR, VIEWER",
    ),
    (
        ScopeKind.AMC,
        _role("editor"),
        None,
        "INVALID_PERMISSION_SET",
        "role 'editor': AMC invitations take admin or viewer",
    ),
]


@pytest.mark.parametrize(("kind", "permission_set", "countries", "code", "message"), REFUSED)
def test_what_a_kind_does_not_take_is_a_per_item_error(
    sandbox_http: httpx.Client,
    sandbox_headers: dict[str, str],
    sandbox_world: World,
    kind: ScopeKind,
    permission_set: dict[str, Any],
    countries: list[str] | None,
    code: str,
    message: str,
) -> None:
    body = _invite(
        sandbox_http, sandbox_headers, kind, "ana@acme.example", permission_set, countries
    )
    assert body["successes"] == []
    assert body["errors"] == [
        {
            "errorCode": code,
            "errorMessage": message,
            "errorDetail": message,
            "identifier": "ana@acme.example",
        }
    ]
    assert sandbox_world.account(SCOPES[kind].key, kind).invitations == ()


def test_accepting_gives_the_person_their_one_user_id_on_every_kind(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str], sandbox_world: World
) -> None:
    # The seed gave the owner one id everywhere, though only the manager account named it.
    assert {sandbox_world.account(s.key, k).users[0].user_id for k, s in SCOPES.items()} == {OWNER}
    ids = set()
    for kind in ScopeKind:
        (invitation,) = _invite(
            sandbox_http, sandbox_headers, kind, "Dan@Acme.example", _role(ROLE_SPELLING[kind])
        )["successes"]
        ids.add(sandbox_world.accept_invitation(SCOPES[kind].key, invitation["invitationId"], kind))
    assert len(ids) == 1 and OWNER not in ids
    # An address held by nobody yet gets a new id; an owner's address on a new account, theirs.
    sandbox_world.add_account(ScopeKind.DSP, "ENTITYDSPNEW01")
    assert sandbox_world.add_user("ENTITYDSPNEW01", "owner@acme.example", "viewer") == OWNER
    assert sandbox_world.add_user("ENTITYDSPNEW01", "new@acme.example", "viewer") not in (
        ids | {OWNER}
    )


def test_a_bare_id_of_two_kinds_must_say_which(sandbox_world: World) -> None:
    sandbox_world.add_account(ScopeKind.AMC, "ENTITYBOTH", "AMC")
    sandbox_world.accounts[ScopeKind.DSP]["ENTITYBOTH"] = sandbox_world.account(
        "ENTITYBOTH"
    ).__class__("ENTITYBOTH", "DSP", kind=ScopeKind.DSP)
    with pytest.raises(
        KeyError, match=r"names 2 accounts: say which \(dsp:ENTITYBOTH, amc:ENTITYBOTH\)"
    ):
        sandbox_world.account("ENTITYBOTH")
    assert sandbox_world.account("ENTITYBOTH", ScopeKind.DSP).name == "DSP"
    assert DSP in sandbox_world.accounts[ScopeKind.DSP]
