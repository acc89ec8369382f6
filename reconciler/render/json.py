"""`--format json`: the plan file itself (`formatVersion: 1`, `schemas/plan.schema.json`), so
what a pipeline reads is exactly what `apply --plan` accepts."""

from __future__ import annotations

import json

from reconciler.plan import Plan, plan_to_json


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), indent=2, ensure_ascii=False) + "\n"
