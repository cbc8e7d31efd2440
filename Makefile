# The two commands a new user types: `make demo` and `make test`. Each one installs what it needs.
PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install test lint typecheck demo e2e bench reliability system-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)

# Reinstall only when the project's metadata changed.
$(STAMP): pyproject.toml | $(PY)
	@echo "Installing airflow-s3-batch-tagging with its testing and dev extras into $(VENV) (log: $(VENV)/pip.log)"
	$(PY) -m pip install --quiet -e ".[testing,dev]" "apache-airflow==$(AIRFLOW_VERSION)" > $(VENV)/pip.log 2>&1 \
		|| (tail -50 $(VENV)/pip.log; exit 1)
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest

# `make demo DEMO_ARGS=--keep` keeps the logs and the temporary AIRFLOW_HOME.
demo: $(STAMP)
	$(PY) -m demo $(DEMO_ARGS)

# A real Airflow deployment (api-server, scheduler, dag-processor, triggerer, LocalExecutor) runs the
# example DAGs on the stand-in, driven through the REST API (tests/e2e/deployment, about 4 minutes).
# `timeout` is the backstop of the tests' own hard timeout; logs are kept (path printed) only on failure.
e2e: $(STAMP)
	timeout -k 30 660 $(VENV)/bin/pytest tests/e2e/deployment -m deployment -p no:cacheprovider $(E2E_ARGS)

# Writes BENCHMARKS.md (about 10 minutes on 2 cores); `make bench BENCH_ARGS=--quick` scales sizes down.
bench: $(STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# Runs the fault-injection suite (tests/reliability, about 1.5 minutes) and writes RELIABILITY.md from it.
reliability: $(STAMP)
	WRITE_RELIABILITY=1 $(VENV)/bin/pytest tests/reliability -q

# The system test (tests/system, README "System test on a real AWS account"): on a real account with
# S3_TAGGING_SYSTEM_TEST_ACCOUNT=<account id> and AWS credentials, or on the local stand-in with
# S3_TAGGING_SYSTEM_TEST_TARGET=local (what CI runs). With neither it is skipped, saying what to set.
system-test: $(STAMP)
	$(VENV)/bin/pytest tests/system -rs

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist
