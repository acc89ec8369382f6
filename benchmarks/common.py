"""Shared by `benchmarks/run_all.py`: one result row, the table, the JSON file.

The subprocess plumbing (serve the sandbox, run the CLI, measure its peak memory) lives in
`tests/chaos/harness.py` so the chaos suite and the benchmarks run the product the same way.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"


@dataclass(frozen=True, slots=True)
class Row:
    """One benchmark at one size.

    `bound_s` is the lower bound on wall time that the API's rate limit sets (minimum
    requests / requests per second); `ratio` is wall time over it. Both are None for
    benchmarks that make no request."""

    benchmark: str
    scale: int
    size: str  # what was measured, for people
    wall_s: float
    requests: int | None = None
    min_requests: int | None = None
    bound_s: float | None = None
    peak_mib: float = 0.0
    how: str = ""  # "CLI" (whole process) or "worker" (a Python process calling the library)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.bound_s else self.wall_s / self.bound_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def _fmt(value: float | int | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Row]) -> str:
    header = (
        f"{'benchmark':<22} {'x':>2} {'wall s':>8} {'requests':>9} {'minimum':>8} "
        f"{'bound s':>8} {'ratio':>6} {'peak MiB':>9}  size / note"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.benchmark:<22} {r.scale:>2} {r.wall_s:>8.2f} {_fmt(r.requests, 'd'):>9} "
            f"{_fmt(r.min_requests, 'd'):>8} {_fmt(r.bound_s, '.2f'):>8} "
            f"{_fmt(r.ratio, '.3f'):>6} {r.peak_mib:>9.0f}  {r.size}"
            + (f"; {r.note}" if r.note else "")
        )
    return "\n".join(lines)


def growth(rows: list[Row]) -> list[str]:
    """How each benchmark's wall time, requests and memory grow from its smallest size to
    its largest: 4.0 means linear in a 4x input."""
    out: list[str] = []
    for name in dict.fromkeys(r.benchmark for r in rows):
        mine = sorted((r for r in rows if r.benchmark == name), key=lambda r: r.scale)
        if len(mine) < 2:
            continue
        lo, hi = mine[0], mine[-1]
        parts = [f"wall x{hi.wall_s / lo.wall_s:.2f}"]
        if lo.requests and hi.requests:
            parts.append(f"requests x{hi.requests / lo.requests:.2f}")
        if lo.peak_mib:
            parts.append(f"peak memory x{hi.peak_mib / lo.peak_mib:.2f}")
        out.append(f"{name} {lo.scale}x -> {hi.scale}x: " + ", ".join(parts))
    return out


def save(rows: list[Row], settings: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = {"settings": settings, "rows": [r.as_dict() for r in rows], "growth": growth(rows)}
    path = RESULTS / f"run-{stamp}.json"
    text = json.dumps(data, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
    (RESULTS / "latest.json").write_text(text, encoding="utf-8")
    return path
