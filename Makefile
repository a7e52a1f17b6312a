# authbridge: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)

CHROMEDRIVER ?= /usr/bin/chromedriver
WITH_BRIDGE := node tests/support/with-bridge.mjs --
# wasm-bindgen-test-runner gives a browser 20 s by default; a service worker starting on a loaded 2-core machine
# has been seen to need more. Every suite ends in seconds; a binary the browser never started is run again by
# scripts/wasm-test.sh, so this bounds what each such attempt costs.
export WASM_BINDGEN_TEST_TIMEOUT ?= 45

.PHONY: all deps deps-browsers pkg demo test test-native test-lint test-chrome test-firefox test-webkit test-js test-js-webkit bench bench-bridge fuzz clean

all: pkg

deps:
	@scripts/install-deps.sh

deps-browsers:
	@scripts/install-deps.sh --browsers

## pkg: build the npm package into pkg/ (wasm-pack + npm binaryen + pkg-template/)
pkg: deps
	node scripts/build-pkg.mjs

## demo: build the package and the reference bridge; serve the live demo on 127.0.0.1:$(DEMO_PORT)
DEMO_PORT ?= 8080
demo: pkg
	cargo build -p authbridge-bridge
	target/debug/authbridge-bridge --addr 127.0.0.1:$(DEMO_PORT)

## test: every suite: native core, wasm in headless Chromium, Firefox and WebKitGTK, the built package in Node and
## Chromium, and its browser flows in WebKitGTK
test: deps-browsers
	$(MAKE) --no-print-directory test-lint
	$(MAKE) --no-print-directory test-native
	$(MAKE) --no-print-directory test-chrome
	$(MAKE) --no-print-directory test-firefox
	$(MAKE) --no-print-directory test-webkit
	$(MAKE) --no-print-directory pkg
	$(MAKE) --no-print-directory test-js
	$(MAKE) --no-print-directory test-js-webkit

## test-lint: the JavaScript the crate binds (js/) and the package's React and Node modules, type-checked from their
## JSDoc; they and the project's other JavaScript (scripts, benchmarks, test support) linted (eslint.config.js)
LINTED_JS := js/ pkg-template/ scripts/ bench/*.mjs bench/pages/ tests/support/ tests/js/fixtures/ eslint.config.js
test-lint:
	tsc -p js/tsconfig.json
	tsc -p pkg-template/tsconfig.json
	eslint --max-warnings 0 $(LINTED_JS)

test-native:
	cargo test --workspace --all-targets
	# A Rust app with its own #[global_allocator] compiles against the crate (which sets none).
	cargo check --target wasm32-unknown-unknown -p authbridge-test-own-allocator

test-chrome:
	CHROMEDRIVER=$(CHROMEDRIVER) $(WITH_BRIDGE) scripts/wasm-test.sh --headless --chrome

test-firefox:
	$(WITH_BRIDGE) scripts/wasm-test.sh --headless --firefox --geckodriver "$$(command -v geckodriver)"

## test-webkit: the wasm-bindgen-test suite in WebKitGTK, the engine of Safari: wasm-bindgen-test-runner drives
## Debian's WebKitWebDriver as it would safaridriver (it starts MiniBrowser, on a virtual X display from xvfb-run)
test-webkit:
	$(WITH_BRIDGE) xvfb-run -a -s '-screen 0 1280x1024x24 -noreset' scripts/wasm-test.sh --headless --safari --safaridriver "$$(command -v WebKitWebDriver)"

# A test that hangs fails after --test-timeout instead of holding CI until its own limit (the builds in the suites'
# before hooks, which inherit it, take a few minutes on a fresh machine).
NODE_TEST := node --test --test-concurrency=1 --test-timeout=900000

test-js:
	cargo build -p authbridge-bridge
	$(NODE_TEST) tests/js/

## test-js-webkit: the browser flows of the JS suites in WebKitGTK, through WebDriver (tests/support/webkit.mjs):
## the four providers end to end, five tabs, the attacks, every fetch and redirect rule, a misbehaving bridge, the
## package as ESM and bundled, the Rust API in a page, the React provider, and what differs between engines
WEBKIT_JS := e2e tabs security fetch-rules hostile browser rust-page react engines
test-js-webkit:
	cargo build -p authbridge-bridge
	TEST_BROWSER=webkit $(NODE_TEST) $(WEBKIT_JS:%=tests/js/%.test.mjs)

## bench: authbridge next to the libraries users would pick instead (not part of `make test`; a few minutes):
## size, decode throughput, fetch overhead, refresh storm, cold start, stampede, what authbridge adds to a Rust app -> bench/RESULTS.md
bench: deps-browsers pkg
	npm install --prefix bench --no-audit --no-fund
	node bench/run.mjs
	$(MAKE) --no-print-directory bench-bridge

## bench-bridge: the bridge's token endpoint at 1/100/1000 sessions on the memory, SQLite and PostgreSQL stores
## (p50/p99, throughput, ratios to memory) -> bench/BRIDGE.md
bench-bridge: deps
	cargo build --release -p authbridge-bridge --example token_bench
	target/release/examples/token_bench > bench/BRIDGE.md
	cat bench/BRIDGE.md

## fuzz: cargo-fuzz targets on nightly (not part of `make test`); FUZZ_RUNS per target, ~10 million in all
FUZZ_RUNS ?= 3400000
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
	for t in jwt_decode token_response stored_entry; do \
	  cargo +nightly fuzz run $$t -- -runs=$(FUZZ_RUNS) -max_len=4096 || exit 1; \
	done

clean:
	rm -rf target pkg
