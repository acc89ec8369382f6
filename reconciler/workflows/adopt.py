"""`reconciler adopt PATH...`: rewrite the manifests so that they describe what is live for
the accounts they manage. The opposite of `apply`: drift becomes a reviewed
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

Edits are line-level text edits, as `workflows.pin` makes them: only the lines that change,
change; comments, order, quoting and layout stay byte for byte. Every value that came from
the API (addresses, ids) is written as a JSON string, a valid YAML scalar whatever it holds;
comments quote it the same way, so no value can add a key, a line or a document. Before
anything is written, the edited manifests are loaded again and planned against the same
live read: the plan must hold no action the old one did not (adopt never adds a change);
else nothing is written.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from reconciler.actions import describe, drift_key
from reconciler.addresses import escaped
from reconciler.escape import terminal
from reconciler.manifest.edit import Editor, FileEdit, one_line, quoted, write_atomic
from reconciler.manifest.layout import line_break, split_lines
from reconciler.model import (
    Desired,
    DesiredAccount,
    DesiredLink,
    DesiredManagerAccount,
    DesiredPolicy,
    DesiredUser,
    IdType,
    Live,
    Region,
    Role,
    Scope,
    Source,
    canonical_email,
    manager_scope,
)
from reconciler.plan import Action, ActionKind, Baseline, Plan, Policy, day
from reconciler.planning.identity import Resolution, resolve_users
from reconciler.planning.planner import make_plan
from reconciler.workflows.baseline import Revision, compare, plan_then
from reconciler.workflows.gate import floor_before, meaning, merge_passing, verify

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


def _expires_text(epoch: float) -> str:
    text = day(epoch)
    if len(text) == 10:
        return text
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _member_entry(user: DesiredUser, role: Role) -> str:
    parts = []
    if user.email is not None:
        parts.append(f"email: {quoted(user.email)}")
        if not user.email.isascii():
            parts.append("unicode: true")
        if user.name and user.name != user.email.split("@", 1)[0]:
            parts.append(f"name: {quoted(user.name)}")
    if user.user_id is not None:
        parts.append(f"userId: {quoted(user.user_id)}")
    parts.append(f"role: {role.value}")
    if user.not_user_ids:
        parts.append(f"notUserIds: [{', '.join(quoted(i) for i in sorted(user.not_user_ids))}]")
    if user.expires is not None:
        parts.append(f"expires: {quoted(_expires_text(user.expires))}")
        if user.expiry_reason:
            parts.append(f"reason: {quoted(user.expiry_reason)}")
    return "{" + ", ".join(parts) + "}"


@dataclass(slots=True)
class _GroupChange:
    """What adopt changes in one account's `{group: G}` entry: members removed, roles."""

    removed: set[str] = field(default_factory=set)  # DesiredUser.key
    roles: dict[str, Role] = field(default_factory=dict)
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

    def allows(self, scope: Scope | str, target: str, what: str, editor: Editor) -> bool:
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
        self, scope: Scope, account_id: str, user: DesiredUser, what: str, editor: Editor
    ) -> bool:
        """A pinned user with no email, gone live, has no action to compare: it went
        behind git's back when REF's manifests list the same user on the account too."""
        if self.then is None or self.baseline is None:
            return True
        for account in self.then.accounts:
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
    account: DesiredAccount,
    live: Live,
    editor: Editor,
    *,
    now: float,
    rules: DesiredPolicy,
    evidence: _Evidence,
    lowered: Collection[str],
) -> None:
    scope = account.scope
    found = next((a for a in live.accounts if a.scope == scope), None)
    if found is None or not found.reachable or live.unreadable(scope) is not None:
        editor.skipped.append(f"{scope}: not read completely: nothing adopted there")
        return
    resolution = resolve_users(account, found)
    # What live says, per listed user (by position in `account.users`), before any edit:
    # the whole account is adopted, or none of it (the minAdmins check below).
    roles: dict[int, tuple[Role, str]] = {}
    removed: dict[int, str] = {}
    position = {id(user): n for n, user in enumerate(account.users)}
    for match in resolution.matches:
        want = match.desired
        if want.expired(now):
            continue
        if match.invitation is not None:
            role, target = match.invitation.role, f"invitation:{match.invitation.invitation_id}"
            held = match.invitation.grant
            live_as, undo = "invited as", "the plan invites them again as the manifests say"
            if role is not None and role is not want.role and match.invitation.expired(now):
                editor.skipped.append(
                    f"{scope}: {want.who}'s invitation ({role.value}) has expired: not "
                    "adopted; the plan resends it as the manifests say"
                )
                continue
        elif match.user is not None:
            role, target, held = match.user.role, f"user:{match.user.user_id}", match.user.grant
            live_as, undo = "", "the plan sets the role back"
            if role is not None and role is not want.role and not match.proven:
                editor.skipped.append(
                    f"{scope}: {want.who} fits live user {match.user.user_id} by masked "
                    f"address only ({role.value} live): pin it first (`reconciler pin --held`) "
                    "if that is them"
                )
                continue
        else:
            continue
        if held is not None and held != want.grant and (role is None or want.role is None):
            editor.skipped.append(  # adopt writes roles; a custom set is written by hand
                f"{scope}: {want.who} holds {held} live, a custom permission set change: not "
                f"adopted (write it by hand if it is right); {undo}"
            )
            continue
        if role is None or role is want.role:
            continue
        what = f"{want.who} is {f'{live_as} ' if live_as else ''}{role.value} live"
        if want.role is Role.ADMIN and _protected(want, rules):
            editor.skipped.append(
                f"{scope}: {what}, but they are protected (policy.protectedUsers): not "
                f"adopted; {undo}"
            )
            continue
        if role is Role.ADMIN and not _may_be_admin(want, rules):
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
                f"{user.who} expired on {day(user.expires)} and has no access live any "
                "more: the ended entry goes"
            )
            continue
        if not user.expired(now):
            what = f"{user.who} is neither a user of {account.id} nor invited live"
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
            f"{scope}: {', '.join(u.who for u in ambiguity.desired)} cannot be told apart "
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
        and roles.get(n, (user.role, ""))[0] is Role.ADMIN
    ) + sum(1 for *_, role in additions if role is Role.ADMIN)
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
        account.users[n].role is Role.ADMIN
        and (n in removed or (n in roles and roles[n][0] is not Role.ADMIN))
        for n in {*removed, *roles}
    )
    # Live admins the plan keeps: not one it removes or demotes (`lowered`).
    live_admins = sum(1 for u in found.users if u.role is Role.ADMIN and u.user_id not in lowered)
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
    # A list whose every entry goes becomes `users: []` (`Editor.results`).


