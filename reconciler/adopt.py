"""`reconciler adopt PATH...`: rewrite the manifests so that they describe what is live for
the accounts they manage (issue #15). The opposite of `apply`: drift becomes a reviewed
change in git instead of being reverted.

What is adopted, per account whose read is complete:
- AMC users: a role changed live (a proven user, or a pending invitation) changes the
  entry's `role:`; an entry whose person is neither a user nor invited any more (removed,
  or the invitation revoked, out of band) is removed; with `prune`, a live user nobody
  lists is added pinned by `userId:` with a comment holding the address Amazon showed
  (masked: `a***@corp.example`), and a pending invitation nobody lists is added by email;
- linked accounts: a listed link that is not linked live is removed; with `prune`, a link
  nobody lists is added.

A list with no entries yet (`users: []`, or no `users:` key in a block mapping) gets the
key and the entries, at the end of the account's mapping; a list whose every entry goes
becomes `users: []` (a key with no entries would be null, which no manifest allows).
An account is adopted whole or not at all: when adopting it would list fewer admins than
its `minAdmins` (with `prune`), nothing on it is adopted, and it is listed as skipped.

An entry whose `expires:` has passed and whose person has no access live any more (apply
has revoked them) is removed: it was only the marker that ended the access.

What is not: an expired `expires:` grant still live (git says it ends; the plan removes it), an
expired invitation (the plan resends it), a change on a user that fits an entry by masked
address only (evidence before access: pin it first, `reconciler pin --held`), masked users
that cannot be told apart, a manager account that does not exist live, a new key in an
entry written as a flow mapping, and every scope whose read failed or may be incomplete.
Each is listed as skipped, with why.

With `--baseline REF` (the last successful apply) a difference is adopted only where the
plan of REF's manifests asks exactly what today's plan asks (`_Evidence`): there the
manifests did not change, so live moved behind git's back. Anything else is a merged change
that apply has not made yet, or one both live and git moved: listed, never adopted over.

Groups (decision): a change on one AMC account never edits a group, because a group may be
used by other accounts. The account's `{group: G, role: R}` entry gets `overrides:` for the
members that changed there (`role: none` for one removed), so the group stays the source of
truth: a member who leaves it later loses access on this account too. Where the entry has
an `overrides:` already, it is replaced by its members listed one by one instead, under a
comment that says why.

Edits are line-level text edits, as `reconciler.pin` makes them: only the lines that change,
change; comments, order, quoting and layout stay byte for byte. Every value that came from
the API (addresses, ids) is written as a JSON string, a valid YAML scalar whatever it holds;
comments quote it the same way, so no value can add a key, a line or a document. Before
anything is written, the edited manifests are loaded again and planned against the same
live read: the plan must hold no action the old one did not (adopt never adds a change);
else nothing is written.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import yaml

from reconciler.actions import describe, drift_key
from reconciler.baseline import Revision, compare, plan_then
from reconciler.digest import action_meaning
from reconciler.errors import ManifestError, ReconcilerError
from reconciler.escape import terminal
from reconciler.identity import Resolution, resolve_users
from reconciler.importer import write_atomic
from reconciler.manifest import load_manifests
from reconciler.manifest.addresses import escaped
from reconciler.manifest.admins import admin_floor
from reconciler.manifest.layout import Entry, Layout, layout, line_break, split_lines
from reconciler.model import (
    AmcRole,
    Desired,
    DesiredAmcAccount,
    DesiredLink,
    DesiredManagerAccount,
    DesiredPolicy,
    DesiredUser,
    IdType,
    Live,
    Region,
    Scope,
    Source,
    amc_scope,
    canonical_email,
    manager_scope,
)
from reconciler.plan import Action, ActionKind, Baseline, Plan, Policy
from reconciler.planner import make_plan
from reconciler.planning.draft import day

U = TypeVar("U")
_DASH = re.compile(r"^(\s*)- ")


def permissive(now: float) -> Policy:
    """Adopt describes what is there; the guards are for changes to live state."""
    return Policy(
        max_removals=10**9,
        max_removal_fraction=1.0,
        now=now,
        allow_incomplete=True,
        allow_unresolved=True,
        allow_fewer_admins=True,
    )


@dataclass(frozen=True, slots=True)
class FileEdit:
    path: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Adoption:
    """What adopt changes: the files (before and after), one line per adopted change and
    one per change it did not adopt, with why."""

    files: tuple[FileEdit, ...] = ()
    adopted: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    def diff(self) -> str:
        out: list[str] = []
        for edit in self.files:
            out += difflib.unified_diff(
                split_lines(edit.before),
                split_lines(edit.after),
                fromfile=f"a/{edit.path}",
                tofile=f"b/{edit.path}",
            )
        # Manifest lines and API values are shown, not interpreted, by the terminal.
        return "".join(terminal(line.rstrip("\r\n")) + "\n" for line in out)


def _q(value: str) -> str:
    """A JSON string, ASCII only: a valid YAML double-quoted scalar whatever `value` holds
    (no raw line break, U+2028, bidi control or quote can end it)."""
    return json.dumps(value, ensure_ascii=True)


@dataclass(slots=True)
class _Edits:
    """Pending line edits of one file: replacements of line ranges (1-based, inclusive;
    no new lines deletes them) and insertions after a line."""

    replace: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    insert: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))


class _Editor:
    """Line edits of manifest files, placed by their layout (`reconciler.manifest.layout`).
    Every edit is claimed first: two that touch the same lines are never both made."""

    def __init__(self) -> None:
        self.layouts: dict[str, Layout] = {}
        self.edits: dict[str, _Edits] = defaultdict(_Edits)
        self.adopted: list[str] = []
        self.skipped: list[str] = []

    def fork(self) -> _Editor:
        """An editor of the same files (read once) with no edits of its own yet."""
        other = _Editor()
        other.layouts = self.layouts
        return other

    def merge(self, other: _Editor) -> None:
        """Take `other`'s edits (of other lines: one account's entries are not another's)."""
        for file, edits in other.edits.items():
            mine = self.edits[file]
            mine.replace.update(edits.replace)
            for line, new in edits.insert.items():
                mine.insert[line].extend(new)
        self.adopted += other.adopted
        self.skipped += other.skipped

    def layout(self, file: str) -> Layout:
        if file not in self.layouts:
            try:
                # newline="": every line keeps its own break (CR LF stays CR LF).
                with open(file, encoding="utf-8", newline="") as handle:
                    text = handle.read()
                self.layouts[file] = layout(text)
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise ReconcilerError(f"{file}: cannot read it to adopt ({exc})") from exc
        return self.layouts[file]

    def lines(self, file: str) -> list[str]:
        return self.layout(file).lines

    def entry(self, source: Source) -> Entry | None:
        return self.layout(source.file).entries.get((source.line, source.col))

    def entry_range(self, source: Source) -> tuple[int, int] | None:
        """The lines of the list entry whose value starts at `source`, from its dash to the
        end of its last value (blank lines and comments inside included); None when
        `source` is not where a block list entry starts."""
        found = self.entry(source)
        return None if found is None else (found.first, found.last)

    def claim(self, file: str, span: tuple[int, int], new: list[str], what: str) -> bool:
        edits = self.edits[file]
        for start, end in edits.replace:
            if not (span[1] < start or end < span[0]):
                self.skipped.append(f"{what}: its lines are changed by another adoption")
                return False
        edits.replace[span] = new
        return True

    def set_role(self, source: Source, role: AmcRole, what: str) -> None:
        found = self.entry(source)
        at = found.keys.get("role") if found is not None else None
        if at is None:
            self.skipped.append(f"{source}: {what}: its `role:` is not where adopt can edit it")
            return
        line = self.lines(source.file)[at.line - 1]
        new = line[: at.start] + role.value + line[at.end :]
        if self.claim(source.file, (at.line, at.line), [new], what):
            self.adopted.append(f"{source}: {what}")

    def set_expires(self, source: Source, text: str, what: str) -> bool:
        """Write `text` as the `expires:` of the entry at `source` (a scalar it has)."""
        found = self.entry(source)
        at = found.keys.get("expires") if found is not None else None
        if at is None:
            self.skipped.append(f"{source}: {what}: its `expires:` is not where adopt can edit it")
            return False
        line = self.lines(source.file)[at.line - 1]
        new = line[: at.start] + _q(text) + line[at.end :]
        if self.claim(source.file, (at.line, at.line), [new], what):
            self.adopted.append(f"{source}: {what}")
            return True
        return False

    def remove(self, source: Source, what: str) -> bool:
        span = self.entry_range(source)
        if span is None:
            self.skipped.append(f"{source}: {what}: not an entry adopt can edit")
            return False
        if self.claim(source.file, span, [], what):
            self.adopted.append(f"{source}: {what}")
            return True
        return False

    def dash_indent(self, source: Source) -> str | None:
        found = self.entry(source)
        if found is None:
            return None
        match = _DASH.match(self.lines(source.file)[found.first - 1])
        return match.group(1) if match else None

    def add_after(self, source: Source, entry: str, comment: str, what: str) -> None:
        """A new list entry after the entry at `source`, indented like it."""
        found, indent = self.entry(source), self.dash_indent(source)
        if found is None or indent is None:
            self.skipped.append(f"{what}: no entry to add it after in {source.file}")
            return
        self.edits[source.file].insert[found.last].append(
            f"{indent}- {entry}  # {_one_line(comment)}\n"
        )
        self.adopted.append(f"{source.file}: {what}")

    def add_entries(
        self,
        owner: Source | None,
        key: str,
        key_at: Source | None,
        entries: Sequence[tuple[str, str, str]],
        scope: str,
    ) -> None:
        """New entries `(entry, comment, what)` for a list that has none: under the key's
        line when it reads `key: []` (which becomes `key:`), else under a `key:` line added
        at the end of the block mapping at `owner`."""
        if not entries:
            return
        whats = ", ".join(what for _, _, what in entries)
        if key_at is not None:
            lines = self.lines(key_at.file)
            line = lines[key_at.line - 1]
            prefix, rest = line[: key_at.col - 1], line[key_at.col - 1 :]
            empty = re.fullmatch(rf"{key}:\s*\[\s*\](\s*#.*)?", rest.rstrip("\r\n"))
            if empty is None:
                self.skipped.append(f"{scope}: {whats}: `{key}:` is not a list adopt can add to")
                return
            head = f"{prefix}{key}:{empty.group(1) or ''}{line_break(line)}"
            if not self.claim(key_at.file, (key_at.line, key_at.line), [head], whats):
                return
            indent, file, after = key_at.col - 1 + 2, key_at.file, key_at.line
        else:
            found = self.entry(owner) if owner is not None else None
            if owner is None or found is None or found.flow:
                self.skipped.append(
                    f"{scope}: {whats}: the entry is not a block mapping adopt can add "
                    f"`{key}:` to (write `{key}: []` in it, then adopt again)"
                )
                return
            self.edits[owner.file].insert[found.last].append(f"{' ' * (owner.col - 1)}{key}:\n")
            indent, file, after = owner.col - 1 + 2, owner.file, found.last
        for entry, comment, what in entries:
            self.edits[file].insert[after].append(
                f"{' ' * indent}- {entry}  # {_one_line(comment)}\n"
            )
            self.adopted.append(f"{file}: {what}")

    def results(self) -> list[FileEdit]:
        out: list[FileEdit] = []
        for file, edits in sorted(self.edits.items()):
            laid = self.layout(file)
            lines = laid.lines
            before = "".join(lines)
            # The file's own line break for the lines adopt writes (its first one).
            # LF or CR LF (or CR): NEL, LS and PS split lines for YAML but end none for git.
            newline = next((b for b in map(line_break, lines) if b in ("\n", "\r\n", "\r")), "\n")
            replace = dict(edits.replace)
            replace.update(_emptied(laid, edits))
            new = list(lines)
            points = [(end, "replace", start) for (start, end) in replace]
            points += [(after, "insert", 0) for after in edits.insert]
            # Bottom up, insertions (after a line) before the replacement ending on it.
            for line_no, kind, start in sorted(points, key=lambda p: (-p[0], p[1] != "insert")):
                if kind == "insert":
                    new[line_no:line_no] = [t.replace("\n", newline) for t in edits.insert[line_no]]
                else:
                    new[start - 1 : line_no] = replace[(start, line_no)]
            # A line that had no break (the file's last) and is now followed by another.
            for n in range(len(new) - 1):
                if not line_break(new[n]):
                    new[n] += newline
            after = "".join(new)
            if after != before:
                out.append(FileEdit(file, before, after))
        return out


