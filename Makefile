# One place that prepares everything: `make setup` is idempotent and is called by `run` and `test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: setup test-deps run test test-fast test-deploy lint bench clean-data

setup: $(VENV)/.installed
	@$(PY) -m core prepare-models
	@$(PY) scripts/build_filterbank.py

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

run: setup
	$(PY) -m core init --demo
	$(VENV)/bin/streamlit run portal.py --server.address 127.0.0.1 --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

# System packages for the browser tests (chromium, fonts, coturn), installed when missing.
test-deps:
	@bash scripts/install_test_deps.sh

test: setup test-deps
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not browser"

# The production profile (deploy/, docs/DEPLOY.md): rendered files, the backup job, and the
# portal behind Caddy with its internal CA on loopback, driven over HTTPS in Chromium.
test-deploy: setup test-deps
	$(PY) -m pytest tests/deploy

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pyright

bench: setup
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done
