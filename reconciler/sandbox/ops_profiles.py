"""Profiles: `GET /v2/profiles` (operationId `listProfiles`, reference §1.7; spec S-PROF2,
with S-PROF3's `excludeSubTypeFilter`).

Which profiles the sandbox has: one per marketplace of each of its sponsored-ads and DSP
accounts (`Account.marketplaces`, default the US marketplace), `accountInfo.id` being the
account's id, `type` `seller` (or `vendor`, seed `profile_type: vendor`) for a sponsored-ads
account and `agency` for a DSP account. That is the mapping the reader assumes
(`reconciler.live.discover`); the reference does not state one. A host answers with the
profiles of its own region only (reference §1.1). Linked accounts of other parties are not
profiles of the sandbox's identity: it holds no permission on them beyond the link.

Decisions where the spec is silent: a filter value outside its enum is a 400 (`SPError
{code, details}`); a parameter the spec does not name is ignored; the identity holds every
`apiProgram` on its profiles, at edit level unless the account is `viewer_only`, so
`accessLevel=view` lists every profile and `edit` (the default) leaves viewer-only ones out.
"""

from __future__ import annotations

import hashlib
from typing import Any

from reconciler.model import MARKETPLACE_REGION, ScopeKind
from reconciler.sandbox import constants as c
from reconciler.sandbox.state import Account
from reconciler.sandbox.wire import ApiFailure, Call, Response, Route, json_response

US = "ATVPDKIKX0DER"
# S-PROF2 `countryCode`, `currencyCode` and `timezone` of each marketplace the spec's enums
# cover (its tables); a marketplace outside them cannot hold a profile in the sandbox.
MARKETPLACES: dict[str, tuple[str, str, str]] = {
    "ATVPDKIKX0DER": ("US", "USD", "America/Los_Angeles"),
    "A2EUQ1WTGCTBG2": ("CA", "CAD", "America/Los_Angeles"),
    "A1AM78C64UM0Y8": ("MX", "MXN", "America/Los_Angeles"),
    "A2Q3Y263D00KWC": ("BR", "BRL", "America/Sao_Paulo"),
    "A1F83G8C2ARO7P": ("UK", "GBP", "Europe/London"),
    "A13V1IB3VIYZZH": ("FR", "EUR", "Europe/Paris"),
    "APJ6JRA9NG5V4": ("IT", "EUR", "Europe/Paris"),
    "A1RKKUPIHCS9HS": ("ES", "EUR", "Europe/Paris"),
    "A1PA6795UKMFR9": ("DE", "EUR", "Europe/Paris"),
    "A1805IZSGTT6HS": ("NL", "EUR", "Europe/Paris"),
    "A2VIGQ35RCS4UG": ("AE", "AED", "Asia/Dubai"),
    "A1C3SOZRARQ6R3": ("PL", "PLN", "Europe/Warsaw"),
    "A33AVAJ2PDY3EV": ("TR", "TRY", "Europe/Istanbul"),
    "ARBP9OOSHTCHU": ("EG", "EGP", "Africa/Cairo"),
    "A2NODRKZP88ZB9": ("SE", "SEK", "Europe/Stockholm"),
    "A1VC38T7YXB528": ("JP", "JPY", "Asia/Tokyo"),
    "A39IBJ37TRP1C6": ("AU", "AUD", "Australia/Sydney"),
    "A19VAU5U5O7RUS": ("SG", "SGD", "Asia/Singapore"),
}
PROFILE_TYPES = ("seller", "vendor", "agency")
API_PROGRAMS = ("billing", "campaign", "paymentMethod", "store", "report", "account", "posts")
ACCESS_LEVELS = ("edit", "view")
SUB_TYPES = ("AMAZON_ATTRIBUTION", "KDP_AUTHOR")
MAX_PROFILES = 5000  # S-PROF2: the response array's maxItems


def profile_id(account_id: str, marketplace: str) -> int:
    """A stable int64 profile id for one account in one marketplace (same seed, same id)."""
    digest = hashlib.sha256(f"{account_id}\0{marketplace}".encode()).digest()
    return 10**15 + int.from_bytes(digest[:8], "big") % (9 * 10**15)


def profile_type(account: Account) -> str:
    if account.kind is ScopeKind.DSP:
        return "agency"
    return account.profile_type or "seller"


def profiles_of(account: Account) -> list[tuple[str, dict[str, Any]]]:
    """(marketplace, S-PROF2 `Profile`) for each marketplace of a sponsored-ads or DSP
    account."""
    out = []
    kind = profile_type(account)
    for marketplace in account.marketplaces or (US,):
        country, currency, timezone = MARKETPLACES[marketplace]
        info: dict[str, Any] = {
            "marketplaceStringId": marketplace,
            "id": account.account_id,
            "type": kind,
            "name": account.name,
        }
        if kind == "vendor":  # "Only present for Vendors"
            info["validPaymentMethod"] = True
        profile = {
            "profileId": profile_id(account.account_id, marketplace),
            "countryCode": country,
            "currencyCode": currency,
            "timezone": timezone,
            "accountInfo": info,
        }
        if kind == "seller":  # "applies to Sponsored Product campaigns for seller type accounts"
            profile["dailyBudget"] = 0
        out.append((marketplace, profile))
    return out


def _one_of(query: dict[str, str], name: str, allowed: tuple[str, ...]) -> list[str] | None:
    """The values of a (comma-delimited) filter, or None when absent; 400 for a value
    outside the spec's enum."""
    raw = query.get(name)
    if raw is None:
        return None
    values = [v.strip() for v in raw.split(",")]
    wrong = [v for v in values if v not in allowed]
    if wrong or not values:
        raise ApiFailure(
            400, f"{name}={raw!r}: use {' or '.join(allowed)}", code="INVALID_ARGUMENT"
        )
    return values


def list_profiles(call: Call) -> Response:
    """listProfiles: the profiles of the called host's region, filtered as asked."""
    query = dict(call.request.query)
    _one_of(query, "apiProgram", API_PROGRAMS)
    (level,) = _one_of(query, "accessLevel", ACCESS_LEVELS) or ["edit"]
    types = _one_of(query, "profileTypeFilter", PROFILE_TYPES)
    (payment,) = _one_of(query, "validPaymentMethodFilter", ("true", "false")) or [""]
    _one_of(query, "excludeSubTypeFilter", SUB_TYPES)  # no sandbox profile has a subType
    found: list[dict[str, Any]] = []
    for kind in (ScopeKind.SPONSORED_ADS, ScopeKind.DSP):
        for account in call.world.accounts[kind].values():
            if account.viewer_only and level == "edit":
                continue
            for marketplace, profile in profiles_of(account):
                info = profile["accountInfo"]
                if MARKETPLACE_REGION[marketplace] is not call.region:
                    continue
                if types is not None and info["type"] not in types:
                    continue
                valid = info.get("validPaymentMethod")
                if payment == "true" and valid is False:
                    continue
                if payment == "false" and valid is not False:
                    continue
                found.append(profile)
    found.sort(key=lambda p: p["profileId"])
    return json_response(200, found[:MAX_PROFILES], c.MT_JSON)


ROUTES = (
    Route(
        "listProfiles",
        "GET",
        ("v2", "profiles"),
        "prof",
        None,
        c.MT_JSON,
        c.MT_JSON,
        list_profiles,
    ),
)
