"""Live state -> manifests (`reconciler import --out DIR`): the last arrow of the pipeline,
run backwards, so that adopting reconciler starts from what is there.

Layout (decision): one file per account, so that a team owns its files in git review:
`managers/<name>.yaml` per manager account (its people and links), `amc/<account id>.yaml`
per AMC account, `sponsored-ads/<id>.yaml` and `dsp/<id>.yaml` per sponsored-ads and DSP
account (`adAccounts:`, found through `GET /v2/profiles`, `live.discover`), and
`manifest.schema.json` beside them, which the `# yaml-language-server: $schema=` header of
each file points at (works offline, in any editor that speaks the YAML language server).

What is written, so that `import` then `plan` shows no changes:
- manager accounts pinned by `id` with their exact live name and every live link (by
  ACCOUNT_ID; region when not NA). No `type`: the API does not return it and a pinned
  account never needs it.
- the users of every kind of account pinned by `userId` with a comment: `POST /users/list`
  masks addresses (`a***@example.com`, reference §5), so an email cannot name them. Users
  holding a grant reconciler does not manage (EDITOR on AMC, grants that differ by country)
  are left out with a comment: the planner leaves such users alone, listed or not.
- pending invitations as users with their (unmasked) email and role; an expired one too,
  with a comment that `plan` will resend it (it is wanted, or it would not be there).
- a scope whose read was incomplete (a failed read, 50 links that may be truncated) gets
  `prune: false` and a comment: a manifest written from a partial read must never make a
  later plan remove what the read missed.

Every string that came from the API is untrusted (names are chosen by third parties):
values are written with the editor's `quoted`, ASCII-only YAML double-quoted scalars in
which every other character is an escape, so the file loads to exactly the live value;
comments with the editor's `one_line`, so a name in a comment can never start a new YAML
line, and cut short. File names are slugs of bounded length; where two accounts would share
one (compared without case), the later gets a digest of its id: none is written over another.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.manifest.edit import one_line, quoted, write_atomic
from reconciler.model import (
    Grant,
    Live,
    LiveAccount,
    LiveManagerAccount,
    Region,
    Scope,
    ScopeKind,
    manager_scope,
)
from reconciler.plan import when

SCHEMA_FILE = "manifest.schema.json"
HEADER = "# yaml-language-server: $schema=../" + SCHEMA_FILE


_COMMENT_MAX = 120
_STEM_MAX = 60


def _comment(text: str) -> str:
    """`text` made safe to follow `# ` on one line (`one_line`: nothing in it can end the
    comment), and cut short: the value itself, when written, is complete and quoted."""
    text = one_line(text)
    return text if len(text) <= _COMMENT_MAX else text[: _COMMENT_MAX - 1] + "..."


def _bounded(stem: str, source: str) -> str:
    if len(stem) <= _STEM_MAX:
        return stem
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{stem[:_STEM_MAX].rstrip('-_.')}-{digest}"


def _slug(text: str) -> str:
    return _bounded(re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "account", text)


def _safe_name(text: str) -> str:
    return _bounded(re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "account", text)


def _claim(taken: set[str], folder: str, source: str, *stems: str) -> str:
    """The first of `folder/<stem>.yaml` no other account holds, compared without case (some
    file systems ignore it), else the last stem with a digest of `source` (the id) and, in
    the unlikely case that is taken too, a counter: no account is written over another."""
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    last = stems[-1]
    candidates = [*stems, f"{last}-{digest}"]
    candidates += (f"{last}-{digest}-{n}" for n in range(2, len(taken) + 3))
    path = next(p for p in (f"{folder}/{c}.yaml" for c in candidates) if p.lower() not in taken)
    taken.add(path.lower())
    return path


def _incomplete(live: Live, *scopes: Scope) -> str | None:
    for scope in scopes:
        reason = live.incomplete_reason(scope)
        if reason is not None:
            return reason
    return None


def _manager_file(live: Live, account: LiveManagerAccount, read_at: str) -> str:
    reason = _incomplete(live, manager_scope(account.id), manager_scope("*"))
    people = live.reachable(manager_scope(account.id))
    entries, prune, admins = _people(live, people, reason is None) if people else ([], True, 0)
    lines = [
        HEADER,
        f"# Imported by `reconciler import` from live state read {read_at}.",
        "version: 1",
        "managerAccounts:",
        f"  - name: {quoted(account.name)}",
        f"    id: {quoted(account.id)}  # pinned: the id is the identity; names are not unique",
    ]
    if reason is not None:
        lines.append(f"    # The read was incomplete ({_comment(reason)}):")
        lines.append("    # prune is off so that nothing it missed is ever disassociated.")
        lines.append("    prune: false")
    elif not prune:
        lines.append(
            "    # prune is off: a pending invitation holds a grant reconciler cannot read."
        )
        lines.append("    prune: false")
    else:
        lines.append("    prune: true")
    if people is not None and reason is None:
        # Its people, as read: `users:` present makes them managed.
        lines.append(f"    minAdmins: {min(1, admins)}")
        lines.append("    users:" if entries else "    users: []")
        lines.extend(entries)
    if account.links:
        lines.append("    linkedAccounts:")
    for link in account.links:
        entry = f"id: {quoted(link.account_id)}"
        if link.region is not Region.NA:
            entry += f", region: {link.region.value}"
        about = ", ".join(x for x in (link.account_name, link.account_type) if x)
        lines.append(f"      - {{{entry}}}" + (f"  # {_comment(about)}" if about else ""))
    return "\n".join(lines) + "\n"


def _grant_yaml(grant: Grant) -> str:
    """`role: viewer` or `permissions: [a, b]`, and `countries: [US]` where held."""
    text = (
        f"role: {grant.role.value}"
        if grant.role is not None
        else f"permissions: [{', '.join(quoted(n) for n in grant.permissions)}]"
    )
    if grant.countries:
        text += f", countries: [{', '.join(quoted(c) for c in grant.countries)}]"
    return text


def _people(live: Live, account: LiveAccount, prune: bool) -> tuple[list[str], bool, int]:
    """The `users:` entries of an account's people, whether `prune` may stay on, and how
    many admins it has."""
    admins = sum(1 for u in account.users if u.role is not None and u.role.value == "admin")
    entries: list[str] = []
    for user in sorted(account.users, key=lambda u: (u.email.lower(), u.user_id)):
        if user.grant is None:
            roles = _comment("/".join(user.raw_roles)) or "an unknown role"
            entries.append(
                f"      # {_comment(user.email)} ({_comment(user.user_id)}) holds {roles}, "
                "which reconciler does "
                "not manage: not listed, and left alone by every plan"
            )
            continue
        if "*" in user.email:
            entries.append(
                f"      # {_comment(user.email)}: POST /users/list masks addresses, so this "
                "user is pinned by userId"
            )
            entries.append(f"      - {{userId: {quoted(user.user_id)}, {_grant_yaml(user.grant)}}}")
        else:
            entries.append(
                f"      - {{userId: {quoted(user.user_id)}, email: {quoted(user.email)}, "
                f"{_grant_yaml(user.grant)}}}"
            )
    for inv in sorted(account.invitations, key=lambda i: (i.email.lower(), i.invitation_id)):
        if inv.grant is None:
            prune = False
            entries.append(
                f"      # {_comment(inv.email)} has a pending invitation "
                f"({_comment(inv.invitation_id)}) for a role "
                "reconciler does not manage: not listed; prune is off so it is not revoked"
            )
            continue
        entry = f"email: {quoted(inv.email)}"
        if inv.name.strip():
            entry += f", name: {quoted(inv.name)}"
        comment = f"invited ({_comment(inv.invitation_id)}), pending"
        if inv.expires_at is not None:
            comment += f", expires {when(inv.expires_at)}"
            if inv.expires_at <= live.read_at:
                comment = f"invitation {_comment(inv.invitation_id)} expired "
                comment += f"{when(inv.expires_at)}: "
                comment += "`reconciler plan` will resend it; delete this entry if unwanted"
        entries.append(f"      - {{{entry}, {_grant_yaml(inv.grant)}}}  # {comment}")
    return entries, prune, admins


# Where each kind's accounts are written: (folder, top-level key). A manager account's
# people are in its own file, with its links.
_FILES = {
    ScopeKind.AMC: ("amc", "amcAccounts"),
    ScopeKind.SPONSORED_ADS: ("sponsored-ads", "adAccounts"),
    ScopeKind.DSP: ("dsp", "adAccounts"),
}


def _account_file(live: Live, account: LiveAccount, read_at: str) -> str:
    """An AMC account (`amcAccounts:`) or a sponsored-ads or DSP account (`adAccounts:`
    with its `type`), with its people."""
    reason = _incomplete(live, account.scope, account.scope.wildcard)
    entries, prune, admins = _people(live, account, reason is None)
    lines = [
        HEADER,
        f"# Imported by `reconciler import` from live state read {read_at}.",
        "version: 1",
        f"{_FILES[account.kind][1]}:",
        f"  - id: {quoted(account.id)}",
    ]
    if account.kind is not ScopeKind.AMC:
        lines.append(f"    type: {account.kind.value}")
    if account.name.strip():
        lines.append(f"    name: {quoted(account.name)}")
    if reason is not None:
        lines.append(f"    # The read was incomplete ({_comment(reason)}):")
        lines.append("    # prune is off so that nothing it missed is ever revoked.")
    lines.append(f"    prune: {'true' if prune else 'false'}")
    lines.append("    notify: true")
    # minAdmins cannot exceed what is live, or the very first plan would warn about it.
    lines.append(f"    minAdmins: {min(1, admins)}")
    # `users:` present makes the people managed (on an ad account, absent means unmanaged).
    lines.append("    users:" if entries else "    users: []")
    lines.extend(entries)
    return "\n".join(lines) + "\n"


def render_import(live: Live) -> dict[str, str]:
    """The manifest files describing `live`: relative path -> text. Pure."""
    read_at = when(live.read_at) if live.read_at else "at an unknown time"
    out: dict[str, str] = {}
    taken: set[str] = set()
    for account in sorted(live.manager_accounts, key=lambda m: (m.name, m.id)):
        stem = _slug(account.name)
        twin = f"{stem}-{_safe_name(account.id.rsplit('.', 1)[-1])}"
        out[_claim(taken, "managers", account.id, stem, twin)] = _manager_file(
            live, account, read_at
        )
    # An id that is a file name as it is keeps it: those first, then the others by id.
    for held in sorted(live.accounts, key=lambda a: (a.kind.value, _safe_name(a.id) != a.id, a.id)):
        if held.reachable and held.kind in _FILES:  # a manager's are in its own file
            path = _claim(taken, _FILES[held.kind][0], held.id, _safe_name(held.id))
            out[path] = _account_file(live, held, read_at)
    if out:
        schema = (files("reconciler") / "schemas" / "manifest.schema.json").read_text("utf-8")
        out[SCHEMA_FILE] = schema
    return out


def import_live(live: Live, out_dir: Path, *, force: bool = False) -> tuple[Path, ...]:
    """Write the manifests describing `live` under `out_dir`; the paths written, sorted.

    Refuses (exit 1) when any of those files exists, unless `force`: an import never
    silently replaces manifests someone wrote."""
    rendered: Mapping[str, str] = render_import(live)
    targets = {out_dir / rel: text for rel, text in rendered.items()}
    existing = sorted(str(p) for p in targets if p.exists())
    if existing and not force:
        listed = "\n".join(f"  {p}" for p in existing)
        raise ReconcilerError(
            f"refusing to overwrite {len(existing)} existing file(s):\n{listed}\n"
            "Choose an empty --out directory, or pass --force to replace them."
        )
    for path, text in sorted(targets.items()):
        write_atomic(path, text)
    return tuple(sorted(targets))
