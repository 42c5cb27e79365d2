# The two commands a fresh clone needs (see README):
#   make serve   install, migrate, load demo data, serve on http://127.0.0.1:8000 (SQLite)
#   make test    install test dependencies and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-test serve test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	bash scripts/install-test-deps.sh

serve: install
	$(BIN)/booking db upgrade
	$(BIN)/booking demo
	$(BIN)/booking serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check booking pricing tests bench
	$(BIN)/ruff format --check booking pricing tests bench

clean:
	rm -rf $(VENV) instance .pytest_cache
