"""The action, the GitLab template and the CI examples against the official schemas that
check-jsonschema ships (vendored: no download; a proxy that refuses every connection makes
sure of it), and the examples against what they promise: no package we do not own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci.steps import ACTION, GITLAB_TEMPLATE, REPO

EXAMPLES = REPO / "examples" / "ci"


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("vendor.github-actions", [ACTION]),
        ("vendor.github-workflows", [EXAMPLES / "github-actions.yml"]),
        ("vendor.gitlab-ci", [GITLAB_TEMPLATE, EXAMPLES / "gitlab-ci.yml"]),
    ],
)
def test_ci_files_match_the_official_schema(schema: str, files: list[Path]) -> None:
    offline = {
        **os.environ,
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        env=offline,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _documents() -> list[Path]:
    return [
        REPO / "README.md",
        ACTION,
        GITLAB_TEMPLATE,
        REPO / ".pre-commit-hooks.yaml",
        *sorted(EXAMPLES.iterdir()),
    ]


@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.name)
def test_nothing_installs_a_package_we_do_not_own(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    # `reconciler` on the public index is an unrelated project: install from the repository.
    for line in text.splitlines():
        if re.search(r"pip3? install|python3? -m pip install", line):
            assert not re.search(r"[\s\"']reconciler([=<>~!\[\s\"']|$)", line), f"{path}: {line}"
    assert "reconciler==" not in text
