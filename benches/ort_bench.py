#!/usr/bin/env python3
"""onnxruntime peer benchmark for liveproof's models.

The Rust criterion bench times the same models in tract; a comparison script divides its
numbers by these. Both sides therefore use the committed inputs of
tests/fixtures/reference/index.json (first case of each model), one thread, and the same keys:
the model id, `detector_yunet_dynamic@480x640` for YuNet at full 640x480 frame size (the 320x256
fixture frame upscaled: conv cost depends on shape, not content), and `frame_640x480_sum` for one
frame's models back to back (YuNet dynamic 320x256 + mesh + both MiniFASNets).

Usage: python3 benches/ort_bench.py [--runs N] [--json out.json] [--models DIR]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[1]
# The session setup is gen_reference.py's (tests/fixtures/ort_session.py): the timed sessions
# are the ones the reference tensors were computed with.
sys.path.insert(0, str(REPO / "tests" / "fixtures"))
from ort_session import make_session  # noqa: E402
FIXTURES = REPO / "tests" / "fixtures" / "reference"
WARMUP = 5
DYNAMIC = "detector_yunet_dynamic"
FRAME_PARTS = [DYNAMIC, "landmarks_facemesh478_attention_f16w",
               "minifasnet_v2_s2.7", "minifasnet_v1se_s4.0"]


def fixture_inputs() -> dict:
    """model id -> (model file, input) from the first fixture case of each model."""
    inputs = {}
    for case in json.loads((FIXTURES / "index.json").read_text()):
        if case["model"] not in inputs:
            x = np.load(FIXTURES / case["input"]["npy"])
            inputs[case["model"]] = (case["file"], x)
    return inputs


def full_frame_input(x_256x320: np.ndarray) -> np.ndarray:
    """[1,3,480,640] YuNet input: the fixture's 320x240 frame area resized back to 640x480."""
    hwc = x_256x320[0, :, :240, :].transpose(1, 2, 0)
    big = cv2.resize(hwc, (640, 480), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(big.transpose(2, 0, 1)[None], dtype=np.float32)


def time_ms(fn, runs: int) -> np.ndarray:
    """Warm up, then wall-clock `runs` calls of fn in milliseconds."""
    for _ in range(WARMUP):
        fn()
    out = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1e3
    return out


def summary(times: np.ndarray, shape: list) -> dict:
    return {"median_ms": round(float(np.median(times)), 3),
            "p90_ms": round(float(np.percentile(times, 90)), 3),
            "runs": int(times.size), "input_shape": [int(d) for d in shape]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--json", type=Path, help="write {model_id: {median_ms, p90_ms, runs, input_shape}}")
    ap.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    args = ap.parse_args()

    inputs = fixture_inputs()
    sessions = {m: make_session(args.models / f) for m, (f, _) in inputs.items()}
    feeds = {m: {"input": x} for m, (_, x) in inputs.items()}
    benches = [(m, m) for m in inputs]
    benches.insert(benches.index((DYNAMIC, DYNAMIC)) + 1, (f"{DYNAMIC}@480x640", DYNAMIC))
    feeds[f"{DYNAMIC}@480x640"] = {"input": full_frame_input(inputs[DYNAMIC][1])}

    results = {}
    for key, model in benches:
        sess, feed = sessions[model], feeds[key]
        results[key] = summary(time_ms(lambda: sess.run(None, feed), args.runs),
                               feed["input"].shape)

    def frame() -> None:
        for m in FRAME_PARTS:
            sessions[m].run(None, feeds[m])

    results["frame_640x480_sum"] = summary(time_ms(frame, args.runs), [1, 3, 480, 640])
    results["frame_640x480_sum"]["parts"] = FRAME_PARTS

    print(f"onnxruntime {ort.__version__}, 1 thread, {args.runs} runs after {WARMUP} warm-up")
    print(f"{'model':<40} {'input':<16} {'median ms':>10} {'p90 ms':>8}")
    for key, r in results.items():
        shape = "x".join(map(str, r["input_shape"]))
        print(f"{key:<40} {shape:<16} {r['median_ms']:>10.2f} {r['p90_ms']:>8.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
