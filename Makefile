# One entry point for people and CI. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SRC    := src tests benchmarks examples

.PHONY: demo test lint format bench clean lock

# Installs the exact versions in requirements/dev.lock: left to itself, pip's resolver gave up
# ("resolution-too-deep") backtracking through s3fs/aiobotocore/botocore on a fresh machine.
$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lock:  ## re-pin requirements/dev.lock after a dependency changes in pyproject.toml
	$(PYTHON) -m venv $(VENV)-lock && $(VENV)-lock/bin/pip install --quiet uv
	$(VENV)-lock/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header --quiet -o requirements/dev.lock

demo: $(STAMP)  ## the end-to-end life-cycle demo on the local default store
	$(PY) examples/demo.py

lint: $(STAMP)  ## ruff (lint + format check), mypy --strict, and the import layers
	$(VENV)/bin/ruff check $(SRC)
	$(VENV)/bin/ruff format --check $(SRC)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint  ## lint, then the whole test suite (SQLite, PostgreSQL, HTTP, S3, browser)
	scripts/install-browser.sh
	$(PY) -m pytest -n 2 --timeout 300 -p no:cacheprovider

format: $(STAMP)
	$(VENV)/bin/ruff check --fix $(SRC)
	$(VENV)/bin/ruff format $(SRC)

bench: $(STAMP)  ## side-by-side benchmarks against MLflow, shap and bare FastAPI (about 35 minutes)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) benchmarks/bench_tracking.py
	$(PY) benchmarks/bench_registry.py
	$(PY) benchmarks/bench_explain.py
	$(PY) benchmarks/bench_ui.py
	$(PY) benchmarks/bench_batch.py
	$(PY) benchmarks/bench_compare.py
	command -v wrk >/dev/null || apt-get install -y -qq wrk  # Debian's wrk: the load generator
	$(PY) benchmarks/bench_serving.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
