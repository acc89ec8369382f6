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

# The demo runs against the built-in sandbox, persisted in .demo/sandbox.json, reset each time.
DEMO_STATE := .demo/sandbox.json
DEMO := RECONCILER_SANDBOX_STATE=$(DEMO_STATE) $(BIN)/reconciler
demo: $(STAMP)
	@mkdir -p .demo
	$(DEMO) sandbox reset
	$(DEMO) validate examples/manifests
	$(DEMO) plan --sandbox examples/manifests
	$(DEMO) apply --sandbox --auto-approve examples/manifests
	$(DEMO) plan --sandbox --detailed-exitcode examples/manifests

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests benchmarks examples
	$(BIN)/ruff format --check reconciler tests benchmarks examples

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test: lint types unit

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
