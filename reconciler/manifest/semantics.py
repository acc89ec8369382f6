"""From schema-valid documents to one normalised `Desired`, enforcing the rules a schema cannot
express ("Semantics to enforce"):

- identities are unique across all files: a manager account by `id`, else `name`; a linked
  account by (`idType`, `id`) within its manager account; an AMC account by `id`; an AMC user
  by `userId`, else the email compared case-insensitively. A duplicate names both places;
- one person, one role per AMC account, whether listed directly or through groups;
- at most 50 linked accounts per manager account and region: `GET /managerAccounts` returns at
  most 50 (reference §2.2, S-MA2 `linkedAccounts.maxItems: 50`), so more could never be
  verified;
- an AMC account that prunes must list at least `minAdmins` admins, else the plan could only
  refuse;
- `policy:` is set in one file at most; with `allowedEmailDomains` (top level,
  plus an AMC account's own `policy.allowedEmailDomains`) every address listed for an AMC
  account, directly or through a group, must be at one of them (exact domain,
  case-insensitive); with `adminGroups`, an admin entry must be a group named there or a
  member of one; `adminGroups` must name defined groups.

Defaults are filled here, groups expanded, and every tuple sorted canonically so that the
order of files and entries never changes the result.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from reconciler import addresses
from reconciler.errors import Diagnostic
from reconciler.manifest.grants import entry_grant, people_entries
from reconciler.manifest.prune import PRUNED
from reconciler.manifest.review import latest, review_every, reviewed
from reconciler.manifest.yamlload import Path, YamlDoc
from reconciler.model import (
    KINDS,
    AccountPolicy,
    Desired,
    DesiredAccount,
    DesiredLink,
    DesiredManagerAccount,
    DesiredPolicy,
    DesiredUser,
    IdType,
    LinkRole,
    ManagerAccountType,
    Region,
    Role,
    ScopeKind,
    Source,
    canonical_email,
)

# Reference §2.2: "A maximum of 50 linked accounts are returned for each manager account".
MAX_LINKS_PER_REGION = 50


@dataclass(frozen=True, slots=True)
class _Member:
    email: str
    name: str
    source: Source
    user_id: str | None = None
    not_user_ids: frozenset[str] = frozenset()
    expiry: Expiry | None = None
    reviewed: tuple[float, Source] | None = None


@dataclass(frozen=True, slots=True)
class Expiry:
    """A parsed `expires:` (UTC epoch seconds), its `reason:` and where it was written."""

    at: float
    reason: str | None
    source: Source


# The documented forms of `expires:`, and no other: a date, or a date and a time (minutes,
# optionally seconds and a fraction) with a zone. `datetime.fromisoformat` alone also takes
# ISO week and ordinal dates, the basic format and a space for the `T`: not documented,
# easy to misread, so refused.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?"
)


# What a `users:` entry says about who a person is: on a group entry, each member's entry
# under `groups` says it instead.
_MEMBER_KEYS = ("email", "userId", "name", "notUserIds", "unicode")


def parse_expires(text: str) -> float | str:
    """`expires:` as UTC epoch seconds, or what is wrong with it.

    Decision: a bare date (`2026-12-31`) means 00:00 UTC that day: the access is gone on the
    date written, in every time zone, and never lasts longer than the date says. A date and
    time must carry its zone (`Z`, `+01:00`): a time without one would mean something else
    on every machine. The instant must be within the calendar in UTC (0001-01-01 00:00 to
    9999-12-31 23:59:59): one outside could not be shown or compared by anything
    downstream."""
    value = text.strip()
    bad = (
        f"`expires: {value}` is not a date or a date and time: write 2026-12-31 "
        "(00:00 UTC that day) or 2026-12-31T17:00:00+01:00"
    )
    if _DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return bad
        return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    form = _DATE_TIME.fullmatch(value)
    if form is None:
        return bad
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return bad
    if form["zone"] is None or moment.utcoffset() is None:
        return (
            f"`expires: {value}` has a time but no zone, so it would mean another moment on "
            "every machine: add one, e.g. `Z` for UTC or `+01:00`"
        )
    try:
        moment.astimezone(UTC)
    except OverflowError:
        early = form["date"].startswith("0001-")
        edge = "before 0001-01-01 00:00 UTC" if early else "after 9999-12-31 23:59:59 UTC"
        return (
            f"`expires: {value}` is {edge}, outside the calendar: write an instant between "
            "0001-01-01 and 9999-12-31 in UTC"
        )
    return moment.timestamp()


def _expiry(
    doc: YamlDoc, path: Path, item: dict[str, Any], out: list[Diagnostic]
) -> tuple[bool, Expiry | None]:
    """(ok, the entry's `expires:`/`reason:` or None when it has none); not ok after
    reporting a problem."""
    if "expires" not in item:
        if "reason" in item:
            out.append(
                _diag(
                    _src(doc, (*path, "reason")),
                    "`reason:` says why access ends, so it needs `expires:`: add `expires:` "
                    "or remove `reason:`",
                )
            )
            return False, None
        return True, None
    where = _src(doc, (*path, "expires"))
    raw = item["expires"]
    parsed = parse_expires(raw) if isinstance(raw, str) else f"`expires: {raw}` is not a date"
    if isinstance(parsed, str):
        out.append(_diag(where, parsed))
        return False, None
    return True, Expiry(parsed, item.get("reason"), where)


def _review_fields(found: tuple[float, Source] | None) -> dict[str, Any]:
    return {} if found is None else {"reviewed": found[0], "reviewed_source": found[1]}


def _src(doc: YamlDoc, path: Path) -> Source:
    line, col = doc.loc(path)
    return Source(doc.file, line, col)


def _key_src(doc: YamlDoc, path: Path) -> Source:
    line, col = doc.key_loc(path)
    return Source(doc.file, line, col)


def _at(source: Source) -> str:
    return f"{source.file}:{source.line}:{source.col}"


def _diag(source: Source, message: str) -> Diagnostic:
    return Diagnostic(source.file, source.line, source.col, message)


def _default_name(email: str) -> str:
    return email.split("@", 1)[0]


def build_desired(docs: Sequence[YamlDoc], *, partial: bool = False) -> Desired | list[Diagnostic]:
    """The normalised `Desired` for schema-valid `docs`, or every semantic problem found.

    `partial`: a group may be defined where it could not be read (a file that failed to
    parse), so a group may look unknown and an admin granted through it may look missing;
    those two checks are skipped to avoid false alarms. Entries set aside as `PRUNED` (they
    failed the schema, see `prune`) are skipped, and so is the admin count of an account
    that lost a user entry, directly or through a group.
    """
    out: list[Diagnostic] = []
    incomplete: set[str] = set()  # groups that lost a member entry
    groups = _groups(docs, out, incomplete)
    policy = _policy(docs, groups, out, partial=partial)
    managers = _managers(docs, out)
    amcs = _people_accounts(docs, groups, policy, out, partial=partial, incomplete=incomplete)
    if out:
        return out
    return Desired(
        manager_accounts=tuple(sorted(managers, key=lambda m: (m.key, m.name))),
        accounts=tuple(sorted(amcs, key=lambda a: (a.kind.value, a.id))),
        files=tuple(doc.file for doc in docs),
        policy=policy,
        groups={
            name: tuple(_as_user(name, m) for m in members) for name, members in groups.items()
        },
    )


def _as_user(group: str, member: _Member) -> DesiredUser:
    return DesiredUser(
        role=Role.VIEWER,
        email=member.email,
        user_id=member.user_id,
        name=member.name,
        group=group,
        not_user_ids=member.not_user_ids,
        source=member.source,
        pin_at=member.source,
        expires=member.expiry.at if member.expiry else None,
        expiry_reason=member.expiry.reason if member.expiry else None,
        expires_source=member.expiry.source if member.expiry else None,
    )


def _policy(
    docs: Sequence[YamlDoc],
    groups: dict[str, list[_Member]],
    out: list[Diagnostic],
    *,
    partial: bool,
) -> DesiredPolicy:
    found: tuple[YamlDoc, Source] | None = None
    for doc in docs:
        if "policy" not in doc.data:
            continue
        source = _key_src(doc, ("policy",))
        if found is not None:
            out.append(
                _diag(
                    source,
                    f"`policy` is set again (first at {_at(found[1])}): the policy is one "
                    "block, in one file; merge the two",
                )
            )
            continue
        found = (doc, source)
    if found is None:
        return DesiredPolicy()
    doc, _ = found
    block: dict[str, Any] = doc.data["policy"] or {}
    sources: dict[str, Source] = {
        key: _src(doc, ("policy", key)) for key in block if key != "protectedUsers"
    }
    protected: list[str] = []
    for index, who in enumerate(block.get("protectedUsers") or ()):
        key = canonical_email(who) if "@" in who else who.strip()
        if key not in protected:
            protected.append(key)
            sources[f"protectedUsers/{key}"] = _src(doc, ("policy", "protectedUsers", index))
    admin_groups: list[str] = block.get("adminGroups") or []
    for index, name in enumerate(admin_groups):
        if name not in groups and not partial:
            close = difflib.get_close_matches(name, sorted(groups), 1)
            hint = f"; did you mean `{close[0]}`?" if close else "; define it under `groups`"
            out.append(
                _diag(
                    _src(doc, ("policy", "adminGroups", index)),
                    f"`adminGroups` names unknown group `{name}`{hint}",
                )
            )
    fraction = block.get("maxRemovalFraction")
    return DesiredPolicy(
        max_removals=block.get("maxRemovals"),
        max_removal_fraction=None if fraction is None else float(fraction),
        removal_floor=block.get("removalFloor"),
        allowed_email_domains=tuple(
            sorted({d.lower() for d in block.get("allowedEmailDomains") or ()})
        ),
        protected_users=tuple(protected),
        admin_groups=tuple(sorted(set(admin_groups))),
        review_every=review_every(doc, ("policy",), block, out),
        sources=sources,
        admin_members=frozenset(
            canonical_email(m.email) for name in admin_groups for m in groups.get(name, ())
        ),
    )


def _account_policy(
    doc: YamlDoc, path: Path, entry: dict[str, Any], out: list[Diagnostic]
) -> AccountPolicy | None:
    block = entry.get("policy")
    if block is None:
        return None
    fraction = block.get("maxRemovalFraction")
    return AccountPolicy(
        max_removal_fraction=None if fraction is None else float(fraction),
        removal_floor=block.get("removalFloor"),
        allowed_email_domains=tuple(
            sorted({d.lower() for d in block.get("allowedEmailDomains") or ()})
        ),
        source=_key_src(doc, (*path, "policy")),
        review_every=review_every(doc, (*path, "policy"), block, out),
    )


@dataclass(frozen=True, slots=True)
class _Rules:
    """The policy rules `validate` enforces on one AMC account's entries."""

    account_id: str
    domains: frozenset[str]  # empty: any domain
    domains_where: str
    admin_groups: frozenset[str]  # empty: anyone may be admin
    admin_members: frozenset[str]  # lower-case addresses of the admin groups' members
    admin_where: str
    noun: str = "AMC account"


def _rules(
    account_id: str,
    policy: DesiredPolicy,
    own: AccountPolicy | None,
    groups: dict[str, list[_Member]],
    *,
    noun: str,
) -> _Rules:
    extra = own.allowed_email_domains if own is not None else ()
    places = []
    if policy.allowed_email_domains:
        places.append(f"policy.allowedEmailDomains at {policy.sources['allowedEmailDomains']}")
    if extra and own is not None:
        places.append(f"this account's policy at {own.source}")
    members = frozenset(
        canonical_email(m.email) for name in policy.admin_groups for m in groups.get(name, ())
    )
    return _Rules(
        account_id=account_id,
        domains=frozenset(policy.allowed_email_domains) | frozenset(extra),
        domains_where=" and ".join(places),
        admin_groups=frozenset(policy.admin_groups),
        admin_members=members,
        admin_where=str(policy.sources.get("adminGroups", "")),
        noun=noun,
    )


def _check_rules(
    user: DesiredUser,
    where: Source,
    rules: _Rules,
    out: list[Diagnostic],
    *,
    domains: bool = True,
) -> None:
    """`allowedEmailDomains` and `adminGroups` for one expanded entry."""
    if domains and rules.domains and user.email is not None:
        domain = canonical_email(user.email).rsplit("@", 1)[-1]
        if domain not in rules.domains:
            out.append(
                _diag(
                    where,
                    f"`{user.email}` is not at an allowed email domain of {rules.noun} "
                    f"`{rules.account_id}` ({', '.join(sorted(rules.domains))}; "
                    f"{rules.domains_where}): use an address at one of them, or allow "
                    f"`{domain}` in `policy.allowedEmailDomains` (for one client's account: "
                    "in that account's `policy:`)",
                )
            )
    if rules.admin_groups and user.role is Role.ADMIN:
        if user.group in rules.admin_groups:
            return
        if user.email is not None and canonical_email(user.email) in rules.admin_members:
            return
        who = user.email or user.user_id
        via = f" through group `{user.group}`" if user.group else ""
        out.append(
            _diag(
                where,
                f"`{who}` is made admin of {rules.noun} `{rules.account_id}`{via}, but only "
                f"members of {', '.join(f'`{g}`' for g in sorted(rules.admin_groups))} may "
                f"be admins (policy.adminGroups at {rules.admin_where}): add them to one of "
                "those groups, or make them a viewer",
            )
        )


def _overrides(items: Sequence[Any]) -> dict[str, str]:
    """A group entry's `overrides:`: userId or canonical address -> role (`none`: no access
    on this account). The group stays the source of truth: an override naming nobody in
    the group has no effect, so leaving the group ends the access here too."""
    found: dict[str, str] = {}
    for item in items:
        if item is PRUNED:
            continue
        if item.get("userId"):
            found[item["userId"]] = item["role"]
        if item.get("email"):
            found[canonical_email(item["email"])] = item["role"]
    return found


def _groups(
    docs: Sequence[YamlDoc], out: list[Diagnostic], incomplete: set[str]
) -> dict[str, list[_Member]]:
    groups: dict[str, list[_Member]] = {}
    where: dict[str, Source] = {}
    for doc in docs:
        for name, members in (doc.data.get("groups") or {}).items():
            path: Path = ("groups", name)
            source = _key_src(doc, path)
            if name in where:
                out.append(_diag(source, f"duplicate group `{name}` (also at {_at(where[name])})"))
                continue
            where[name] = source
            seen: dict[str, Source] = {}
            expanded: list[_Member] = []
            for index, member in enumerate(members):
                if member is PRUNED:
                    incomplete.add(name)
                    continue
                msource = _src(doc, (*path, index))
                email: str = member["email"]
                first = seen.get(email.lower())
                if first is not None:
                    out.append(
                        _diag(
                            msource,
                            f"`{email}` is listed twice in group `{name}` (also at {_at(first)})",
                        )
                    )
                    continue
                seen[email.lower()] = msource
                bad = addresses.problem(email, unicode_ok=member.get("unicode") is True)
                if bad is not None:
                    out.append(_diag(_src(doc, (*path, index, "email")), bad))
                    continue
                ok, expiry = _expiry(doc, (*path, index), member, out)
                if not ok:
                    continue
                expanded.append(
                    _Member(
                        email,
                        member.get("name") or _default_name(email),
                        msource,
                        member.get("userId"),
                        frozenset(member.get("notUserIds") or ()),
                        expiry,
                        reviewed(doc, (*path, index), member, out),
                    )
                )
            groups[name] = expanded
    return groups


def _managers(docs: Sequence[YamlDoc], out: list[Diagnostic]) -> list[DesiredManagerAccount]:
    result: list[DesiredManagerAccount] = []
    by_key: dict[str, Source] = {}
    by_name: dict[str, tuple[Source, bool]] = {}  # name -> (where, pinned by id)
    for doc in docs:
        for index, entry in enumerate(doc.data.get("managerAccounts") or ()):
            if entry is PRUNED:
                continue
            path: Path = ("managerAccounts", index)
            source = _src(doc, path)
            account = _manager(doc, path, entry, source, out)
            what = f"id `{account.id}`" if account.id else f"name `{account.name}`"
            if account.key in by_key:
                out.append(
                    _diag(
                        source,
                        f"duplicate manager account with {what} "
                        f"(also at {_at(by_key[account.key])})",
                    )
                )
                continue
            by_key[account.key] = source
            pinned = account.id is not None
            earlier = by_name.get(account.name)
            if earlier is not None and not (pinned and earlier[1]):
                out.append(
                    _diag(
                        source,
                        f"manager account name `{account.name}` is also used at "
                        f"{_at(earlier[0])}: an account without `id` is found by name, so "
                        "names must be unique unless every account sharing it has an `id`",
                    )
                )
                continue
            by_name.setdefault(account.name, (source, pinned))
            result.append(account)
    return result


def _manager(
    doc: YamlDoc, path: Path, entry: dict[str, Any], source: Source, out: list[Diagnostic]
) -> DesiredManagerAccount:
    links: list[DesiredLink] = []
    seen: dict[tuple[str, str], Source] = {}
    per_region: dict[Region, int] = {}
    for index, item in enumerate(entry.get("linkedAccounts") or ()):
        if item is PRUNED:
            continue
        lsource = _src(doc, (*path, "linkedAccounts", index))
        role = item.get("role")
        link = DesiredLink(
            id=item["id"],
            id_type=IdType(item.get("idType", IdType.ACCOUNT_ID.value)),
            region=Region(item.get("region", Region.NA.value)),
            role=LinkRole(role) if role is not None else None,
            source=lsource,
        )
        first = seen.get(link.key)
        if first is not None:
            out.append(
                _diag(
                    lsource,
                    f"linked account {link.id_type.value} `{link.id}` is listed twice in "
                    f"manager account `{entry['name']}` (also at {_at(first)})",
                )
            )
            continue
        seen[link.key] = lsource
        links.append(link)
        per_region[link.region] = per_region.get(link.region, 0) + 1
    for region, count in sorted(per_region.items()):
        if count > MAX_LINKS_PER_REGION:
            out.append(
                _diag(
                    source,
                    f"manager account `{entry['name']}` lists {count} linked accounts in region "
                    f"{region.value}: Amazon's API shows at most {MAX_LINKS_PER_REGION} per "
                    "manager account, so the rest could never be verified; split it into "
                    "several manager accounts",
                )
            )
    kind = entry.get("type")
    return DesiredManagerAccount(
        name=entry["name"],
        id=entry.get("id"),
        type=ManagerAccountType(kind) if kind is not None else None,
        prune=entry.get("prune", True),
        links=tuple(sorted(links, key=lambda k: (k.region.value, k.id_type.value, k.id))),
        source=source,
        links_at=_key_src(doc, (*path, "linkedAccounts")) if "linkedAccounts" in entry else None,
    )


def _people_accounts(
    docs: Sequence[YamlDoc],
    groups: dict[str, list[_Member]],
    policy: DesiredPolicy,
    out: list[Diagnostic],
    *,
    partial: bool,
    incomplete: set[str],
) -> list[DesiredAccount]:
    result: list[DesiredAccount] = []
    seen: dict[tuple[ScopeKind, str], Source] = {}
    for found in people_entries(docs, out):
        doc, path, entry, source = found.doc, found.path, found.entry, found.source
        account_id: str = entry["id"]
        noun = KINDS[found.kind].noun
        if (found.kind, account_id) in seen:
            first = seen[found.kind, account_id]
            out.append(_diag(source, f"duplicate {noun} `{account_id}` (also at {_at(first)})"))
            continue
        seen[found.kind, account_id] = source
        own = _account_policy(doc, path, entry, out)
        rules = _rules(account_id, policy, own, groups, noun=noun)
        users = _users(doc, path, entry, groups, rules, out, partial=partial, kind=found.kind)
        min_admins: int = entry.get("minAdmins", 1)
        prune: bool = entry.get("prune", True)
        admins = sum(1 for u in users if u.role is Role.ADMIN)
        entries = entry.get("users") or ()
        lost_users = any(u is PRUNED for u in entries) or any(
            u.get("group") in incomplete for u in entries if u is not PRUNED
        )
        if prune and admins < min_admins and not partial and not lost_users:
            out.append(
                _diag(
                    source,
                    f"{noun[:1].upper()}{noun[1:]} `{account_id}` lists {admins} admin(s) but "
                    f"minAdmins is {min_admins}: add an admin, or lower `minAdmins`",
                )
            )
        result.append(
            DesiredAccount(
                kind=found.kind,
                id=account_id,
                name=entry.get("name"),
                prune=prune,
                notify=entry.get("notify", True),
                min_admins=min_admins,
                users=tuple(sorted(users, key=lambda u: u.key)),
                source=source,
                policy=own,
                users_at=_key_src(doc, (*path, "users")) if "users" in entry else None,
                owners=tuple(entry.get("owners") or ()),
            )
        )
    return result


def _users(
    doc: YamlDoc,
    path: Path,
    entry: dict[str, Any],
    groups: dict[str, list[_Member]],
    rules: _Rules,
    out: list[Diagnostic],
    *,
    partial: bool,
    kind: ScopeKind,
) -> list[DesiredUser]:
    users: list[DesiredUser] = []
    # identity -> (user, where, how it was granted), for duplicate and double-role checks
    granted: dict[str, tuple[DesiredUser, Source, str]] = {}

    def grant(user: DesiredUser, where: Source, how: str) -> None:
        keys = {user.key}
        if user.email is not None:
            keys.add(user.email.lower())
        for key in keys:
            if key in granted:
                other, other_where, other_how = granted[key]
                who = user.email or user.user_id
                if other.grant == user.grant:
                    problem = f"`{who}` is listed twice on {rules.noun} `{entry['id']}`"
                else:
                    problem = (
                        f"`{who}` is granted two roles on {rules.noun} `{entry['id']}`: "
                        f"{user.grant} {how} and {other.grant} {other_how}"
                    )
                out.append(_diag(where, f"{problem} (also at {_at(other_where)}); keep one"))
                return
        for key in keys:
            granted[key] = (user, where, how)
        users.append(user)

    for index, item in enumerate(entry.get("users") or ()):
        if item is PRUNED:
            continue
        upath = (*path, "users", index)
        source = _src(doc, upath)
        given_grant = entry_grant(doc, upath, item, kind, out)
        if given_grant is None:
            continue
        role = given_grant.role
        given = [k for k in ("email", "group", "userId") if k in item]
        ok, own = _expiry(doc, upath, item, out)
        if not ok:
            continue
        if "group" not in item and "overrides" in item:
            out.append(
                _diag(
                    _key_src(doc, (*upath, "overrides")),
                    "`overrides` says how this account differs for members of a group, so "
                    "it needs `group`: move it to the group's entry, or remove it",
                )
            )
            continue
        own_review = reviewed(doc, upath, item, out)
        if "group" in item:
            # Who each member is (and which live users they are not) is the group's to say,
            # per member; `expires`, `reason` and `reviewed` here apply to every member.
            extra = [k for k in _MEMBER_KEYS if k in item]
            if extra:
                out.append(
                    _diag(
                        source,
                        "a group entry takes `group`, `role` or `permissions`, `countries`, "
                        "`overrides`, `expires`, `reason` and `reviewed`; remove "
                        + ", ".join(f"`{k}`" for k in extra)
                        + ": who a member is ("
                        + ", ".join(f"`{k}`" for k in _MEMBER_KEYS)
                        + ") is said on its entry under `groups`",
                    )
                )
                continue
            name = item["group"]
            if name not in groups:
                if partial:
                    continue
                message = f"unknown group `{name}`"
                close = difflib.get_close_matches(name, sorted(groups), 1)
                message += (
                    f"; did you mean `{close[0]}`?" if close else "; define it under `groups`"
                )
                out.append(_diag(source, message))
                continue
            nobody = [
                n
                for n, x in enumerate(item.get("overrides") or ())
                if x is not PRUNED and not (x.get("email") or x.get("userId"))
            ]
            for n in nobody:
                out.append(
                    _diag(
                        _src(doc, (*upath, "overrides", n)),
                        "an override needs `email` or `userId` to say which member it is",
                    )
                )
            exceptions = _overrides(item.get("overrides") or ())
            for member in groups[name]:
                # This account's exception for the member, if any: by userId, else address.
                special = (exceptions.get(member.user_id) if member.user_id else None) or (
                    exceptions.get(canonical_email(member.email))
                )
                if special == "none":
                    continue
                role = Role(special) if special else given_grant.role
                held = (
                    given_grant if not special else replace(given_grant, role=role, permissions=())
                )
                # The earlier of the member's own expiry and this group entry's applies.
                ends = min(
                    (e for e in (member.expiry, own) if e is not None),
                    key=lambda e: e.at,
                    default=None,
                )
                user = DesiredUser(
                    role=role,
                    permissions=held.permissions,
                    countries=held.countries,
                    email=member.email,
                    user_id=member.user_id,
                    name=member.name,
                    group=name,
                    not_user_ids=member.not_user_ids,
                    source=source,
                    pin_at=member.source,
                    expires=ends.at if ends else None,
                    expiry_reason=ends.reason if ends else None,
                    expires_source=ends.source if ends else None,
                    **_review_fields(latest(member.reviewed, own_review)),
                )
                grant(user, source, f"through group `{name}`")
                # An address is reported where it is written (the group's member); the
                # role where it is granted (this entry).
                _check_rules(
                    DesiredUser(role=Role.VIEWER, email=member.email), member.source, rules, out
                )
                _check_rules(
                    DesiredUser(role=role, email=member.email, group=name),
                    source,
                    rules,
                    out,
                    domains=False,
                )
            continue
        if not given:
            out.append(
                _diag(source, "a user entry needs `email`, `userId` or `group` to say who it is")
            )
            continue
        email = item.get("email")
        user_id = item.get("userId")
        if email is not None:
            bad = addresses.problem(email, unicode_ok=item.get("unicode") is True)
            if bad is not None:
                out.append(_diag(_src(doc, (*upath, "email")), bad))
                continue
        name = item.get("name") or (_default_name(email) if email else "")
        user = DesiredUser(
            role=role,
            permissions=given_grant.permissions,
            countries=given_grant.countries,
            email=email,
            user_id=user_id,
            name=name,
            not_user_ids=frozenset(item.get("notUserIds") or ()),
            source=source,
            expires=own.at if own else None,
            expiry_reason=own.reason if own else None,
            expires_source=own.source if own else None,
            **_review_fields(own_review),
        )
        grant(user, source, "directly")
        _check_rules(user, source, rules, out)
    return users
