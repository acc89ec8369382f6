"""What one `users:` entry grants, checked against its account's kind (`KINDS`): a `role`
the kind takes, or a custom `permissions` set of the kind's names, and `countries` only
where the kind takes them. Every problem is located at the key or list item it is about
(FILE:LINE:COL) and names the allowed values; nothing here branches on a kind's name.

Also where the people of each kind of account are written: `amcAccounts[]`,
`managerAccounts[]` (with `users:`) and `adAccounts[]` (`type: sponsored-ads | dsp`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.manifest.prune import PRUNED
from reconciler.manifest.yamlload import Path, YamlDoc
from reconciler.model import COUNTRY_CODES, KINDS, Grant, Role, ScopeKind, Source

# `adAccounts[].type` -> the kind of account it is.
AD_ACCOUNT_TYPES: Mapping[str, ScopeKind] = {
    "sponsored-ads": ScopeKind.SPONSORED_ADS,
    "dsp": ScopeKind.DSP,
}


def _diag(doc: YamlDoc, path: Path, message: str, *, key: bool = False) -> Diagnostic:
    line, col = doc.key_loc(path) if key else doc.loc(path)
    return Diagnostic(doc.file, line, col, message)


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'AEIOUaeiou' else 'a'} {noun}"


@dataclass(frozen=True, slots=True)
class PeopleEntry:
    """One account entry whose people the manifests manage."""

    doc: YamlDoc
    path: Path
    entry: dict[str, Any]
    kind: ScopeKind
    source: Source


def people_entries(docs: Sequence[YamlDoc], out: list[Diagnostic]) -> Iterator[PeopleEntry]:
    """Every account entry whose `users:` the manifests manage, in file order: each AMC
    account, and each manager or ad account that has a `users:` list (absent: its people
    are not managed and not read)."""
    for doc in docs:
        for index, entry in enumerate(doc.data.get("amcAccounts") or ()):
            if entry is not PRUNED:
                path: Path = ("amcAccounts", index)
                yield PeopleEntry(doc, path, entry, ScopeKind.AMC, _source(doc, path))
        for index, entry in enumerate(doc.data.get("managerAccounts") or ()):
            if entry is PRUNED or "users" not in entry:
                continue
            path = ("managerAccounts", index)
            if not entry.get("id"):
                out.append(
                    _diag(
                        doc,
                        (*path, "users"),
                        f"manager account `{entry.get('name')}` lists `users:` but has no "
                        "`id:`: people are managed on an existing manager account; add its "
                        "`id:` (amzn1.ads1.ma1...)",
                        key=True,
                    )
                )
                continue
            yield PeopleEntry(doc, path, entry, ScopeKind.MANAGER, _source(doc, path))
        for index, entry in enumerate(doc.data.get("adAccounts") or ()):
            if entry is PRUNED or "users" not in entry:
                continue
            path = ("adAccounts", index)
            kind = AD_ACCOUNT_TYPES[entry["type"]]  # the schema allows only these
            yield PeopleEntry(doc, path, entry, kind, _source(doc, path))


def _source(doc: YamlDoc, path: Path) -> Source:
    line, col = doc.loc(path)
    return Source(doc.file, line, col)


def entry_grant(
    doc: YamlDoc, path: Path, item: Mapping[str, Any], kind: ScopeKind, out: list[Diagnostic]
) -> Grant | None:
    """The grant a `users:` entry (or group entry) at `path` gives on an account of `kind`,
    or None after reporting every problem with it."""
    facts = KINDS[kind]
    noun = _a(facts.noun)
    problems = len(out)
    has_role, has_set = "role" in item, "permissions" in item
    if has_role and has_set:
        out.append(
            _diag(
                doc,
                path,
                "an entry has a `role` or `permissions`, not both: keep one",
            )
        )
        return None
    if not has_role and not has_set:
        takes = "`role`" + (" or `permissions`" if facts.permissions else "")
        out.append(_diag(doc, path, f"an entry needs {takes} to say what it grants"))
        return None
    role: Role | None = None
    names: tuple[str, ...] = ()
    if has_role:
        role = Role(item["role"])  # the schema allows admin, editor, viewer
        if role not in facts.roles:
            allowed = ", ".join(r.value for r in facts.roles)
            out.append(
                _diag(
                    doc,
                    (*path, "role"),
                    f"{noun} has no role `{role.value}`: use one of {allowed}",
                )
            )
    else:
        names = tuple(item["permissions"])
        if not names:
            out.append(
                _diag(
                    doc,
                    (*path, "permissions"),
                    "`permissions: []` grants nothing: list the permissions, or give a `role`",
                    key=True,
                )
            )
        elif not facts.permissions:
            allowed = ", ".join(r.value for r in facts.roles)
            out.append(
                _diag(
                    doc,
                    (*path, "permissions"),
                    f"{noun} takes no custom permission set: give a `role` ({allowed})",
                    key=True,
                )
            )
        else:
            for n, name in enumerate(item["permissions"]):
                if name is not PRUNED and name not in facts.permissions:
                    out.append(
                        _diag(
                            doc,
                            (*path, "permissions", n),
                            f"`{name}` is not a permission of {noun}: use one of "
                            f"{', '.join(facts.permissions)}",
                        )
                    )
    countries = tuple(item.get("countries") or ())
    if "countries" in item and not facts.countries:
        takers = ", ".join(KINDS[k].noun + "s" for k in KINDS if KINDS[k].countries)
        out.append(
            _diag(
                doc,
                (*path, "countries"),
                f"{noun} takes no `countries` (only {takers} do): remove it",
                key=True,
            )
        )
    elif "countries" in item and not countries:
        out.append(
            _diag(
                doc,
                (*path, "countries"),
                "`countries: []` names no country: list them, or remove the key (absent: "
                "the whole account)",
                key=True,
            )
        )
    elif "countries" in item:
        for n, code in enumerate(countries):
            if code is not PRUNED and code not in COUNTRY_CODES:
                meant = code.upper() if code.upper() in COUNTRY_CODES else None
                out.append(
                    _diag(
                        doc,
                        (*path, "countries", n),
                        f"`{code}` is not a country code {noun} takes: use one of "
                        f"{', '.join(sorted(COUNTRY_CODES))}"
                        + (f"; did you mean `{meant}`?" if meant else ""),
                    )
                )
    if len(out) > problems:
        return None
    return Grant(role, tuple(sorted(set(names))), tuple(sorted(set(countries))))
