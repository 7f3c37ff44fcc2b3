# logshroud: `make run` for the demo, `make test` for the suite. Both set up .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BROWSER_STAMP := $(VENV)/.chromium
# Debian's package manager, run as root, or through sudo for anyone else.
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo) apt-get

.PHONY: run test bench lint clean bytecode

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.py
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(BIN)/python setup.py
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

# Bytecode of logshroud's own modules, made again for those whose source changed. pip compiles the
# modules of a package it installs, but not of an editable install, which Python compiles on first
# import; where PYTHONDONTWRITEBYTECODE is set it keeps none, and every command compiled them anew
# (0.2 s of each run).
bytecode: | $(BIN)/python
	$(BIN)/python -m compileall -q pipelines transforms configs

# The report tests open the HTML report in headless Chromium: Debian's package, installed once when missing.
$(BROWSER_STAMP): | $(BIN)/python
	command -v chromium >/dev/null 2>&1 || { $(APT_GET) update -qq && \
		DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq --no-install-recommends chromium; }
	chromium --version
	touch $@

run: $(STAMP) bytecode
	$(BIN)/logshroud demo

test: $(TEST_STAMP) $(BROWSER_STAMP) bytecode
	$(BIN)/python -m pytest -q tests

bench: $(TEST_STAMP) bytecode
	$(BIN)/python -m pipelines.bench --workers 2

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf data keys bench-out .pytest_cache
	find pipelines transforms configs tests -name __pycache__ -prune -exec rm -rf {} +
