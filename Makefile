# Two commands for a newcomer: `make demo` and `make test`. Everything they need is set up here.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
TWIN   := $(VENV)/bin/twin

.PHONY: demo test validate bench lint typecheck clean report-shots

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.base
	$(TWIN) run scenarios/new-year-surge.yaml --engine fluid

# The suite on TEST_JOBS processes (pytest-xdist), a test file per process at a time so that
# a module's fixtures run once; the drills spend most of their time waiting on the clock.
TEST_JOBS ?= 2
test: $(VENV)/.dev
	$(PY) -m ruff check twin tests benchmarks locustfiles
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile

# The long statistical checks (`slow` marker): engines against theory at tight intervals,
# and the scenarios too long for `make test` (covid-growth's six weeks). First the engines'
# agreement on every incident: runs what its cache (reports/.validation-cache) lacks on two
# processes, writes docs/validation/ and the README's table; the slow tests then assert it.
validate: $(VENV)/.dev
	nice -n 10 $(PY) tests/validation/engines_agree.py --write --jobs 2
	$(PY) -m pytest -m slow

# Screenshots of the run, compare, capacity and drill pages at 1,280 and 390 px (headless
# Chromium), for a person to look at: $(SHOTS)/<page>-<width>.png.
SHOTS ?= reports/shots
report-shots: $(VENV)/.dev
	$(PY) tests/report/report_shots.py $(SHOTS)

bench: $(VENV)/.dev
	$(PY) benchmarks/run_all.py

lint: $(VENV)/.dev
	$(PY) -m ruff check twin tests benchmarks locustfiles
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

typecheck: lint

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
