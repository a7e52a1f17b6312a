#!/usr/bin/env bash
# Installs everything `make test` and `make demo` need, skipping what is already there at the right version.
# Usage: scripts/install-deps.sh [--browsers]   (--browsers adds Chromium, Firefox, WebKitGTK, their drivers and the
# framework apps' npm packages: what `make test` needs beyond `make pkg`)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

browsers=false
[ "${1:-}" = "--browsers" ] && browsers=true

export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The package is built with a pinned nightly: rebuilding std with panics that abort at once (no panic
# messages, no formatting machinery) makes the module a fifth smaller. Without it, build-pkg falls back to
# stable Rust: the same behaviour, a larger download.
size_toolchain=$(cat scripts/size-toolchain)
if ! rustup run "$size_toolchain" rustc --version >/dev/null 2>&1 \
   || ! rustup component list --toolchain "$size_toolchain" --installed 2>/dev/null | grep -q '^rust-src' \
   || ! rustup target list --toolchain "$size_toolchain" --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "rustup toolchain install $size_toolchain (rust-src, wasm32)"
  rustup toolchain install "$size_toolchain" --profile minimal --component rust-src --target wasm32-unknown-unknown \
    || say "warning: $size_toolchain unavailable; the package will be built with stable Rust (larger)"
fi

if ! command -v wasm-pack >/dev/null; then
  say "cargo install wasm-pack"
  cargo install --locked wasm-pack
fi

# wasm-pack test needs wasm-bindgen-test-runner at exactly the wasm-bindgen version in Cargo.lock.
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
  say "cargo install wasm-bindgen-cli $wbg"
  # --locked can name a dependency version the registry no longer serves; then resolve afresh.
  cargo install --locked --force wasm-bindgen-cli --version "$wbg" || cargo install --force wasm-bindgen-cli --version "$wbg"
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/esbuild ] || [ ! -d node_modules/playwright-core ] \
   || [ ! -x node_modules/.bin/deno ] || [ ! -d node_modules/miniflare ] || [ ! -d node_modules/selenium-webdriver ] \
   || [ ! -x node_modules/.bin/eslint ] || [ package.json -nt node_modules/.package-lock.json ]; then
  # `npm install`, not `npm ci`: some packages (deno) list optional per-platform binaries that the registry
  # here does not serve, which `npm ci` refuses as an out-of-sync lock file.
  say "npm install"
  npm install --no-audit --no-fund
fi

# The bridge's store tests start a PostgreSQL cluster of their own (bridge/tests/stores.rs): they need the
# server's programs (initdb, pg_ctl, pg_dump), not a running service.
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "apt-get install postgresql"
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq postgresql >/dev/null
fi

if $browsers; then
  need=()
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  command -v firefox-esr >/dev/null || need+=(firefox-esr)
  # WebKitGTK, the engine of Safari: its WebDriver server (which brings MiniBrowser) and a virtual X display.
  command -v WebKitWebDriver >/dev/null || need+=(webkit2gtk-driver)
  command -v xvfb-run >/dev/null || need+=(xvfb xauth)
  if [ ${#need[@]} -gt 0 ]; then
    say "apt-get install ${need[*]}"
    sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  # Test-only: the framework apps of tests/js/frameworks.test.mjs (Next.js, SvelteKit, Vue, Vite), with their own
  # lock file (not needed by `make pkg` or `make demo`).
  if [ ! -x tests/frameworks/node_modules/next/dist/bin/next ] || [ ! -f tests/frameworks/node_modules/vite/bin/vite.js ] \
     || [ tests/frameworks/package-lock.json -nt tests/frameworks/node_modules/.package-lock.json ]; then
    say "npm ci (tests/frameworks)"
    npm ci --prefix tests/frameworks --no-audit --no-fund
  fi
  # Test-only: a current Node release (with navigator.locks) for tests/js/first-call.test.mjs, from npm's `node`
  # package; Node 20 on the PATH runs everything else.
  if [ ! -x tests/node-current/node_modules/.bin/node ] \
     || [ tests/node-current/package-lock.json -nt tests/node-current/node_modules/.package-lock.json ]; then
    say "npm ci (tests/node-current)"
    npm ci --prefix tests/node-current --no-audit --no-fund
  fi
  if ! command -v geckodriver >/dev/null; then
    say "cargo install geckodriver"
    cargo install --locked geckodriver
  fi
fi
