#!/usr/bin/env bash
# The full test suite (what CI runs through .ci/run). Needs scripts/install-deps.sh once per
# machine. In order:
#   1. Rust: cargo fmt --check, clippy -D warnings (native and wasm32), every Rust test (unit
#      and integration on the real models and media; the server's against a real Redis it
#      starts itself);
#   2. the browser SDK: scripts/build-pkg.sh (both wasm flavours; this is also CI's wasm32
#      build of the core), npm ci, the JS unit tests, the native-vs-wasm parity test, the
#      TypeScript check of the package's types;
#   3. real headless Chromium with a fake camera (tests/browser, tests/js/browser.test.js);
#      screenshots land in target/browser-tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-models.sh >/dev/null
step() { echo "== $* ($(date +%T))"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo clippy -D warnings (wasm32 core with its bindings)"
cargo clippy --target wasm32-unknown-unknown -p liveproof --lib --locked -- -D warnings
step "cargo test"
cargo test --workspace --locked

step "browser SDK build (wasm32 simd + scalar)"
scripts/build-pkg.sh
step "npm ci"
npm ci --no-audit --no-fund
step "JS unit tests, parity, types"
LIVEPROOF_ALL_FLAVOURS=1 LIVEPROOF_SERVER_BIN=target/debug/liveproof-server node --test tests/js/ tests/parity/
npx tsc -p tests/js/tsconfig.json
step "browser tests (headless Chromium, fake camera)"
node --test --test-concurrency=1 tests/browser/
step "all tests passed"
