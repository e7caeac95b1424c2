# The two commands of the README: `make run` (the whole system, gateway on :8000) and `make test`.
# Needs Python 3.11+ with pip, and PostgreSQL and RabbitMQ on this machine (see README).

SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else the one `pip install uv` put beside $(PYTHON).
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
export UV_PYTHON_DOWNLOADS ?= never
VENV := .venv

.PHONY: install run test lint bench chaos

# uv if missing, then the locked versions of every workspace package (dev group included).
install:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen

# Checks the servers (where one is not installed: how to get it; LICENSING_INSTALL_SERVERS=1 installs it
# on Debian or Ubuntu as root), prepares the databases, then runs everything under supervisord.
# Ctrl-C or SIGTERM stops every process; settings: see README.
run: install
	exec $(VENV)/bin/python deploy/run/run.py

lint: install
	$(UV) run --frozen lint-imports

test: lint
	$(UV) run --frozen pytest

# The load figures of the README (several minutes): transfers end to end, the dashboard and the
# raw baseline in one run, then audit search over 1,000,000 events. bench/README.md has the rest.
bench: install
	$(UV) run --frozen python bench/transfers_end_to_end.py
	$(UV) run --frozen python bench/audit_search.py

# Seeded chaos runs (bench/chaos): faults under load, then the checker's report per seed.
# `make chaos SEEDS=20` runs seeds 1..20; `make chaos SEED=7` runs seed 7 again (same faults, same operations).
SEEDS ?= 3
chaos: install
	$(UV) run --frozen python -m bench.chaos --seeds $(SEEDS) $(if $(SEED),--seed $(SEED))
