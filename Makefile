# Thin wrapper around CMake. Every real rule lives in CMakeLists.txt.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# CI builds with warnings as errors.
ifeq ($(CI),true)
  CMAKE_FLAGS += -DQGML_WERROR=ON
endif

.PHONY: all build run test clean configure

all: build

configure:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The main job: generate a story from the model shipped in the repository.
run: build
	$(BUILD_DIR)/bin/qgml run -m models/stories260K/stories260K.gguf -n 256 --temp 0 -t 2

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR)
