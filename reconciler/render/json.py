"""`--format json`: the plan file itself (`formatVersion: 2`, `schemas/plan.schema.json`), so
what a pipeline reads is exactly what `apply --plan` accepts."""

from __future__ import annotations

from reconciler.plan import Plan
from reconciler.planfile.codec import to_text


def render_json(plan: Plan) -> str:
    return to_text(plan)
