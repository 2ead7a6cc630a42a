# Every target is idempotent: it installs what is missing, then runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
# Two workers, one file each at a time: every worker starts its own stack (ports are reserved,
# temp dirs unique), so the e2e suite runs in about half the wall time on 2 cores.
PYTEST_PARALLEL ?= -n 2 --dist loadfile

.PHONY: help setup system-deps venv lint typecheck unit test drill up bench clean docker images \
	test-containers coverage

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

# Both backends. The container one needs a Docker engine: where one answers, the offline
# images are built first (a no-op when present); where none does, its tests skip and say why.
test: setup lint typecheck
	@if ./scripts/start-dockerd.sh --check; then $(BIN)/alertdrill images build; fi
	$(BIN)/pytest $(PYTEST_PARALLEL) --junitxml=reports/junit.xml $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-containers

# The scenarios again, on --stack containers (reports apart from the local run's).
test-containers: venv
	$(BIN)/pytest scenarios --stack containers --alertdrill-reports reports/containers \
		--alertdrill-coverage reports/containers/coverage.json \
		--junitxml=reports/containers/junit.xml $(PYTEST_ARGS)

# A Docker engine (installed and started when missing; needs root) and the offline images.
docker:
	@./scripts/start-dockerd.sh

images: venv docker
	$(BIN)/alertdrill images build

# The default game day on the embedded local stack. Its HTML report (a page to read without
# the terminal) is printed last, also when the drill fails: that is when it is needed most.
drill: setup
	@mkdir -p reports && touch reports/.drill-started
	@status=0; $(BIN)/alertdrill drill || status=$$?; \
	pages=$$(find reports -maxdepth 1 -name '*.html' -newer reports/.drill-started | sort); \
	if [ -n "$$pages" ]; then echo; for page in $$pages; do \
		echo "HTML report: file://$(CURDIR)/$$page"; done; \
	else echo "no HTML report was written" >&2; fi; \
	exit $$status

# Unit tests with code coverage (line and branch) of the harness and the reference service.
coverage: venv
	@mkdir -p reports
	COVERAGE_FILE=reports/.coverage $(BIN)/pytest -m unit --cov=alertdrill --cov=system_under_test --cov-branch \
		--cov-report=term:skip-covered --cov-report=xml:reports/code-coverage.xml \
		--junitxml=reports/junit-unit.xml $(PYTEST_ARGS)

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
