# Three commands do all set-up on a fresh machine:
#   make run    - baseline projection of the whole city, with figures and summary, into output/baseline
#   make test   - lint and format check (ruff), then the test suite
#   make workshop - the workshop page in the browser (sozialraum workshop)
# Each creates the virtual environment (.venv, Python from .python-version) on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# the optional 'bench' dependencies (neworder), installed on the first make bench
BENCH_STAMP := $(VENV)/.installed-bench
BIN := $(VENV)/bin

.PHONY: run test lint format bench clean workshop

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Python 3.12+ needed (see .python-version); found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sozialraum run scenarios/baseline.toml --out output/baseline

workshop: $(STAMP)
	$(BIN)/sozialraum workshop

test: lint
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check simulation tests benchmarks
	$(BIN)/ruff format --check simulation tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix simulation tests benchmarks
	$(BIN)/ruff format simulation tests benchmarks

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench_city.py
	$(BIN)/python benchmarks/bench_ensemble.py

clean:
	rm -rf $(VENV) output
