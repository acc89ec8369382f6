"""The manifests at a git revision, for `--baseline REF`.

REF names the commit whose manifests are known to be applied (the last successful apply).
`manifests_at` loads the manifests under the same PATHS as they were at REF: each path is
taken relative to the repository's top level, and the files the loader would find under it
are read from git (`git ls-tree`, `git cat-file`) straight into the loader (`load_texts`),
named by their path in the repository. Nothing is copied to disk. A path absent at REF
contributes nothing (manifests added since).

REF comes from the user (or a CI variable): it is checked not to look like an option, is
passed to git after `--end-of-options` as one argument (never through a shell), and is
resolved to a full commit id once; everything after uses that id. What git gives back is
data: a tree path that is absolute or climbs out (`..`) is refused.

Every failure is a `BaselineError`: one line naming REF, what is wrong and what to do.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from reconciler.actions import drift_key
from reconciler.errors import BaselineError, ManifestError, PlanError
from reconciler.manifest import load_texts
from reconciler.manifest.loader import SUFFIXES
from reconciler.manifest.yamlload import MAX_FILE_BYTES
from reconciler.model import Desired, DesiredUser, IdType, Live, manager_scope
from reconciler.plan import TIME_KINDS, Baseline, Notice, Plan, Policy
from reconciler.planning.identity import invitation_is_pending
from reconciler.planning.planner import make_plan

_GIT_TIMEOUT_S = 30
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_FIX = "pass the commit of the last successful apply"
_MAX_REF = 1024


@dataclass(frozen=True, slots=True)
class Revision:
    """The manifests at `ref`, which resolved to `commit`."""

    ref: str
    commit: str
    desired: Desired
    committed_at: float = 0.0  # REF's commit time, UTC epoch seconds


def _git(top: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(top), *args],
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BaselineError(f"cannot run git ({exc}): --baseline needs git on PATH") from exc


def _fail(ref: str, what: str) -> BaselineError:
    return BaselineError(f"--baseline {ref!r}: {what}")


def check_ref(ref: str) -> None:
    """REF is a revision, not an option or anything else git would read differently."""
    if not ref.strip():
        raise _fail(ref, f"is empty: {_FIX}, e.g. --baseline 1a2b3c4")
    if ref.startswith("-"):
        raise _fail(ref, f"looks like an option, not a git revision: {_FIX}")
    if any(ord(c) < 32 or ord(c) == 127 for c in ref):
        raise _fail(ref, f"holds a control character: {_FIX}")
    if len(ref) > _MAX_REF:
        # Longer than any revision git names (a sha is 40 or 64 characters); one argument
        # that long would not even reach git.
        raise _fail(ref[:40] + "...", f"is {len(ref)} characters long, not a revision: {_FIX}")


def _where(path: str) -> Path:
    """`path` made absolute with symlinks resolved, but a file's own name kept: a manifest
    that is a symlink is looked up at REF under its own name."""
    absolute = Path(os.path.normpath(Path(path).absolute()))
    if absolute.is_dir():
        return absolute.resolve()
    return absolute.parent.resolve() / absolute.name


def _top_level(paths: Sequence[str], ref: str) -> Path:
    first = _where(paths[0])
    folder = first if first.is_dir() else first.parent
    done = _git(folder, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise _fail(
            ref,
            f"{paths[0]} is not in a git repository: run from a clone of the repository that "
            "holds the manifests (CI: check it out), or leave out --baseline",
        )
    return Path(os.fsdecode(done.stdout.strip())).resolve()


def _commit(top: Path, ref: str) -> str:
    done = _git(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    sha = done.stdout.decode("ascii", "replace").strip()
    if done.returncode != 0 or not _SHA.fullmatch(sha):
        raise _fail(
            ref,
            f"is not a commit in {top}: {_FIX} (CI: fetch the whole history, e.g. "
            "actions/checkout with fetch-depth: 0)",
        )
    return sha


def _committed_at(top: Path, commit: str, ref: str) -> float:
    done = _git(top, "show", "-s", "--format=%ct", commit)
    text = done.stdout.decode("ascii", "replace").strip()
    if done.returncode != 0 or not text.isdigit():
        raise _fail(ref, f"cannot read the commit time of {commit[:12]}")
    return float(text)


def _relative(paths: Sequence[str], top: Path, ref: str) -> list[str]:
    relative = []
    for path in paths:
        real = _where(path)
        if real != top and not real.is_relative_to(top):
            raise _fail(ref, f"{path} is not in the git repository at {top}")
        folder = real if real.is_dir() else real.parent
        own = _git(folder, "rev-parse", "--show-toplevel")
        if own.returncode == 0 and Path(os.fsdecode(own.stdout.strip())).resolve() != top:
            # A nested repository (a submodule): the tree at REF holds a link to it, not its
            # files, so REF would look as if it had no manifests there.
            raise _fail(
                ref,
                f"{path} is in another git repository than {paths[0]} (a submodule or an "
                "embedded repository): --baseline reads one repository; leave out --baseline",
            )
        relative.append(real.relative_to(top).as_posix() if real != top else ".")
    return relative


def _extract(top: Path, commit: str, relative: list[str], ref: str) -> list[tuple[str, bytes]]:
    """What the loader would read under `relative` at `commit`, in its order: each file
    named, and the `.yaml`/`.yml` files under each folder named (none whose name, or a
    folder's on the way, starts with `.`), sorted by path parts; each file once."""
    done = _git(
        top, "--literal-pathspecs", "ls-tree", "-r", "-z", "--long", commit, "--", *relative
    )
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise _fail(ref, f"cannot list the manifests at {commit[:12]} ({''.join(why)})")
    named = set(relative)
    blobs: dict[PurePosixPath, bytes] = {}
    for entry in done.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, obj, size = meta.decode("ascii").split()
        name = PurePosixPath(os.fsdecode(raw_path))
        wanted = str(name) in named or name.name.endswith(SUFFIXES)
        under = any(n == "." or str(name).startswith(f"{n}/") for n in named)
        if kind == "commit" and (wanted or under):
            # A nested repository: its files are not in this tree, so REF would look empty.
            raise _fail(
                ref,
                f"{name} is a submodule at {commit[:12]}: --baseline reads only "
                "the manifests this repository holds; leave out --baseline",
            )
        if kind != "blob" or not wanted:
            continue  # a file the loader would not read
        if name.is_absolute() or ".." in name.parts or not name.parts:
            raise _fail(ref, f"the tree at {commit[:12]} holds an unsafe path {str(name)!r}")
        if size.isdigit() and int(size) > MAX_FILE_BYTES:
            # The loader's own cap, checked before git hands the blob over.
            raise _fail(
                ref,
                f"{name} at {commit[:12]} is larger than the manifests' limit "
                f"({MAX_FILE_BYTES // (1024 * 1024)} MiB)",
            )
        blob = _git(top, "cat-file", "blob", obj)
        if blob.returncode != 0:
            raise _fail(ref, f"cannot read {name} at {commit[:12]}")
        if mode == "120000":
            # Decision: no symbolic link at REF is followed. Made on this machine, one could
            # lead the loader to any file here (`a -> b/..` through another link), or to
            # nothing, and REF would look as if it held no manifests: a claim, not evidence.
            raise _fail(
                ref,
                f"{name} is a symbolic link at {commit[:12]}: --baseline reads only the "
                "regular files the repository holds; pass the folder the link names, or "
                "leave out --baseline",
            )
        blobs[name] = blob.stdout
    return _in_loader_order(relative, blobs)


def _in_loader_order(
    relative: list[str], blobs: dict[PurePosixPath, bytes]
) -> list[tuple[str, bytes]]:
    """The blobs the loader's discovery would find under the paths named, in its order
    (`manifest.loader`: a file named is read whatever its name; a folder is searched for
    `.yaml`/`.yml` files, skipping names that start with `.`, in order of path parts)."""
    out: dict[PurePosixPath, bytes] = {}
    for rel in relative:
        path = PurePosixPath(rel)
        if path in blobs:
            out.setdefault(path, blobs[path])
            continue
        under = sorted(
            (name for name in blobs if rel == "." or path in name.parents),
            key=lambda name: name.parts,
        )
        for name in under:
            inside = name.parts if rel == "." else name.parts[len(path.parts) :]
            if name.name.endswith(SUFFIXES) and not any(p.startswith(".") for p in inside):
                out.setdefault(name, blobs[name])
    return [(str(name), raw) for name, raw in out.items()]


def manifests_at(ref: str, paths: Sequence[str]) -> Revision:
    """The manifests under `paths` as they were at `ref` (module docstring). Raises
    `BaselineError` for a ref that is not a commit, paths outside a git repository, or
    manifests at `ref` that do not load."""
    check_ref(ref)
    top = _top_level(paths, ref)
    commit = _commit(top, ref)
    when = _committed_at(top, commit, ref)
    relative = _relative(paths, top, ref)
    texts = _extract(top, commit, relative, ref)
    if not texts:
        return Revision(ref, commit, Desired(), when)  # no manifests there yet
    try:
        desired = load_texts(texts)
    except ManifestError as exc:
        found = [str(d) for d in exc.diagnostics]
        also = f"; and {len(found) - 1} more" if len(found) > 1 else ""
        first = found[0] if found else str(exc)
        raise _fail(
            ref,
            f"the manifests at {commit[:12]} do not load ({first}{also}): {_FIX}, whose "
            "manifests were valid",
        ) from exc
    return Revision(ref, commit, desired, when)


def compare(
    made: Plan,
    baseline: Revision,
    live: Live,
    policy: Policy,
    desired: Desired,
    *,
    then: Plan | None = None,
) -> Baseline:
    """The keys of `made`'s actions that a plan of `baseline`'s manifests against the same
    `live` and `policy` has an action on too, not counting what time alone made there.
    Its other scopes were not read for it, so its actions there are artefacts; only the
    keys `made` shares matter, and only they are kept. A baseline that cannot be planned is
    an error, never a guess. `then` is that plan when the caller has it already."""
    if then is None:
        then = plan_then(baseline, live, policy, desired)
    mine = {drift_key(a) for a in made.actions}
    # What time alone made at REF (a resend) is not live moving away from what was applied;
    # an `expires:` that had passed by REF's time is REF's own wish (`plan_then`).
    moved = [a for a in then.actions if a.kind not in TIME_KINDS]
    also = {drift_key(a) for a in moved} & mine
    # Where REF's plan held a change back (identity not proven, a user it cannot restore),
    # what REF would do is not known: no claim either way there.
    unsure = {n.scope for n in then.held + then.unrestorable} & {k[0] for k in mine}
    unsure |= _respelled(baseline.desired, desired) & {k[0] for k in mine}
    return Baseline(
        ref=baseline.ref,
        commit=baseline.commit,
        keys=frozenset(also),
        unsure=frozenset(unsure),
    )


def plan_then(baseline: Revision, live: Live, policy: Policy, desired: Desired) -> Plan:
    """What REF's manifests asked of live when REF was made, planned against today's read:
    for the accounts today's manifests manage (only those were read: an account dropped
    since REF was not, and would look unreachable), and with each `expires:` as it stood at
    REF's commit time. One that had passed by then is REF's own wish (the person absent);
    one that has passed since is time's doing, not live moving away from what was applied,
    so it is left out and REF asks for the person with their role. Decision: REF's commit
    time stands for when it was applied (apply runs on merge); an `expires:` that passed
    between the two is taken as time's doing. A plan that cannot be made is a
    `BaselineError`, never a guess."""
    amc = {a.id for a in desired.accounts}
    ids = {m.id for m in desired.manager_accounts if m.id is not None}
    names = {m.name for m in desired.manager_accounts}
    at = baseline.committed_at

    def as_applied(user: DesiredUser) -> DesiredUser:
        # Ended when REF was made: REF asked for the person's absence (keep it). Ended
        # since: time's doing (leave the `expires:` out).
        if user.expires is not None and user.expires > at:
            return replace(user, expires=None)
        return user

    then = replace(
        baseline.desired,
        accounts=tuple(
            replace(a, users=tuple(map(as_applied, a.users)))
            for a in baseline.desired.accounts
            if a.id in amc
        ),
        manager_accounts=tuple(
            m for m in baseline.desired.manager_accounts if m.id in ids or m.name in names
        ),
    )
    try:
        return make_plan(then, live, policy)
    except PlanError as exc:
        raise BaselineError(
            f"--baseline {baseline.ref!r}: the manifests at {baseline.commit[:12]} cannot be "
            f"planned against live state ({str(exc).splitlines()[0]}): pass "
            "the commit of the last successful apply"
        ) from exc


def _respelled(then: Desired, now: Desired) -> set[str]:
    """Manager accounts whose links changed since REF in a way that may only be spelling:
    a DSP advertiser can be listed by its advertiser id or by its account id, and a link's
    target key follows the manifest's spelling, not the live link. Where a link listed or
    no longer listed since REF is not an ACCOUNT_ID one, and links both came and went, no
    target there is called not applied yet (it may be the same link, unlinked in the
    console)."""
    out: set[str] = set()
    for manager in now.manager_accounts:
        before = next(
            (
                m
                for m in then.manager_accounts
                if (m.id is not None and m.id == manager.id) or m.name == manager.name
            ),
            None,
        )
        if before is None:
            continue
        listed = {link.key for link in manager.links}
        was = {link.key for link in before.links}
        added, dropped = listed - was, was - listed
        # Spelling changes only where one link goes and another comes.
        if added and dropped and any(t != IdType.ACCOUNT_ID.value for t, _ in added | dropped):
            out.add(str(manager_scope(manager.key)))
    return out


_SINCE_FIX = "pass the commit the change starts from (a pull request's merge base)"


def manifests_since(ref: str, paths: Sequence[str]) -> Revision:
    """`--changed-since REF`: the manifests under `paths` at `ref`, read by `manifests_at`
    (git's blobs, no working copy, the same checks and refusals); an error names
    --changed-since and what to pass for it."""
    try:
        return manifests_at(ref, paths)
    except BaselineError as exc:
        text = str(exc).replace("--baseline", "--changed-since").replace(_FIX, _SINCE_FIX)
        raise BaselineError(text) from exc


def unmanaged_since(baseline: Revision, desired: Desired) -> Desired:
    """The accounts the manifests at REF manage and today's do not (an AMC account by id, a
    manager account by id or, without one, by name), bare: for a read of who keeps access
    there now that nothing watches them."""
    amc = {a.id for a in desired.accounts}
    ids = {m.id for m in desired.manager_accounts if m.id is not None}
    names = {m.name for m in desired.manager_accounts}
    return Desired(
        accounts=tuple(replace(a, users=()) for a in baseline.desired.accounts if a.id not in amc),
        manager_accounts=tuple(
            replace(m, links=())
            for m in baseline.desired.manager_accounts
            if not (m.id in ids if m.id is not None else m.name in names)
        ),
    )


def no_longer_managed(baseline: Revision, gone: Desired, live: Live) -> tuple[Notice, ...]:
    """One notice per account REF manages and today's manifests do not, saying who keeps
    access there (from `live`, a read of `gone`)."""
    out: list[Notice] = []
    fix = (
        "nothing watches it any more: list it again in the manifests, or remove its people "
        "in the console"
    )
    for account in gone.accounts:
        scope = account.scope
        at = str(account.source) if account.source else "REF"
        found = live.reachable_amc(account.id)
        unread = live.unreadable(scope)
        if found is None or unread is not None:
            keep = f"its people keep access (not read: {unread or 'not reachable'})"
        else:
            users = len(found.users)
            pending = sum(1 for i in found.invitations if invitation_is_pending(i))
            keep = f"{users + pending} people keep access ({users} users, {pending} invited)"
        out.append(
            Notice(
                str(scope),
                f"no longer managed: {keep}; managed at {baseline.commit[:12]} ({at}), {fix}",
            )
        )
    for manager in gone.manager_accounts:
        live_manager = next(
            (
                m
                for m in live.manager_accounts
                if (m.id == manager.id if manager.id is not None else m.name == manager.name)
            ),
            None,
        )
        scope = manager_scope(live_manager.id if live_manager else manager.key)
        at = str(manager.source) if manager.source else "REF"
        if live_manager is None or live.unreadable(scope) is not None:
            keep = "its linked accounts stay linked (not read)"
        else:
            keep = f"{len(live_manager.links)} linked accounts stay linked"
        out.append(
            Notice(
                str(scope),
                f"no longer managed: {keep}; managed at {baseline.commit[:12]} ({at}), {fix}",
            )
        )
    return tuple(sorted(out))


_DEFAULTS = Policy()


def policy_changes(then: Desired, now: Desired) -> tuple[str, ...]:
    """What the manifests' policy changed since REF, in words, each loosening (a domain or
    admin group or admin member added, a protection removed, a limit raised, a rule
    dropped) marked `LOOSENED:`."""
    out: list[str] = []
    old, new = then.policy, now.policy

    def where(name: str) -> str:
        # Where it is written now; a setting removed since REF is written nowhere.
        at = new.sources.get(name)
        return f" ({at})" if at is not None else ""

    def sets(name: str, before: set[str], after: set[str], *, empty_is_any: bool) -> None:
        added, dropped = sorted(after - before), sorted(before - after)
        if empty_is_any and before and not after:
            out.append(f"LOOSENED: {name} removed: any is allowed now{where(name)}")
            return
        if empty_is_any and not before and after:
            out.append(f"{name} set to {', '.join(sorted(after))}{where(name)}")
            return
        if added:
            out.append(f"LOOSENED: {name} adds {', '.join(added)}{where(name)}")
        if dropped:
            out.append(f"{name} drops {', '.join(dropped)}{where(name)}")

    sets(
        "allowedEmailDomains",
        set(old.allowed_email_domains),
        set(new.allowed_email_domains),
        empty_is_any=True,
    )
    sets("adminGroups", set(old.admin_groups), set(new.admin_groups), empty_is_any=True)
    if old.admin_groups and new.admin_groups:
        gained = sorted(new.admin_members - old.admin_members)
        if gained:
            out.append(f"LOOSENED: the admin groups gain {', '.join(gained)}{where('adminGroups')}")
    removed = sorted(set(old.protected_users) - set(new.protected_users))
    added = sorted(set(new.protected_users) - set(old.protected_users))
    if removed:
        out.append(f"LOOSENED: protectedUsers no longer protects {', '.join(removed)}")
    if added:
        out.append(f"protectedUsers now protects {', '.join(added)}")
    for name, before, after, default in (
        ("maxRemovals", old.max_removals, new.max_removals, _DEFAULTS.max_removals),
        (
            "maxRemovalFraction",
            old.max_removal_fraction,
            new.max_removal_fraction,
            _DEFAULTS.max_removal_fraction,
        ),
        ("removalFloor", old.removal_floor, new.removal_floor, _DEFAULTS.removal_floor),
    ):
        _limit(out, name, before, after, default, where(name))
    then_accounts = {a.id: a for a in then.accounts}
    for account in now.accounts:
        before_account = then_accounts.get(account.id)
        if before_account is None:
            continue
        mine, theirs = account.policy, before_account.policy
        at = f" ({account.policy.source})" if account.policy and account.policy.source else ""
        added_domains = sorted(
            set(mine.allowed_email_domains if mine else ())
            - set(theirs.allowed_email_domains if theirs else ())
        )
        if added_domains:
            out.append(
                f"LOOSENED: amc:{account.id}: allowedEmailDomains adds "
                f"{', '.join(added_domains)}{at}"
            )
        for name, old_value, new_value, default in (
            (
                "maxRemovalFraction",
                theirs.max_removal_fraction if theirs else None,
                mine.max_removal_fraction if mine else None,
                new.max_removal_fraction or _DEFAULTS.max_removal_fraction,
            ),
            (
                "removalFloor",
                theirs.removal_floor if theirs else None,
                mine.removal_floor if mine else None,
                new.removal_floor if new.removal_floor is not None else _DEFAULTS.removal_floor,
            ),
        ):
            _limit(out, f"amc:{account.id}: {name}", old_value, new_value, default, at)
        if account.min_admins < before_account.min_admins:
            out.append(
                f"LOOSENED: amc:{account.id}: minAdmins lowered from "
                f"{before_account.min_admins} to {account.min_admins}"
            )
    return tuple(out)


def _limit(
    out: list[str],
    name: str,
    before: float | None,
    after: float | None,
    default: float,
    at: str,
) -> None:
    was = default if before is None else before
    now = default if after is None else after
    if now > was:
        out.append(f"LOOSENED: {name} raised from {was:g} to {now:g}{at}")
    elif now < was:
        out.append(f"{name} lowered from {was:g} to {now:g}{at}")
