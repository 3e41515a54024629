# Two commands do everything: `make demo` and `make test`.
# `make demo` installs the package and what it imports (NumPy, graphviz) and nothing else;
# `make test` adds the `dev` extra (the test suite's extras and the tools); `make quick` is the
# suite without the tests marked slow, for the inner loop.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A strict editable install: a link to each of the package's files under build/, which type
# checkers follow as they follow a wheel (the default install is an import hook mypy cannot
# see through). It links the files there were, so a new module means installing again:
# $(FILES) lists them and changes only when that list does (or when build/ is gone).
EDITABLE := --config-settings editable_mode=strict
FILES := $(VENV)/.package-files
PACKAGE_FILES = $(sort $(wildcard tinygrad_xor/*.py tinygrad_xor/*/*.py))

.PHONY: demo test quick lint bench docs notebook numpy-floor clean graphviz sdist-check FORCE

$(FILES): FORCE
	@mkdir -p $(VENV)
	@ls -d build/__editable__.*/tinygrad_xor >/dev/null 2>&1 || rm -f $@  # build/ was removed
	@echo '$(PACKAGE_FILES)' | cmp -s - $@ || echo '$(PACKAGE_FILES)' > $@

$(STAMP): pyproject.toml $(FILES)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e . $(EDITABLE)
	touch $@

# An extra on top: $(VENV)/.installed-dev, -notebook, -bench, -docs (each installed once).
$(VENV)/.installed-%: $(STAMP)
	$(PY) -m pip install --quiet -e '.[$*]' $(EDITABLE)
	touch $@

# Graphviz's `dot` lays out the drawings; install it with apt-get when we can, else say how.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) || echo "warning: apt-get could not install graphviz"; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    (sudo apt-get update -qq && sudo apt-get install -y -qq graphviz >/dev/null) || echo "warning: apt-get could not install graphviz"; \
	  else \
	    echo "note: Graphviz's 'dot' is not installed; drawings are written as .dot only."; \
	    echo "      install it with: sudo apt-get install graphviz   (or: brew install graphviz)"; \
	  fi; }

demo: $(STAMP) graphviz
	$(VENV)/bin/tinygrad-xor demo

test: $(VENV)/.installed-dev graphviz
	$(PY) -m pytest -q

quick: $(VENV)/.installed-dev graphviz
	$(PY) -m pytest -q -m "not slow"

# JupyterLab on examples/ (the `notebook` extra: JupyterLab, tqdm's bar, matplotlib).
notebook: $(VENV)/.installed-notebook graphviz
	$(VENV)/bin/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) examples/

# ruff, mypy on the package and the benchmarks, and mypy on a file of a user's, outside the
# checkout, that imports the installed package: mypy must find it, typed.
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy tinygrad_xor
	$(VENV)/bin/mypy benchmarks
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd "$$tmp" && \
	printf 'import tinygrad_xor\n\nv: tinygrad_xor.Value = tinygrad_xor.Value(1.0)\n' > user.py && \
	$(CURDIR)/$(VENV)/bin/mypy --strict user.py

bench: $(VENV)/.installed-bench
	$(PY) benchmarks/run.py

# The documentation site: `make docs` builds it into site/ (strict: a warning is an error).
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache

# Build the sdist and the wheel; install the wheel with the `test` extra alone into a fresh
# venv outside the source tree (the wheel must hold tinygrad_xor and tinygrad_xor.xor only,
# and import from there), then run the whole test suite from the unpacked sdist: what needs
# another extra skips, and says which.
sdist-check: $(VENV)/.installed-dev
	rm -rf dist && $(PY) -m build --outdir dist . >dist.log 2>&1 || { cat dist.log; exit 1; }
	@! grep -i "deprecat" dist.log || { echo "setuptools printed a deprecation warning"; exit 1; }
	rm -f dist.log
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) -m venv --without-pip "$$tmp/venv" && \
	$(PY) -m pip --python "$$tmp/venv/bin/python" install --quiet "$$(echo dist/*.whl)[test]" && \
	"$$tmp/venv/bin/python" -c 'import zipfile, glob; names = zipfile.ZipFile(glob.glob("dist/*.whl")[0]).namelist(); bad = [n for n in names if not n.startswith(("tinygrad_xor/", "tinygrad_xor-"))]; assert not bad, bad; print(len(names), "files in the wheel")' && \
	(cd "$$tmp" && "$$tmp/venv/bin/python" -c 'import tinygrad_xor, tinygrad_xor.xor; assert "/venv/" in tinygrad_xor.__file__, tinygrad_xor.__file__') && \
	tar -xzf dist/*.tar.gz -C "$$tmp" && \
	cd "$$tmp"/tinygrad_xor-*/ && "$$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider

# The oldest NumPy that pyproject.toml allows (its numpy>=X.Y), with the `test` extra alone, in
# a venv of its own: the suite of this checkout runs on it.
NUMPY_FLOOR = $(shell sed -n 's/.*"numpy>=\([0-9.]*\)".*/\1/p' pyproject.toml)
numpy-floor:
	@test -n "$(NUMPY_FLOOR)" || { echo "no numpy>=X.Y in pyproject.toml"; exit 1; }
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip && \
	"$$tmp/venv/bin/python" -m pip install --quiet '.[test]' 'numpy==$(NUMPY_FLOOR).*' && \
	"$$tmp/venv/bin/python" -c 'import numpy; print("NumPy", numpy.__version__)' && \
	"$$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider
