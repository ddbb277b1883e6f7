"""Speed of the AI pre-assessment: time per photo and per 3-view case (target <= 1 s per photo).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_assessment.py [--repeats 7] [--threads 2]

Landmark detection is included (the engine finds the face itself), the first run (model loading)
is excluded. Photos: the scikit-image astronaut, plus real faces from ../shared/testdata when present.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.assessment.engine import AssessmentOptions, PhotoInput, assess_case, assess_photo  # noqa: E402
from core.paths import shared_testdata_dir  # noqa: E402


def photos() -> list[tuple[str, np.ndarray]]:
    from skimage import data

    crop = np.ascontiguousarray(data.astronaut()[0:300, 90:340])
    found = [("astronaut 820x984", cv2.resize(crop[..., ::-1], (820, 984), interpolation=cv2.INTER_CUBIC))]
    # A phone-camera-sized photo (12 MP class): the shrink-before-warp path.
    found.append(
        ("astronaut 3280x3936", cv2.resize(crop[..., ::-1], (3280, 3936), interpolation=cv2.INTER_CUBIC))
    )
    root = shared_testdata_dir() / "faces"
    for name in ("frontal_goodlight_older_male_02.jpg", "webcam_selfie_glasses_47.jpg"):
        image = cv2.imread(str(root / name))
        if image is not None:
            found.append((f"{name} {image.shape[1]}x{image.shape[0]}", image))
    return found


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return (
        f"median {statistics.median(samples) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (n={len(samples)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--threads", type=int, default=2, help="onnxruntime intra-op threads (2 cores target)"
    )
    args = parser.parse_args()
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:2]))  # measure on 2 cores
    options = AssessmentOptions(threads=args.threads, run_registry=False)
    print(f"cores: {sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}; "
          f"onnxruntime threads {args.threads}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")  # fmt: skip
    items = photos()
    assess_photo(items[0][1], "front", options=options)  # warm-up: model loading
    for name, image in items:
        samples = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            assess_photo(image, "front", options=options)
            samples.append(time.perf_counter() - start)
        print(f"photo  {name:<45} {summary(samples)}")
    image = items[0][1]
    case_samples = []
    for _ in range(max(3, args.repeats // 2)):
        start = time.perf_counter()
        assess_case(
            [
                PhotoInput(image, "front", "f"),
                PhotoInput(image, "left_oblique", "l"),
                PhotoInput(image, "right_oblique", "r"),
            ],
            options,
        )
        case_samples.append(time.perf_counter() - start)
    print(f"case   {'3 views (astronaut)':<45} {summary(case_samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
