#!/usr/bin/env bash
# The crate's wasm-bindgen tests in one browser: `wasm-pack test "$@" -- <target>` for each test binary in turn (the
# library's, then each of tests/*.rs), then the doctests (compiled, not run: they are `no_run`).
#
# A suite sometimes never starts ("Failed to detect test as having been run"), most often a worker's: seen in
# Chromium and Firefox since the crate's JavaScript became several modules, for the dedicated worker up to half the
# time on a busy machine. Seen with the runner in interactive mode (NO_HEADLESS=1) under load: the worker asked the
# runner's server for its snippet modules (five then) at once and the last one was never answered (still pending a
# minute later). A likely cause is the task pool of the server's tiny_http 0.12 (src/util/task_pool.rs), which can queue a
# new connection behind threads that each wait on an idle keep-alive connection; not proven. Such a binary is run
# again, alone, up to ten attempts in all. A test that ran and failed is never run again: the script stops with it.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs one target (`--lib`, or `--test NAME`), again while the browser never started it.
run_target() {
  local attempt status
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    [ "$attempt" -eq 1 ] || echo "wasm-test: the browser never started $*; attempt $attempt of 10"
    wasm-pack test "${browser_args[@]}" -- "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    if [ "$status" -eq 0 ] || ! grep -q "Failed to detect test as having been run" "$log" || grep -q "test result: FAILED" "$log"; then
      return "$status"
    fi
  done
  return "$status"
}

browser_args=("$@")
run_target --lib || exit $?
for file in tests/*.rs; do
  run_target --test "$(basename "$file" .rs)" || exit $?
done
cargo test --doc --target wasm32-unknown-unknown
