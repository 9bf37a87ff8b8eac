#!/usr/bin/env bash
# The full test suite (what CI runs through .ci/run). Needs scripts/install-deps.sh once per
# machine. In order:
#   1. Rust: cargo fmt --check, clippy -D warnings (native and wasm32), every Rust test (unit
#      and integration on the real models and media; the server's against a real Redis it
#      starts itself);
#   2. the browser SDK: scripts/build-pkg.sh (both wasm flavours; this is also CI's wasm32
#      build of the core), npm ci, the JS unit tests, the native-vs-wasm parity test, the
#      TypeScript check of the package's types;
#   3. real headless Chromium with a fake camera (tests/browser/: the package's API, the demo,
#      element and kiosk pages, the flows with liveproof-server; LIVEPROOF_CHROMIUM names another
#      Chromium binary); screenshots land in target/browser-tests/;
#   4. Firefox ESR and WebKitGTK through WebDriver (tests/engines/: the SDK on real clips played
#      in a <video>: a live clip reaches REAL, a replay does not, the signed evidence verifies),
#      and the benchmark page's short run in all three engines (every figure present; the
#      measuring is scripts/bench-browser.mjs's, outside CI);
#   5. fuzzing (fuzz/): the corpus replay on stable runs with the Rust tests (fmt and clippy of
#      the fuzz crate with the others); at the end every fuzz target runs briefly under
#      libFuzzer on its committed corpus (scripts/fuzz.sh; needs install-deps.sh --fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-models.sh >/dev/null
# Each step names the time and the disk left, so a CI log shows where time and space went.
step() { echo "== $* ($(date +%T), $(df -h --output=avail . | tail -n1 | tr -d ' ') free)"; }

step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
step "cargo clippy -D warnings (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz crate is its own workspace; without libFuzzer (its C++ build) but with every harness.
CARGO_TARGET_DIR="$PWD/target" cargo clippy --manifest-path fuzz/Cargo.toml --all-targets \
  --no-default-features --locked -- -D warnings
step "cargo clippy -D warnings (wasm32 core with its bindings)"
cargo clippy --target wasm32-unknown-unknown -p liveproof --lib --locked -- -D warnings
step "the server builds without the CLI's dependencies"
# clap, indicatif and env_logger are the `cli` feature's alone (anyhow also comes with tract).
for dep in clap indicatif env_logger; do
  if cargo tree -p liveproof-server -e normal --locked -i "$dep" >/dev/null 2>&1; then
    echo "liveproof-server depends on $dep, a dependency of the CLI only:" >&2
    cargo tree -p liveproof-server -e normal --locked -i "$dep" >&2
    exit 1
  fi
done
step "cargo test"
cargo test --workspace --locked
step "fuzz corpus replay (every harness on every committed input, stable)"
CARGO_TARGET_DIR="$PWD/target" cargo test --manifest-path fuzz/Cargo.toml --no-default-features --locked

step "browser SDK build (wasm32 simd + scalar)"
scripts/build-pkg.sh
step "npm ci"
npm ci --no-audit --no-fund
step "JS unit tests, parity, types"
LIVEPROOF_ALL_FLAVOURS=1 LIVEPROOF_SERVER_BIN=target/debug/liveproof-server node --test tests/js/ tests/parity/
npx tsc -p tests/js/tsconfig.json
step "browser tests (headless Chromium, fake camera)"
node --test --test-concurrency=1 tests/browser/
step "engine tests (Firefox ESR and WebKitGTK via WebDriver, clips in a <video>; bench.html in all three)"
node --test --test-concurrency=1 tests/engines/
step "fuzzing: each target briefly on its committed corpus (libFuzzer, AddressSanitizer)"
scripts/fuzz.sh "${LIVEPROOF_CI_FUZZ_SECONDS:-15}"
step "all tests passed"
