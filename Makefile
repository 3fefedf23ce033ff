# fastsio developer entry points.  `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: install node browser demo-assets demo test test-compiled test-pure bench bench-quick clean
BENCH_ARGS ?=

$(VENV)/.installed: pyproject.toml setup.py $(wildcard fastsio/_speedups/*.pyx fastsio/_speedups/*.pxd fastsio/*/*_py.py fastsio/*/*/*_py.py)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip setuptools wheel
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# every npm folder of the test suite (real clients: socket.io-client 4.x, 2.x, 1.x, playwright-core)
NPM_DIRS := $(patsubst %/package.json,%,$(wildcard tests/*/package.json))
NPM_STAMPS := $(addsuffix /node_modules/.installed,$(NPM_DIRS))

%/node_modules/.installed: %/package.json
	cd $* && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
	touch $@

examples/chat/node_modules/.installed: examples/chat/package.json
	-cd examples/chat && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.installed

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

test: test-compiled test-pure

bench: install
	$(PY) -m benchmarks $(BENCH_ARGS)

bench-quick: install
	$(PY) -m benchmarks --quick $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info fastsio/_speedups/*.so fastsio/_speedups/*_c.c
