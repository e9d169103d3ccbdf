# `make demo` and `make test` install into .venv/ first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make install` is the full install: the core, every extra (app, export, sr, encoders: see
# pyproject.toml) and the dev tools, so that `make test` covers all of them.
# torch and torchvision are built for each other, one torchvision per torch build. The core needs
# no torchvision, but the extras' timm, segmentation-models-pytorch and spandrel import it, so
# the two are pinned as a pair. PyPI's pair (CUDA 13 builds) runs on CPU-only machines too, so
# CPU and GPU machines install the same thing. Another pair:
# `make install TORCH="torch==2.5.1 torchvision==0.20.1"`.
TORCH ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: install demo app test test-fast lint format bench docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

demo: install
	$(BIN)/python -m revive.demo

# The web page on http://127.0.0.1:7860 with the shipped colorizer: make app [COLORIZER=ckpt]
# [DENOISER=dncnn_25.pth] [ARGS="app.port=8080 backend=onnx"].
app: install
	$(BIN)/python -m revive.app $(if $(COLORIZER),colorizer="$(COLORIZER)") $(if $(DENOISER),denoiser="$(DENOISER)") $(ARGS)

# Two workers, each running one test file at a time: the suite's many subprocesses and imports
# leave a core idle half the time, and a file's module-scoped fixtures are built once.
test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every benchmark, or some: make bench ARGS="benchmark=pix2pix_step steps=16 json=p2p.json".
bench: install
	$(BIN)/python -m revive.bench $(ARGS)

# The documentation site (mkdocs.yml, docs/) into site/; strict: a broken link or a missing page fails.
docs: install
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
