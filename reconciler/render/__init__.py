"""Plan -> text for people (`text`), pull requests (`markdown`) and machines (`json`)."""

from __future__ import annotations

from reconciler.render.json import render_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

__all__ = ["render_json", "render_markdown", "render_text"]