def _additions(
    account: DesiredAccount,
    resolution: Resolution,
    rules: DesiredPolicy,
    editor: Editor,
    *,
    now: float,
    evidence: _Evidence,
) -> list[tuple[str, str, str, Role]]:
    """With `prune`, the live users and pending invitations nobody lists: (entry, comment,
    what was adopted, role). Never one the manifests' own policy forbids: an address (as
    Amazon shows it) outside the allowed email domains, or an admin outside `adminGroups`.
    A `userId:` entry has no address for `validate` to check, so adopt checks the one shown;
    such people are listed as not adopted, and the plan removes them."""
    scope = account.scope
    own = account.policy.allowed_email_domains if account.policy is not None else ()
    domains = frozenset(rules.allowed_email_domains) | frozenset(d.lower() for d in own)
    additions: list[tuple[str, str, str, Role]] = []

    def forbidden(who: str, shown: str, role: Role, member: bool) -> str | None:
        domain = shown.rsplit("@", 1)[-1] if "@" in shown else ""
        # ASCII only: lower() would make the Kelvin sign a `k`, a look-alike an allowed name.
        known = domain.isascii() and domain and "*" not in domain
        if domains and (not known or domain.lower() not in domains):
            seen = (
                f"`{domain.lower()}`"
                if known
                else f"{quoted(escaped(domain))}, not one it can check"
            )
            return (
                f"{scope}: {who} ({quoted(shown)}, {role.value}) is at {seen}, not an allowed "
                "email domain of this account (policy.allowedEmailDomains): not adopted; "
                "the plan removes them"
            )
        if role is Role.ADMIN and rules.admin_groups and not member:
            return (
                f"{scope}: {who} ({quoted(shown)}) is admin live, but only members of "
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
        # Who it is, as far as Amazon shows it (masked address, so its domain), and the role
        # in capitals when it is admin: a reviewer of adopt's pull request must not miss one.
        shown = escaped(live_user.email)
        as_role = "ADMIN" if live_user.role is Role.ADMIN else live_user.role.value
        added = (
            f"added {live_user.user_id} (shown as {shown}, domain {shown.rpartition('@')[2]}) "
            f"as {as_role} to {account.id}"
        )
        what = f"added {live_user.user_id} ({live_user.role.value}) to {account.id}"
        if not evidence.allows(scope, f"user:{live_user.user_id}", what, editor):
            continue
        additions.append(
            (
                f"{{userId: {quoted(live_user.user_id)}, role: {live_user.role.value}}}",
                f"adopted: live user shown as {quoted(live_user.email)} (Amazon masks addresses)",
                added,
                live_user.role,
            )
        )
    for invitation in resolution.unlisted_invitations:
        if invitation.role is None:
            continue
        if invitation.expired(now):
            editor.skipped.append(
                f"{scope}: invitation ({quoted(escaped(invitation.email))}, "
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
                f"{{email: {quoted(invitation.email)}, role: {invitation.role.value}{extra}}}",
                "adopted: invited live, not accepted yet",
                f"added {escaped(invitation.email)} (domain "
                f"{escaped(invitation.email).rpartition('@')[2]}) as "
                f"{'ADMIN' if invitation.role is Role.ADMIN else invitation.role.value}, "
                f"invited, to {account.id}",
                invitation.role,
            )
        )
    return additions


