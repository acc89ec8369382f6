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
import unicodedata

# Controls (C0, DEL, C1), format characters (bidi embeddings, overrides and isolates, zero
# widths, the soft hyphen, BOM), line and paragraph separators, private-use and unassigned
# code points: none of them reaches a terminal or a pull request as itself.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
_MAYBE = re.compile("[^\x20-\x7e]")  # the fast path: printable ASCII is always safe
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _one(match: re.Match[str]) -> str:
    char = match.group()
    return _escape(char) if unicodedata.category(char) in _UNSAFE_CATEGORIES else char


def terminal(text: str) -> str:
    return _MAYBE.sub(_one, text)


_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_PUNCT = re.compile(r"([\\`*_\[\]|!#~])")


def markdown(text: str) -> str:
    out = terminal(text)
    out = "".join(_MD_ENTITIES.get(c, c) for c in out)
    out = _MD_PUNCT.sub(r"\\\1", out)
    # GitHub turns bare URLs into links: break the patterns it looks for.
    out = out.replace("://", "&#58;//")
    return re.sub(r"(?i)\bwww\.", lambda m: m.group()[:3] + "&#46;", out)
