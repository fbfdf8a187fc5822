# codesite: `make build` builds and serves nothing but the sample site; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: build serve archive test test-setup bench lint clean

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

# Chromium, Node, Java and the npm test tools: installed on Debian as root, else named in one line
test-setup:
	@sh tools/test-setup.sh

test: $(STAMP) test-setup
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
