# hookmq front door: `make run` and `make test` do everything on a fresh machine.
# (installs what is missing, builds, then runs the broker / every test). See README.md.

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
VENV       ?= .venv
PY         := $(VENV)/bin/python
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

.PHONY: sdk-venv all deps pydeps build build-asan build-fuzz run test unit unit-asan system system-asan fuzz sdk bench clean format

all: build

deps:
	@scripts/deps.sh

$(VENV)/.stamp: tests/requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r tests/requirements.txt
	@touch $@

pydeps: deps $(VENV)/.stamp

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOOKMQ_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHOOKMQ_WERROR=ON -DHOOKMQ_ASAN=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)

build-fuzz: deps
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOOKMQ_FUZZ=ON -DHOOKMQ_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzzers

run: build
	$(BUILD)/hookmq $(ARGS)

# The SDK's venv (PyPI): the hook unit tests run Python hook servers built with the SDK.
sdk-venv: deps
	@sdk-python/scripts/test.sh --venv-only

unit: build sdk-venv
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

unit-asan: build-asan sdk-venv
	cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS)

system: build pydeps sdk-venv
	HOOKMQ_BIN=$(CURDIR)/$(BUILD)/hookmq $(PY) -m pytest -q -n 2 tests/system

system-asan: build-asan pydeps sdk-venv
	HOOKMQ_BIN=$(CURDIR)/$(BUILD_ASAN)/hookmq HOOKMQ_ASAN=1 $(PY) -m pytest -q -n 2 tests/system

fuzz: build-fuzz
	@scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

# The Python hook SDK: its own venv from PyPI, generated-code check, mypy --strict, pytest.
sdk:
	sdk-python/scripts/test.sh

# Every test: unit (normal and ASan+UBSan), fuzz, the Python SDK, system (normal and ASan+UBSan,
# 1 and 4 workers).
test: unit unit-asan fuzz sdk system system-asan

bench: build
	bench/compare.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
