"""Untrusted strings stay data in every output .

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


# Characters of other categories that print as nothing: combining grapheme joiner, Hangul
# and Khmer fillers, Mongolian selectors, braille blank, variation selectors.
_BLANK = frozenset(
    [
        *(0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0),
        *range(0x180B, 0x1810),
        *range(0xFE00, 0xFE10),
        *range(0xE0100, 0xE01F0),
    ]
)


def invisible(char: str) -> bool:
    """Whether `char` may not reach a person as itself (see the module docstring)."""
    return unicodedata.category(char) in _UNSAFE_CATEGORIES or ord(char) in _BLANK


def _one(match: re.Match[str]) -> str:
    char = match.group()
    return _escape(char) if invisible(char) else char


def terminal(text: str) -> str:
    return _MAYBE.sub(_one, text)


# `@` as an entity: a name cannot @mention a team in the pull request.
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "&#64;"}
_MD_PUNCT = re.compile(r"([\\`*_\[\]|!#~])")


def markdown(text: str) -> str:
    out = _MD_PUNCT.sub(r"\\\1", terminal(text))
    # Entities last: their own `&` and `#` must not be escaped again.
    out = "".join(_MD_ENTITIES.get(c, c) for c in out)
    # GitHub turns bare URLs into links: break the patterns it looks for.
    out = out.replace("://", "&#58;//")
    return re.sub(r"(?i)\bwww\.", lambda m: m.group()[:3] + "&#46;", out)


# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and
# carriage return, strips what follows into one): OWASP's CSV injection list.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """`text` for a CSV cell a spreadsheet opens: `terminal` first, then a leading `'` on a
    cell a spreadsheet would run as a formula (`=HYPERLINK(...)`, `+1`, `@SUM`)."""
    out = terminal(text)
    return f"'{out}" if out.startswith(_FORMULA_START) else out
