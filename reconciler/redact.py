"""Keep secrets out of everything we print, log, raise or write.

Two layers: every secret the process learns (client secret, refresh token, access tokens) is
registered here the moment it is read, and `redact` replaces each registered value; on top,
patterns catch Login with Amazon tokens (`Atza|...`, `Atzr|...`) and bearer credentials we
never saw, e.g. in a server's error text.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS = (
    re.compile(r"Atz[a-z]\|[^\s\"',;&]+"),
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(
        r"(?i)((?:client_secret|refresh_token|access_token)[\"']?\s*[=:]\s*[\"']?)[^\s\"',;&]+"
    ),
)


def register(secret: str | None) -> None:
    """Remember a secret value so that `redact` removes it. Short values are ignored: masking
    every 'a' in the output would hide nothing and ruin everything."""
    if secret and len(secret) >= 6:
        # Also the spellings a secret takes in a form body, a URL or a JSON string, so that
        # e.g. `Atzr|x` is caught as `Atzr%7Cx` in a logged token request.
        variants = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
        with _lock:
            _secrets.update(variants)


def redact(text: str) -> str:
    """`text` with every registered secret and every token-shaped string masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text
