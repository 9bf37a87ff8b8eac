#!/usr/bin/env bash
# Puts the model files listed in models/manifest.toml into models/ as symlinks (the weights stay
# where they are: they carry their own licences and are never committed), and verifies each
# file's sha256 against the manifest. (The manifest's [[compact]] files are derived from these by
# `liveproof models --write-compact`, which scripts/build-pkg.sh runs.)
#   scripts/setup-models.sh [SOURCE_DIR]
# SOURCE_DIR defaults to $LIVEPROOF_MODELS, else ../shared/models next to the repository.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-${LIVEPROOF_MODELS:-$repo/../shared/models}}
[ -d "$src" ] || { echo "setup-models: $src is not a directory; pass the folder holding the .onnx files" >&2; exit 1; }
src=$(cd "$src" && pwd)
[ "$src" = "$repo/models" ] && { echo "setup-models: models already in place"; exit 0; }
status=0
while IFS='|' read -r file sha; do
  if [ ! -f "$src/$file" ]; then
    echo "setup-models: MISSING $src/$file" >&2; status=1; continue
  fi
  actual=$(sha256sum "$src/$file" | cut -d' ' -f1)
  if [ "$actual" != "$sha" ]; then
    echo "setup-models: CORRUPT $src/$file (sha256 $actual, expected $sha)" >&2; status=1; continue
  fi
  ln -sfn "$src/$file" "$repo/models/$file"
  echo "setup-models: ok $file"
done < <(awk -F' = ' '/^\[\[/{orig = ($0 == "[[model]]")} orig && /^file = /{gsub(/"/,"",$2); f=$2} orig && /^sha256 = /{gsub(/"/,"",$2); print f "|" $2}' "$repo/models/manifest.toml")
exit $status
