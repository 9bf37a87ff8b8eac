#!/usr/bin/env bash
# The full test suite: formatting, lints, every Rust test (unit + integration on real models
# and media), and the core's wasm32 build. Needs scripts/install-deps.sh once per machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-models.sh >/dev/null
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== wasm32 build of the core"
cargo build --target wasm32-unknown-unknown -p liveproof --lib --locked
