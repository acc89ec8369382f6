"""The sandbox fuzzed from Amazon's OpenAPI specs by Schemathesis, a spec-driven tool no one
here wrote: over loopback HTTP, each operation the sandbox serves gets positive
cases (schema-valid requests) and negative ones (requests the spec forbids). Asserted: no
5xx, no traceback on the server's stderr, every response conforms to the spec (status,
media type, schema), and invalid requests are rejected.

Bounded: a fixed number of examples per operation and mode, derandomized so a CI run
repeats; about ten seconds in all. Skips when the specs are absent (see openapi.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from reconciler.model import Region
from reconciler.sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    World,
)
from reconciler.sandbox.server import Endpoints, SandboxServer
from tests.sandbox import openapi
from tests.sandbox.helpers import AMC

pytestmark = pytest.mark.skipif(openapi.SPEC_DIR is None, reason=openapi.SKIP_REASON)

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis import checks as st_checks  # noqa: E402

EXAMPLES = 10
SERVED = frozenset(
    {
        "getManagerAccountsForUser",
        "createManagerAccount",
        "LinkAdvertisingAccountsToManagerAccountPublicAPI",
        "UnlinkAdvertisingAccountsToManagerAccountPublicAPI",
        "AmcpLinkListAmcAccounts",
        "CreateUserInvitations",
        "UpdateUserInvitations",
        "ListUserInvitations",
        "ListUsers",
        "QueryUserRoles",
        "UpdateUserPermissions",
        "DeleteUserPermissions",
    }
)
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,
]


def _operations() -> list[Any]:
    if openapi.SPEC_DIR is None:
        return []
    found = []
    for name in openapi.SPEC_FILES:
        spec = json.loads((openapi.SPEC_DIR / name).read_text(encoding="utf-8"))
        spec["paths"] = {
            path: item
            for path, item in spec["paths"].items()
            if any(isinstance(op, dict) and op.get("operationId") in SERVED for op in item.values())
        }
        for result in schemathesis.openapi.from_dict(spec).get_all_operations():
            operation = result.ok()
            if operation.definition.raw.get("operationId") in SERVED:
                found.append(operation)
    return found


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Endpoints, dict[str, str]]]:
    server = SandboxServer(World.default(), host="127.0.0.1", port=0)
    endpoints = server.start()
    try:
        token = httpx.post(
            endpoints.token_url,
            data={
                "grant_type": "refresh_token",
                "client_id": SANDBOX_CLIENT_ID,
                "client_secret": SANDBOX_CLIENT_SECRET,
                "refresh_token": SANDBOX_REFRESH_TOKEN,
            },
        ).json()["access_token"]
        auth = {
            "Authorization": f"Bearer {token}",
            "Amazon-Advertising-API-ClientId": SANDBOX_CLIENT_ID,
        }
        yield endpoints, auth
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_the_sandbox_under_spec_driven_fuzzing(
    served: tuple[Endpoints, dict[str, str]],
    capfd: pytest.CaptureFixture[str],
    operation: Any,
    mode: GenerationMode,
) -> None:
    endpoints, auth = served
    base_url = endpoints.api_urls[Region.NA]
    turn = [0]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        headers = dict(case.headers or {})
        headers.update(auth)  # reach past authentication, where the interesting code is
        turn[0] += 1
        if "Amazon-Ads-AccountId" in headers and turn[0] % 2:
            headers["Amazon-Ads-AccountId"] = AMC  # half the cases on a real AMC account
        case.headers = headers
        response = case.call(base_url=base_url, timeout=10)
        case.validate_response(response, checks=CHECKS)

    fuzz()
    _, err = capfd.readouterr()
    assert "Traceback" not in err
