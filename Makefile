# `make demo` and `make test` install into .venv/ first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The pinned CPU build lies on the dev machines' disk; on a GPU machine the same pin
# resolves to the CUDA build from PyPI. Override with `make install TORCH="torch==X"`.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/python -m revive.demo

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m revive.bench

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
