# Two commands do everything: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs clean graphviz sdist-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

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

test: $(STAMP) graphviz
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy tinygrad_xor
	$(VENV)/bin/mypy benchmarks

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/run.py

# The documentation site: `make docs` builds it into site/ (strict: a warning is an error).
docs: $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache

# Build the sdist and the wheel; install the wheel into a fresh venv outside the source tree
# (it must hold tinygrad_xor and tinygrad_xor.xor only, and import from there), then run the
# whole test suite from the unpacked sdist. The test dependencies come from $(VENV), through a
# .pth line (so subprocesses see them too; $(VENV)'s editable tinygrad_xor is not activated).
SITE = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)
sdist-check: $(STAMP)
	rm -rf dist && $(PY) -m build --outdir dist . >dist.log 2>&1 || { cat dist.log; exit 1; }
	@! grep -i "deprecat" dist.log || { echo "setuptools printed a deprecation warning"; exit 1; }
	rm -f dist.log
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PY) -m venv --without-pip "$$tmp/venv" && \
	echo "$(SITE)" > "$$("$$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz_test_deps.pth" && \
	$(PY) -m pip --python "$$tmp/venv/bin/python" install --quiet --no-deps dist/*.whl && \
	"$$tmp/venv/bin/python" -c 'import zipfile, glob; names = zipfile.ZipFile(glob.glob("dist/*.whl")[0]).namelist(); bad = [n for n in names if not n.startswith(("tinygrad_xor/", "tinygrad_xor-"))]; assert not bad, bad; print(len(names), "files in the wheel")' && \
	(cd "$$tmp" && "$$tmp/venv/bin/python" -c 'import tinygrad_xor, tinygrad_xor.xor; assert "/venv/" in tinygrad_xor.__file__, tinygrad_xor.__file__') && \
	tar -xzf dist/*.tar.gz -C "$$tmp" && \
	cd "$$tmp"/tinygrad_xor-*/ && "$$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider
