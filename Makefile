# Every target is idempotent: it installs what is missing, then runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help setup system-deps venv lint typecheck unit test drill up bench clean

help:
	@echo "make drill   set everything up, then run the default drill on the embedded local stack"
	@echo "make test    set everything up, then lint + type-check + the whole test suite"

system-deps:
	@./scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[load,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

setup: system-deps venv

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

test: setup lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

drill: setup
	$(BIN)/alertdrill drill

up: setup
	$(BIN)/alertdrill up

bench: setup
	$(BIN)/python benchmarks/instrumentation_overhead.py
	$(BIN)/python benchmarks/stack_startup.py
	$(BIN)/python benchmarks/drill_latency.py
	$(BIN)/python benchmarks/load_runner_ratio.py
	$(BIN)/python benchmarks/verify_speed.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
