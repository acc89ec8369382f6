"""The request schemas shipped with the sandbox are Amazon's, regenerated from the specs."""

from __future__ import annotations

import pytest

from tests.sandbox import openapi
from tests.sandbox.gen_request_schemas import TARGET, render


@pytest.mark.skipif(openapi.SPEC_DIR is None, reason=openapi.SKIP_REASON)
def test_the_shipped_request_schemas_match_the_specs() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "reconciler/sandbox/request_schemas.json is out of date: run "
        "`.venv/bin/python -m tests.sandbox.gen_request_schemas`"
    )
