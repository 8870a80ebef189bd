# The README's two commands: `make run` (a working instance on the embedded default) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# `make run DATA_DIR=... LISTEN=...` override the daemon's own settings; unset, it reads FUNKWHALE_DATA_DIR,
# FUNKWHALE_LISTEN, FUNKWHALE_CONFIG's ini file, then its defaults (./data, tcp:5000:interface=127.0.0.1).
DATA_DIR ?=
LISTEN ?=

.PHONY: run test lint typecheck format bench clean venv front e2e

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]' --config-settings editable_mode=compat
	$(BIN)/python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"
	touch $(STAMP)

# The web app (static/): `npm ci` when node_modules is missing or older than the lock file, then a build into
# static/dist, which the daemon serves at / (nginx in production).
NPM ?= npm
NODE_STAMP := static/node_modules/.installed-stamp

$(NODE_STAMP): static/package-lock.json
	cd static && $(NPM) ci --no-audit --no-fund
	touch $@

front: $(NODE_STAMP)
	cd static && $(NPM) run build

# End-to-end tests: the @playwright/test specs of static/e2e/ (type-checked first) in Debian's Chromium
# (CHROMIUM=path for another, CHROMIUM= for none) against a real daemon; skipped (loudly) without Chromium, a
# failure then when FUNKWHALE_REQUIRE_E2E=1 (as .ci/run sets).
CHROMIUM ?= $(firstword $(wildcard /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome))

e2e: $(STAMP) front
	@if [ -z "$(CHROMIUM)" ] || [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$${FUNKWHALE_REQUIRE_E2E:-}" = 1 ]; then echo "e2e FAILED: no chromium (FUNKWHALE_REQUIRE_E2E=1)"; exit 1; fi; \
	  echo "e2e SKIPPED: no chromium"; \
	else \
	  cd static && npx tsc -p e2e && CHROMIUM="$(CHROMIUM)" FUNKWHALE_VENV="$(abspath $(VENV))" npx playwright test; \
	fi

run: $(STAMP)
	@if command -v $(NPM) >/dev/null 2>&1; then $(MAKE) --no-print-directory front; \
	else echo "make run: npm not found, the web app is not built (install Node.js and npm, then make front)"; fi
	$(BIN)/twistd -n --pidfile= funkwhale $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(if $(LISTEN),--listen $(LISTEN))

test: $(STAMP)
	$(BIN)/pytest -q
	@if command -v $(NPM) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(NODE_STAMP) && (cd static && $(NPM) test) && $(MAKE) --no-print-directory e2e; \
	elif [ "$${FUNKWHALE_REQUIRE_E2E:-}" = 1 ]; then echo "web app tests FAILED: no npm"; exit 1; \
	else echo "web app tests SKIPPED: no npm (Vitest and e2e need Node.js)"; fi

# `make lint`: the type check (mypy on the package, settings in pyproject.toml), then ruff.
lint: $(STAMP) typecheck
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .

bench: $(STAMP)
	@# every script of bench/ (the helper modules it shares, daemon.py and tones.py, have no __main__)
	@for b in $$(grep -l '__name__ == "__main__"' bench/*.py); do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache static/node_modules static/dist
