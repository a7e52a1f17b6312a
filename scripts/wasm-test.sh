#!/usr/bin/env bash
# Runs `wasm-pack test "$@"`, and again, up to five attempts in all, while a browser never started one of the test
# binaries ("Failed to detect test as having been run"): a worker suite's worker has been seen not to start, now and
# then, in Chromium and Firefox on this machine since the crate's JavaScript became several modules, more often on
# a loaded machine (in one Firefox run of `make test-firefox` on a machine busy with another suite, the dedicated
# worker's binary twice in a row). The runner posts the test list to the worker as soon as it creates it; that the
# message is sometimes lost while the worker's module graph loads is our reading, not established. A test that ran and failed is never run again: any
# "test result: FAILED" ends the script with the failure.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for attempt in 1 2 3 4 5; do
  [ "$attempt" -eq 1 ] || echo "wasm-test: a test binary never started in the browser; attempt $attempt of 5"
  wasm-pack test "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  if [ "$status" -eq 0 ] || ! grep -q "Failed to detect test as having been run" "$log" || grep -q "test result: FAILED" "$log"; then
    break
  fi
done
exit "$status"
