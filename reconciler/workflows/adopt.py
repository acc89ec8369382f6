"""`reconciler adopt PATH...`: rewrite the manifests so that they describe what is live for
the accounts they manage. The opposite of `apply`: drift becomes a reviewed change in git
instead of being reverted.

Adopt inverts the plan. It plans the manifests against the live read (under a permissive
policy, and before a safety rule keeps a change back), and turns each action back into an
edit of the manifest entry the action came from (`Action.origin`, and `member` for a group
entry); it never resolves identity or re-applies a rule of validate itself. Per account
whose read is complete, on accounts of every kind:
- set-role: the entry's grant becomes the one held live (`role:`, or a custom set
  `permissions: [...]` with its `countries: [...]`, one written in place of the other);
- a wrong-grant invitation re-issued: the entry takes the invitation's grant;
- invite of an entry whose person is neither a user nor invited live: the entry goes; so
  does an entry pinned by `userId:` alone whose user is gone (nothing can restore them);
- with `prune`, revoke-user or revoke-invitation of someone nobody lists: an entry is
  added, pinned by `userId:` with the address Amazon shows (masked) in a comment, or by
  email for an invitation, with the grant they hold;
- links: an entry the plan associates goes; with `prune`, a link it disassociates comes.
Resends, creates of manager accounts, and what the plan holds back for want of proof (a
masked fit, masked users that cannot be told apart: `Plan.held`) or cannot manage
(`Plan.off_policy`) are not adopted; each is listed, with the plan's own words.

An ended entry (`expires:` passed) with nothing live left of it (`Plan.expiries`) goes; an
ended grant still live, an expired invitation, and a protected user lowered or gone live
are not adopted. A list whose every entry goes becomes `users: []`.

Each account is a unit, adopted whole or not at all. The edited manifests are loaded and
checked as `validate` checks them, then planned against the same read (`workflows.gate`):
an account whose edit would not pass (an admin outside `adminGroups`, an address outside
the allowed domains, fewer admins than `minAdmins`, a look-alike address) is left as it
is, listed with the diagnostics; and nothing is written that would make the manifests ask
for a change they do not ask for now.

With `--baseline REF` (the last successful apply) a difference is adopted only where the
plan of REF's manifests asks exactly what today's asks (`_Evidence`): live moved behind
git's back. Anything else (a merged change not applied yet) is listed, never adopted over.

Groups (decision): a change on one account never edits a group, because a group may be
used by other accounts. The account's `{group: G, role: R}` entry gets `overrides:` for the
members that changed there (`role: none` for one removed), so the group stays the source of
truth. An override gives a role only, so where a member's custom set or countries changed,
or the entry has an `overrides:` already, its members are listed one by one instead, under
a comment that says why.

Edits are line edits (`manifest.edit`): only the lines that change, change, and every value
from the API is written as a JSON string, so none can add a key, a line or a document.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from reconciler.actions import describe, drift_key
from reconciler.addresses import escaped
from reconciler.errors import PlanError
from reconciler.escape import terminal
from reconciler.manifest.edit import (
    Editor,
    FileEdit,
    grant_fields,
    one_line,
    quoted,
    write_atomic,
)
from reconciler.manifest.layout import line_break, split_lines
from reconciler.model import (
    Desired,
    DesiredAccount,
    DesiredManagerAccount,
    DesiredPolicy,
    DesiredUser,
    Grant,
    IdType,
    Live,
    LiveAccount,
    LiveInvitation,
    Region,
    Role,
    Scope,
    Source,
    canonical_email,
    manager_scope,
)
from reconciler.plan import (
    PHASE_GRANT,
    Action,
    ActionKind,
    Baseline,
    Plan,
    Policy,
    day,
    sort_actions,
)
from reconciler.planning.managers import plan_managers
from reconciler.planning.people import plan_people
from reconciler.planning.planner import make_plan
from reconciler.workflows.baseline import Revision, compare, plan_then
from reconciler.workflows.gate import Refused, floor_before, meaning, merge_passing, verify


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


def _member_entry(user: DesiredUser, grant: Grant) -> str:
    parts = []
    if user.email is not None:
        parts.append(f"email: {quoted(user.email)}")
        if not user.email.isascii():
            parts.append("unicode: true")
        if user.name and user.name != user.email.split("@", 1)[0]:
            parts.append(f"name: {quoted(user.name)}")
    if user.user_id is not None:
        parts.append(f"userId: {quoted(user.user_id)}")
    parts += grant_fields(grant)
    if user.not_user_ids:
        parts.append(f"notUserIds: [{', '.join(quoted(i) for i in sorted(user.not_user_ids))}]")
    if user.expires is not None:
        parts.append(f"expires: {quoted(_expires_text(user.expires))}")
        if user.expiry_reason:
            parts.append(f"reason: {quoted(user.expiry_reason)}")
    return "{" + ", ".join(parts) + "}"


@dataclass(slots=True)
class _GroupChange:
    """What adopt changes in one account's `{group: G}` entry: members removed, grants."""

    removed: set[str] = field(default_factory=set)  # DesiredUser.key
    grants: dict[str, Grant] = field(default_factory=dict)
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

    def allows_pinned(self, scope: Scope, user: DesiredUser, what: str, editor: Editor) -> bool:
        """A pinned user with no email, gone live, has no action to compare: it went
        behind git's back when REF's manifests list the same user on the account too."""
        if self.then is None or self.baseline is None:
            return True
        for account in self.then.accounts:
            if account.scope == scope and any(
                u.key == user.key and u.grant == user.grant for u in account.users
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


def _adopt_people(
    account: DesiredAccount,
    plan: Plan,
    editor: Editor,
    *,
    now: float,
    rules: DesiredPolicy,
    evidence: _Evidence,
) -> None:
    """The account's entries made what is live: each of the plan's actions on it, inverted
    (see the module docstring); what the plan holds back, or keeps, or cannot manage, is
    listed as not adopted, with the plan's own words."""
    scope = account.scope
    found = plan.live.reachable(scope)
    if found is None or plan.live.unreadable(scope) is not None:
        editor.skipped.append(f"{scope}: not read completely: nothing adopted there")
        return
    for notice in (*plan.held, *plan.off_policy):
        if notice.scope == str(scope):
            editor.skipped.append(f"{scope}: not adopted: {notice.message}")
    # The entry (or group member) each change is for, by the action's origin.
    entries = {(u.source, u.key): u for u in account.users}
    grants: dict[tuple[Source | None, str], tuple[Grant, str]] = {}
    removed: dict[tuple[Source | None, str], str] = {}
    additions: list[tuple[str, str, str]] = []  # (entry, comment, what)
    invited: list[tuple[str, str, str]] = []  # after the users
    invitations = {i.invitation_id: i for i in found.invitations}
    actions = [a for a in plan.actions if a.account == scope]
    # A re-issue (the wrong invitation revoked, the entry's invited) is one change.
    kinds = ActionKind.REVOKE_INVITATION, PHASE_GRANT
    reissued = {(a.origin, a.member or "") for a in actions if (a.kind, a.phase) == kinds}
    for action in actions:
        key = (action.origin, action.member or "")
        want = entries.get(key) if action.origin is not None else None
        target = drift_key(action)[1]
        if want is None and action.origin is not None:
            continue  # not this account's entry: never edited on its say
        if want is not None and want.expired(now):
            continue  # an ended grant still live: the plan removes it, git says it ends
        kind = action.kind
        if kind is ActionKind.REVOKE_USER and want is None and account.prune:
            additions += filter(None, [_stranger(account, action, evidence, editor)])
        elif kind is ActionKind.REVOKE_INVITATION and want is None and account.prune:
            invitation = invitations.get(action.target)
            if invitation is not None:
                addition = _invited(account, invitation, action, evidence, editor, now=now)
                invited += filter(None, [addition])
        elif kind is ActionKind.INVITE and want is not None and key not in reissued:
            what = f"{want.who} is neither a user of {account.id} nor invited live"
            if _protected(want, rules):
                # Never written out of the manifests: apply restores them.
                editor.skipped.append(
                    f"{scope}: {what}, but they are protected (policy.protectedUsers): not "
                    "adopted, the entry stays; apply invites them again"
                )
            elif evidence.allows(scope, target, what, editor):
                removed[key] = what
        elif want is not None and kind in (ActionKind.SET_ROLE, ActionKind.REVOKE_INVITATION):
            if kind is ActionKind.SET_ROLE:
                grant, undo = action.old_grant, "the plan sets the role back"
                what = f"{want.who} is {grant} live"
            else:
                invitation = invitations.get(action.target)
                if invitation is None or invitation.grant is None:
                    continue  # an invitation whose grant was not read exactly: not adopted
                grant, undo = invitation.grant, "the plan invites them again as the manifests say"
                what = f"{want.who} is invited as {grant} live"
                if invitation.expired(now):
                    editor.skipped.append(
                        f"{scope}: {want.who}'s invitation ({grant}) has expired: not adopted; "
                        f"{undo}"
                    )
                    continue
            if want.grant.is_admin and not grant.is_admin and _protected(want, rules):
                # The plan raises them again (a grant nothing refuses): neither the gate nor
                # the plan would keep their admin entry, so it is kept here.
                editor.skipped.append(
                    f"{scope}: {what}, but they are protected (policy.protectedUsers): not "
                    f"adopted; {undo}"
                )
            elif evidence.allows(scope, target, what, editor):
                grants[key] = (grant, what)
    _gone_without_action(account, plan, found, removed, editor, evidence, now=now, rules=rules)
    if _under_min_admins(account, found, grants, removed, actions, entries, editor):
        return
    _write_people(account, entries, grants, removed, [*additions, *invited], editor)


def _gone_without_action(
    account: DesiredAccount,
    plan: Plan,
    found: LiveAccount,
    removed: dict[tuple[Source | None, str], str],
    editor: Editor,
    evidence: _Evidence,
    *,
    now: float,
    rules: DesiredPolicy,
) -> None:
    """Entries gone live that no action is about: an ended entry once nothing live is left
    of it (its expiry has no target), and one pinned by `userId:` alone whose user is not
    live (`Plan.unrestorable` is for people; a pin is compared exactly, no guess)."""
    ended = {
        (e.file, e.line)
        for e in plan.expiries
        if e.expired and not e.target and e.account == account.scope
    }
    live_ids = {u.user_id for u in found.users}
    for user in account.users:
        key = (user.source, user.key)
        at = user.expires_source or user.source
        if user.expires is not None and user.group is None and user.expired(now):
            if at is not None and (at.file, at.line) in ended:
                # The ended entry goes: its person has no access live any more.
                removed[key] = (
                    f"{user.who} expired on {day(user.expires)} and has no access live any "
                    "more: the ended entry goes"
                )
            continue
        if user.email is not None or user.user_id is None or user.user_id in live_ids:
            continue
        if user.expired(now):
            continue
        what = f"{user.who} is neither a user of {account.id} nor invited live"
        if _protected(user, rules):
            editor.skipped.append(
                f"{account.scope}: {what}, but they are protected (policy.protectedUsers): not "
                "adopted, the entry stays; restore them by hand"
            )
        elif evidence.allows_pinned(account.scope, user, what, editor):
            removed[key] = what


def _under_min_admins(
    account: DesiredAccount,
    found: LiveAccount,
    grants: dict[tuple[Source | None, str], tuple[Grant, str]],
    removed: dict[tuple[Source | None, str], str],
    actions: Collection[Action],
    entries: dict[tuple[Source | None, str], DesiredUser],
    editor: Editor,
) -> bool:
    """Without `prune` loading counts no admins (with it the gate's load check does), and
    the plan sees nothing to change: adopting an admin's removal while live has fewer than
    `minAdmins` would make that lockout what git asks for. True (listed): nothing adopted."""
    if account.prune:
        return False
    lowers = any(
        entries[key].grant.is_admin and (key in removed or not grants[key][0].is_admin)
        for key in {*removed, *grants}
    )
    # Live admins the plan keeps: not one it removes or demotes (an `expires:` passed).
    lowering = [a for a in actions if a.kind is not ActionKind.SET_ROLE or not a.grant.is_admin]
    lowered = {
        a.target for a in lowering if a.kind in (ActionKind.REVOKE_USER, ActionKind.SET_ROLE)
    }
    live_admins = sum(1 for u in found.users if u.role is Role.ADMIN and u.user_id not in lowered)
    if lowers and live_admins < account.min_admins:
        editor.skipped.append(
            f"{account.scope}: nothing adopted there: live has {live_admins} admin(s), under "
            f"its minAdmins {account.min_admins}, and adopting an admin's removal would make "
            "that what the manifests ask for; restore an admin with apply"
        )
        return True
    return False


def _write_people(
    account: DesiredAccount,
    entries: dict[tuple[Source | None, str], DesiredUser],
    grants: dict[tuple[Source | None, str], tuple[Grant, str]],
    removed: dict[tuple[Source | None, str], str],
    additions: list[tuple[str, str, str]],
    editor: Editor,
) -> None:
    groups: dict[Source, _GroupChange] = defaultdict(_GroupChange)
    gone: set[Source] = set()  # entries removed whole
    for key, user in entries.items():
        assert user.source is not None
        if key not in removed and key not in grants:
            continue
        if user.group is not None:
            change = groups[user.source]
            if key in removed:
                change.removed.add(user.key)
                change.what.append(removed[key])
            else:
                change.grants[user.key] = grants[key][0]
                change.what.append(grants[key][1])
        elif key in removed:
            if editor.remove(user.source, removed[key]):
                gone.add(user.source)
        else:
            editor.set_grant(user.source, grants[key][0], grants[key][1])
    for source, change in groups.items():
        if _split_group(account, source, change, editor):
            gone.add(source)

    listed = {u.source for u in account.users if u.source is not None}
    if listed:
        # After the last entry kept, else the last one (its lines are replaced by none).
        anchor = _entry_start(account, max(listed - gone or listed))
        for entry, comment, what in additions:
            editor.add_after(anchor, entry, comment, what)
    elif additions:
        scope = str(account.scope)
        editor.add_entries(account.source, "users", account.users_at, additions, scope)
    # A list whose every entry goes becomes `users: []` (`Editor.results`).


def _stranger(
    account: DesiredAccount, action: Action, evidence: _Evidence, editor: Editor
) -> tuple[str, str, str] | None:
    """With `prune`, a live user nobody lists (the plan revokes them), as an entry pinned
    by userId with the grant they hold, and the address Amazon shows in a comment. Whether
    the manifests' policy lets them in (the domain Amazon shows, `adminGroups`) is the
    plan's to say when the gate plans the edit (`Rules.judge`)."""
    grant = action.old_grant
    shown = escaped(action.label)
    # Who it is, as far as Amazon shows it (masked address, so its domain), and the role in
    # capitals when it is admin: a reviewer of adopt's pull request must not miss one.
    as_grant = "ADMIN" if grant.is_admin else str(grant)
    what = f"added {action.target} ({grant}) to {account.id}"
    if not evidence.allows(account.scope, drift_key(action)[1], what, editor):
        return None
    return (
        "{" + ", ".join([f"userId: {quoted(action.target)}", *grant_fields(grant)]) + "}",
        f"adopted: live user shown as {quoted(action.label)} (Amazon masks addresses)",
        f"added {action.target} (shown as {shown}, domain {shown.rpartition('@')[2]}) "
        f"as {as_grant} to {account.id}",
    )


def _invited(
    account: DesiredAccount,
    invitation: LiveInvitation,
    action: Action,
    evidence: _Evidence,
    editor: Editor,
    *,
    now: float,
) -> tuple[str, str, str] | None:
    """With `prune`, a pending invitation nobody lists (the plan revokes it), as an entry by
    email with the grant it carries. Its address is checked as any entry's, by the gate."""
    grant = invitation.grant
    if grant is None:
        return None
    shown = escaped(invitation.email)
    if invitation.expired(now):
        editor.skipped.append(
            f"{account.scope}: invitation ({quoted(shown)}, {grant}) has expired, unaccepted: "
            "not adopted; the plan revokes it"
        )
        return None
    what = f"added {shown} ({grant}, invited)"
    if not evidence.allows(account.scope, drift_key(action)[1], what, editor):
        return None
    extra = [] if invitation.email.isascii() else ["unicode: true"]
    fields = [f"email: {quoted(invitation.email)}", *grant_fields(grant), *extra]
    return (
        "{" + ", ".join(fields) + "}",
        "adopted: invited live, not accepted yet",
        f"added {shown} (domain {shown.rpartition('@')[2]}) as "
        f"{'ADMIN' if grant.is_admin else grant}, invited, to {account.id}",
    )


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
    # An override gives a role (or none) with the entry's countries: any other grant (a
    # custom set, other countries) is written one by one.
    countries = members[0].grant.countries
    if any(g != Grant(g.role, (), countries) or g.role is None for g in change.grants.values()):
        return False
    what = "; ".join(change.what)
    pad = " " * (len(indent) + 2)
    comment = one_line(f"reconciler adopt: live changed on this account only ({what})")
    added = [f"{pad}overrides:  # {comment}{newline}"]
    for user in members:
        if user.key not in change.removed and user.key not in change.grants:
            continue
        grant = change.grants.get(user.key)
        role = grant.role.value if grant is not None and grant.role is not None else "none"
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
        # Every key is written again (a list such as `countries: [US]` too), or none.
        kept = ("countries", "expires", "reason")
        if len(found.values) != found.size or not set(found.values) <= {"group", "role", *kept}:
            return False
        raw = {key: line[at.start : at.end] for key, at in found.values.items()}
        head = f"{indent}- group: {raw['group']}{f'  {tail}' if tail else ''}{newline}"
        new = [head, f"{pad}role: {raw['role']}{newline}"]
        new += [f"{pad}{key}: {raw[key]}{newline}" for key in kept if key in raw]
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
        grant = change.grants.get(user.key, user.grant)
        new.append(f"{indent}- {_member_entry(user, grant)}{newline}")
    if editor.claim(source.file, span, new, what):
        editor.adopted.append(f"{source}: {what} (group {group} listed one by one)")
    return False


@dataclass(slots=True)
class _LinkChanges:
    """What adopt changes in one manager account's `linkedAccounts:`."""

    gone: list[tuple[Source, str]] = field(default_factory=list)  # (the link entry, what)
    found: list[tuple[str, str, str]] = field(default_factory=list)  # (entry, comment, what)


def _link_changes(
    managers: Sequence[DesiredManagerAccount], plan: Plan, editor: Editor, evidence: _Evidence
) -> dict[int, _LinkChanges]:
    """Per manager account (by position): a listed link not linked live goes; with `prune`,
    a live link nobody lists comes (the plan disassociates exactly those)."""
    changes: dict[int, _LinkChanges] = defaultdict(_LinkChanges)
    # A manager account by its pinned id, else (unpinned) by its name.
    position = {(m.id, m.name if m.id is None else ""): n for n, m in enumerate(managers)}
    for action in plan.actions:
        ref = action.manager
        index = None if ref is None else position.get((ref.id, ""), position.get((None, ref.name)))
        if ref is None or index is None:
            continue
        scope, manager = manager_scope(ref.key), managers[index]
        if ref.id is None and action.kind is not ActionKind.CREATE_MANAGER_ACCOUNT:
            continue  # its links wait for the create: reported once, below
        if action.kind is ActionKind.CREATE_MANAGER_ACCOUNT:
            editor.skipped.append(
                f"{scope}: manager account {quoted(manager.name)} does not exist live: create it "
                "with apply, or remove it from the manifests"
            )
        elif not evidence.allows(scope, drift_key(action)[1], describe(action), editor):
            continue
        elif action.kind is ActionKind.ASSOCIATE and action.origin is not None:
            # The link entry the plan associates (its origin) is not linked live: it goes.
            what = f"{action.target} is not linked to {manager.name} live"
            changes[index].gone.append((action.origin, what))
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
    for source, what in change.gone:
        editor.remove(source, what)
    listed = [x.source for x in manager.links if x.source is not None]
    if listed:
        # After the last listed link (removed or not: an insertion follows its lines).
        anchor = max(listed, key=lambda s: s.line)
        for entry, comment, what in change.found:
            editor.add_after(anchor, entry, comment, what)
    elif change.found:
        editor.add_entries(manager.source, "linkedAccounts", manager.links_at, change.found, where)


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
    # Every difference, as the planner finds it before a safety rule keeps one back (the
    # last active admin's removal, say): the plan's actions and the kept ones, so that an
    # admin the manifests leave out is adopted, not only listed.
    people = plan_people(desired, live, now=now, resend_within_days=policy.resend_within_days)
    differences = [*plan_managers(desired, live).actions, *people.actions]
    # Never from a read that failed or may be incomplete (the guards drop those, too).
    complete = [a for a in differences if live.unreadable(a.scope) is None]
    found = replace(before, actions=sort_actions(complete))
    already = floor_before(desired, now)
    evidence = _Evidence()
    if baseline is not None:
        then = plan_then(baseline, live, policy, desired)
        asked = {meaning(a) for a in then.actions}
        agreed = frozenset(drift_key(a) for a in found.actions if meaning(a) in asked)
        shared = compare(before, baseline, live, policy, desired, then=then)
        evidence = _Evidence(shared, baseline.desired, agreed)
    editor = Editor()
    units: list[tuple[str, Editor]] = []
    unread = {n.scope for n in before.unread}
    for account in desired.accounts:
        if str(account.scope) in unread:
            editor.skipped.append(f"{account.scope}: not read completely: nothing adopted")
            continue
        unit = editor.fork()
        _adopt_people(
            account,
            found,
            unit,
            now=now,
            rules=desired.policy,
            evidence=evidence,
        )
        units.append((str(account.scope), unit))
    for manager in desired.manager_accounts:
        if live.unreadable(manager_scope(manager.key)) is not None:
            editor.skipped.append(
                f"{manager_scope(manager.key)}: not read completely: nothing adopted"
            )
    for index, change in sorted(
        _link_changes(desired.manager_accounts, found, editor, evidence).items()
    ):
        manager = desired.manager_accounts[index]
        unit = editor.fork()
        _adopt_links(manager, change, unit)
        units.append((str(manager_scope(manager.key)), unit))

    def check(files: list[FileEdit]) -> None:
        try:
            verify(desired, live, policy, before, files, already)
        except PlanError as exc:
            # The plan's own judgement of what the edit lists (a pin to a live user at a
            # domain the policy does not allow, or made admin outside `adminGroups`). It
            # quotes what Amazon shows: a look-alike is only ever shown escaped.
            problems = [escaped(p) for p in exc.problems]
            raise Refused("the edited manifests would not plan", problems) from exc

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
