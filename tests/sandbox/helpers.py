"""Small request builders shared by the sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.model import KINDS, Region, Scope, ScopeKind
from reconciler.sandbox import API_HOSTS
from reconciler.sandbox import constants as c

NA = API_HOSTS[Region.NA]
EU = API_HOSTS[Region.EU]
FE = API_HOSTS[Region.FE]
AMC = "ENTITY1AA1AA11AAA1"
ACME = "amzn1.ads1.ma1.acme00000001"


def amc_headers(headers: dict[str, str], media_type: str, account: str = AMC) -> dict[str, str]:
    return {
        **headers,
        "Amazon-Ads-AccountId": account,
        "Content-Type": media_type,
        "Accept": media_type,
    }


def invite(
    http: httpx.Client, headers: dict[str, str], *emails: str, role: str = "viewer"
) -> httpx.Response:
    body = {
        "userInvitationRequests": [
            {
                "user": {"emailAddress": e, "userName": e.split("@")[0]},
                "permissionSet": {"type": "ROLE", "role": {"name": role}},
            }
            for e in emails
        ]
    }
    return http.post(
        f"{NA}/user-invitations",
        headers=amc_headers(headers, c.MT_CREATE_INVITATIONS),
        json=body,
    )


def link_call(
    http: httpx.Client,
    headers: dict[str, str],
    verb: str,
    accounts: list[dict[str, Any]],
    host: str = NA,
    manager: str = ACME,
) -> httpx.Response:
    return http.post(
        f"{host}/managerAccounts/{manager}/{verb}",
        headers={**headers, "Content-Type": c.MT_LINK_REQUEST, "Accept": c.MT_LINK_RESPONSE},
        json={"accounts": accounts},
    )


def linked_ids(http: httpx.Client, headers: dict[str, str], host: str = NA) -> list[str]:
    response = http.get(
        f"{host}/managerAccounts", headers={**headers, "Accept": c.MT_GET_MANAGER_ACCOUNTS}
    )
    assert response.status_code == 200, response.text
    acme = next(m for m in response.json()["managerAccounts"] if m["managerAccountId"] == ACME)
    return [a["accountId"] for a in acme["linkedAccounts"]]


# A world with people on an account of every kind. The owner is seeded with a user id on the
# manager account only: the other accounts give the same person the same id.
SA = "amzn1.ads-account.g.acmeus0000000000000000001"
DSP = "ENTITY1DSPACME01"
OWNER = "amzn1.account.OWNER"
MIXED = "amzn1.account.MIXED"
SCOPES = {
    ScopeKind.MANAGER: Scope(ScopeKind.MANAGER, ACME),
    ScopeKind.SPONSORED_ADS: Scope(ScopeKind.SPONSORED_ADS, SA),
    ScopeKind.DSP: Scope(ScopeKind.DSP, DSP),
    ScopeKind.AMC: Scope(ScopeKind.AMC, AMC),
}
KINDS_SEED: dict[str, Any] = {
    "name": "kinds",
    "manager_accounts": [
        {
            "id": ACME,
            "name": "Acme Agency",
            "users": [{"email": "owner@acme.example", "user_id": OWNER, "role": "admin"}],
        }
    ],
    "amc_accounts": [{"id": AMC, "users": [{"email": "Owner@Acme.example", "role": "admin"}]}],
    "ad_accounts": [
        {
            "id": SA,
            "type": "sponsored-ads",
            "users": [
                {"email": "owner@acme.example", "role": "admin"},
                {
                    "email": "mixed@acme.example",
                    "user_id": MIXED,
                    "grants": [
                        {"role": "editor", "countries": ["US"]},
                        {"permissions": ["reports_view", "campaign_view"], "countries": ["CA"]},
                    ],
                },
            ],
        },
        {"id": DSP, "type": "dsp", "users": [{"email": "owner@acme.example", "role": "admin"}]},
    ],
}


def people_headers(headers: dict[str, str], media_type: str, scope: Scope) -> dict[str, str]:
    """Auth headers plus the header that names `scope`'s account (reference §4.1)."""
    return {
        **headers,
        KINDS[scope.kind].header: scope.key,
        "Content-Type": media_type,
        "Accept": media_type,
    }


def people_call(
    http: httpx.Client,
    headers: dict[str, str],
    scope: Scope,
    method: str,
    path: str,
    media_type: str,
    body: Any,
) -> httpx.Response:
    return http.request(
        method, f"{NA}{path}", headers=people_headers(headers, media_type, scope), json=body
    )
