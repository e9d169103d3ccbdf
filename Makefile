# `make demo` and `make test` install into .venv/ first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The pinned CPU build lies on the dev machines' disk; on a GPU machine the same pin
# resolves to the CUDA build from PyPI. Override with `make install TORCH="torch==X"`.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo app test test-fast lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/python -m revive.demo

# The web page on http://127.0.0.1:7860: make app COLORIZER=ckpt [DENOISER=dncnn_25.pth]
# [ARGS="app.port=8080 backend=onnx"]. Without COLORIZER, the newest `make demo` checkpoint.
COLORIZER ?= $(shell ls -t outputs/demo/*/checkpoints/last.ckpt 2>/dev/null | head -1)
app: install
	@test -n "$(COLORIZER)" || { echo "make app: give COLORIZER=<checkpoint> (or run make demo first)"; exit 2; }
	$(BIN)/python -m revive.app colorizer="$(COLORIZER)" $(if $(DENOISER),denoiser="$(DENOISER)") $(ARGS)

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
