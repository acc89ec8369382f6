"""One generator for every `nextToken`-paginated list (reference §3.1, §4.4, §5).

A server decides when a list ends, so a broken or hostile one could keep a read going
forever (a fresh `nextToken` with every empty page made `plan` send 400
requests in 20 s while holding the apply lock). Every loop here is bounded: too many pages,
several empty pages in a row that still name a next page, and a token sent twice all stop
the read with an ApiError. `reconciler.live.read` records that as the scope's incomplete reason,
so the plan removes nothing there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reconciler.errors import ApiError

# The largest list we read is a few thousand users of one AMC account at 100 per page; a
# thousand pages is far beyond any real account and still ends in seconds.
MAX_PAGES = 1000
# An empty page with a token is legal, but a few in a row means the list will not end.
MAX_EMPTY_PAGES = 3


def paginate(
    fetch: Callable[[str | None], Mapping[str, Any]],
    *,
    items: str,
    operation: str,
    max_pages: int = MAX_PAGES,
    max_empty_pages: int = MAX_EMPTY_PAGES,
) -> Iterator[dict[str, Any]]:
    """Yield every item of `items` over all pages. `fetch(token)` returns one page; the first
    call gets None. Stops when `nextToken` is missing, null or empty. Raises ApiError, naming
    why, when the list does not end: a repeated token, more than `max_pages` pages, or more
    than `max_empty_pages` empty pages in a row that each still name a next page."""
    token: str | None = None
    seen: set[str] = set()
    empty_streak = 0
    for _ in range(max_pages):
        page = fetch(token)
        batch = page.get(items) or []
        if not isinstance(batch, list):
            raise ApiError(
                f"{operation}: expected a list in `{items}`, got {type(batch).__name__}",
                operation=operation,
            )
        for item in batch:
            if isinstance(item, dict):
                yield item
        next_token = page.get("nextToken")
        if not next_token:
            return
        if not isinstance(next_token, str) or next_token in seen:
            raise ApiError(
                f"{operation}: the server repeated a pagination token; stopping to avoid "
                "reading forever",
                operation=operation,
            )
        empty_streak = 0 if batch else empty_streak + 1
        if empty_streak > max_empty_pages:
            raise ApiError(
                f"{operation}: the server sent {empty_streak} empty pages in a row, each with a "
                "new nextToken; stopping to avoid reading forever",
                operation=operation,
            )
        seen.add(next_token)
        token = next_token
    raise ApiError(
        f"{operation}: the list did not end after {max_pages} pages; stopping to avoid reading "
        "forever",
        operation=operation,
    )
