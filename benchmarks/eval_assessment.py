"""Evaluation tables for the AI pre-assessment: response tests and repeatability.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eval_assessment.py [--frames 10]

1. Response table (generated face = scikit-image astronaut): each edit, the metric it should
   move, its change, and the largest change of the same metric in regions that were not edited.
2. Repeatability: coefficient of variation of each metric over consecutive frames of
   ../shared/testdata/video/face_closeup_pexels_640x480.mp4, and full vs half-size photo
   difference on real faces (skipped without the shared test data).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.assessment import canonical as canon  # noqa: E402
from core.assessment.colour_chart import place_chart_beside, render_reference_chart  # noqa: E402
from core.assessment.engine import (  # noqa: E402
    AssessmentOptions,
    PhotoInput,
    assess_case,
    assess_photo,
)
from core.paths import shared_testdata_dir  # noqa: E402
from core.vision.landmarks import detect_landmarks, points_px  # noqa: E402
from core.vision.quality import check_photo  # noqa: E402

OPTIONS = AssessmentOptions(run_registry=False, evidence=False)
REPEAT_METRICS = (
    ("ita", "face"), ("redness", "cheek_left"), ("redness", "cheek_right"), ("redness", "forehead"),
    ("melanin", "cheek_left"), ("melanin", "forehead"), ("tone_evenness", "cheek_left"),
    ("texture", "cheek_left"), ("texture", "nose"), ("pores", "cheek_left"), ("wrinkles", "forehead"),
    ("wrinkles", "crows_feet_left"), ("shine", "forehead"), ("under_eye", "under_eye_left"), ("symmetry", "face"),
)  # fmt: skip


def astronaut_face() -> np.ndarray:
    from skimage import data

    crop = np.ascontiguousarray(data.astronaut()[0:300, 90:340])
    return cv2.resize(crop[..., ::-1], (820, 984), interpolation=cv2.INTER_CUBIC)


def value(assessment, metric: str, region: str, field: str = "value") -> float:
    """The metric's value (or its `score`); NaN when the photo has no such metric."""
    found = assessment.metric(metric, region)
    return float("nan") if found is None else getattr(found, field)


def to_source(points: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, float]:
    inverse = cv2.invertAffineTransform(canon.similarity_to_canonical(points))
    out = np.asarray(xy, float).reshape(-1, 2) @ inverse[:, :2].T + inverse[:, 2]
    return out, float(np.sqrt(abs(np.linalg.det(inverse[:, :2]))))


