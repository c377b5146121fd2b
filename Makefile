# The two commands a newcomer needs: `make serve` and `make test`.
# Everything else here is what they are made of.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export NO_MKDOCS_2_WARNING := 1
# The decks' KaTeX step and the figure command look for node_modules here.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup browser build serve test test-fast figures bench pdf clean

help:
	@echo "make serve   set up, build and serve the site at http://127.0.0.1:8000 (live reload)"
	@echo "make test    set up and run every test"
	@echo "make build   write the static site to site/"
	@echo "make figures regenerate every figure the decks and pages use"
	@echo "make bench   run the benchmark and write docs/results/bench.json"
	@echo "make pdf     build the site, then print every deck to site/pdf/<deck>.pdf"

# --- set-up -----------------------------------------------------------------
$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -c constraints.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $@

# Tests and the speed comparison also need pytest, Playwright, lightly and kornia.
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt -c constraints.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

# Headless Chromium for the browser tests (Debian's package; needs root, as on CI).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found: install it (Debian: apt-get install chromium) to run the browser tests"; fi; }

# --- site -------------------------------------------------------------------
figures: setup
	$(PY) -m ssl_examples figures

build: setup figures
	$(PY) -m mkdocs build --strict

# One PDF per deck in site/pdf/<deck>.pdf: 16:9, one page per counted slide (builds collapsed).
pdf: build browser
	$(PY) slides/handout.py site

serve: setup figures
	$(PY) -m mkdocs serve --strict -a 127.0.0.1:8000

# --- tests ------------------------------------------------------------------
test: setup $(VENV)/.installed-dev browser figures
	$(PY) -m pytest

test-fast: setup $(VENV)/.installed-dev
	$(PY) -m pytest -m "not browser and not site"

bench: setup
	$(PY) -m ssl_examples bench

clean:
	rm -rf site .cache test-artifacts
