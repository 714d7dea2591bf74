# Everyday commands over CMake. `make check` is the test command (README, CI).
BUILD   ?= build
ASAN    ?= build-asan
PREFIX  ?= /usr/local
CUDA    ?= AUTO
JOBS    ?= $(shell nproc)

.PHONY: all build run test check asan symbols install-check fuzz clean setup install

all: build

setup:
	@scripts/setup.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DMLXN_CUDA=$(CUDA)

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The main job: what the library sees here, then the ops on every present backend.
run: build
	$(BUILD)/mlxn info
	$(BUILD)/mlxn demo

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# No abort/exit/assert reachable from the release library; only mlxn_ symbols exported.
symbols: build
	scripts/check_symbols.sh $(BUILD)

install-check: build
	scripts/check_install.sh $(BUILD)

asan: setup
	cmake -S . -B $(ASAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	    -DMLXN_CUDA=OFF -DMLXN_SANITIZE=address,undefined
	cmake --build $(ASAN) -j $(JOBS)
	ctest --test-dir $(ASAN) --output-on-failure -j $(JOBS)

# libFuzzer harnesses (GGUF, safetensors, dequantization), a short run from the seeds.
fuzz: setup
	bash tests/fuzz/run.sh -runs=200000

check: test symbols install-check asan fuzz

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN)
