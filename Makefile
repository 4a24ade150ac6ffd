# Aristobot's two commands: `make run` starts everything, `make test` checks everything.
# Both set up what they need first (`make setup`), so they work on a fresh machine.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

# The stamp's name carries a checksum of the requirements, so pip runs only when they change.
REQ_SUM := $(shell cat requirements.txt requirements-dev.txt | cksum | tr -d ' ')
REQ_STAMP := $(VENV)/.requirements-$(REQ_SUM)

# System programs `setup` installs when missing (as root) or asks for; the frontend (once
# frontend/package.json exists) needs Node.js; `make test` also needs PostgreSQL and, for
# the frontend's browser tests, Debian's Chromium.
SYSTEM_DEPS := redis $(if $(wildcard frontend/package.json),node)
test: SYSTEM_DEPS += postgres $(if $(wildcard frontend/package.json),chromium)

# mypy refuses a folder without Python files; bench/ is checked once it has some.
MYPY_PATHS := backend $(if $(shell find bench -name '*.py' -print -quit 2>/dev/null),bench)

.PHONY: help setup system-deps frontend run test lint fmt

help:
	@echo "make run     start the whole stack on this machine (web :8000, receiver :8888, engine, gateway, private Redis)"
	@echo "             options: make run ARGS='--only web,receiver --no-seed'"
	@echo "make test    ruff, mypy and pytest against a throwaway Redis and PostgreSQL (ARGS go to pytest; SKIP_LINT=1)"
	@echo "make setup   create .venv, install requirements, redis-server (and the frontend) when needed"
	@echo "make lint    ruff check, ruff format --check, mypy"
	@echo "make fmt     apply ruff's automatic fixes and format the code"

setup: $(REQ_STAMP) system-deps frontend

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Aristobot needs Python 3.11 or newer; '$(PYTHON)' is older (make PYTHON=python3.11 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(REQ_STAMP): | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.requirements-*
	@touch $@

system-deps:
	@bash scripts/system-deps.sh $(SYSTEM_DEPS)

frontend: system-deps
	@bash scripts/frontend.sh

run: setup
	$(BIN)/python scripts/run.py $(ARGS)

test: setup
	@bash scripts/system-deps.sh postgres
	bash scripts/test.sh $(ARGS)

lint: $(REQ_STAMP)
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy $(MYPY_PATHS) || status=1; \
	exit $$status

fmt: $(REQ_STAMP)
	$(BIN)/ruff check --fix-only .
	$(BIN)/ruff format .
