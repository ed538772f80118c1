# Two commands on a fresh clone: `make demo` and `make test`. Everything else is a detail.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PEERS  := $(VENV)/.peers-installed

.PHONY: demo test install lint typecheck unit bench bench-quick bench-check clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project (idempotent)

# The bench-peers extra (NautilusTrader, the peer the benchmarks run against): for `make bench` only.
$(PEERS): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench-peers]'
	@touch $(PEERS)

demo: $(STAMP)  ## a synthetic market through replay, analyzers and a backtest: metrics, digests, report
	$(BIN)/virtuoso demo

lint: $(STAMP)
	$(BIN)/ruff check virtuoso tests benchmarks
	$(BIN)/ruff format --check virtuoso tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 3 --dist worksteal -m 'not alone'

bench-quick: $(STAMP)
	$(BIN)/virtuoso bench --quick --report-only

test: lint typecheck unit bench-quick  ## lint, type-check, every test, and a quick benchmark smoke run

bench: $(PEERS)  ## timing-verdict tests, then the full benchmark suite: ratios against the floors and NautilusTrader
	$(BIN)/python -m pytest -q -p no:cacheprovider -m alone
	$(BIN)/virtuoso bench

bench-check: $(PEERS)  ## the full suite; fails when a ratio falls more than 15% below benchmarks/baseline.json
	$(BIN)/virtuoso bench --check

.PHONY: soak
soak: $(STAMP)  ## ten minutes of recording through seeded chaos, hours of exchange time: the figures of docs/recording.md
	$(BIN)/python -m benchmarks.soak --minutes 10

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .benchmarks out
