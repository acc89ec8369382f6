"""`GET /v2/profiles` in the sandbox, to the letter of S-PROF2: a JSON array of the called
host's region only, int64 profile ids, `accountInfo` as the spec has it, and its filters."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from reconciler.errors import ConfigError
from reconciler.model import ScopeKind
from reconciler.sandbox import SandboxTransport, World
from reconciler.sandbox import constants as c
from tests.sandbox.helpers import EU, FE, NA

GLOBAL = "amzn1.ads-account.g.acme0000000001"
DSP = "ENTITY1DSP00001"


def profiles(http: httpx.Client, headers: dict[str, str], host: str = NA, **query: str) -> Any:
    response = http.get(
        f"{host}/v2/profiles", headers={**headers, "Accept": c.MT_JSON}, params=query
    )
    return response


def test_each_host_lists_the_profiles_of_its_region_only(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    na = profiles(sandbox_http, sandbox_headers)
    assert na.status_code == 200 and na.headers["content-type"] == c.MT_JSON
    body = na.json()
    assert isinstance(body, list)
    assert sorted(
        (p["countryCode"], p["accountInfo"]["id"], p["accountInfo"]["type"]) for p in body
    ) == [("US", DSP, "agency"), ("US", GLOBAL, "seller")]
    for profile in body:
        assert isinstance(profile["profileId"], int) and 0 < profile["profileId"] < 2**63
        assert set(profile["accountInfo"]) <= {
            "marketplaceStringId", "id", "type", "name", "subType", "validPaymentMethod"
        }  # fmt: skip
        assert profile["accountInfo"]["marketplaceStringId"] == "ATVPDKIKX0DER"
    (uk,) = profiles(sandbox_http, sandbox_headers, EU).json()
    assert (uk["countryCode"], uk["currencyCode"], uk["timezone"]) == ("UK", "GBP", "Europe/London")
    assert uk["accountInfo"] == {
        "marketplaceStringId": "A1F83G8C2ARO7P",
        "id": GLOBAL,
        "type": "seller",
        "name": "Acme Global",
    }
    assert uk["profileId"] not in {p["profileId"] for p in body}  # one per marketplace
    assert profiles(sandbox_http, sandbox_headers, FE).json() == []


def test_filters_select_as_the_spec_says(
    sandbox_world: World, sandbox_http: httpx.Client, sandbox_headers: dict[str, str]
) -> None:
    def ids(**query: str) -> list[str]:
        response = profiles(sandbox_http, sandbox_headers, **query)
        assert response.status_code == 200, response.text
        return sorted(p["accountInfo"]["id"] for p in response.json())

    assert ids(profileTypeFilter="agency") == [DSP]
    assert ids(profileTypeFilter="seller,vendor") == [GLOBAL]
    assert ids(validPaymentMethodFilter="true") == sorted([DSP, GLOBAL])  # no field counts
    assert ids(validPaymentMethodFilter="false") == []
    assert ids(excludeSubTypeFilter="KDP_AUTHOR") == sorted([DSP, GLOBAL])
    # Viewer-only access: listed when asked for view access, not by default (edit).
    dsp = sandbox_world.accounts[ScopeKind.DSP][DSP]
    sandbox_world.store(replace(dsp, viewer_only=True))
    assert ids() == [GLOBAL]
    assert ids(apiProgram="account", accessLevel="view") == sorted([DSP, GLOBAL])


@pytest.mark.parametrize(
    "query",
    [
        {"apiProgram": "users"},
        {"accessLevel": "admin"},
        {"profileTypeFilter": "seller,dsp"},
        {"validPaymentMethodFilter": "yes"},
        {"excludeSubTypeFilter": "AUTHOR"},
    ],
)
def test_a_filter_outside_its_enum_is_a_400_sp_error(
    sandbox_http: httpx.Client, sandbox_headers: dict[str, str], query: dict[str, str]
) -> None:
    response = profiles(sandbox_http, sandbox_headers, **query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "details"} and body["code"] == "INVALID_ARGUMENT"
    (name,) = query
    assert body["details"].startswith(f"{name}=")


def test_a_hostile_account_name_is_sent_as_data() -> None:
    name = "Shop\x1b[2J\n- {id: ENTITYOTHER}\u202e"
    world = World.from_seed(
        {"ad_accounts": [{"id": "ENTITYNAMED", "type": "sponsored-ads", "name": name}]}
    )
    with httpx.Client(transport=SandboxTransport(world)) as http:
        token = http.post(
            c.TOKEN_URL,
            data={
                "grant_type": "refresh_token",
                "refresh_token": c.SANDBOX_REFRESH_TOKEN,
                "client_id": c.SANDBOX_CLIENT_ID,
                "client_secret": c.SANDBOX_CLIENT_SECRET,
            },
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "Amazon-Advertising-API-ClientId": c.SANDBOX_CLIENT_ID,
        }
        (profile,) = profiles(http, headers).json()
    assert profile["accountInfo"]["name"] == name


def test_a_seed_names_only_marketplaces_with_a_profile() -> None:
    bad = {
        "ad_accounts": [
            {"id": "E1", "type": "dsp", "marketplaces": ["A21TJRUUN4KGV"], "profile_type": "vendor"}
        ]
    }
    with pytest.raises(ConfigError) as caught:
        World.from_seed(bad)
    assert str(caught.value) == (
        "invalid sandbox seed:\n"
        "  <seed>: ad_accounts[0]: marketplace 'A21TJRUUN4KGV' has no profile in the spec's "
        "tables (S-PROF2)\n"
        "  <seed>: ad_accounts[0]: profile_type is seller or vendor, on a sponsored-ads "
        "account only"
    )
