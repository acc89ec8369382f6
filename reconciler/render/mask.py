"""`--mask-emails`: addresses become `a***@example.com`, as the API's own masking does
(reference §5), for logs that are public. Any local part is masked, whatever its first
character (`_ops@`, `ángel@`, `Ørjan@`); an address already masked stays as it is.

What the reviewed manifests already hold is no secret to whoever reads the log: an address
in `keep` (canonical form, `model.canonical_email`) is shown as written, so a reviewer sees
which group member a line means. Only an exact match is kept: a look-alike, or an address
that merely starts or ends like a kept one, is masked."""

from __future__ import annotations

import re

from reconciler.model import canonical_email

# A local part: anything up to the `@` that is not space or a delimiter our own output puts
# around addresses (brackets, commas, colons, quotes); it does not start with a parenthesis
# (ours: `(a@b.example)`) but may hold one further in, as an address chosen to slip past
# masking may (`+SUM(A1)@evil.example`): a wider match only hides more. `|`, `=` and `'`
# are allowed, as addresses may hold them. The domain must have a dot. Masking runs on each
# string before it is escaped for its output.
_EMAIL = re.compile(
    r"(?<![^\s(\[<,;:\"])([^\s@(),;:<>\[\]\"][^\s@,;:<>\[\]\"]*)@(?=[^\s@]+\.[^\s@]+)"
)
# The domain after the `@`, up to the delimiters our output puts after an address.
_DOMAIN = re.compile(r"[^\s@(),;:<>\[\]\"'`]+")


def mask_addresses(text: str, keep: frozenset[str] = frozenset()) -> str:
    def one(match: re.Match[str]) -> str:
        local = match.group(1)
        if keep:
            domain = _DOMAIN.match(text, match.end())
            if domain is not None:
                address = f"{local}@{domain.group(0).rstrip('.')}"
                if canonical_email(address) in keep:
                    return match.group(0)
        return f"{local[0]}***@"

    return _EMAIL.sub(one, text)
