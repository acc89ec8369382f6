"""The policy in force: defaults, then the manifests' `policy:` blocks, then flags.

`effective(flags, desired)` is pure. `flags` is the `Policy` the command line built: a
setting given as a flag has its flag in `flags.sources` (`--max-removals`) and wins over the
manifests, for every account; any other setting takes the manifests' value when they set it
(with its `file:line` as the source), else stays the default. The manifests' policy is part
of their digest (`planfile.digest`), so a pull request that loosens a limit changes it and
is visible as such; a plan states every setting that is not the default and where it came
from.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.model import Desired
from reconciler.plan import AccountLimits, Policy, Protected

# Manifest name -> CLI flag, for the settings both can set.
FLAGS = {
    "maxRemovals": "--max-removals",
    "maxRemovalFraction": "--max-removal-fraction",
    "removalFloor": "--removal-floor",
}


def effective(flags: Policy, desired: Desired) -> Policy:
    want = desired.policy
    sources = dict(flags.sources)

    def pick(name: str, given: float | None, value: float) -> float:
        """The manifests' value for `name` unless a flag set it or the manifests do not."""
        if name in sources or given is None:
            return value
        sources[name] = str(want.sources[name])
        return given

    max_removals = int(pick("maxRemovals", want.max_removals, flags.max_removals))
    fraction = pick("maxRemovalFraction", want.max_removal_fraction, flags.max_removal_fraction)
    floor = int(pick("removalFloor", want.removal_floor, flags.removal_floor))
    for name in ("allowedEmailDomains", "adminGroups"):
        if name in want.sources:
            sources[name] = str(want.sources[name])
    limits: dict[str, AccountLimits] = {}
    for account in desired.accounts:
        own = account.policy
        if own is None or own.source is None:
            continue
        own_fraction = None if "maxRemovalFraction" in flags.sources else own.max_removal_fraction
        own_floor = None if "removalFloor" in flags.sources else own.removal_floor
        domains = own.allowed_email_domains
        if own_fraction is not None or own_floor is not None or domains:
            limits[account.id] = AccountLimits(own_fraction, own_floor, str(own.source), domains)
    return replace(
        flags,
        max_removals=max_removals,
        max_removal_fraction=fraction,
        removal_floor=floor,
        protected_users=tuple(
            sorted(
                Protected(who, str(want.sources[f"protectedUsers/{who}"]))
                for who in want.protected_users
            )
        ),
        allowed_email_domains=want.allowed_email_domains,
        admin_groups=want.admin_groups,
        account_limits=limits,
        sources=sources,
    )


def differences(saved: Policy, now: Policy) -> list[str]:
    """What differs between two policies, by value (never by where a value came from)."""
    names = {
        "max_removals": "--max-removals",
        "max_removal_fraction": "--max-removal-fraction",
        "removal_floor": "--removal-floor",
        "resend_within_days": "--resend-within",
        "allow_incomplete": "--allow-incomplete",
        "allow_unresolved": "--allow-unresolved",
        "allow_fewer_admins": "--allow-fewer-admins",
    }
    out = []
    for field_name, what in names.items():
        old, new = getattr(saved, field_name), getattr(now, field_name)
        if old != new:
            out.append(f"the plan was made with {what} {old}, this apply has {new}")

    def account_values(p: Policy) -> dict[str, tuple[float | None, int | None]]:
        return {
            k: (v.max_removal_fraction, v.removal_floor)
            for k, v in p.account_limits.items()
            if v.max_removal_fraction is not None or v.removal_floor is not None
        }

    if account_values(saved) != account_values(now):
        out.append("the plan was made with other per-account removal limits than this apply's")
    if {k: v.allowed_email_domains for k, v in saved.account_limits.items()} != {
        k: v.allowed_email_domains for k, v in now.account_limits.items()
    }:
        out.append("the plan was made with other per-account allowedEmailDomains than this apply's")
    if {p.who for p in saved.protected_users} != {p.who for p in now.protected_users}:
        out.append("the plan was made with other protectedUsers than this apply's")
    return out
