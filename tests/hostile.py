"""Hostile strings: what a third party can put in a name the API hands us.

Linked-account names, AMC account names, manager account names and invitation user names
are chosen by other people. `hostile_text()` draws strings built to break an output that
treats them as anything but data: line breaks of every kind, C0/C1 control characters
(ESC sequences that move a terminal's cursor), bidi overrides, YAML, markdown and HTML
metacharacters, and very long values. Reuse it for every output (YAML, markdown, terminal,
JSON, the journal).
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

LINE_BREAKS = (
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
)
CONTROLS = (*tuple(chr(c) for c in range(32)), "\x7f", *tuple(chr(c) for c in range(128, 160)))
BIDI = ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069")
INVISIBLE = ("\u200b", "\u200e", "\u200f", "\u061c", "\ufeff", "\u00ad")
YAML_META = (*tuple("#:{}[]&*!|>'\"%@`,?-"), "---", "...", ": ", " #", "<<", "!!python/object")
MARKDOWN_META = (
    *tuple("|*_~<>()[]\\"),
    "# Plan: No changes",
    "![x](https://example.invalid/x.png)",
    "[link](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "```",
    "\n\n---\n",
)
TERMINAL = ("\x1b[2K", "\x1b[1A", "\x1b]8;;https://example.invalid\x1b\\", "\x1b[31m", "\x07", "\b")

#: Names from the issue's reproductions, each a test case on its own.
REPRODUCTIONS = (
    "Client B Store\n      - {id: ENTITYOTHER9}  # …",
    "Escape \x1b[2K\x1b[1A here",
    "Acme\n\n# Plan: No changes\n![x](https://example.invalid/x.png)",
    "right\u202eto-left",
    "line\u2028separator\u2029paragraph",
    "nul\x00byte",
    '"quoted" and \\backslash\\',
    "- {id: ENTITYOTHER9}",
    "name: value # comment",
)

_PIECES = st.sampled_from(
    LINE_BREAKS + CONTROLS + BIDI + INVISIBLE + YAML_META + MARKDOWN_META + TERMINAL
)
_WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


def _has_text(value: str) -> bool:
    # Amazon's names are never blank, and the manifest schema requires a non-blank name.
    return re.search(r"\S", value) is not None


@st.composite
def _mixed(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(_PIECES, _WORDS), min_size=1, max_size=12))
    return "".join(parts)


def hostile_text(*, long: bool = True) -> st.SearchStrategy[str]:
    """A hostile, non-blank string; with `long`, sometimes a very long one (up to ~10 kB)."""
    options: list[st.SearchStrategy[str]] = [st.sampled_from(REPRODUCTIONS), _mixed()]
    if long:
        options.append(st.builds(lambda s, n: s * n, _mixed(), st.integers(100, 400)))
    return st.one_of(options).filter(_has_text)
