"""Benchmark: load and validate a generated manifest set.

Size 1x: 500 manager accounts x 40 linked accounts and 500 AMC accounts x 100 users, written as
one file per 50 accounts; the goal is under 2 s on a 2-core machine. `--scale 4` gives 4x
. Prints one line per run and, with `--json`, a JSON document.

    .venv/bin/python benchmarks/load_validate.py [--scale N] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from reconciler.manifest import load_manifests

MANAGERS = 500
LINKS = 40
AMC_ACCOUNTS = 500
USERS = 100
PER_FILE = 50


def generate(folder: Path, scale: int = 1) -> int:
    """Write the manifest set under `folder`; returns its size in bytes."""
    total = 0
    managers = MANAGERS * scale
    for start in range(0, managers, PER_FILE):
        lines = ["version: 1", "managerAccounts:"]
        for m in range(start, min(start + PER_FILE, managers)):
            lines += [f"  - name: Manager {m:05d}", "    type: Agency", "    linkedAccounts:"]
            for link in range(LINKS):
                region = ("NA", "EU", "FE")[link % 3]
                lines.append(f"      - {{id: ENTITY{m:05d}L{link:03d}, region: {region}}}")
        total += _write(folder / f"managers-{start:06d}.yaml", lines)
    amcs = AMC_ACCOUNTS * scale
    for start in range(0, amcs, PER_FILE):
        lines = ["version: 1", "amcAccounts:"]
        for a in range(start, min(start + PER_FILE, amcs)):
            lines += [f"  - id: ENTITY9AMC{a:05d}", f"    name: AMC {a}", "    users:"]
            for u in range(USERS):
                role = "admin" if u == 0 else "viewer"
                lines.append(f"      - {{email: user{u}@client{a}.example.com, role: {role}}}")
        total += _write(folder / "amc" / f"amc-{start:06d}.yaml", lines)
    return total


def _write(path: Path, lines: list[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(data)
    return len(data)


def run(scale: int = 1, repeat: int = 3) -> dict[str, Any]:
    """Best-of-`repeat` wall time, and peak traced memory of one run."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        size = generate(folder, scale)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            desired = load_manifests([folder])
            times.append(time.perf_counter() - started)
        tracemalloc.start()
        load_manifests([folder])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "name": "load+validate",
        "scale": scale,
        "bytes": size,
        "files": len(desired.files),
        "manager_accounts": len(desired.manager_accounts),
        "links": sum(len(m.links) for m in desired.manager_accounts),
        "amc_accounts": len(desired.accounts),
        "users": sum(len(a.users) for a in desired.accounts),
        "seconds": min(times),
        "peak_mib": peak / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, action="append")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = [run(scale, args.repeat) for scale in args.scale or [1]]
    for r in results:
        print(
            f"load+validate x{r['scale']}: {r['seconds']:.2f} s, {r['bytes'] / 1e6:.1f} MB in "
            f"{r['files']} files, {r['links']} links, {r['users']} users, "
            f"peak {r['peak_mib']:.0f} MiB (traced)"
        )
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
