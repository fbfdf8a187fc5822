# codesite: `make build` builds and serves nothing but the sample site; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: build serve archive test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

build: $(STAMP)
	$(VENV)/bin/codesite build --site .

serve: $(STAMP)
	$(VENV)/bin/codesite serve --site .

archive: $(STAMP)
	$(VENV)/bin/codesite archive --site .

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/build_full.py
	$(PY) bench/search.py
	$(PY) bench/edge.py
	$(PY) bench/archive.py
	$(PY) bench/serve.py

lint: $(STAMP)
	$(VENV)/bin/ruff check generator edge tests bench tools
	$(VENV)/bin/mypy generator edge

clean:
	rm -rf build search_index dist
