"""Skin tone (ITA) on real photos labelled by a person, light to dark skin (issue 13).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eval_skin_tone.py [--fit] [--photos] [--half tune]

Every photo of ../shared/testdata/faces_labels.csv with a skin-tone label is assessed as a front
photo on its own (no quality gate, no other photos of a case). The photos are split into a "tune"
and a "held" half by a hash of the file name; the exposure-anchor constants of
core/assessment/canonical.py were fitted on the tune half only (`--fit`), and each half must hold
the criteria on its own (tests/assessment/test_skin_tone.py):
- median ITA ordered light > medium > brown > dark;
- every dark-labelled photo below 10 deg or "not measurable";
- no measured category more than one step from the label.
Printed: per half and tone, how many photos got an ITA, their median and range, and which anchor
set the exposure; `--photos` lists every photo; `--fit` shows, per anchor source, the factor on
its target (canonical.ANCHOR_TARGETS) that fits the tune half best; `--fit-tint` the teeth's tint
(canonical.TEETH_TINT) over an eye white or background of the same photo on the tune half.
`--half tune` assesses and prints the tune half alone: design and fit without seeing the held half.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.assessment.engine import AssessmentOptions, assess_photo  # noqa: E402
from core.assessment.metrics import ITA_CATEGORIES, ita_category, ita_degrees  # noqa: E402
from core.paths import shared_testdata_dir  # noqa: E402

OPTIONS = AssessmentOptions(run_registry=False, evidence=False)
TONES = ("light", "medium", "brown", "dark")
ORDER = [name for _, name in ITA_CATEGORIES] + ["dark"]
# The labeller's four words on the six ITA categories (Chardon / Del Bino).
LABEL_CATEGORIES = {"light": {"very light", "light"}, "medium": {"intermediate"}, "brown": {"tan"},
                    "dark": {"brown", "dark"}}  # fmt: skip
DARK_LIMIT = 10.0  # a dark-labelled photo must read below this ITA (or not measurable)


@dataclass(frozen=True)
class SkinToneRow:
    file: str
    half: str  # tune | held
    tone: str  # the label
    ita: float | None  # None: not measurable (or no face found)
    anchor: str | None
    lightness: float | None = None  # L*, b* of the skin at the anchored exposure
    b_star: float | None = None
    refused: str = ""  # why each reference seen could not anchor ("sclera: coloured, teeth: uneven")


def half(file_name: str) -> str:
    """The half, "tune" or "held", by a hash of the file name (as eval_repeatability.half_of)."""
    return "tune" if int(hashlib.sha256(file_name.encode()).hexdigest(), 16) % 2 == 0 else "held"


def category_steps(tone: str, ita: float) -> int:
    """How many ITA categories the measured one is from the nearest the label allows."""
    return min(abs(ORDER.index(ita_category(ita)) - ORDER.index(c)) for c in LABEL_CATEGORIES[tone])


def measured_skin_tones(
    directory: Path, options: AssessmentOptions = OPTIONS, halves: tuple[str, ...] = ("tune", "held")
) -> list[SkinToneRow]:
    with (directory / "faces_labels.csv").open() as handle:
        labels = [
            row
            for row in csv.DictReader(handle)
            if row["skin_tone"] in LABEL_CATEGORIES and half(Path(row["file"]).name) in halves
        ]
    rows = []
    for label in labels:
        image = cv2.imread(str(directory / label["file"]))
        if image is None:
            raise FileNotFoundError(directory / label["file"])
        result = assess_photo(np.asarray(image), "front", options=options)
        metric = result.metric("ita", "face") if result.status == "assessed" else None
        value = metric.value if metric is not None and math.isfinite(metric.value) else None
        anchor = result.illumination.get("skin_tone_anchor") if result.status == "assessed" else None
        details = metric.details if metric is not None else {}
        unusable = result.illumination.get("anchor_unusable") or {} if result.status == "assessed" else {}
        refused = ", ".join(f"{source}: {reason}" for source, reason in sorted(unusable.items()))
        if result.status != "assessed":
            refused = f"not assessed ({result.status})"
        elif value is None and metric is not None and anchor:
            method = result.illumination.get("method")
            why = f"anchored, yet b* {details.get('b')} / white balance {method}"
            refused = ", ".join(filter(None, [refused, why]))
        rows.append(
            SkinToneRow(
                label["file"], half(Path(label["file"]).name), label["skin_tone"], value,
                anchor if value is not None else None, details.get("L"), details.get("b"), refused,
            )
        )  # fmt: skip
    return rows


def criteria_failures(rows: list[SkinToneRow]) -> list[str]:
    """What breaks the known-groups criteria, per half (empty when both halves hold them)."""
    failures = []
    for part in sorted({r.half for r in rows}, reverse=True):
        mine = [r for r in rows if r.half == part]
        for row in mine:
            if row.ita is None:
                continue  # "skin tone not measurable" is an allowed answer
            if row.tone == "dark" and row.ita >= DARK_LIMIT:
                failures.append(f"{part}: dark-labelled {row.file} reads {row.ita:.1f} deg")
            if category_steps(row.tone, row.ita) > 1:
                failures.append(
                    f"{part}: {row.tone} {row.file} reads {ita_category(row.ita)} ({row.ita:.1f} deg)"
                )
        medians = [m for tone in TONES if (m := tone_median(mine, tone)) is not None]
        if medians != sorted(medians, reverse=True):
            failures.append(f"{part}: medians not ordered light > medium > brown > dark: {medians}")
    return failures


def tone_median(rows: list[SkinToneRow], tone: str) -> float | None:
    values = [r.ita for r in rows if r.tone == tone and r.ita is not None]
    return float(np.median(values)) if values else None


def print_table(rows: list[SkinToneRow]) -> None:
    print(f"{'half':<5} {'label':<7} {'ITA / n':>8} {'median':>7} {'range':>15} {'steps off':>9}  anchors")
    for part in sorted({r.half for r in rows}, reverse=True):
        for tone in TONES:
            mine = [r for r in rows if r.half == part and r.tone == tone]
            values = [r.ita for r in mine if r.ita is not None]
            median = tone_median(mine, tone)
            span = f"{min(values):.1f}..{max(values):.1f}" if values else "-"
            anchors = sorted({str(r.anchor) for r in mine if r.ita is not None})
            # Categories off the label, per measured photo (0: a category the label allows).
            steps = "".join(str(category_steps(tone, v)) for v in sorted(values)) or "-"
            print(
                f"{part:<5} {tone:<7} {len(values):>3} / {len(mine):<2} "
                f"{'-' if median is None else f'{median:.1f}':>7} {span:>15} {steps:>9}  {', '.join(anchors)}"
            )
    total = sum(r.ita is not None for r in rows)
    print(f"coverage: {total} of {len(rows)} labelled photos got an ITA")
    failures = criteria_failures(rows)
    print("criteria: " + ("held on both halves" if not failures else "; ".join(failures)))


def reexposed_ita(row: SkinToneRow, factor: float) -> float:
    """The row's ITA had its anchor's target been `factor` times what it is (L*, b* re-exposed)."""
    assert row.lightness is not None and row.b_star is not None
    luminance = ((row.lightness + 16.0) / 116.0) ** 3 * factor
    lightness = 116.0 * luminance ** (1 / 3) - 16.0
    return ita_degrees(lightness, row.b_star * factor ** (1 / 3))


def label_distance(tone: str, ita: float) -> float:
    """Degrees outside the ITA range of the label's categories (0 inside)."""
    limits = {"light": (41.0, 90.0), "medium": (28.0, 41.0), "brown": (10.0, 28.0), "dark": (-90.0, 10.0)}
    low, high = limits[tone]
    return max(low - ita, 0.0, ita - high)


