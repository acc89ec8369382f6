"""Regenerate `reconciler/sandbox/request_schemas.json`: the request-body schemas of the
operations the sandbox serves, taken from Amazon's OpenAPI specs (refs inlined, `nullable`
turned into a null type), so the sandbox can answer 400 to a body the spec forbids without
the specs being present (CI clones may lack `../shared/reference/openapi/`).

    .venv/bin/python -m tests.sandbox.gen_request_schemas

`tests/sandbox/test_request_schemas.py` checks the shipped file matches the specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.sandbox import openapi

TARGET = openapi.REPO_ROOT / "reconciler" / "sandbox" / "request_schemas.json"


def request_schemas() -> dict[str, dict[str, Any]]:
    """operationId -> request media type -> JSON Schema (draft 4), for every operation with
    a request body in the specs the sandbox emulates."""
    out: dict[str, dict[str, Any]] = {}
    for op in openapi.load_operations():
        if op.request:
            out[op.operation_id] = dict(sorted(op.request.items()))
    return dict(sorted(out.items()))


def render() -> str:
    return json.dumps(request_schemas(), indent=1, sort_keys=True) + "\n"


def main() -> None:
    if openapi.SPEC_DIR is None:
        raise SystemExit(openapi.SKIP_REASON)
    Path(TARGET).write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
