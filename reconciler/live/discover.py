"""Which sponsored-ads and DSP accounts the credentials can see: `GET /v2/profiles` on each
regional host (reference §1.7; a host lists the profiles of its own region only, §1.1).

How a profile names an account (decision; the reference does not say): the account is
`accountInfo.id` as Amazon sends it, of the kind its `accountInfo.type` says: `seller` and
`vendor` are sponsored-ads accounts, `agency` a DSP account (S-PROF2 `AccountType`: "seller
and vendor account types are associated with Sponsored Ads APIs. The agency account type is
associated with DSP"). `accountInfo.id` is the id the manager-account associate call takes
(§1.7 notes) and "may be the same across marketplace": the profiles of one account in
several marketplaces (and so on several hosts) are one account, read once. Its people are
then read with `Amazon-Ads-AccountId: <that id>` (§4.1 lists "global ad account / profile"
and "DSP entity / DSP advertiser" for that header). Should Amazon name these accounts
otherwise (an `amzn1.ads-account.g...` id from another API), `PROFILE_KINDS` and
`profile_account` are the one place to change.

The second source, the linked accounts `GET /managerAccounts` returns (accountType SELLER,
VENDOR, DSP_ADVERTISING_ACCOUNT), is not read for people (decision): a link gives the
manager account access, not the caller the right to list the account's users (§2.1, §4.1),
and reading every linked account of every manager account would multiply the requests by
the links (up to 50 per manager account and host). Their names fill in a profile's empty
name ("Not currently populated for sellers", S-PROF2).

Untrusted data: ids and names are kept as data (escaped where shown). A profile without an
id, or ids that name accounts of two kinds the same header cannot tell apart, make the
discovery incomplete for those accounts: nothing is concluded from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from reconciler.model import KINDS, Region, Scope, ScopeKind

PROFILE_KINDS: Mapping[str, ScopeKind] = MappingProxyType(
    {"seller": ScopeKind.SPONSORED_ADS, "vendor": ScopeKind.SPONSORED_ADS, "agency": ScopeKind.DSP}
)
_ID = re.compile(r"[\x21-\x7e]{1,150}")


def is_account_id(value: str) -> bool:
    """Whether an id from a listing can name one account: sent as a header value (S-INV,
    S-UPM: `\\S*`, at most 150), and not `*`, which is every account of a kind to us
    (`Scope.wildcard`). One that cannot is never read, nor echoed."""
    return value != "*" and _ID.fullmatch(value) is not None


# The kinds discovery finds: a failed or cut-short profiles read leaves every one unknown.
DISCOVERED_KINDS = (ScopeKind.SPONSORED_ADS, ScopeKind.DSP)


@dataclass(frozen=True, slots=True)
class Found:
    """An account a profile names, and the hosts that listed it."""

    scope: Scope
    name: str
    regions: frozenset[Region]


def profile_account(raw: Any) -> tuple[ScopeKind, str, str] | str | None:
    """(kind, account id, name) of one profile; None for a type we do not govern; a reason
    (str) for a profile that names no account (no id, or not an object)."""
    if not isinstance(raw, Mapping):
        return "a profile that is not a JSON object"
    info = raw.get("accountInfo")
    if not isinstance(info, dict):
        return "a profile without accountInfo"
    kind = PROFILE_KINDS.get(str(info.get("type") or "").strip().lower())
    if kind is None:
        return None
    account_id = info.get("id")
    if not isinstance(account_id, str) or not account_id.strip():
        return f"a {KINDS[kind].noun} profile without accountInfo.id"
    if not is_account_id(account_id):
        # Never echoed: an id is shown and sent as a header, so one that could not be a
        # header value (S-INV/S-UPM: `\S*`, at most 150) names no account we can read.
        return f"a {KINDS[kind].noun} profile whose accountInfo.id is not an account id"
    name = info.get("name")
    return kind, account_id, name if isinstance(name, str) else ""


def collect(
    listed: Mapping[Region, Iterable[Any]],
    *,
    taken: Iterable[Scope] = (),
    names: Mapping[str, str] | None = None,
) -> tuple[dict[Scope, Found], dict[Scope, str]]:
    """The accounts the profiles of each host name, once each; and the scopes that cannot
    be read, with why: an account whose id also names an account of another kind in
    `taken` or among the profiles, when both kinds are named by the same header (the API
    could not tell which one a read is about). `names`: account id -> a name from another
    source, used when the profiles carry none."""
    seen: dict[Scope, tuple[str, set[Region]]] = {}
    problems: dict[Scope, str] = {}
    for region in Region:
        for raw in listed.get(region, ()):
            got = profile_account(raw)
            if got is None:
                continue
            if isinstance(got, str):
                for kind in DISCOVERED_KINDS:
                    problems.setdefault(
                        Scope(kind, "*"), f"GET /v2/profiles on the {region.value} host: {got}"
                    )
                continue
            kind, account_id, name = got
            scope = Scope(kind, account_id)
            before = seen.setdefault(scope, (name, set()))
            if not before[0] and name:
                seen[scope] = (name, before[1])
            seen[scope][1].add(region)
    others = [*taken, *seen]
    found: dict[Scope, Found] = {}
    for scope, (name, regions) in seen.items():
        clash = sorted(
            str(o)
            for o in others
            if o.key == scope.key and o.kind is not scope.kind
            and KINDS[o.kind].header == KINDS[scope.kind].header
        )  # fmt: skip
        if clash:
            problems[scope] = (
                f"GET /v2/profiles names {KINDS[scope.kind].noun} {scope.key}, whose id also "
                f"names {', '.join(clash)}: {KINDS[scope.kind].header} cannot say which one "
                "a read is about, so it is not read as this account"
            )
            continue
        name = name or (names or {}).get(scope.key, "")
        found[scope] = Found(scope, name, frozenset(regions))
    return found, problems
