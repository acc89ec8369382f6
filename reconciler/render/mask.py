"""`--mask-emails`: addresses become `a***@example.com`, as the API's own masking does
(reference §5), for logs that are public. Any local part is masked, whatever its first
character (`_ops@`, `ángel@`, `Ørjan@`); an address already masked stays as it is."""

from __future__ import annotations

import re

# A local part: anything up to the `@` that is not space or a delimiter around addresses in
# our own output; the domain must have a dot.
_EMAIL = re.compile(r"(?<![^\s(\[<,;:\"'=])([^\s@(\[<>,;:\"'=|]+)@(?=[^\s@]+\.[^\s@]+)")


def _mask(match: re.Match[str]) -> str:
    local = match.group(1)
    return f"{local[0]}***@"


def mask_addresses(text: str) -> str:
    return _EMAIL.sub(_mask, text)
