# Two commands for a newcomer (README): `make demo` and `make test`.
# torch trap: a bare `torch` requirement on a fresh venv pulls a multi-GB CUDA build, so the
# pinned CPU wheel is installed first; pyproject keeps a range, which that wheel satisfies.
# webrtcvad (for resemblyzer) builds from source and imports pkg_resources: setuptools<81 at
# build and at run time, so it stays pinned in the same pip call that installs the extras.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.rvcqa-installed

.PHONY: demo test test-slow bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet "setuptools<81"
	$(BIN)/python -m pip install --quiet --no-build-isolation webrtcvad
	$(BIN)/python -m pip install --quiet -e ".[dev,index,mos,speaker]" "setuptools<81"
	touch $(STAMP)

install: $(STAMP)

## run the quality gate on the built-in demo model; prints the verdict and where results went
demo: $(STAMP)
	$(BIN)/rvcqa demo

## rvcqa's own test suite (the default, lean run: slow tests excluded)
test: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" -q

## slow tests (full-size checkpoints, long trainings)
test-slow: $(STAMP)
	$(BIN)/python -m pytest tests -m slow -q

## benchmarks (pytest-benchmark)
bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only -q

clean:
	rm -rf $(VENV) .cache rvcqa-results
