# Thin wrapper: `make run` and `make test` install what is missing, build, and run; `make` and
# `make build` only build.
BUILD ?= build
JOBS  ?= 2
FUZZ_SECONDS ?= 60
# @clang-rt: the sanitizer runtime matching the installed clang (see install-deps.sh)
APT_PACKAGES = build-essential cmake pkg-config libwebsockets-dev libwebsockets-evlib-uv \
               libuv1-dev libjansson-dev libsqlite3-dev liblua5.4-dev libssl-dev nodejs npm chromium \
               clang @clang-rt valgrind sqlite3 python3-socketio python3-websocket python3-requests \
               libhiredis-dev libmsgpack-dev redis-server nginx haproxy
NPM_DIRS = web tests tests/bench/node-server
# Goals that install the dependencies first; build then waits for them, even under make -j.
DEPS_GOALS = run test bench asan asan-build fuzz

.PHONY: all deps build run test asan asan-build fuzz bench clean

all: build

deps:
	@tests/tools/install-deps.sh $(APT_PACKAGES) -- $(NPM_DIRS)

build: $(if $(filter $(DEPS_GOALS),$(MAKECMDGOALS)),deps)
	cmake -S . -B $(BUILD) -DPARLEY_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	./$(BUILD)/parley

# The whole suite on the normal build, then again under AddressSanitizer + UBSan.
test: deps build asan-build
	tests/tools/run-all.sh $(BUILD) build-asan

asan-build: deps
	cmake -S . -B build-asan -DPARLEY_WERROR=ON -DPARLEY_SANITIZE=ON -DPARLEY_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build build-asan -j $(JOBS)

asan: asan-build
	tests/tools/run-all.sh build-asan

# Every libFuzzer target for FUZZ_SECONDS each, one after the other, on corpora kept in
# build-fuzz/corpus/ (make test runs each for a few seconds only).
fuzz: deps
	JOBS=$(JOBS) tests/fuzz/run.sh $(FUZZ_SECONDS)

# Benchmarks (not part of make test): every scenario against Parley and the Node.js server,
# what the extensions cost (none, the default configuration, one Lua hook),
# the room-size sweep and its plot, then the chat history: stored chat throughput with the
# history on and off, and the cost of a replay at a database of a million messages; last, the
# cluster: two Parley nodes against two Node.js nodes on one Redis.
bench: deps build
	@tests/tools/install-deps.sh gnuplot-nox --
	tests/bench/run.sh $(BUILD)
	tests/bench/extensions.sh $(BUILD)
	tests/bench/sweep.sh $(BUILD) $(BUILD)/bench-rooms.png
	tests/bench/history.sh $(BUILD)
	tests/bench/replay.sh $(BUILD)
	tests/bench/recovery-storm.sh $(BUILD)
	tests/bench/cluster.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
