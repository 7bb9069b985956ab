# One command sets up and runs (make run), one sets up and tests (make test).
# Everything needed is installed here: a fresh machine only needs python3 (>= 3.11).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := $(CURDIR)/.venv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup run test lint bench clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet --disable-pip-version-check 'uv>=0.5'

setup: $(UV)
	$(UV) sync --all-packages --compile-bytecode --quiet

run: setup
	$(VENV)/bin/tercel server local

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n 2 -q

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV) .tools .tercel
