"""Amazon's OpenAPI 3.0 specs as jsonschema validators, for the sandbox contract tests.

The specs live outside the repository, in `../shared/reference/openapi/` relative to the
repository root; `SPEC_DIR` is None when that folder is absent (tests then skip)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
_SPEC_DIR = REPO_ROOT.parent / "shared" / "reference" / "openapi"
SPEC_DIR: Path | None = _SPEC_DIR if _SPEC_DIR.is_dir() else None
SPEC_FILES = (
    "ManagerAccount_prod_3p.json",
    "AdvertisingInvitations_prod_3p.json",
    "AdvertisingUserPermissionsManagement_prod_3p.json",
    "AMCAdministration_prod_3p.json",
    "Profiles_v2_openapi_2021.json",
)
SKIP_REASON = f"Amazon's OpenAPI specs are not at {_SPEC_DIR} (the shared reference folder)"


def to_jsonschema(node: Any, components: dict[str, Any]) -> Any:
    """Inline `#/components/schemas/...` refs and turn `nullable: true` into a null type.
    OpenAPI 3.0 schema objects are otherwise draft-4 JSON Schema (boolean exclusiveMinimum)."""
    if isinstance(node, list):
        return [to_jsonschema(x, components) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        return to_jsonschema(components[name], components)
    out = {k: to_jsonschema(v, components) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    out.pop("format", None)  # `format: password` on an object etc.: documentation only
    return out


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    pattern: re.Pattern[str]
    request: dict[str, Any]  # media type -> schema
    responses: dict[str, dict[str, Any]]  # status -> media type -> schema (None: no schema)

    def validator(self, schema: Any) -> Draft4Validator:
        return Draft4Validator(schema)


def load_operations() -> list[Operation]:
    assert SPEC_DIR is not None
    ops: list[Operation] = []
    for name in SPEC_FILES:
        spec = json.loads((SPEC_DIR / name).read_text(encoding="utf-8"))
        components = spec.get("components", {}).get("schemas", {})
        for path, item in spec["paths"].items():
            if name.startswith("AMC") and path != "/amc/accounts":
                continue
            regex = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method, op in item.items():
                if method == "parameters":
                    continue
                request = {
                    mt: to_jsonschema(body.get("schema", {}), components)
                    for mt, body in (op.get("requestBody") or {}).get("content", {}).items()
                }
                responses = {
                    status: {
                        mt: to_jsonschema(body["schema"], components) if "schema" in body else None
                        for mt, body in resp.get("content", {}).items()
                    }
                    for status, resp in op["responses"].items()
                }
                ops.append(Operation(op["operationId"], method.upper(), regex, request, responses))
    return ops


def find(ops: list[Operation], method: str, path: str) -> Operation | None:
    return next((o for o in ops if o.method == method and o.pattern.match(path)), None)


def errors(schema: Any, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft4Validator(schema).iter_errors(instance)
    ]
