# bg-gateway: `make run` starts the gateway, `make test` runs lint + the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
CONFIG ?= config/gateway.toml

.PHONY: run test install install-test warm sandbox bench lint clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# pymatting compiles with numba on first import (~50 s); do it at install time, not on a request.
$(NUMBA_CACHE_DIR)/.warm: $(VENV)/.installed
	mkdir -p $(NUMBA_CACHE_DIR)
	$(BIN)/python -c "from providers.local.matting import warm_up; warm_up()"
	touch $@

warm: $(NUMBA_CACHE_DIR)/.warm

run: install warm
	$(BIN)/bg-gateway serve --config $(CONFIG)

sandbox: install warm
	$(BIN)/bg-gateway sandbox

# The console's browser tests drive Debian's chromium (a browser download of Playwright's own
# cannot work here). Where apt is unavailable the install fails softly and those tests skip.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) \
		|| echo "browser: chromium could not be installed; the console's browser tests will skip"

lint: install-test
	$(BIN)/ruff check .

test: install-test warm browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: install-test warm
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