def response_table() -> None:
    image = astronaut_face()
    landmarks = detect_landmarks(image)
    assert landmarks is not None, "the astronaut face must be found"
    points = points_px(landmarks, with_z=True, dtype=np.float64)
    base = assess_photo(image, "front", points, options=OPTIONS)
    masks = base.region_masks
    edits = []

    # Red patch on the patient's left cheek
    ys, xs = np.nonzero(masks["cheek_left"])
    centre, scale = to_source(points, [[xs.mean(), ys.mean()]])
    weight = np.zeros(image.shape[:2], np.float32)
    cv2.circle(weight, tuple(np.round(centre[0]).astype(int)), int(22 * scale), 1.0, -1)
    weight = cv2.GaussianBlur(weight, (0, 0), 3 * scale)[..., None]
    red = (image * (1 - weight) + np.clip(image * [0.85, 0.72, 1.12], 0, 255) * weight).astype(np.uint8)
    edits.append(("red patch, cheek_left", red, "redness", "cheek_left"))

    # Five brown spots on the right cheek
    ys, xs = np.nonzero(cv2.erode(masks["cheek_right"].astype(np.uint8), np.ones((9, 9), np.uint8)))
    chosen: list[np.ndarray] = []
    for index in np.argsort(xs * 1000 + ys):
        candidate = np.array([xs[index], ys[index]], float)
        if all(np.linalg.norm(candidate - c) >= 14 for c in chosen):
            chosen.append(candidate)
    picks = np.array([chosen[i] for i in np.linspace(0, len(chosen) - 1, 5).round().astype(int)])
    spotted = image.copy()
    centres, scale = to_source(points, picks)
    for c in centres:
        cv2.circle(
            spotted, tuple(np.round(c).astype(int)), int(round(3.5 * scale)), (60, 85, 115), -1, cv2.LINE_AA
        )
    edits.append(("5 brown spots, cheek_right", spotted, "brown_spots", "cheek_right"))

    # Three fine dark lines on the forehead
    ys, xs = np.nonzero(masks["forehead"])
    lined = image.copy()
    for fraction in (0.3, 0.55, 0.8):
        y = ys.min() + (ys.max() - ys.min()) * fraction
        ends, scale = to_source(points, [[xs.min() + 10, y], [xs.max() - 10, y + 2]])
        cv2.line(lined, tuple(np.round(ends[0]).astype(int)), tuple(np.round(ends[1]).astype(int)),
                 (95, 110, 140), max(1, int(round(1.2 * scale))), cv2.LINE_AA)  # fmt: skip
    edits.append(("3 fine lines, forehead", lined, "wrinkles", "forehead"))

    grain = np.clip(image + np.random.default_rng(3).normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    grain_assessment = assess_photo(grain, "front", points, options=OPTIONS)
    smooth = cv2.bilateralFilter(grain, 9, 40, 5)

    print("\n== Response tests (astronaut; left/right = patient's)")
    print(
        f"{'edit':<30} {'metric':<14} {'region':<12} {'before':>8} {'after':>8} {'change':>8} {'max other':>10}"
    )
    for name, edited_image, metric, region in edits:
        edited = assess_photo(edited_image, "front", points, options=OPTIONS)
        before, after = value(base, metric, region), value(edited, metric, region)
        others = [
            abs(value(edited, metric, r) - value(base, metric, r)) for r in masks if r not in (region, "lips")
        ]
        others = [o for o in others if np.isfinite(o)]
        print(
            f"{name:<30} {metric:<14} {region:<12} {before:8.2f} {after:8.2f} {after - before:+8.2f} {max(others):10.2f}"
        )
    smoothed = assess_photo(smooth, "front", points, options=OPTIONS)
    for metric in ("texture", "pores"):
        for region in ("cheek_left", "cheek_right", "nose"):
            before, after = value(grain_assessment, metric, region), value(smoothed, metric, region)
            print(
                f"{'bilateral smoothing':<30} {metric:<14} {region:<12} {before:8.2f} {after:8.2f} {after - before:+8.2f} {'':>10}"
            )
    # A warm, dim light on the face with a ColorChecker beside it: skin tone with and without the chart.
    scene, _ = place_chart_beside(image, render_reference_chart())
    ita_change_rows(scene, canon.relight(scene, (0.95, 0.78, 0.55)), points, "warm dim light", "colour_chart",
                    ("chart used", "chart ignored"))  # fmt: skip
    darker = (image.astype(np.float32) * 0.72).astype(np.uint8)
    ita_change_rows(image, darker, points, "darken x0.72", "white_balance", ("WB on", "WB off"))


def ita_change_rows(
    image: np.ndarray,
    changed: np.ndarray,
    points: np.ndarray,
    name: str,
    option: str,
    labels: tuple[str, str],
) -> None:
    """ITA before and after a change of light, with an illumination option on and then off."""
    for enabled, label in zip((True, False), labels, strict=True):
        options = AssessmentOptions(run_registry=False, evidence=False, **{option: enabled})
        before = value(assess_photo(image, "front", points, options=options), "ita", "face")
        after = value(assess_photo(changed, "front", points, options=options), "ita", "face")
        row = f"{name} ({label})"
        print(
            f"{row:<30} {'ita':<14} {'face':<12} {before:8.2f} {after:8.2f} {after - before:+8.2f} {'':>10}"
        )


def cv_percent(values: list[float]) -> float:
    array = np.array([v for v in values if np.isfinite(v)])
    if len(array) < 2 or abs(array.mean()) < 1e-9:
        return float("nan")
    return float(array.std() / abs(array.mean()) * 100)


def repeatability_table(frame_count: int) -> None:
    root = shared_testdata_dir()
    video = root / "video" / "face_closeup_pexels_640x480.mp4"
    if not video.is_file():
        print("\n(shared test data absent: repeatability skipped)")
        return
    capture = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < frame_count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    independent = [assess_photo(f, "front", options=OPTIONS) for f in frames]
    independent = [r for r in independent if r.status == "assessed"]
    # What the portal does with a captured set: the quality gate first (a blink fails it), then one
    # case, whose photos share the white balance pooled from their eye whites.
    checks = [check_photo(f, "front") for f in frames]
    gated = [
        PhotoInput(f, "front", f"frame{i}", None, q)
        for i, (f, q) in enumerate(zip(frames, checks, strict=True))
    ]
    session = [p for p in assess_case(gated, OPTIONS).photos if p.status == "assessed"]
    methods = sorted({str(r.illumination.get("method")) for r in independent})
    photos = [
        "frontal_goodlight_older_male_02.jpg",
        "frontal_evenlight_03.png",
        "frontal_goodlight_medium_dark_skin_01.jpg",
    ]
    pairs = []
    for name in photos:
        image = cv2.imread(str(root / "faces" / name))
        half = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        pairs.append(
            (assess_photo(image, "front", options=OPTIONS), assess_photo(half, "front", options=OPTIONS))
        )

    print(
        f"\n== Repeatability: CV % over consecutive video frames; full vs half size (CV % of the pair, mean of {len(pairs)} photos)"
    )
    print(
        f"   each frame alone: {len(independent)} frames, white balance methods {methods}; "
        f"as one case after the quality gate: {len(session)} of {len(frames)} frames passed"
    )
    print(
        f"{'metric':<14} {'region':<16} {'case mean':>10} {'case SD':>8} {'case CV%':>9} "
        f"{'score SD':>9} {'alone CV%':>10} {'half CV%':>9}"
    )
    for metric, region in REPEAT_METRICS:
        alone = [value(r, metric, region) for r in independent]
        together = [value(r, metric, region) for r in session]
        pair_cv = [cv_percent([value(a, metric, region), value(b, metric, region)]) for a, b in pairs]
        pair_cv = [p for p in pair_cv if np.isfinite(p)]
        mean = np.nanmean(together) if together else float("nan")
        spread = np.nanstd(together) if together else float("nan")
        # CV is meaningless for values near zero (no pores, no lines): the score's spread on its
        # 0-100 scale says how much the physician would see move.
        scores = [value(r, metric, region, "score") for r in session]
        score_spread = np.nanstd(scores) if scores else float("nan")
        half = np.mean(pair_cv) if pair_cv else float("nan")
        print(
            f"{metric:<14} {region:<16} {mean:10.2f} {spread:8.2f} {cv_percent(together):9.2f} "
            f"{score_spread:9.2f} {cv_percent(alone):10.2f} {half:9.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()
    response_table()
    repeatability_table(args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
