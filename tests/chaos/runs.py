"""How the chaos suite runs `reconciler apply`, and what it counts across runs."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos import harness

# Guards off: the chaos world removes more than the default 10 links/users per apply.
APPLY = ("apply", "--auto-approve", "--no-progress", "--max-removals", "100000",
         "--max-removal-fraction", "1")  # fmt: skip
# Sandbox faults as *marginal* rates per request: the sandbox draws them in order
# (429, then 5xx, then drop, then 5xx-after-write; `reconciler/sandbox/faults.py`), so each
# flag is the conditional probability given that no earlier fault fired.
RATE_429, RATE_5XX, RATE_DROP, RATE_5XX_AFTER = 0.20, 0.10, 0.05, 0.05


def fault_flags(seed: int) -> list[str]:
    left = 1.0 - RATE_429
    p_5xx = RATE_5XX / left
    left -= RATE_5XX
    p_drop = RATE_DROP / left
    left -= RATE_DROP
    p_after = RATE_5XX_AFTER / left
    return [
        "--fault-429", f"{RATE_429:.4f}", "--fault-5xx", f"{p_5xx:.4f}",
        "--fault-drop", f"{p_drop:.4f}", "--fault-5xx-after-write", f"{p_after:.4f}",
        "--fault-seed", str(seed),
    ]  # fmt: skip


def apply_args(manifests: Path, journal: Path | None = None) -> list[str]:
    extra = ["--journal", str(journal)] if journal is not None else []
    return [*APPLY, *extra, str(manifests)]


def start_apply(served: harness.Served, manifests: Path) -> subprocess.Popen[str]:
    return harness.start(apply_args(manifests), env=served.env)


def journal_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Tally:
    """Figures printed at the end of each chaos test."""

    faults: dict[str, int] = field(default_factory=dict)
    applies: int = 0
    kills: int = 0
    kills_survived: int = 0
    duplicates: int = 0

    def add_faults(self, stats: dict[str, Any]) -> None:
        for kind, n in stats["faults"].items():
            self.faults[kind] = self.faults.get(kind, 0) + int(n)

    def line(self, title: str) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        return (
            f"[chaos] {title}: faults injected and survived: {faults} "
            f"(total {sum(self.faults.values())}); applies {self.applies}; "
            f"kills survived {self.kills_survived}/{self.kills}; duplicates {self.duplicates}"
        )
