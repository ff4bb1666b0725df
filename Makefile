# Two commands for a newcomer (README): `make demo` and `make test`.
# torch trap: a bare `torch` requirement on a fresh venv pulls a multi-GB CUDA build, so the
# pinned CPU wheel is installed first; pyproject keeps a range, which that wheel satisfies.
# The index (faiss) and mos (speechmos + onnxruntime) extras run in the default suite. The speaker
# extra (resemblyzer) is not installed here yet: with it perceptual.convert_speaker runs and the
# healthy fixture's conversion scores below its input. Installing it: `pip install "setuptools<81"`,
# `pip install --no-build-isolation webrtcvad`, then `pip install resemblyzer "setuptools<81"`
# (webrtcvad imports pkg_resources at run time too).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.rvcqa-installed

.PHONY: demo test test-slow typecheck bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev,index,mos]"
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
