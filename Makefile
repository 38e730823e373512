# Two commands: `make run` (the platform on the embedded default) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Chorus needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[ocr]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,ocr]'
	@touch $@ $(VENV)/.installed

# the demo's regulator simulator (chorus regulator-sim): the demo filing there is tracked end to end
SIM_PORT ?= 8001

run: $(VENV)/.installed
	$(BIN)/chorus migrate
	$(BIN)/chorus seed-demo --regulator-sim http://127.0.0.1:$(SIM_PORT)/v1
	$(BIN)/chorus run --regulator-sim $(SIM_PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python .ci/audit.py
	@bash .ci/browser.sh
	$(BIN)/python tests/run_suites.py

bench: $(VENV)/.installed-dev
	@for b in bench/[!_]*.py; do m=bench.$$(basename $$b .py); echo "== $$m"; $(BIN)/python -m $$m || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
