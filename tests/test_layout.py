"""The package's shape: the root holds values and leaf utilities only, and no module grows past
what a reader can hold. The layers and the absence of import cycles are import-linter's
contracts in pyproject.toml (`make lint`)."""

from __future__ import annotations

from pathlib import Path

import reconciler

PACKAGE = Path(reconciler.__file__).parent
ROOT_MODULES = {
    "__init__.py",
    "__main__.py",
    "addresses.py",
    "errors.py",
    "escape.py",
    "model.py",
    "plan.py",
    "redact.py",
}
MAX_LINES = 800


def test_the_root_holds_only_values_and_leaf_utilities() -> None:
    found = {p.name for p in PACKAGE.glob("*.py")}
    assert found == ROOT_MODULES, "a stage belongs in its package, not at the root"
    assert len(found) <= 8


def test_no_module_is_longer_than_a_reader_can_hold() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
