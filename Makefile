# gatesmith: `make demo` and `make test` set everything up from PyPI (no apt) and run.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.gatesmith-installed

.PHONY: setup demo test test-all bench clean

setup: $(STAMP)

# torch first, in its own command: the pinned CPU wheel (an unpinned torch pulls a CUDA build)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[brevitas,test,synth]'
	touch $(STAMP)

demo: setup
	$(PY) examples/demo.py

test: setup
	$(PY) -m pytest -q -n 2 -m "not slow"

test-all: setup
	$(PY) -m pytest -q -n 2

bench: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf demo_out build dist *.egg-info .pytest_cache
