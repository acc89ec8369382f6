"""One generator for every `nextToken`-paginated list (reference §3.1, §4.4, §5)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reconciler.errors import ApiError


def paginate(
    fetch: Callable[[str | None], Mapping[str, Any]], *, items: str, operation: str
) -> Iterator[dict[str, Any]]:
    """Yield every item of `items` over all pages. `fetch(token)` returns one page; the first
    call gets None. Stops when `nextToken` is missing, null or empty. A token the server
    already sent would loop forever, so it is an ApiError instead."""
    token: str | None = None
    seen: set[str] = set()
    while True:
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
        seen.add(next_token)
        token = next_token
