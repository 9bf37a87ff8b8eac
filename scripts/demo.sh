#!/usr/bin/env bash
# The main job: the browser SDK built into pkg/, the liveness CLI on real samples, then the
# verification server on http://127.0.0.1:8080 with the bundled models, serving the demo page
# (/), the kiosk page (/kiosk.html) and the benchmark page (/bench.html) next to the APIs
# (Ctrl-C stops it). A cold first run compiles tract three times (native, wasm simd, wasm
# scalar): about 30 minutes on 2 cores; later runs start in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
media=${LIVEPROOF_MEDIA:-../shared/media}
scripts/setup-models.sh >/dev/null
echo "== building the CLI and the server"
cargo build --release --locked --workspace --bins
lp=target/release/liveproof
echo "== building the browser SDK (pkg/)"
# The release CLI derives the compact model files (no second, debug build of the CLI).
LIVEPROOF_CLI=$lp scripts/build-pkg.sh
echo "== liveproof check --image $media/live/fr_obama.jpg"
$lp check --image "$media/live/fr_obama.jpg"
echo "== liveproof check --image (selfie frame) --video (the same person's clip) --format v1"
$lp check --image "$media/live/frame_zub_real_smile_wave_t1.0.jpg" --video "$media/video_live/zub_real_smile_wave.webm" --format v1
echo "== liveproof video $media/video_live/moun_blink_drowsy.mp4 --challenges BLINK"
$lp video "$media/video_live/moun_blink_drowsy.mp4" --challenges BLINK

# A demo HS256 token for the Bearer-authenticated routes (the secret is the example config's,
# accepted because the config says demo = true on a loopback address), valid one day (the
# maximum), with every scope: the liveness APIs, sessions, kiosk administration, metrics.
secret="change-me-change-me-change-me-change-me"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
payload=$(printf '{"sub":"demo","scope":"liveness sessions devices:admin metrics","iat":%d,"exp":%d}' $(date +%s) $(( $(date +%s) + 86400 )) | b64url)
sig=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
cat <<MSG

== liveproof-server on http://127.0.0.1:8080 (Ctrl-C to stop)
   demo page:  http://127.0.0.1:8080/          (camera → liveness in the browser → signed evidence → signed verdict)
   kiosk:      http://127.0.0.1:8080/kiosk.html (admin token for device registration: the JWT below)
   benchmark:  http://127.0.0.1:8080/bench.html
   OpenAPI:    http://127.0.0.1:8080/openapi.json
Demo JWT: $header.$payload.$sig
Try:
curl -s -H "Authorization: Bearer $header.$payload.$sig" -F image=@$media/live/fr_obama.jpg http://127.0.0.1:8080/v2/liveness
base64 -w0 $media/live/fr_obama.jpg | sed 's/^/{"image":"/; s/\$/"}/' | curl -s -H "AppId: demo-app" -H "Authorization: secret" \\
     -H "Content-Type: application/json" --data-binary @- http://127.0.0.1:8080/api/v1/ml/liveness/
MSG
mkdir -p target
LIVEPROOF_CONFIG=server/config.example.toml LIVEPROOF_DB=target/demo.db exec target/release/liveproof-server
