# The two set-up commands of README.md: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: all venv demo test faults lint bench vectors clean

all: test

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/python demo/demo.py

# Two or more worker processes (pytest-xdist): the suite waits on servers, processes and the
# database as much as it computes. Tests are safe for it: own databases, ports, temp dirs.
# Bytecode is written even where the environment says PYTHONDONTWRITEBYTECODE (some machines
# set it): the suite starts hundreds of `keyserver` and `rwc` processes and two or more pytest
# workers, and without .pyc files each one compiles every module it imports from source and
# each worker re-writes the asserts of every test module (bench/profiles/suite.md, eleventh
# session: ~0.15 CPU-s per server start, ~5 CPU-s per worker). __pycache__ is git-ignored.
test: venv
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n auto

# The fault-injection suite alone (tests/faults; also part of `make test`): killed clients
# and servers (SQLite; PostgreSQL with 2 workers; behind nginx), frozen or refused
# databases, read-only and full disks. Each test prints its figures.
faults: venv
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -s -m faults tests/faults

# mypy then checks the tests in one run (helpers in tests/support, imported by name).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy tests

vectors: venv
	$(BIN)/python spec/vectors/generate.py
	$(BIN)/python spec/vectors/tlog/generate.py

# Every row of issue 15, the 10 GiB ones included (--big): they run last, after the key
# server's, the audit's and the log's parts, and every part first waits for the writeback of
# the one before (bench/run.py; in session 21 the key-server part measured beside the 10 GiB
# rows' 40 GiB of writeback fell with it). Ends with one table of every verdict.
bench: venv
	$(BIN)/python bench/run.py --big

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
