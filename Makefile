# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint browser corpus train-base clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: pip takes the CPU wheel that lies on this machine instead of a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser test; skipped quietly where apt is unavailable or not root.
browser:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
		>/dev/null 2>&1 || echo "could not install chromium; the browser test will be skipped"; \
	fi

demo: install
	$(BIN)/python app.py

test: install browser
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check cadenza tests benchmarks app.py
	$(BIN)/ruff format --check cadenza tests benchmarks app.py

# The documented commands that made the shipped checkpoint (see checkpoints/cadenza-base/README.md).
corpus: install
	$(BIN)/cadenza corpus build

clean:
	rm -rf $(VENV) build runs out
