# Thin wrapper around CMake. Every real rule lives in CMakeLists.txt.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# CI builds with warnings as errors.
ifeq ($(CI),true)
  CMAKE_FLAGS += -DQGML_WERROR=ON
endif

.PHONY: all build run test clean configure test-sanitize fuzz fuzz-build cuda

all: build

configure:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The whole mission: quantize the shipped model with GPTQ (4-bit, groups of
# 32: its rows are 64 and 172 wide), calibrated on the shipped TinyStories
# text, then generate from the quantized file.
run: build
	$(BUILD_DIR)/bin/qgml quantize -m models/stories260K/stories260K.gguf -o $(BUILD_DIR)/stories260K-gptq4.gguf \
	  --method gptq --bits 4 --group 32 --calib models/stories260K/calib.txt --calib-samples 64 --calib-ctx 128 -t 2
	$(BUILD_DIR)/bin/qgml run -m $(BUILD_DIR)/stories260K-gptq4.gguf -n 256 --temp 0 -t 2

# Installs the tool, libqgml (shared and static), qgml.h, the CMake package
# (find_package(qgml)) and qgml.pc under PREFIX: make install PREFIX=$HOME/.local
PREFIX ?= /usr/local
.PHONY: install
install:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target qgml qgml_shared qgml_static
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The NEON kernels run for real under qemu when the arm64 cross compiler and
# qemu-user are installed (.ci/run installs them); otherwise they are skipped, loudly.
# A failing host suite does not stop the NEON run: both results are reported,
# and the target fails if either failed.
test: build
	@status=0; cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) || status=1; cd $(CURDIR); \
	if command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null; then \
	  { cmake -S cmake/aarch64 -B $(BUILD_DIR)-aarch64 -DCMAKE_BUILD_TYPE=Release >/dev/null && \
	    cmake --build $(BUILD_DIR)-aarch64 -j $(JOBS) && \
	    cd $(BUILD_DIR)-aarch64 && ctest --output-on-failure; } || status=1; \
	else \
	  echo "*** NEON kernel tests SKIPPED: install g++-aarch64-linux-gnu and qemu-user to run them under qemu ***"; \
	fi; \
	cd $(CURDIR); \
	if [ "$$(uname -m)" = x86_64 ] && [ -f /usr/include/simde/x86/avx512.h ]; then \
	  $(MAKE) --no-print-directory -C $(CURDIR) test-avx512-emulated || status=1; \
	elif [ "$$(uname -m)" = x86_64 ]; then \
	  echo "*** emulated AVX-512 kernel tests SKIPPED: install libsimde-dev to run them on this CPU ***"; \
	fi; \
	exit $$status

# The AVX-512 kernels on SIMDe's emulation of the intrinsics (CMake option
# QGML_EMULATED_AVX512), for CPUs without AVX-512: the kernel and mul_mat
# suites with VNNI and without, and real quantized models end to end (GPTQ
# imports, float models, make run's GPTQ path) with VNNI.
AVX512_EMULATED_KERNEL_SUITES = test_kernels test_quant_kernels test_quant_mul_mat test_quant_bnb4 test_ops_mul_mat
AVX512_EMULATED_MODEL_SUITES = test_import_quantized test_house_llama test_gptq_model
.PHONY: test-avx512-emulated
test-avx512-emulated:
	@cmake -S . -B $(BUILD_DIR)-avx512emu -DCMAKE_BUILD_TYPE=Release -DQGML_EMULATED_AVX512=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR)-avx512emu -j $(JOBS) --target $(AVX512_EMULATED_KERNEL_SUITES) $(AVX512_EMULATED_MODEL_SUITES)
	@status=0; \
	for t in $(AVX512_EMULATED_KERNEL_SUITES) $(AVX512_EMULATED_MODEL_SUITES); do \
	  echo "== $$t on emulated AVX-512 with VNNI"; \
	  QGML_EMULATED_NO_VNNI=0 $(BUILD_DIR)-avx512emu/bin/$$t --gtest_brief=1 || status=1; \
	done; \
	for t in $(AVX512_EMULATED_KERNEL_SUITES); do \
	  echo "== $$t on emulated AVX-512 without VNNI"; \
	  QGML_EMULATED_NO_VNNI=1 $(BUILD_DIR)-avx512emu/bin/$$t --gtest_brief=1 || status=1; \
	done; \
	exit $$status

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR)-aarch64 $(BUILD_DIR)-avx512emu build-cuda

# The optional CUDA offload (ggml/src/cuda/*.cu, needs nvcc) in build-cuda:
# the same tool and tests, with matmuls offloaded when a GPU is present.
# CUDA_TARGETS narrows the build (CI: the tool and test_cuda only).
CUDA_TARGETS ?= all
cuda:
	@cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DQGML_CUDA=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-cuda -j $(JOBS) --target $(CUDA_TARGETS)

# The whole suite under ASan+UBSan (build-asan), then the tests that run
# threads under TSan (build-tsan). QGML_SANITIZER_QUICK=1 lets the few long
# model tests check a shorter stretch against the same kind of independent
# reference (tests/test_util.h sanitizer_quick()), so the run fits in CI's
# budget (.ci/run); every test file is still built and run. setarch -R:
# TSan's shadow memory layout needs ASLR off on kernels with high mmap
# randomisation (harmless elsewhere).
TSAN_TESTS ?= test_threadpool test_graph test_llama test_arch_goldens test_quant_mul_mat test_capi_threads test_gptq
SANITIZER_ENV ?= QGML_SANITIZER_QUICK=1
.PHONY: test-asan test-tsan
test-sanitize: test-asan test-tsan

test-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQGML_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS)

test-tsan:
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQGML_TSAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target qgml $(TSAN_TESTS)
	@set -e; for t in $(TSAN_TESTS); do echo "tsan: $$t"; start=$$(date +%s); \
	  $(SANITIZER_ENV) TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" setarch $$(uname -m) -R build-tsan/bin/$$t --gtest_brief=1; \
	  echo "tsan: $$t passed in $$(( $$(date +%s) - start )) s"; \
	done

# libFuzzer targets (fuzz/fuzz_*.cpp) built with clang, ASan+UBSan, in
# build-fuzz; `make fuzz FUZZ_SECONDS=N` runs each for N seconds over its seed
# corpus (fuzz/corpus/<name>/; new inputs go to build-fuzz/corpus/<name>/),
# FUZZ_JOBS targets at a time (each libFuzzer process uses one core).
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
FUZZ_TARGETS ?= $(patsubst fuzz/%.cpp,%,$(wildcard fuzz/fuzz_*.cpp))
fuzz-build:
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DQGML_FUZZ=ON -DQGML_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(FUZZ_TARGETS)

fuzz: fuzz-build
	FUZZ_JOBS=$(FUZZ_JOBS) fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
