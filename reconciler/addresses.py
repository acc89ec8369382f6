"""Addresses that look like one thing and are another are refused.

`ops@exаmple.com` (a Cyrillic `а`) and `bob\u200b@example.com` (a zero-width space) print
exactly like the real addresses, and an invitation to them goes to someone else. `validate`
refuses:
- invisible and control characters (Unicode categories Cc, Cf, Co, Cn, Zl, Zp, and any space
  other than U+0020, which the schema already refuses), naming the character and position;
- a mix of scripts among the letters (Latin with Cyrillic, Greek, ...);
- any non-ASCII character unless the entry opts in with `unicode: true`; such an address is
  then shown with its escapes in every plan (`reconciler.actions.invitations`).
Positions are 1-based, counted in characters of the address as written.
"""

from __future__ import annotations

import unicodedata

from reconciler.escape import invisible
from reconciler.model import Desired, canonical_email

_INVISIBLE = {"Cc", "Cf", "Co", "Cn", "Zl", "Zp", "Zs"}


def _char(c: str) -> str:
    return f"U+{ord(c):04X} {unicodedata.name(c, 'UNNAMED CHARACTER')}"


def _script(c: str) -> str | None:
    """The script of a letter, from its Unicode name (LATIN, CYRILLIC, GREEK, ...)."""
    if not c.isalpha():
        return None
    name = unicodedata.name(c, "")
    return name.split(" ", 1)[0] if name else None


def problem(address: str, *, unicode_ok: bool) -> str | None:
    """What is wrong with `address`, as the rest of a diagnostic, or None."""
    for i, c in enumerate(address, 1):
        if unicodedata.category(c) in _INVISIBLE or invisible(c):
            return (
                f"address {escaped(address)!s} has an invisible or control character "
                f"{_char(c)} at position {i}: retype the address without it"
            )
    scripts: dict[str, str] = {}
    for c in address:
        script = _script(c)
        if script is not None:
            scripts.setdefault(script, c)
    if len(scripts) > 1:
        names = sorted(scripts)
        odd = next(c for s, c in scripts.items() if s != "LATIN") if "LATIN" in scripts else ""
        where = f" ({_char(odd)} at position {address.index(odd) + 1})" if odd else ""
        return (
            f"address {escaped(address)} mixes scripts: {', '.join(n.title() for n in names)}"
            f"{where}: a look-alike of another address; retype it in one script"
        )
    if not unicode_ok:
        for i, c in enumerate(address, 1):
            if ord(c) > 0x7F:
                return (
                    f"address {escaped(address)} has the non-ASCII character {_char(c)} at "
                    f"position {i}: if the address really is so, add `unicode: true` to the "
                    "entry; otherwise retype it"
                )
    return None


def escaped(address: str) -> str:
    """The address with every non-ASCII character as `\\uXXXX`: one form no font can fake."""
    return "".join(c if ord(c) < 0x7F and c.isprintable() else f"\\u{ord(c):04x}" for c in address)


def unambiguous(address: str) -> str:
    """As written, followed by its escaped form when they differ: `ángel@x (\\u00e1ngel@x)`."""
    plain = escaped(address)
    return address if plain == address else f"{address} ({plain})"


def manifest_addresses(desired: Desired) -> frozenset[str]:
    """Every address the manifests hold (canonical form): the users of every AMC account,
    every group's members, the protected users. `--mask-emails` shows these as written:
    they are in the reviewed files already."""
    found = {u.email for a in desired.accounts for u in a.users if u.email}
    found |= {m.email for members in desired.groups.values() for m in members if m.email}
    found |= {who for who in desired.policy.protected_users if "@" in who}
    return frozenset(canonical_email(address) for address in found)
