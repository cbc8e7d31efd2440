# The two commands a new user types: `make demo` and `make test`. Each one installs what it needs.
PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install test test-airflow2 lint typecheck demo docs e2e bench reliability system-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)

# Reinstall only when the project's metadata changed.
$(STAMP): pyproject.toml | $(PY)
	@echo "Installing airflow-s3-batch-tagging with its testing, dev and docs extras into $(VENV) (log: $(VENV)/pip.log)"
	$(PY) -m pip install --quiet -e ".[testing,dev,docs]" "apache-airflow==$(AIRFLOW_VERSION)" > $(VENV)/pip.log 2>&1 \
		|| (tail -50 $(VENV)/pip.log; exit 1)
	touch $(STAMP)

install: $(STAMP)

# Airflow 2.11 in its own venv, with the Amazon provider pinned to the release the package is tested with
# (Airflow's constraint files are not used: pip resolves the rest).
AIRFLOW2_VERSION ?= 2.11.2
AMAZON_PROVIDER2_VERSION ?= 9.39.*
VENV2 := .venv-airflow2
PY2 := $(VENV2)/bin/python
STAMP2 := $(VENV2)/.installed-stamp

$(PY2):
	$(PYTHON) -m venv $(VENV2)
	$(PY2) -m pip install --quiet --upgrade pip > $(VENV2)/pip.log 2>&1 || (cat $(VENV2)/pip.log; exit 1)

$(STAMP2): pyproject.toml | $(PY2)
	@echo "Installing airflow-s3-batch-tagging with Airflow $(AIRFLOW2_VERSION) into $(VENV2) (log: $(VENV2)/pip.log)"
	$(PY2) -m pip install --quiet -e ".[testing,dev]" "apache-airflow==$(AIRFLOW2_VERSION)" \
		"apache-airflow-providers-amazon[aiobotocore]==$(AMAZON_PROVIDER2_VERSION)" > $(VENV2)/pip.log 2>&1 \
		|| (tail -50 $(VENV2)/pip.log; exit 1)
	touch $(STAMP2)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest

# The test suite on Airflow 2.11 (docs/deployment.md, "Supported and tested Airflow versions"), the system
# test on the local stand-in included; lint and types do not depend on the Airflow version and run in `make test`.
test-airflow2: $(STAMP2)
	S3_TAGGING_SYSTEM_TEST_TARGET=local $(VENV2)/bin/pytest

# `make demo DEMO_ARGS=--keep` keeps the logs and the temporary AIRFLOW_HOME.
demo: $(STAMP)
	$(PY) -m demo $(DEMO_ARGS)

# The documentation site (docs/, Sphinx with MyST Markdown and autodoc) into docs/_build/html; any
# warning fails the build. tests/docs builds it too, so `make test` fails on a broken page.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

# A real Airflow deployment (api-server, scheduler, dag-processor, triggerer, LocalExecutor) runs the
# example DAGs on the stand-in, driven through the REST API (tests/e2e/deployment, about 4 minutes).
# `timeout` is the backstop of the tests' own hard timeout; logs are kept (path printed) only on failure.
e2e: $(STAMP)
	timeout -k 30 660 $(VENV)/bin/pytest tests/e2e/deployment -m deployment -p no:cacheprovider $(E2E_ARGS)

# Writes BENCHMARKS.md (about 40 minutes on 2 cores; quick: about 12); `make bench BENCH_ARGS=--quick` scales sizes down.
bench: $(STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# Runs the fault-injection suite (tests/reliability, about 1.5 minutes) and writes RELIABILITY.md from it.
reliability: $(STAMP)
	WRITE_RELIABILITY=1 $(VENV)/bin/pytest tests/reliability -q

# The system test (tests/system, docs/testing.md, "System test on a real AWS account"): on a real account with
# S3_TAGGING_SYSTEM_TEST_ACCOUNT=<account id> and AWS credentials, or on the local stand-in with
# S3_TAGGING_SYSTEM_TEST_TARGET=local (what CI runs). With neither it is skipped, saying what to set.
system-test: $(STAMP)
	$(VENV)/bin/pytest tests/system -rs

clean:
	rm -rf $(VENV) $(VENV2) .mypy_cache .pytest_cache .ruff_cache build dist docs/_build
