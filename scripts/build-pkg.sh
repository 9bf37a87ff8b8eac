#!/usr/bin/env bash
# Builds the browser SDK into pkg/ (an installable npm package: `npm pack pkg/`):
#   - the core crate compiled to wasm32 twice: with simd128 and scalar (the JS wrapper picks
#     one at run time with WebAssembly.validate), each through wasm-bindgen (--target web);
#     binaryen's wasm-opt (Debian's `binaryen`, never downloaded) runs with LIVEPROOF_WASM_OPT=1
#     only: measured here it shrinks the raw wasm 16.2 -> 14.1 MB but grows the gzip transfer
#     3.80 -> 4.01 MB, leaves the frame time unchanged within noise and costs 5 min a flavour;
#   - the model files the browser engine loads (asked of the wasm build itself): the compact
#     weight files derived by `liveproof models --write-compact`, copied from models/ with
#     their SHA-256 checked, plus models/manifest.json and files.json (every file
#     with its size and SHA-256);
#   - the JS wrapper, worker, web component and types from pkg-template/.
# wasm-bindgen-cli is installed at exactly the wasm-bindgen crate's version from Cargo.lock
# when missing or different.
#   scripts/build-pkg.sh                              # both flavours (what CI and the demo use)
#   LIVEPROOF_WASM_FLAVOURS=simd scripts/build-pkg.sh # one flavour (quicker while developing)
set -euo pipefail
cd "$(dirname "$0")/.."
flavours=${LIVEPROOF_WASM_FLAVOURS:-"simd scalar"}
out=pkg

scripts/setup-models.sh >/dev/null
# The compact weight files the browser loads, derived from the originals (deterministic, pinned
# by sha256 in the manifest), by $LIVEPROOF_CLI if set (demo.sh: the release CLI), else by the
# debug CLI (what `cargo test` already built in scripts/test.sh).
if [ -n "${LIVEPROOF_CLI:-}" ]; then
  "$LIVEPROOF_CLI" models --write-compact >/dev/null
else
  cargo run --locked --quiet --bin liveproof -- models --write-compact >/dev/null
fi

wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  echo "== installing wasm-bindgen-cli $wb_version (the wasm-bindgen crate's version)"
  # A quick build profile: the CLI only rewrites one file per flavour.
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_DEBUG=false \
    cargo install wasm-bindgen-cli --version "$wb_version"
fi

rm -rf "$out"
mkdir -p "$out/wasm" "$out/models"
cp -R pkg-template/. "$out/"

for flavour in $flavours; do
  case $flavour in
    simd) rustflags="-C target-feature=+simd128" ;;
    scalar) rustflags="" ;;
    *) echo "build-pkg: unknown flavour $flavour (simd, scalar)" >&2; exit 1 ;;
  esac
  echo "== wasm32 $flavour build"
  # Separate target dirs: RUSTFLAGS differ, and one dir would rebuild everything on each switch.
  RUSTFLAGS="$rustflags" cargo rustc -p liveproof --lib --locked --profile wasm \
    --target wasm32-unknown-unknown --target-dir "target/wasm-$flavour" --crate-type cdylib
  raw="target/wasm-$flavour/wasm32-unknown-unknown/wasm/liveproof.wasm"
  if [ "${LIVEPROOF_WASM_OPT:-0}" = 1 ] && command -v wasm-opt >/dev/null; then
    # Before wasm-bindgen: Debian's binaryen 108 run after it breaks the externref table.
    wasm-opt -O3 --all-features "$raw" -o "$raw.opt"
    raw="$raw.opt"
  fi
  wasm-bindgen "$raw" --out-dir "$out/wasm" --out-name "liveproof_$flavour" --target web \
    --remove-name-section --remove-producers-section
  wasm="$out/wasm/liveproof_${flavour}_bg.wasm"
  echo "   $(stat -c%s "$wasm") bytes, $(gzip -9c "$wasm" | wc -c) gzip"
done

# The models the browser engine loads, named by the wasm build itself.
first=$(echo "$flavours" | awk '{print $1}')
node scripts/pkg-assemble.mjs "$out" "$first"
echo "== pkg/ ready: $(du -sh "$out" | cut -f1) (npm pack pkg/)"
