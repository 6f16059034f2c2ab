# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test test-slow lint docs wheel check-wheel bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[docs]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/gtgen demo

# The default suite (under ~15 min on 2 cores); tests marked `slow` (compile-bound end-to-end runs,
# minutes each on a CPU) form their own tier, `make test-slow`, run beside the benchmarks
# (CI runs the default suite).
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow"

test-slow: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m slow

# Lint and format check (ruff's version is pinned in the [dev] extra, so the verdict is stable).
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The API reference from the docstrings into site/; --strict: a warning (a broken link, a
# docstring parameter that is not in the signature) fails the build.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# dist/gtgen-<version>-py3-none-any.whl: what the notebooks' Colab cell installs when uploaded.
wheel: $(VENV)/.installed-dev
	rm -rf dist
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w dist .

# What `pip install gtgen-*.whl` gives a user: the wheel in a fresh venv with its declared
# dependencies from the registry (needs the network), run from a folder outside the source tree.
check-wheel: wheel
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -m pip install -q dist/gtgen-*.whl && \
	cd "$$tmp" && venv/bin/gtgen --version && \
	venv/bin/gtgen demo --game gaussian --out demo && test -s demo/report.json

bench: $(VENV)/.installed
	$(BIN)/gtgen bench

clean:
	rm -rf $(VENV) runs site dist
