# One place that prepares everything: `make setup` is idempotent and is called by `run` and `test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: setup test-deps run test test-postgres test-fast test-deploy lint bench clean-data i18n-extract i18n-compile

setup: $(VENV)/.installed
	@$(PY) -m core prepare-models
	@$(PY) scripts/build_filterbank.py
	@out=$$($(VENV)/bin/pybabel compile -d locales -D clinic 2>&1) || { echo "$$out"; exit 1; }

# Translations (core/i18n.py): refresh the template and every language's catalog from the code;
# then translate the new entries in locales/<lang>/LC_MESSAGES/clinic.po (tests/ui/test_i18n_catalogs.py
# fails while one is missing or fuzzy). `make setup` compiles them to .mo (not committed).
i18n-extract: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg --add-location=file --sort-by-file --no-wrap \
		--project="Clinic portal" --copyright-holder="the clinic" -c "Translators:" -o locales/clinic.pot .
	$(VENV)/bin/pybabel update -i locales/clinic.pot -d locales -D clinic --no-wrap --ignore-obsolete

i18n-compile: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d locales -D clinic

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

# The core (non-browser) service suites run a second time with the clinic's data in PostgreSQL
# (a throwaway cluster on loopback; skipped with a message when PostgreSQL is not installed).
PG_SUITES := tests/foundation tests/care tests/assessment tests/notifications

test: setup test-deps
	$(PY) -m pytest
	CLINIC_TEST_ENGINE=postgres $(PY) -m pytest -m "not browser" $(PG_SUITES)

test-postgres: setup test-deps
	CLINIC_TEST_ENGINE=postgres $(PY) -m pytest -m "not browser" $(PG_SUITES)

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
