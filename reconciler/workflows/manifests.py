"""The manifests a command is given: loading them, and the offline commands over them alone
(`validate`, `schema`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import Diagnostic, ManifestError, UsageError
from reconciler.manifest import load_manifests
from reconciler.manifest.admins import admin_floor
from reconciler.manifest.schema import load_schema
from reconciler.model import Desired


def load(paths: Sequence[str]) -> Desired:
    """The manifests under `paths` (files or directories); `ManifestError` lists every
    problem at once."""
    if not paths:
        raise UsageError("name the manifests: a PATH (file or directory) is required")
    return load_manifests(paths)


@dataclass(frozen=True, slots=True)
class Validation:
    """What `validate` found: `desired` is None when the manifests do not load; `problems`
    (every one) make them invalid, `warnings` do not."""

    desired: Desired | None
    problems: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()


def validate(paths: Sequence[str], *, expiring_within_days: float) -> Validation:
    """Load the manifests and check the `minAdmins` floor over time (an account whose admins
    not yet expired are fewer than its `minAdmins` is a problem; one that falls under it
    within `expiring_within_days` a warning)."""
    try:
        desired = load_manifests(paths)
    except ManifestError as exc:
        return Validation(None, exc.diagnostics)
    floor = admin_floor(desired, now=time.time(), within_days=expiring_within_days)
    return Validation(desired, tuple(sorted(floor.errors)), floor.warnings)


def schema() -> dict[str, Any]:
    """The manifest JSON Schema (2020-12)."""
    return load_schema()