def _may_be_admin(user: DesiredUser, rules: DesiredPolicy) -> bool:
    """`policy.adminGroups` as validate applies it to one entry."""
    if not rules.admin_groups or user.group in rules.admin_groups:
        return True
    return user.email is not None and canonical_email(user.email) in rules.admin_members


def _entry_start(account: DesiredAccount, last: Source) -> Source:
    # The latest entry in the account's own file is where its list ends.
    same = [u.source for u in account.users if u.source is not None and u.source.file == last.file]
    return max(same, key=lambda s: s.line)


def _override_group(
    source: Source,
    group: str,
    members: list[DesiredUser],
    change: _GroupChange,
    editor: Editor,
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
    comment = one_line(f"reconciler adopt: live changed on this account only ({what})")
    added = [f"{pad}overrides:  # {comment}{newline}"]
    for user in members:
        if user.key not in change.removed and user.key not in change.roles:
            continue
        role = "none" if user.key in change.removed else change.roles[user.key].value
        key = (
            f"userId: {quoted(user.user_id)}"
            if user.user_id
            else f"email: {quoted(user.email or '')}"
        )
        added.append(f"{pad}  - {{{key}, role: {role}}}{newline}")
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
    account: DesiredAccount, source: Source, change: _GroupChange, editor: Editor
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
    comment = one_line(
        f"reconciler adopt: group {quoted(group)} ({members[0].grant}) is listed one by one "
        f"on this account only, because live changed here ({what}) and the group may be "
        "used elsewhere"
    )
    new = [f"{indent}# {comment}{newline}"]
    for user in members:
        if user.key in change.removed:
            continue
        role = change.roles.get(user.key, user.role)
        if role is None:  # a custom set: written as it stands is beyond adopt for now
            editor.skipped.append(f"{source}: {what}: a member holds a custom permission set")
            return False
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
    desired: Desired, plan: Plan, editor: Editor, evidence: _Evidence
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
                f"{scope}: manager account {quoted(manager.name)} does not exist live: create it "
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
            fields = [f"id: {quoted(action.target)}"]
            if action.id_type is not None and action.id_type is not IdType.ACCOUNT_ID:
                fields.append(f"idType: {action.id_type.value}")
            if action.region is not None and action.region is not Region.NA:
                fields.append(f"region: {action.region.value}")
            label = f" ({quoted(action.label)})" if action.label else ""
            changes[index].found.append(
                (
                    "{" + ", ".join(fields) + "}",
                    f"adopted: linked live{label}",
                    f"added link {action.target} to {manager.name}",
                )
            )
    return changes


def _adopt_links(manager: DesiredManagerAccount, change: _LinkChanges, editor: Editor) -> None:
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
    already = floor_before(desired, now)
    evidence = _Evidence()
    if baseline is not None:
        then = plan_then(baseline, live, policy, desired)
        asked = {meaning(a) for a in then.actions}
        agreed = frozenset(drift_key(a) for a in before.actions if meaning(a) in asked)
        shared = compare(before, baseline, live, policy, desired, then=then)
        evidence = _Evidence(shared, baseline.desired, agreed)
    # Per AMC account, the live users the plan removes or demotes from admin (an
    # `expires:` passed, a policy refusing their admin role): not admins it keeps.
    lowered: dict[Scope, set[str]] = defaultdict(set)
    for a in before.actions:
        if a.account is not None and (
            a.kind is ActionKind.REVOKE_USER
            or (a.kind is ActionKind.SET_ROLE and a.role is not Role.ADMIN)
        ):
            lowered[a.account].add(a.target)
    editor = Editor()
    units: list[tuple[str, Editor]] = []
    unread = {n.scope for n in before.unread}
    for account in desired.accounts:
        if str(account.scope) in unread:
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
            lowered=lowered.get(account.scope, frozenset()),
        )
        units.append((str(account.scope), unit))
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

    def check(files: list[FileEdit]) -> None:
        verify(desired, live, policy, before, files, already)

    changing = [u for u in units if u[1].edits]
    unchanged = [unit for _, unit in units if not unit.edits]
    merged, files, refused = merge_passing(editor, changing, check, first=unchanged)
    for (scope, unit), exc in refused:
        merged.skipped += unit.skipped
        merged.skipped.append(
            f"{scope}: nothing adopted there, because the edit would not pass the manifests' "
            f"own checks: {'; '.join(exc.problems)} (it would have: {'; '.join(unit.adopted)})"
        )
    return Adoption(tuple(files), tuple(merged.adopted), (*editor.skipped, *merged.skipped))


def write(adoption: Adoption) -> None:
    for edit in adoption.files:
        write_atomic(Path(edit.path), edit.after)
