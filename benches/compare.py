#!/usr/bin/env python3
"""Prints tract/onnxruntime ratios: criterion's medians (target/criterion/model/<id>) against
benches/ort_bench.py's JSON for the same models on the same input tensors.

    cargo bench --bench pipeline && python3 benches/ort_bench.py --json /tmp/ort.json
    python3 benches/compare.py /tmp/ort.json
"""
import json
import sys
from pathlib import Path

CRITERION = Path(__file__).resolve().parent.parent / "target" / "criterion"


def criterion_median_ms(group: str, name: str):
    """Median of a criterion benchmark in ms, or None when it has not been run."""
    est = CRITERION / group / name / "new" / "estimates.json"
    if not est.exists():
        return None
    return json.loads(est.read_text())["median"]["point_estimate"] / 1e6


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ort = json.loads(Path(sys.argv[1]).read_text())
    print(f"{'model':40} {'tract ms':>9} {'ort ms':>8} {'ratio':>6}")
    for model, o in ort.items():
        if "@" in model or model.startswith("frame_"):
            continue
        t = criterion_median_ms("model", model)
        if t is None:
            continue
        print(f"{model:40} {t:9.2f} {o['median_ms']:8.2f} {t / o['median_ms']:6.2f}")
    print()
    for name in ("detect", "landmarks", "antispoof_pair", "embedding", "preprocess_mesh_crop"):
        t = criterion_median_ms("stage_640x480", name)
        if t is not None:
            print(f"stage {name:34} {t:9.2f}")
    for name in ("geometry", "pad", "all"):
        t = criterion_median_ms("frame_640x480", name)
        if t is not None:
            print(f"frame {name:34} {t:9.2f}")
    frame = ort.get("frame_640x480_sum")
    t = criterion_median_ms("frame_640x480", "pad")
    if frame and t:
        print(f"\nwhole frame (detect+mesh+2×PAD), tract pipeline {t:.2f} ms vs onnxruntime models alone "
              f"{frame['median_ms']:.2f} ms: ratio {t / frame['median_ms']:.2f}")


if __name__ == "__main__":
    main()
