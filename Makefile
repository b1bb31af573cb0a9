# Each target sets up its own virtual environment and installs the project from
# this checkout, so it works on a fresh machine.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed-all

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m skcrossmodal demo

test: $(STAMP)
	$(PYTHON) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PYTHON) $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