def fit_targets(rows: list[SkinToneRow]) -> None:
    """Per anchor source: the factor on its target that brings the tune half's ITAs closest to their
    labels' ranges (least squares of the degrees outside), and how the held half fares with it."""
    print("\nfit on the tune half (factor on canonical.ANCHOR_TARGETS; 1.00 = as now)")
    factors = np.round(np.arange(0.70, 1.41, 0.02), 2)
    for source in ("", "eye white", "teeth"):  # "": every anchored photo, one factor for both
        used = [
            r
            for r in rows
            if r.ita is not None and r.anchor and source in r.anchor and r.lightness is not None
        ]
        for part in ("tune", "held"):
            mine = [r for r in used if r.half == part]
            if not mine:
                continue
            costs = [sum(label_distance(r.tone, reexposed_ita(r, f)) ** 2 for r in mine) for f in factors]
            best = float(factors[int(np.argmin(costs))])
            now = sum(label_distance(r.tone, r.ita) ** 2 for r in mine if r.ita is not None)
            print(
                f"  {source or 'both':<10} {part}: {len(mine)} photos, best factor {best:.2f} (cost {min(costs):.0f}; now {now:.0f})"
            )


def fit_teeth_tint(directory: Path) -> None:
    """canonical.TEETH_TINT from the tune half: the teeth's linear RGB over an eye white's or the
    background's in the same photo (each pair where both are found), the median per channel,
    scaled to luminance 1."""
    from core.assessment import canonical as canon
    from core.vision.landmarks import detect_landmarks, points_px

    with (directory / "faces_labels.csv").open() as handle:
        files = [r["file"] for r in csv.DictReader(handle) if r["skin_tone"] in LABEL_CATEGORIES]
    logs = []
    for file in files:
        image = cv2.imread(str(directory / file))
        landmarks = None if image is None or half(Path(file).name) != "tune" else detect_landmarks(image)
        if image is None or landmarks is None:
            continue
        points = points_px(landmarks, with_z=True, dtype=np.float64)
        raw, _, canonical_points, scale = canon._warp_to_canonical(image, points, canon.CANONICAL_SIZE)
        linear = canon.srgb_to_linear(raw[..., ::-1] / 255.0)
        skin = canon._skin_colour(linear, canonical_points)
        least = canon.min_reference_pixels(canonical_points)
        teeth, _ = canon.white_level(
            linear, canon.teeth_mask(canonical_points, raw.shape[:2], scale), skin, "teeth", least
        )
        sclera, _ = canon.white_level(
            linear, canon.eye_white_mask(linear, canonical_points), skin, "sclera", least
        )
        wall = canon.background_reference(image, points, skin)
        if teeth is None:
            continue
        own = np.asarray(teeth.rgb) * np.asarray(canon.TEETH_TINT)  # as measured, before the tint
        for other in (sclera, wall):
            if other is not None:
                logs.append(np.log(own / np.asarray(other.rgb)))
    if not logs:
        return
    tint = np.exp(np.median(np.array(logs), axis=0))
    tint /= float(tint @ np.array([0.2126, 0.7152, 0.0722]))
    print(
        f"\nteeth tint (tune half, {len(logs)} pairs): {np.round(tint, 3).tolist()} (now {canon.TEETH_TINT})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--photos", action="store_true")
    parser.add_argument("--fit-tint", action="store_true", help="fit canonical.TEETH_TINT on the tune half")
    parser.add_argument("--half", choices=("tune", "held", "both"), default="both")
    args = parser.parse_args()
    directory = shared_testdata_dir()
    if not (directory / "faces_labels.csv").is_file():
        print("shared test data absent: nothing to evaluate")
        return 0
    rows = measured_skin_tones(directory, halves=("tune", "held") if args.half == "both" else (args.half,))
    if args.photos:
        for row in sorted(rows, key=lambda r: (r.half, TONES.index(r.tone), r.file)):
            shown = "not measurable" if row.ita is None else f"{row.ita:6.1f} {ita_category(row.ita)}"
            print(
                f"{row.half:<5} {row.tone:<7} {Path(row.file).name:<45} {shown:<22} "
                f"{row.anchor or '':<20} {row.refused}"
            )
    print_table(rows)
    if args.fit:
        fit_targets(rows)
    if args.fit_tint:
        fit_teeth_tint(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
