"""Untrusted strings stay data in every output (STYLE 20, issue #13).

Names of linked and AMC accounts are chosen by third parties, addresses by whoever writes a
manifest, and a plan file is input like any other. Every such string passes through one of
these at the edge of an output:

- `terminal(text)`: control characters (C0, DEL, C1), line and paragraph separators and
  bidirectional controls are shown as escapes (`\\x1b`, `\\n`, `\\u202e`), so a name can
  neither move the cursor, erase lines, nor reorder what a person reads;
- `markdown(text)`: `terminal` first (so no newline can end a table row or start a heading),
  then HTML's `&`, `<`, `>` as entities and markdown's punctuation backslash-escaped, and
  `://` / `www.` defused, so no heading, link, image, HTML or table break can be injected.

JSON needs nothing: `json.dumps` escapes what it must.
"""

from __future__ import annotations

import re

# C0 and DEL and C1 controls, U+2028/U+2029, bidi embedding/override/isolate marks, and the
# zero-width and BOM characters that make two strings print alike.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal(text: str) -> str:
    return _UNSAFE.sub(_escape, text)


_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_PUNCT = re.compile(r"([\\`*_\[\]|!#~])")


def markdown(text: str) -> str:
    out = terminal(text)
    out = "".join(_MD_ENTITIES.get(c, c) for c in out)
    out = _MD_PUNCT.sub(r"\\\1", out)
    # GitHub turns bare URLs into links: break the patterns it looks for.
    out = out.replace("://", "&#58;//")
    return re.sub(r"(?i)\bwww\.", lambda m: m.group()[:3] + "&#46;", out)
