"""Repeatability of each measure the follow-up loop shows, on standard photos (issue 13).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eval_repeatability.py [--video-frames 8]

A progress chart is only worth reading if a retake of the same face under the same conditions
gives nearly the same numbers. Each standard front photo of ../shared/testdata (labelled an
acceptable clinical front photo in faces_labels.csv) is assessed as captures that differ only as
two shots of one sitting do: the photo as it is, re-encoded (JPEG q85), shifted by a few pixels
(3, 2) and (-2, -3), and 3 % smaller. Each capture is assessed on its own, as a visit is.

Per measure (the ones a treatment or a concern puts on the chart, core.care.progress and
core.assessment.findings.CONCERN_MEASURES, plus skin tone), over every (photo, region) series:
- CV %: median of the coefficient of variation of the value across the captures (series whose
  mean is ~0, e.g. no brown spots anywhere, have no CV and are counted apart);
- score SD: the pooled (root-mean-square) standard deviation of the 0-100 score;
- band changes: the share of series whose band is not the same in every capture.
`--video-frames N` adds the same table over N consecutive frames of the face video (a talking
face: expression changes, which a clinic's standard photo does not have).
`--fit-scores` fits the score mappings of metrics.METRIC_SPECS to the spread of each measure across
people on one half of the labelled photos (split by a hash of the file name) and shows how the
other half falls into the bands with the present and the fitted mapping.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.assessment.engine import AssessmentOptions, assess_photo  # noqa: E402
from core.assessment.findings import CONCERN_MEASURES  # noqa: E402
from core.assessment.metrics import METRIC_SPECS  # noqa: E402
from core.care.progress import TREATMENT_MEASURES  # noqa: E402
from core.paths import shared_testdata_dir  # noqa: E402

OPTIONS = AssessmentOptions(run_registry=False, evidence=False)
SHOWN = sorted(
    {m for ms in TREATMENT_MEASURES.values() for m in ms} | {m for ms in CONCERN_MEASURES.values() for m in ms}
    | {"ita"}
)  # fmt: skip
ZERO = 1e-6


def _shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def _reencode(image: np.ndarray, quality: int = 85) -> np.ndarray:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise ValueError("JPEG round trip failed")
    return np.asarray(decoded)


def _smaller(image: np.ndarray, factor: float = 0.97) -> np.ndarray:
    height, width = image.shape[:2]
    return cv2.resize(image, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA)


CAPTURES: tuple[tuple[str, Callable[[np.ndarray], np.ndarray]], ...] = (
    ("as taken", lambda image: image),
    ("JPEG q85", _reencode),
    ("shift (3, 2) px", lambda image: _shift(image, 3, 2)),
    ("shift (-2, -3) px", lambda image: _shift(image, -2, -3)),
    ("3 % smaller", _smaller),
)


def standard_photos(root: Path) -> list[Path]:
    """The photos a person labelled acceptable clinical front photos."""
    with (root / "faces_labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [root / row["file"] for row in rows if row["clinical_front_ok"] == "yes"]


Series = dict[tuple[str, str], list[tuple[float, float, str]]]  # (metric, region) -> (value, score, band)


def measure_series(images: Sequence[np.ndarray]) -> Series | None:
    """Each image assessed on its own; None when any of them could not be measured."""
    series: Series = defaultdict(list)
    for image in images:
        result = assess_photo(image, "front", options=OPTIONS)
        if result.status != "assessed":
            return None
        for metric in result.metrics:
            if metric.metric in SHOWN:
                series[(metric.metric, metric.region)].append(
                    (float(metric.value), float(metric.score), str(metric.band))
                )
    return {key: rows for key, rows in series.items() if len(rows) == len(images)}


def summarise(all_series: list[Series]) -> list[tuple[str, int, int, float, float, float]]:
    """Per measure: series, series with a CV, median CV %, pooled score SD, band-change share."""
    cvs: dict[str, list[float]] = defaultdict(list)
    score_var: dict[str, list[float]] = defaultdict(list)
    band_changes: dict[str, list[bool]] = defaultdict(list)
    for series in all_series:
        for (metric, _region), rows in series.items():
            values = np.array([v for v, _, _ in rows])
            scores = np.array([s for _, s, _ in rows])
            if np.all(np.isfinite(scores)):
                score_var[metric].append(float(np.var(scores, ddof=1)))
            band_changes[metric].append(len({b for _, _, b in rows}) > 1)
            if np.all(np.isfinite(values)) and abs(values.mean()) > ZERO:
                cvs[metric].append(float(values.std(ddof=1) / abs(values.mean()) * 100))
    table = []
    for metric in SHOWN:
        if metric not in band_changes:
            continue
        variances = score_var.get(metric, [])
        table.append(
            (
                metric,
                len(band_changes[metric]),
                len(cvs.get(metric, [])),
                float(np.median(cvs[metric])) if cvs.get(metric) else math.nan,
                math.sqrt(float(np.mean(variances))) if variances else math.nan,
                float(np.mean(band_changes[metric]) * 100),
            )
        )
    return table


# Score mappings (metrics.METRIC_SPECS low/high) fitted to the spread across people: mild starts
# at about the 75th percentile of people (median + 0.674 sigma), each band is one sigma wide, so
# moderate starts near the 95th. Measures whose median person shows none (counts, red area, shine)
# and ITA (its bands are the fixed ITA categories) are not fitted; the metrics module's docstring
# says which of these candidates took the fitted mapping and why the others did not.
FITTED = ("redness", "melanin", "tone_evenness", "wrinkles", "texture", "pores", "under_eye", "symmetry")


def fit_population(root: Path) -> list[Path]:
    """Labelled photos of one frontal face in good light without a colour cast (clinic-like)."""
    with (root / "faces_labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        root / row["file"]
        for row in rows
        if row["yaw_bin"] == "frontal" and row["n_faces"] == "1" and row["lighting"] == "good"
        and row["colour_cast"] == "none"
    ]  # fmt: skip


def half_of(path: Path) -> int:
    """0 (fit) or 1 (report) by a hash of the file name: stable, independent of the listing order."""
    return int(hashlib.sha256(path.name.encode()).hexdigest(), 16) % 2


def fit_scores(root: Path) -> int:
    values: dict[int, dict[str, list[float]]] = {0: defaultdict(list), 1: defaultdict(list)}
    photos = {0: 0, 1: 0}
    for path in fit_population(root):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        result = None if image is None else assess_photo(image, "front", options=OPTIONS)
        if result is None or result.status != "assessed":
            continue
        photos[half_of(path)] += 1
        for metric in result.metrics:
            if metric.metric in FITTED and math.isfinite(metric.value) and math.isfinite(metric.score):
                values[half_of(path)][metric.metric].append(float(metric.value))
    print(f"fit half: {photos[0]} photos; report half: {photos[1]} photos")
    print(
        f"{'measure':<15} {'n fit':>5} {'median':>8} {'sigma':>7} {'low':>8} {'high':>8}   report half: % per band (now / fitted)"
    )
    for name in FITTED:
        fit = np.array(values[0][name])
        if len(fit) < 5:
            continue
        median = float(np.median(fit))
        sigma = 1.4826 * float(np.median(np.abs(fit - median)))
        if sigma <= 0:
            sigma = float(np.subtract(*np.percentile(fit, [75, 25]))) / 1.349 or float(fit.std())
        low, high = median + 0.674 * sigma - sigma, median + 0.674 * sigma + 3 * sigma
        spec = METRIC_SPECS[name]
        shares = []
        for lo, hi in ((spec.low, spec.high), (low, high)):
            scores = np.clip((np.array(values[1][name]) - lo) / (hi - lo), 0, 1) * 100
            bands = np.minimum(np.round(scores, 1) // 25, 3)
            shares.append("/".join(f"{100 * np.mean(bands == b):.0f}" for b in range(4)))
        print(
            f"{name:<15} {len(fit):5d} {median:8.2f} {sigma:7.2f} {low:8.2f} {high:8.2f}   {shares[0]:>15}  {shares[1]:>15}"
        )
    return 0


def print_table(title: str, table: list[tuple[str, int, int, float, float, float]]) -> None:
    print(f"\n== {title}")
    print(
        f"{'measure':<20} {'series':>6} {'with CV':>7} {'CV % (median)':>14} {'score SD':>9} {'band changes %':>15}"
    )
    for metric, count, with_cv, cv, score_sd, bands in table:
        print(f"{metric:<20} {count:6d} {with_cv:7d} {cv:14.2f} {score_sd:9.2f} {bands:15.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--video-frames", type=int, default=0, help="also N consecutive frames of the face video"
    )
    parser.add_argument(
        "--fit-scores",
        action="store_true",
        help="fit the score mappings on one half of the labelled photos, report on the other",
    )
    args = parser.parse_args()
    root = shared_testdata_dir()
    if not (root / "faces_labels.csv").is_file():
        print("shared test data absent: nothing to measure")
        return 0
    if args.fit_scores:
        return fit_scores(root)
    photos = standard_photos(root)
    measured: list[Series] = []
    skipped: list[str] = []
    for path in photos:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        series = None if image is None else measure_series([make(image) for _, make in CAPTURES])
        if series is None:
            skipped.append(path.name)
        else:
            measured.append(series)
    print(
        f"standard front photos: {len(measured)} of {len(photos)} measured in every capture"
        + (f" (not measurable: {', '.join(skipped)})" if skipped else "")
    )
    print("captures per photo: " + "; ".join(name for name, _ in CAPTURES))
    print_table("Repeatability over captures of one standard photo", summarise(measured))
    if args.video_frames > 1:
        capture = cv2.VideoCapture(str(root / "video" / "face_closeup_pexels_640x480.mp4"))
        frames = []
        while len(frames) < args.video_frames:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
        video = measure_series(frames)
        if video is not None:
            print_table(
                f"Repeatability over {len(frames)} consecutive video frames (talking face)",
                summarise([video]),
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
