"""Small request builders shared by the sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.model import Region
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