def _emptied(laid: Layout, edits: _Edits) -> dict[tuple[int, int], list[str]]:
    """`key: []` for each block list whose every entry the edits remove, with nothing
    added in it: a key with no entries would be null, which no manifest allows."""
    out: dict[tuple[int, int], list[str]] = {}
    for block in laid.sequences:
        spans = [laid.entries[start] for start in block.entries]
        if not spans or any(edits.replace.get((e.first, e.last)) != [] for e in spans):
            continue
        first, last = spans[0].first, spans[-1].last
        if any(first <= at <= last for at, added in edits.insert.items() if added):
            continue
        line = laid.lines[block.key_line - 1]
        rest = re.fullmatch(
            r"(\s*):([ \t]*)(#.*)?", line[block.key_end :].rstrip("\r\n\x85\u2028\u2029")
        )
        if rest is None or (block.key_line, block.key_line) in edits.replace:
            continue
        comment = f"{rest.group(2)}{rest.group(3)}" if rest.group(3) else ""
        new = f"{line[: block.key_end]}{rest.group(1)}: []{comment}{line_break(line)}"
        out[(block.key_line, block.key_line)] = [new]
    return out


def _one_line(text: str) -> str:
    """`text` for a YAML comment: printable ASCII, anything else as an escape, so no value
    can end the comment and start a line."""
    return "".join(c if c.isascii() and c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _expires_text(epoch: float) -> str:
    text = day(epoch)
    if len(text) == 10:
        return text
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _member_entry(user: DesiredUser, role: AmcRole) -> str:
    parts = []
    if user.email is not None:
        parts.append(f"email: {_q(user.email)}")
        if not user.email.isascii():
            parts.append("unicode: true")
        if user.name and user.name != user.email.split("@", 1)[0]:
            parts.append(f"name: {_q(user.name)}")
    if user.user_id is not None:
        parts.append(f"userId: {_q(user.user_id)}")
    parts.append(f"role: {role.value}")
    if user.not_user_ids:
        parts.append(f"notUserIds: [{', '.join(_q(i) for i in sorted(user.not_user_ids))}]")
    if user.expires is not None:
        parts.append(f"expires: {_q(_expires_text(user.expires))}")
        if user.expiry_reason:
            parts.append(f"reason: {_q(user.expiry_reason)}")
    return "{" + ", ".join(parts) + "}"


def _who(user: DesiredUser) -> str:
    return user.email or user.user_id or "?"


@dataclass(slots=True)
class _GroupChange:
    """What adopt changes in one account's `{group: G}` entry: members removed, roles."""

    removed: set[str] = field(default_factory=set)  # DesiredUser.key
    roles: dict[str, AmcRole] = field(default_factory=dict)
    what: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Evidence:
    """`adopt --baseline REF` (REF: the commit of the last successful apply): a difference
    is adopted only where the manifests at REF differ from live the same way, so it was
    made behind git's back. Where only the manifests since REF ask for it, it is a change
    not applied yet, and adopting it would undo a reviewed, merged change: listed, never
    adopted. Without a baseline every difference is adopted (the README says to pass one).
    Targets are `drift_key`'s (`Family.drift_target`)."""

    baseline: Baseline | None = None
    then: Desired | None = None
    # The targets where REF's plan asks for exactly what today's does: the manifests did
    # not change there since REF, so live moved behind git's back. A target both plans
    # touch but differently is one the manifests changed too (a merged change), and is
    # never adopted over.
    agreed: frozenset[tuple[str, str]] = frozenset()

    def allows(self, scope: Scope | str, target: str, what: str, editor: _Editor) -> bool:
        b = self.baseline
        if b is None or (str(scope), target) in self.agreed:
            return True
        at = f"{b.ref!r} ({b.commit[:12]})"
        if (str(scope), target) in b.keys:
            why = (
                f"live changed it behind git's back, and the manifests changed it too after "
                f"{at} (a merged change not applied yet): decide by hand, or apply it"
            )
        elif str(scope) in b.unsure:
            why = (
                f"the manifests at {at} hold a change back there, so a console change "
                "cannot be told from one not applied yet"
            )
        else:
            why = f"not applied yet: the manifests changed it after {at}; apply it"
        editor.skipped.append(f"{scope}: {what}: not adopted: {why}")
        return False

    def allows_pinned(
        self, scope: Scope, account_id: str, user: DesiredUser, what: str, editor: _Editor
    ) -> bool:
        """A pinned user with no email, gone live, has no action to compare: it went
        behind git's back when REF's manifests list the same user on the account too."""
        if self.then is None or self.baseline is None:
            return True
        for account in self.then.amc_accounts:
            if account.id == account_id and any(
                u.key == user.key and u.role is user.role for u in account.users
            ):
                return True
        at = f"{self.baseline.ref!r} ({self.baseline.commit[:12]})"
        editor.skipped.append(
            f"{scope}: {what}: not adopted: the manifests added or changed it after {at}, and "
            "with no address apply cannot invite them: add `email:` to the entry, or remove it"
        )
        return False


def _protected(user: DesiredUser, rules: DesiredPolicy) -> bool:
    """Whether `policy.protectedUsers` names this entry, by its userId or its address."""
    named = set(rules.protected_users)
    return (user.user_id is not None and user.user_id in named) or (
        user.email is not None and canonical_email(user.email) in named
    )


def _adopt_amc(
    account: DesiredAmcAccount,
    live: Live,
    editor: _Editor,
    *,
    now: float,
    rules: DesiredPolicy,
    evidence: _Evidence,
    lowered: Collection[str],
) -> None:
    scope = amc_scope(account.id)
    found = next((a for a in live.amc_accounts if a.id == account.id), None)
    if found is None or not found.reachable or live.unreadable(scope) is not None:
        editor.skipped.append(f"{scope}: not read completely: nothing adopted there")
        return
    resolution = resolve_users(account, found)
    # What live says, per listed user (by position in `account.users`), before any edit:
    # the whole account is adopted, or none of it (the minAdmins check below).
    roles: dict[int, tuple[AmcRole, str]] = {}
    removed: dict[int, str] = {}
    position = {id(user): n for n, user in enumerate(account.users)}
    for match in resolution.matches:
        want = match.desired
        if want.expired(now):
            continue
        if match.invitation is not None:
            role, target = match.invitation.role, f"invitation:{match.invitation.invitation_id}"
            live_as, undo = "invited as", "the plan invites them again as the manifests say"
            if role is not None and role is not want.role and match.invitation.expired(now):
                editor.skipped.append(
                    f"{scope}: {_who(want)}'s invitation ({role.value}) has expired: not "
                    "adopted; the plan resends it as the manifests say"
                )
                continue
        elif match.user is not None:
            role, target = match.user.role, f"user:{match.user.user_id}"
            live_as, undo = "", "the plan sets the role back"
            if role is not None and role is not want.role and not match.proven:
                editor.skipped.append(
                    f"{scope}: {_who(want)} fits live user {match.user.user_id} by masked "
                    f"address only ({role.value} live): pin it first (`reconciler pin --held`) "
                    "if that is them"
                )
                continue
        else:
            continue
        if role is None or role is want.role:
            continue
        what = f"{_who(want)} is {f'{live_as} ' if live_as else ''}{role.value} live"
        if want.role is AmcRole.ADMIN and _protected(want, rules):
            editor.skipped.append(
                f"{scope}: {what}, but they are protected (policy.protectedUsers): not "
                f"adopted; {undo}"
            )
            continue
        if role is AmcRole.ADMIN and not _may_be_admin(want, rules):
            editor.skipped.append(
                f"{scope}: {what}, but only members of {', '.join(rules.admin_groups)} may be "
                f"admins (policy.adminGroups): not adopted; {undo}"
            )
            continue
        if evidence.allows(scope, target, what, editor):
            roles[position[id(want)]] = (role, what)
    for user in (*resolution.missing, *resolution.pinned_absent):
        if user.expired(now) and user.group is None and user.expires is not None:
            # An ended entry kept as the marker that ends the access (`expiring`, under
            # `prune: false`): its person has no access live any more, so it can go.
            removed[position[id(user)]] = (
                f"{_who(user)} expired on {day(user.expires)} and has no access live any "
                "more: the ended entry goes"
            )
            continue
        if not user.expired(now):
            what = f"{_who(user)} is neither a user of {account.id} nor invited live"
            if _protected(user, rules):
                # Never written out of the manifests: apply restores them.
                restore = "apply invites them again" if user.email else "restore them by hand"
                editor.skipped.append(
                    f"{scope}: {what}, but they are protected (policy.protectedUsers): not "
                    f"adopted, the entry stays; {restore}"
                )
                continue
            if user.email is not None:  # the plan invites them
                ok = evidence.allows(scope, f"address:{canonical_email(user.email)}", what, editor)
            else:  # nothing can restore them: no action to compare
                ok = evidence.allows_pinned(scope, account.id, user, what, editor)
            if ok:
                removed[position[id(user)]] = what
    for ambiguity in resolution.unresolved:
        editor.skipped.append(
            f"{scope}: {', '.join(_who(u) for u in ambiguity.desired)} cannot be told apart "
            "from live masked users: pin them first"
        )
    additions = (
        _additions(account, resolution, rules, editor, now=now, evidence=evidence)
        if account.prune
        else []
    )

    # Admins as `validate` counts them (an expired `expires:` counts as absent).
    admins = sum(
        1
        for n, user in enumerate(account.users)
        if n not in removed
        and not user.expired(now)
        and roles.get(n, (user.role, ""))[0] is AmcRole.ADMIN
    ) + sum(1 for *_, role in additions if role is AmcRole.ADMIN)
    if account.prune and admins < account.min_admins and (roles or removed or additions):
        editor.skipped.append(
            f"{scope}: nothing adopted there: adopting what is live would list {admins} "
            f"admin(s), under its minAdmins {account.min_admins}; restore an admin with "
            "apply, or edit the manifest by hand"
        )
        return
    # Without `prune` the manifests need not list every admin, but adopting an admin's
    # removal while live has fewer than minAdmins would make that lockout what git asks for.
    lowers = any(
        account.users[n].role is AmcRole.ADMIN
        and (n in removed or (n in roles and roles[n][0] is not AmcRole.ADMIN))
        for n in {*removed, *roles}
    )
    # Live admins the plan keeps: not one it removes or demotes (`lowered`).
    live_admins = sum(
        1 for u in found.users if u.role is AmcRole.ADMIN and u.user_id not in lowered
    )
    if lowers and live_admins < account.min_admins:
        editor.skipped.append(
            f"{scope}: nothing adopted there: live has {live_admins} admin(s), under its "
            f"minAdmins {account.min_admins}, and adopting an admin's removal would make "
            "that what the manifests ask for; restore an admin with apply"
        )
        return

    groups: dict[Source, _GroupChange] = defaultdict(_GroupChange)
    gone: set[Source] = set()  # entries removed whole
    for n, user in enumerate(account.users):
        assert user.source is not None
        if n not in removed and n not in roles:
            continue
        if user.group is not None:
            change = groups[user.source]
            if n in removed:
                change.removed.add(user.key)
                change.what.append(removed[n])
            else:
                change.roles[user.key] = roles[n][0]
                change.what.append(roles[n][1])
        elif n in removed:
            if editor.remove(user.source, removed[n]):
                gone.add(user.source)
        else:
            editor.set_role(user.source, roles[n][0], roles[n][1])
    for source, change in groups.items():
        if _split_group(account, source, change, editor):
            gone.add(source)

    entries = {u.source for u in account.users if u.source is not None}
    listed = entries - gone
    found_entries = [(entry, comment, what) for entry, comment, what, _ in additions]
    if listed:
        anchor = _entry_start(account, max(listed))
        for entry, comment, what in found_entries:
            editor.add_after(anchor, entry, comment, what)
    elif entries and found_entries:
        # Every listed entry goes: add after the last one (its lines are replaced by none).
        anchor = _entry_start(account, max(entries))
        for entry, comment, what in found_entries:
            editor.add_after(anchor, entry, comment, what)
    elif found_entries:
        editor.add_entries(account.source, "users", account.users_at, found_entries, str(scope))
    # A list whose every entry goes becomes `users: []` (`_Editor.results`).


def _additions(
    account: DesiredAmcAccount,
    resolution: Resolution,
    rules: DesiredPolicy,
    editor: _Editor,
    *,
    now: float,
    evidence: _Evidence,
) -> list[tuple[str, str, str, AmcRole]]:
    """With `prune`, the live users and pending invitations nobody lists: (entry, comment,
    what was adopted, role). Never one the manifests' own policy forbids: an address (as
    Amazon shows it) outside the allowed email domains, or an admin outside `adminGroups`.
    A `userId:` entry has no address for `validate` to check, so adopt checks the one shown;
    such people are listed as not adopted, and the plan removes them."""
    scope = amc_scope(account.id)
    own = account.policy.allowed_email_domains if account.policy is not None else ()
    domains = frozenset(rules.allowed_email_domains) | frozenset(d.lower() for d in own)
    additions: list[tuple[str, str, str, AmcRole]] = []

    def forbidden(who: str, shown: str, role: AmcRole, member: bool) -> str | None:
        domain = shown.rsplit("@", 1)[-1] if "@" in shown else ""
        # ASCII only: lower() would make the Kelvin sign a `k`, a look-alike an allowed name.
        known = domain.isascii() and domain and "*" not in domain
        if domains and (not known or domain.lower() not in domains):
            seen = (
                f"`{domain.lower()}`" if known else f"{_q(escaped(domain))}, not one it can check"
            )
            return (
                f"{scope}: {who} ({_q(shown)}, {role.value}) is at {seen}, not an allowed "
                "email domain of this account (policy.allowedEmailDomains): not adopted; "
                "the plan removes them"
            )
        if role is AmcRole.ADMIN and rules.admin_groups and not member:
            return (
                f"{scope}: {who} ({_q(shown)}) is admin live, but only members of "
                f"{', '.join(rules.admin_groups)} may be admins (policy.adminGroups): not "
                "adopted; the plan removes them"
            )
        return None

    for live_user in resolution.unlisted_users:
        if live_user.role is None:
            continue
        refused = forbidden(live_user.user_id, live_user.email, live_user.role, False)
        if refused is not None:
            editor.skipped.append(refused)
            continue
        what = f"added {live_user.user_id} ({live_user.role.value}) to {account.id}"
        if not evidence.allows(scope, f"user:{live_user.user_id}", what, editor):
            continue
        additions.append(
            (
                f"{{userId: {_q(live_user.user_id)}, role: {live_user.role.value}}}",
                f"adopted: live user shown as {_q(live_user.email)} (Amazon masks addresses)",
                f"added {live_user.user_id} ({live_user.role.value}) to {account.id}",
                live_user.role,
            )
        )
    for invitation in resolution.unlisted_invitations:
        if invitation.role is None:
            continue
        if invitation.expired(now):
            editor.skipped.append(
                f"{scope}: invitation ({_q(escaped(invitation.email))}, "
                f"{invitation.role.value}) has expired, unaccepted: not adopted; the plan "
                "revokes it"
            )
            continue
        member = canonical_email(invitation.email) in rules.admin_members
        refused = forbidden("invitation", escaped(invitation.email), invitation.role, member)
        if refused is not None:
            editor.skipped.append(refused)
            continue
        what = f"added {escaped(invitation.email)} ({invitation.role.value}, invited)"
        if not evidence.allows(scope, f"invitation:{invitation.invitation_id}", what, editor):
            continue
        extra = "" if invitation.email.isascii() else ", unicode: true"
        additions.append(
            (
                f"{{email: {_q(invitation.email)}, role: {invitation.role.value}{extra}}}",
                "adopted: invited live, not accepted yet",
                f"added {escaped(invitation.email)} ({invitation.role.value}, invited) to "
                f"{account.id}",
                invitation.role,
            )
        )
    return additions


def _may_be_admin(user: DesiredUser, rules: DesiredPolicy) -> bool:
    """`policy.adminGroups` as validate applies it to one entry."""
    if not rules.admin_groups or user.group in rules.admin_groups:
        return True
    return user.email is not None and canonical_email(user.email) in rules.admin_members


def _entry_start(account: DesiredAmcAccount, last: Source) -> Source:
    # The latest entry in the account's own file is where its list ends.
    same = [u.source for u in account.users if u.source is not None and u.source.file == last.file]
    return max(same, key=lambda s: s.line)


def _override_group(
    source: Source,
    group: str,
    members: list[DesiredUser],
    change: _GroupChange,
    editor: _Editor,
    indent: str,
    newline: str,
) -> bool:
    """Record the change as this account's `overrides:` of the group entry, so that the
    group stays the source of truth (a member who leaves it loses access here too). A block
    entry gets the key after its last line, every line of it kept; a one-line flow entry
    (`- {group: G, role: R}`) is written again in block form, its comment kept. False
    (nothing done) when the entry has an `overrides:` already or is laid out otherwise."""
    found = editor.entry(source)
    span = editor.entry_range(source)
    if found is None or span is None or "group" not in found.keys or "role" not in found.keys:
        return False
    lines = editor.lines(source.file)
    text = "".join(lines[span[0] - 1 : span[1]])
    if re.search(r"\boverrides\b", text):
        return False
    what = "; ".join(change.what)
    pad = " " * (len(indent) + 2)
    comment = _one_line(f"reconciler adopt: live changed on this account only ({what})")
    added = [f"{pad}overrides:  # {comment}{newline}"]
    for user in members:
        if user.key not in change.removed and user.key not in change.roles:
            continue
        role = "none" if user.key in change.removed else change.roles[user.key].value
        who = f"userId: {_q(user.user_id)}" if user.user_id else f"email: {_q(user.email or '')}"
        added.append(f"{pad}  - {{{who}, role: {role}}}{newline}")
    if not found.flow:
        last = lines[span[1] - 1]
        new = [last if last.endswith(("\n", "\r")) else last + newline, *added]
    else:
        if span[0] != span[1]:
            return False
        line = lines[span[0] - 1]
        closing = line.rfind("}")
        tail = line[closing + 1 :].strip() if closing >= 0 else ""
        if tail and not tail.startswith("#"):
            return False
        keys = set(found.keys)
        if not keys <= {"group", "role", "expires", "reason"}:
            return False
        raw = {key: line[at.start : at.end] for key, at in found.keys.items()}
        head = f"{indent}- group: {raw['group']}{f'  {tail}' if tail else ''}{newline}"
        new = [head, f"{pad}role: {raw['role']}{newline}"]
        new += [f"{pad}{key}: {raw[key]}{newline}" for key in ("expires", "reason") if key in raw]
        new += added
    at = (span[1], span[1])
    if editor.claim(source.file, at if not found.flow else span, new, what):
        editor.adopted.append(f"{source}: {what} (an override of group {group} on this account)")
    return True


def _split_group(
    account: DesiredAmcAccount, source: Source, change: _GroupChange, editor: _Editor
) -> bool:
    """Record a change to members of this account's `{group: G, role: R}` entry: as the
    entry's `overrides:` (`_override_group`) where it can, else by replacing the entry by
    its members, changed. True when no member is left here, so the entry was removed
    whole."""
    members = [u for u in account.users if u.source == source and u.group is not None]
    span, indent = editor.entry_range(source), editor.dash_indent(source)
    what = "; ".join(change.what)
    if span is None or indent is None or not members:
        editor.skipped.append(f"{source}: {what}: not a group entry adopt can edit")
        return False
    group = members[0].group or ""
    if all(user.key in change.removed for user in members):
        if editor.claim(source.file, span, [], what):
            editor.adopted.append(f"{source}: {what} (group {group} removed from this account)")
            return True
        return False
    newline = line_break(editor.lines(source.file)[span[0] - 1]) or "\n"
    if _override_group(source, group, members, change, editor, indent, newline):
        return False
    comment = _one_line(
        f"reconciler adopt: group {_q(group)} ({members[0].role.value}) is listed one by one "
        f"on this account only, because live changed here ({what}) and the group may be "
        "used elsewhere"
    )
    new = [f"{indent}# {comment}{newline}"]
    for user in members:
        if user.key in change.removed:
            continue
        role = change.roles.get(user.key, user.role)
        new.append(f"{indent}- {_member_entry(user, role)}{newline}")
    if editor.claim(source.file, span, new, what):
        editor.adopted.append(f"{source}: {what} (group {group} listed one by one)")
    return False


@dataclass(slots=True)
class _LinkChanges:
    """What adopt changes in one manager account's `linkedAccounts:`."""

    gone: list[tuple[DesiredLink, str]] = field(default_factory=list)
    found: list[tuple[str, str, str]] = field(default_factory=list)  # (entry, comment, what)


def _link_changes(
    desired: Desired, plan: Plan, editor: _Editor, evidence: _Evidence
) -> dict[int, _LinkChanges]:
    """Per manager account (by position): a listed link not linked live goes; with `prune`,
    a live link nobody lists comes (the plan disassociates exactly those)."""
    changes: dict[int, _LinkChanges] = defaultdict(_LinkChanges)
    for action in plan.actions:
        if action.manager is None:
            continue
        scope = manager_scope(action.manager.key)
        index, manager = next(
            (
                (n, m)
                for n, m in enumerate(desired.manager_accounts)
                if (m.id is not None and m.id == action.manager.id)
                or (m.id is None and m.name == action.manager.name)
            ),
            (-1, None),
        )
        if manager is None:
            continue
        if action.manager.id is None and action.kind is not ActionKind.CREATE_MANAGER_ACCOUNT:
            continue  # its links wait for the create: reported once, below
        if action.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
            editor.skipped.append(
                f"{scope}: manager account {_q(manager.name)} does not exist live: create it "
                "with apply, or remove it from the manifests"
            )
        elif not evidence.allows(scope, drift_key(action)[1], describe(action), editor):
            continue
        elif action.kind is ActionKind.ASSOCIATE:
            link = _find_link(manager.links, action)
            if link is not None and link.source is not None:
                what = f"{action.target} is not linked to {manager.name} live"
                changes[index].gone.append((link, what))
        elif action.kind is ActionKind.DISASSOCIATE:
            fields = [f"id: {_q(action.target)}"]
            if action.id_type is not None and action.id_type is not IdType.ACCOUNT_ID:
                fields.append(f"idType: {action.id_type.value}")
            if action.region is not None and action.region is not Region.NA:
                fields.append(f"region: {action.region.value}")
            label = f" ({_q(action.label)})" if action.label else ""
            changes[index].found.append(
                (
                    "{" + ", ".join(fields) + "}",
                    f"adopted: linked live{label}",
                    f"added link {action.target} to {manager.name}",
                )
            )
    return changes


def _adopt_links(manager: DesiredManagerAccount, change: _LinkChanges, editor: _Editor) -> None:
    where = str(manager_scope(manager.key))
    for link, what in change.gone:
        editor.remove(_source(link), what)
    listed = [x.source for x in manager.links if x.source is not None]
    if listed:
        # After the last listed link (removed or not: an insertion follows its lines).
        anchor = max(listed, key=lambda s: s.line)
        for entry, comment, what in change.found:
            editor.add_after(anchor, entry, comment, what)
    elif change.found:
        editor.add_entries(manager.source, "linkedAccounts", manager.links_at, change.found, where)


def _source(link: DesiredLink) -> Source:
    assert link.source is not None
    return link.source


def _find_link(links: Sequence[DesiredLink], action: Action) -> DesiredLink | None:
    for link in links:
        if link.id == action.target and link.id_type is action.id_type:
            return link
    return None


def compute(
    desired: Desired, live: Live, *, now: float, baseline: Revision | None = None
) -> Adoption:
    """What adopt would change (nothing written). Raises `ReconcilerError` when the
    edited manifests would not load, or would plan a change the current ones do not.

    Each account (AMC account or manager account) is a unit, adopted whole or not at all.
    A unit whose edit does not pass the check on its own (`_settle` finds it) is left out,
    listed with why (a look-alike address invited in the console, say); the rest is
    adopted."""
    policy = permissive(now)
    before = make_plan(desired, live, policy)
    already = _floor_before(desired, now)
    evidence = _Evidence()
    if baseline is not None:
        then = plan_then(baseline, live, policy, desired)
        asked = {_meaning(a) for a in then.actions}
        agreed = frozenset(drift_key(a) for a in before.actions if _meaning(a) in asked)
        shared = compare(before, baseline, live, policy, desired, then=then)
        evidence = _Evidence(shared, baseline.desired, agreed)
    # Per AMC account, the live users the plan removes or demotes from admin (an
    # `expires:` passed, a policy refusing their admin role): not admins it keeps.
    lowered: dict[str, set[str]] = defaultdict(set)
    for a in before.actions:
        if a.amc_account_id is not None and (
            a.kind is ActionKind.REVOKE_USER
            or (a.kind is ActionKind.SET_ROLE and a.role is not AmcRole.ADMIN)
        ):
            lowered[a.amc_account_id].add(a.target)
    editor = _Editor()
    units: list[tuple[str, _Editor]] = []
    unread = {n.scope for n in before.unread}
    for account in desired.amc_accounts:
        if str(amc_scope(account.id)) in unread:
            editor.skipped.append(f"amc:{account.id}: not read completely: nothing adopted")
            continue
        unit = editor.fork()
        _adopt_amc(
            account,
            live,
            unit,
            now=now,
            rules=desired.policy,
            evidence=evidence,
            lowered=lowered.get(account.id, frozenset()),
        )
        units.append((str(amc_scope(account.id)), unit))
    for manager in desired.manager_accounts:
        if live.unreadable(manager_scope(manager.key)) is not None:
            editor.skipped.append(
                f"{manager_scope(manager.key)}: not read completely: nothing adopted"
            )
    for index, change in sorted(_link_changes(desired, before, editor, evidence).items()):
        manager = desired.manager_accounts[index]
        unit = editor.fork()
        _adopt_links(manager, change, unit)
        units.append((str(manager_scope(manager.key)), unit))

    def combine(chosen: Sequence[tuple[str, _Editor]]) -> _Editor:
        merged = editor.fork()
        for _, unit in chosen:
            merged.merge(unit)
        return merged

    def check(chosen: Sequence[tuple[str, _Editor]]) -> None:
        files = combine(chosen).results()
        if files:
            _verify(desired, live, policy, before, files, already)

    changing = [u for u in units if u[1].edits]
    accepted, refused = _settle(changing, check)
    merged = combine([*[u for u in units if not u[1].edits], *accepted])
    for (scope, unit), exc in refused:
        merged.skipped += unit.skipped
        merged.skipped.append(
            f"{scope}: nothing adopted there, because the edit would not pass the manifests' "
            f"own checks: {'; '.join(exc.problems)} (it would have: {'; '.join(unit.adopted)})"
        )
    files = merged.results()
    if refused and files:
        _verify(desired, live, policy, before, files, already)  # the units that pass, together
    return Adoption(tuple(files), tuple(merged.adopted), (*editor.skipped, *merged.skipped))


def _settle(
    units: Sequence[U], check: Callable[[Sequence[U]], None]
) -> tuple[list[U], list[tuple[U, Refused]]]:
    """The units whose edits pass `check` (which raises `Refused`), and each one that does
    not on its own, with why. All together first; when that fails, each half, down to
    single units: a few bad units among many cost a few checks each (the check loads and
    plans every manifest), never one per unit."""
    chunks, refused = _halve(units, check)
    accepted = [unit for chunk in chunks for unit in chunk]
    if len(chunks) <= 1:
        return accepted, refused  # checked as they are
    try:
        check(accepted)
    except Refused:
        # Units that pass alone but not together (two admins whose removals each leave
        # one): one by one, each kept only if it passes with those kept before it.
        kept: list[U] = []
        for unit in accepted:
            try:
                check([*kept, unit])
            except Refused as exc:
                refused.append((unit, exc))
                continue
            kept.append(unit)
        return kept, refused
    return accepted, refused


def _halve(
    units: Sequence[U], check: Callable[[Sequence[U]], None]
) -> tuple[list[list[U]], list[tuple[U, Refused]]]:
    """The chunks of `units` that pass `check` each, and the single units that do not."""
    if not units:
        return [], []
    try:
        check(units)
    except Refused as exc:
        if len(units) == 1:
            return [], [(units[0], exc)]
        middle = len(units) // 2
        left_ok, left_bad = _halve(units[:middle], check)
        right_ok, right_bad = _halve(units[middle:], check)
        return [*left_ok, *right_ok], [*left_bad, *right_bad]
    return [list(units)], []


def expiring(desired: Desired, *, now: float, within_days: float) -> Adoption:
    """`adopt --expiring`: remove every entry whose `expires:` has passed or comes within
    `within_days`, for a pull request that a reviewer merges (the access ends) or amends
    by moving the date. No live read. An `expires:` on a group member removes the member
    from the group (the expiry applies wherever the group is used); on an entry, the entry.
    An account whose every entry goes is left with `users: []`.

    Under `prune: false` (the account's, or for a group member any account's using the
    group) removing an entry would leave its person alone, so the entry stays as the marker
    that ends the access: an `expires:` still to come is brought to today (merging ends the
    access at the next apply, as on `prune: true`), one already passed is left as it is and
    listed (the plan removes that person whatever prune says).

    The edited manifests must load. A removal they would not load without (the last admin
    of an account with `minAdmins`, say) is found by `_settle` and listed with why, for the
    reviewer to add an admin or move the date; the rest is made."""
    base = _Editor()
    already = _floor_before(desired, now)
    units: list[tuple[Source, _Editor]] = []
    done: set[Source] = set()
    horizon = now + within_days * 86_400
    today = datetime.fromtimestamp(now, UTC).date().isoformat()  # 00:00 UTC: passed
    kept_by = {  # group -> an account using it that does not prune
        user.group: account
        for account in desired.amc_accounts
        if not account.prune
        for user in account.users
        if user.group is not None
    }
    for account in desired.amc_accounts:
        for user in account.users:
            if user.expires is None or user.expires > horizon or user.source is None:
                continue
            # The group entry's own `expires:` ends the group here; a member's ends the
            # member everywhere, so it leaves the group.
            own = _within(base.entry_range(user.source), user.source, user.expires_source)
            by_member = user.group is not None and user.pin_at is not None and not own
            target = user.pin_at if by_member and user.pin_at else user.source
            if target in done:
                continue
            done.add(target)
            state = "expired" if user.expires <= now else "expires"
            what = f"{_who(user)} {state} on {day(user.expires)}"
            # Under `prune: false` an entry removed is an entry left alone: the access
            # would never end. The entry stays as the marker that ends it (the plan
            # removes an expired grant whatever prune says), its date brought to today.
            if by_member:
                loose = kept_by.get(user.group or "")
            else:
                loose = None if account.prune else account
            if loose is not None:
                if user.expires <= now:
                    base.skipped.append(
                        f"{target}: {what}: kept as the marker that ends the access on "
                        f"{loose.id} (prune: false there: without the entry it would be left "
                        "alone); the plan removes them, and adopt removes the entry once "
                        "apply has revoked them"
                    )
                    continue
                unit = base.fork()
                ended = f"{what}: ended today, the entry kept as the marker (prune: false)"
                if unit.set_expires(target, today, ended):
                    units.append((target, unit))
                else:
                    base.skipped += unit.skipped
                continue
            unit = base.fork()
            if unit.remove(target, what):
                units.append((target, unit))
            else:
                base.skipped += unit.skipped
    # Members of groups no account uses (yet): their entries end all the same.
    for members in desired.groups.values():
        for member in members:
            if member.expires is None or member.expires > horizon or member.source is None:
                continue
            if member.source in done:
                continue
            done.add(member.source)
            state = "expired" if member.expires <= now else "expires"
            unit = base.fork()
            if unit.remove(member.source, f"{_who(member)} {state} on {day(member.expires)}"):
                units.append((member.source, unit))
            else:
                base.skipped += unit.skipped

    def combine(chosen: Sequence[tuple[Source, _Editor]]) -> tuple[_Editor, list[FileEdit]]:
        merged = base.fork()
        for _, unit in chosen:
            merged.merge(unit)
        return merged, merged.results()

    def check(chosen: Sequence[tuple[Source, _Editor]]) -> None:
        _, files = combine(chosen)
        if files:
            _load_edited(desired, files, now=now, already=already)

    accepted, refused = _settle(units, check)
    merged, files = combine(accepted)
    if refused and files:
        _load_edited(desired, files, now=now, already=already)  # those that pass, together
    for (_, unit), exc in refused:
        merged.skipped.append(
            f"{'; '.join(unit.adopted)}: not removed, because the manifests would not pass "
            f"their own checks without it: {'; '.join(exc.problems)} (or move the `expires:`)"
        )
    return Adoption(tuple(files), tuple(merged.adopted), (*base.skipped, *merged.skipped))


def _within(span: tuple[int, int] | None, entry: Source, at: Source | None) -> bool:
    return (
        span is not None
        and at is not None
        and at.file == entry.file
        and span[0] <= at.line <= span[1]
    )


class Refused(ReconcilerError):
    """The edited manifests would not load, or would plan a change the current ones do
    not; `problems` says why, one line each (files named as the user knows them, lines as
    adopt would write them)."""

    def __init__(self, headline: str, problems: Sequence[str]) -> None:
        super().__init__(f"{headline}; nothing was written:\n" + "\n".join(problems))
        self.problems = tuple(problems)


def _load_edited(
    desired: Desired, files: list[FileEdit], *, now: float, already: Collection[str] = ()
) -> Desired:
    """The edited manifests, loaded from a scratch folder and checked as `validate` checks
    them (with the time: an admin whose `expires:` has passed is not counted); `Refused`
    when they would not pass (nothing is written then). `already`: the accounts under their
    minAdmins before the edit (`_floor_before`), which stay so (not adopt's doing)."""
    edited = {edit.path: edit.after for edit in files}
    with tempfile.TemporaryDirectory(prefix="reconciler-adopt-") as scratch:
        copies: dict[str, str] = {}
        for n, file in enumerate(desired.files):
            target = Path(scratch) / str(n) / Path(file).name
            target.parent.mkdir()
            if file in edited:
                target.write_text(edited[file], encoding="utf-8")
            else:
                shutil.copyfile(file, target)
            copies[str(target)] = file
        try:
            loaded = load_manifests(list(copies))
            floor = admin_floor(loaded, now=now, within_days=0.0)
            new = [
                d
                for d, account in zip(floor.errors, floor.failing, strict=True)
                if account not in already
            ]
            if new:
                raise ManifestError(new)
            return loaded
        except ManifestError as exc:
            problems = []
            for diagnostic in exc.diagnostics:
                line = str(diagnostic)
                for copy, file in copies.items():
                    line = line.replace(copy, file)
                problems.append(line.replace(scratch, "<edited>"))
            raise Refused("adopt would leave manifests that do not load", problems) from exc


def _meaning(action: Action) -> str:
    return repr(sorted(action_meaning(action).items()))


def _verify(
    desired: Desired,
    live: Live,
    policy: Policy,
    before: Plan,
    files: list[FileEdit],
    already: frozenset[str] | None = None,
) -> None:
    """Load the edited manifests (in a scratch folder) and plan them against the same read:
    they must load, and plan no action the current manifests do not."""
    already = _floor_before(desired, policy.now) if already is None else already
    after = make_plan(_load_edited(desired, files, now=policy.now, already=already), live, policy)
    known = {_meaning(a) for a in before.actions}
    new = [a for a in after.actions if _meaning(a) not in known]
    if new:
        raise Refused(
            "adopt would make the manifests ask for a change they do not ask for now",
            [f"{a.kind.value} {a.target}" for a in new],
        )


def write(adoption: Adoption) -> None:
    for edit in adoption.files:
        write_atomic(Path(edit.path), edit.after)


def _floor_before(desired: Desired, now: float) -> frozenset[str]:
    """The AMC accounts already under their minAdmins (validate says so either way): an
    edit is refused only for one it puts under, computed once per adopt, not per check."""
    return frozenset(admin_floor(desired, now=now, within_days=0.0).failing)
