# Two commands on a fresh machine:  make run  (the main job)  and  make test  (the test suite).
# Each creates the virtual environment it needs in .venv and installs the package into it.

VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel of this torch release is what the tests run on; any CUDA build >= 2.1 works too
# (install it first, then `make`: an installed torch is kept).
TORCH ?= torch==2.13.0
SKLEARN_MTL_DATA ?= $(abspath ../shared/data)
# pytest workers for `make test` (pytest-xdist, one test file at a time each, so a file's
# fixtures are built once): one per core of the 2-core machines the suite is sized for.
# TEST_WORKERS=0 runs every test in one process.
TEST_WORKERS ?= 2
export SKLEARN_MTL_DATA

.PHONY: run test lint docs bench bench-quick clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/sklearn-mtl compare

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

docs: $(VENV)/.installed
	$(VENV)/bin/mkdocs build --strict

bench: $(VENV)/.installed
	$(PY) benchmarks/run_all.py

bench-quick: $(VENV)/.installed
	$(PY) benchmarks/run_all.py --quick

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .ruff_cache
