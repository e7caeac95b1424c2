# The two commands of the README: `make run` (the whole system, gateway on :8000) and `make test`.
# Needs Python 3.11+ with pip, and PostgreSQL and RabbitMQ on this machine (see README).

SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else the one `pip install uv` put beside $(PYTHON).
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
export UV_PYTHON_DOWNLOADS ?= never
VENV := .venv

.PHONY: install run test lint bench

# uv if missing, then the locked versions of every workspace package (dev group included).
install:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen

# Checks the servers, prepares the databases, then runs everything under supervisord.
# Ctrl-C or SIGTERM stops every process; settings: see README.
run: install
	exec $(VENV)/bin/python deploy/run/run.py

lint: install
	$(UV) run --frozen lint-imports

test: lint
	$(UV) run --frozen pytest

bench: install
	$(UV) run --frozen python bench/outbox_to_audit.py
