# Two entry points for a fresh machine (Python 3.11+, pip, gcc, perl):
#   make demo   install into .venv and run the end-to-end demo
#   make test   install into .venv and run the test suite (what CI runs)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# `make test` runs a worker per core, each taking whole test files so that a module's build
# fixture (the iCEBreaker engine) runs once; `make test PYTEST_JOBS=` runs in one process.
# `make test-all` stays in one process: its ECP5 builds run two at a time already, and a
# third job on the cores would push them past their timeouts.
PYTEST_JOBS ?= -n auto --dist loadfile

.PHONY: install demo test test-all clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,gowin,program]"
	touch $@

install: $(STAMP)

demo: install
	$(VENV)/bin/systolic demo

# The default run leaves out cases marked `slow`; `make test-all` runs everything.
test: install
	@PY=$(PY) sh .ci/pytest -m "not slow" $(PYTEST_JOBS) $(PYTEST_ARGS)

test-all: install
	@PY=$(PY) sh .ci/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
