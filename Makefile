# Two commands for a newcomer (README): `make demo` and `make test`.
# torch trap: a bare `torch` requirement on a fresh venv pulls a multi-GB CUDA build, so the
# pinned CPU wheel is installed first; pyproject keeps a range, which that wheel satisfies.
# The index (faiss), mos (speechmos + onnxruntime) and speaker (resemblyzer) extras run in the
# default suite. resemblyzer needs webrtcvad, an sdist whose module imports pkg_resources at run
# time, so setuptools stays below 81 in the venv and webrtcvad is built against it without build
# isolation (an isolated build would pull the newest setuptools) before the extras are installed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.rvcqa-installed
SETUPTOOLS_SPEC ?= setuptools>=77,<81

.PHONY: demo test test-slow typecheck bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet "$(SETUPTOOLS_SPEC)"
	$(BIN)/python -m pip install --quiet --no-build-isolation webrtcvad "$(SETUPTOOLS_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev,index,mos,speaker]" "$(SETUPTOOLS_SPEC)"
	touch $(STAMP)

install: $(STAMP)

## run the quality gate on the built-in demo model; prints the verdict and where results went
demo: $(STAMP)
	$(BIN)/rvcqa demo

## rvcqa's own test suite (the default, lean run: slow tests excluded)
test: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" -q

## type check (settings and the modules not yet clean: [tool.mypy] in pyproject.toml)
typecheck: $(STAMP)
	$(BIN)/python -m mypy

## slow tests (full-size checkpoints, long trainings)
test-slow: $(STAMP)
	$(BIN)/python -m pytest tests -m slow -q

## benchmarks (pytest-benchmark)
bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-only -q

clean:
	rm -rf $(VENV) .cache rvcqa-results
