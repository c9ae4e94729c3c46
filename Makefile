# Two commands: `make run` starts the whole stack, `make test` runs the suite.
# Both create the virtual environment on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint api-docs install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/commerce dev

# The suite's files in TEST_PROCESSES processes (each with its own servers); 1 runs them in one.
TEST_PROCESSES ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -q $(if $(filter 1,$(TEST_PROCESSES)),,-n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder)

bench: $(STAMP)
	$(BIN)/commerce bench $(ARGS)

api-docs: $(STAMP)
	$(BIN)/python -m api.reference docs/api.md

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy commerce api domain eventstore activities workflows worker.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
