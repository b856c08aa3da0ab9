# The two set-up commands of README.md: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: all venv demo test lint bench vectors clean

all: test

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

demo: venv
	$(BIN)/python demo/demo.py

test: venv
	$(BIN)/python -m pytest -q

# mypy then checks each tests/ folder on its own, with the folder on MYPYPATH: the folders
# import their own conftest/helper modules by bare name (e.g. ks_helpers), which would clash
# as duplicate modules in one run over tests/. bench/ is on the path for tests/bench (tools).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	for d in tests/*/; do MYPYPATH=$$d:bench $(BIN)/mypy $$d || exit 1; done

vectors: venv
	$(BIN)/python spec/vectors/generate.py

bench: venv
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
