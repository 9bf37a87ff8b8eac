#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian 12 machine with rustup:
# FFmpeg's development libraries (video decoding), clang (bindgen for ffmpeg-sys), the ffmpeg
# CLI (tests cut VP9 clips with it), redis-server (the server's Redis store tests start their own
# instances), chromium (the browser tests drive Debian's Chromium through playwright-core),
# firefox-esr, webkit2gtk-driver and xvfb with geckodriver (tests/engines/ drive Firefox and
# WebKitGTK through WebDriver) and the wasm32 target; with --fuzz also the pinned nightly
# toolchain and cargo-fuzz that scripts/fuzz.sh and the brief fuzzing run of scripts/test.sh need.
# Idempotent; skips what is present.
set -euo pipefail
fuzz=0
[ "${1:-}" = "--fuzz" ] && fuzz=1
pkgs=(pkg-config clang libclang-dev ffmpeg libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
      libswresample-dev libavfilter-dev libavdevice-dev redis-server chromium)
# The other two engines with their recommends, as they were measured here: xvfb-run needs
# xauth, WebKit plays the tests' H.264 clips through GStreamer's libav, bad, GL and X plugins.
browsers=(firefox-esr webkit2gtk-driver xvfb xauth gstreamer1.0-libav gstreamer1.0-plugins-bad
          gstreamer1.0-gl gstreamer1.0-x libgl1-mesa-dri)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
missing_browsers=()
for p in "${browsers[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing_browsers+=("$p"); done
if [ ${#missing[@]} -gt 0 ] || [ ${#missing_browsers[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  [ ${#missing[@]} -eq 0 ] ||
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ ${#missing_browsers[@]} -eq 0 ] ||
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing_browsers[@]}"
fi
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
# Firefox's WebDriver server: Debian has no package, crates.io has the source (about 2 min to build).
export PATH="$HOME/.cargo/bin:$PATH"
[ "$(geckodriver --version 2>/dev/null | head -n1)" = "geckodriver 0.37.1" ] || cargo install geckodriver --version =0.37.1 --locked
if [ "$fuzz" = 1 ]; then
  # Keep in step with scripts/fuzz.sh: libFuzzer's instrumentation needs a nightly rustc.
  toolchain=nightly-2026-05-20
  rustup run "$toolchain" rustc --version >/dev/null 2>&1 || rustup toolchain install "$toolchain" --profile minimal
  [ "$(cargo fuzz --version 2>/dev/null)" = "cargo-fuzz 0.13.2" ] || cargo install cargo-fuzz --version =0.13.2 --locked
fi
