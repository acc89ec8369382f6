# Two entry points for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The demo runs against the built-in sandbox, reset each time, in the same state file every
# later command uses by default (.reconciler/sandbox.json, or $RECONCILER_SANDBOX_STATE), so
# `reconciler plan --sandbox examples/manifests` afterwards continues where the demo ended.
DEMO := $(BIN)/reconciler
demo: $(STAMP)
	$(DEMO) sandbox reset
	$(DEMO) validate examples/manifests
	$(DEMO) plan --sandbox examples/manifests
	$(DEMO) apply --sandbox --auto-approve examples/manifests
	$(DEMO) plan --sandbox --detailed-exitcode examples/manifests
	@echo
	@echo "Demo done. To run reconciler yourself, activate the virtualenv:"
	@echo "    . $(VENV)/bin/activate"
	@echo "    reconciler plan --sandbox examples/manifests"
	@echo "(or run $(BIN)/reconciler directly). The sandbox keeps the demo's state."

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests benchmarks examples
	$(BIN)/ruff format --check reconciler tests benchmarks examples
	$(BIN)/lint-imports --no-cache

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test: lint types unit

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
