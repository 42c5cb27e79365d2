# The two commands a fresh clone needs (see README):
#   make serve   install, migrate, load demo data, serve on http://127.0.0.1:8000 (SQLite) with
#                the mail worker (mails as .eml files in instance/mail/)
#   make test    install test dependencies and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-test serve test lint translations clean bench

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
	$(BIN)/booking serve --with-mail-worker --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test  # the big benchmarks on PostgreSQL (see BENCHMARKS.md); seed first: python -m bench seed
	$(BIN)/python -m bench all

lint: install-test
	$(BIN)/ruff check booking pricing tests bench
	$(BIN)/ruff format --check booking pricing tests bench

# Pages' texts: extract them, merge into the nb and en catalogues (translate new nb entries by
# hand), compile the .mo files that are committed with them.
translations: install-test
	$(BIN)/pybabel extract -F booking/translations/babel.cfg -k _l -k lazy_gettext --no-location \
	  --sort-output --omit-header -o booking/translations/messages.pot .
	$(BIN)/pybabel update -i booking/translations/messages.pot -d booking/translations -N \
	  --ignore-obsolete -w 100
	$(BIN)/pybabel compile -d booking/translations

clean:
	rm -rf $(VENV) instance .pytest_cache
