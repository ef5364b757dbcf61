# churniq: `make demo` and `make test` work on a machine with Python 3.11, make and PyPI.
PY ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
CHURNIQ := $(VENV)/bin/churniq

.PHONY: setup demo test lint bench screenshots chromium clean

setup: $(VENV)/.synced
	@$(CHURNIQ) prepare >/dev/null

$(UV):
	$(PY) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --python $(PY)
	@touch $@

demo: setup
	$(CHURNIQ) demo

test: setup chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -n 2 --dist loadfile

lint: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Browser tests drive Debian's chromium with Playwright (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium"; fi; }

bench: setup
	$(VENV)/bin/python -m benchmarks.run_all

# Screenshots of the dashboards for the README, from a demo-sized home.
screenshots: setup chromium
	$(CHURNIQ) --home .churniq demo --no-serve
	$(VENV)/bin/python -m tests.browser.shoot --home .churniq --out docs

clean:
	rm -rf $(VENV) .uv dbt_project/target .pytest_cache
