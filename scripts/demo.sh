#!/usr/bin/env bash
# The main job, for now: the liveness CLI on real samples — a still (v2 document), a still +
# video check with face match, and the challenge engine over a recorded blink clip.
set -euo pipefail
cd "$(dirname "$0")/.."
media=${LIVEPROOF_MEDIA:-../shared/media}
scripts/setup-models.sh >/dev/null
cargo build --release --locked --bin liveproof
lp=target/release/liveproof
echo "== liveproof check --image $media/live/fr_obama.jpg"
$lp check --image "$media/live/fr_obama.jpg"
echo "== liveproof check --image (selfie frame) --video (the same person's clip) --format v1"
$lp check --image "$media/live/frame_zub_real_smile_wave_t1.0.jpg" --video "$media/video_live/zub_real_smile_wave.webm" --format v1
echo "== liveproof video $media/video_live/moun_blink_drowsy.mp4 --challenges BLINK"
$lp video "$media/video_live/moun_blink_drowsy.mp4" --challenges BLINK
