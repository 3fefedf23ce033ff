# fastsio developer entry points.  `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=

.PHONY: install node demo test test-compiled test-pure bench bench-quick clean
BENCH_ARGS ?=

$(VENV)/.installed: pyproject.toml setup.py $(wildcard fastsio/_speedups/*.pyx fastsio/_speedups/*.pxd fastsio/_speedups/*_py.py)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip setuptools wheel
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

tests/node/node_modules/.installed: tests/node/package.json
	cd tests/node && npm install --no-audit --no-fund --loglevel=error
	touch $@

examples/chat/node_modules/.installed: examples/chat/package.json
	-cd examples/chat && npm install --no-audit --no-fund --loglevel=error && touch node_modules/.installed

node: tests/node/node_modules/.installed

demo: install
	-$(MAKE) examples/chat/node_modules/.installed
	$(PY) -m examples.chat.app --host 0.0.0.0 --port 8000

test-compiled: install node
	$(PY) -m pytest $(PYTEST_ARGS)

test-pure: install node
	FASTSIO_NO_EXTENSIONS=1 $(PY) -m pytest $(PYTEST_ARGS)

test: test-compiled test-pure

bench: install
	$(PY) -m benchmarks $(BENCH_ARGS)

bench-quick: install
	$(PY) -m benchmarks --quick $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info fastsio/_speedups/*.so fastsio/_speedups/*_c.c
