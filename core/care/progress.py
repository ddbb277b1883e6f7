"""What a progress chart shows first, and the trend it states (pure rules, no storage).

- `TREATMENT_MEASURES` — the one place that says which measures a treatment is meant to change
  (lines for botulinum toxin, redness for vascular laser/IPL, brown spots and pigment for pigment
  treatments, ...). Treatments whose effect depends on what they treat (a topical, "other") have
  none: the patient's intake concern decides (`core.assessment.findings.CONCERN_MEASURES`, the
  card's own mapping).
- `default_picks` — the (measure, region) series a chart opens on: the newest treatment's
  measures in its treated area, then the concern's, then what stands out most; never the first
  measure alphabetically.
- `trend` — the change from the baseline visit to the newest one, from the second visit on; a
  change within what a retake of the same face moves the measure (`RETAKE_CV`) reads "about the
  same".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from core.assessment.findings import CONCERN_MEASURES

# Treatment type (core.care.followup.TREATMENT_TYPES) -> the measures it is meant to change,
# most telling first.
TREATMENT_MEASURES: Final[Mapping[str, tuple[str, ...]]] = {
    "botulinum_toxin": ("wrinkles",),
    "filler": ("under_eye", "wrinkles", "symmetry"),
    "skin_booster": ("texture", "wrinkles", "tone_evenness"),
    "chemical_peel": ("brown_spots", "tone_evenness", "texture"),
    "vascular_laser": ("redness", "red_area"),
    "pigment_laser": ("brown_spots", "melanin", "tone_evenness"),
    "laser": ("texture", "wrinkles", "tone_evenness"),  # resurfacing and other light treatments
    "microneedling": ("texture", "pores"),
    "topical": (),  # a cream works on what it was prescribed for: the concern decides
    "other": (),
}

# Words in a treatment's free-text area -> the regions they name.
_AREA_WORDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("forehead", ("forehead",)),
    ("glabell", ("glabella",)),
    ("frown", ("glabella",)),
    ("crow", ("crows_feet_left", "crows_feet_right")),
    ("eye", ("under_eye_left", "under_eye_right", "crows_feet_left", "crows_feet_right")),
    ("tear", ("under_eye_left", "under_eye_right")),
    ("cheek", ("cheek_left", "cheek_right")),
    ("nasolabial", ("nasolabial_left", "nasolabial_right")),
    ("nose", ("nose",)),
    ("lip", ("perioral", "lips")),
    ("mouth", ("perioral",)),
    ("perioral", ("perioral",)),
    ("chin", ("chin",)),
)
# Measures whose chart direction has no better or worse (a skin-tone angle).
_NEUTRAL: Final[frozenset[str]] = frozenset({"ita"})
# A change smaller than this share of the baseline value always reads as "about the same".
SAME_WITHIN: Final[float] = 0.10
# How much each measure moves between retakes of one standard front photo: the median coefficient
# of variation in percent (benchmarks/eval_repeatability.py: 9 standard front photos of
# ../shared/testdata, 5 captures each: as taken, re-encoded, shifted 2-3 px, 3 % smaller).
RETAKE_CV: Final[Mapping[str, float]] = {
    "brown_spots": 37.8,
    "inflammatory_spots": 73.6,
    "ita": 1.4,
    "melanin": 2.5,
    "pores": 36.3,
    "red_area": 11.5,
    "redness": 2.1,
    "shine": 91.9,
    "symmetry": 5.6,
    "texture": 11.0,
    "tone_evenness": 2.1,
    "under_eye": 8.3,
    "wrinkles": 23.4,
}
# Two retakes differ by more than 1.96 * sqrt(2) = 2.77 times the within-face SD only 5 % of the
# time (the repeatability coefficient): a smaller change is not shown as a change.
REPEATABILITY_FACTOR: Final[float] = 2.77

PickReason = Literal["treatment", "concern", "stands_out"]
Direction = Literal["lower", "higher", "same"]


@dataclass(frozen=True)
class ChartPick:
    """One series the chart opens on, and why it was chosen."""

    metric: str
    region: str
    reason: PickReason


@dataclass(frozen=True)
class TreatedArea:
    """A recorded treatment as far as the chart cares: its type and the area as written."""

    treatment_type: str
    area: str


@dataclass(frozen=True)
class TrendPoint:
    measured_at: datetime
    value: float
    score: float | None
    band: str | None


@dataclass(frozen=True)
class Trend:
    """The change of one series from the baseline visit to the newest visit."""

    metric: str
    region: str
    first: TrendPoint
    last: TrendPoint
    visits: int
    relative: float | None  # (last - first) / |first|; None when the baseline value is 0
    direction: Direction


def measures_for(
    treatments: Sequence[TreatedArea], concerns: Sequence[str]
) -> list[tuple[str, PickReason, tuple[str, ...]]]:
    """Measures that matter, each once: the newest treatment's first (with the regions its area
    names), then the concerns'."""
    out: list[tuple[str, PickReason, tuple[str, ...]]] = []
    for treatment in reversed(treatments):
        for metric in TREATMENT_MEASURES.get(treatment.treatment_type, ()):
            if metric not in [m for m, _, _ in out]:
                out.append((metric, "treatment", area_regions(treatment.area)))
    for concern in concerns:
        for metric in CONCERN_MEASURES.get(concern, ()):
            if metric not in [m for m, _, _ in out]:
                out.append((metric, "concern", ()))
    return out


def area_regions(area: str) -> tuple[str, ...]:
    """The regions a free-text treatment area names ("forehead and glabella" -> both)."""
    text = area.lower()
    regions: list[str] = []
    for word, named in _AREA_WORDS:
        if word in text:
            regions.extend(r for r in named if r not in regions)
    return tuple(regions)


def default_picks(
    available: Sequence[tuple[str, str]],
    treatments: Sequence[TreatedArea] = (),
    concerns: Sequence[str] = (),
    scores: Mapping[tuple[str, str], float] | None = None,
    limit: int = 3,
) -> list[ChartPick]:
    """The series a chart opens on (at most `limit`, at least one when anything was measured).

    `available`: the (measure, region) pairs measured for the patient; `treatments` oldest first;
    `scores`: the baseline's 0-100 score per pair (the region that stands out most is shown when
    the treated area names none). Skin tone is never a default.
    """
    measured = {(m, r) for m, r in available if m not in _NEUTRAL}
    scores = scores or {}

    def rank(pair: tuple[str, str]) -> tuple[float, str]:
        score = scores.get(pair)
        return (-(score if score is not None and math.isfinite(score) else -1.0), pair[1])

    picks: list[ChartPick] = []
    for metric, reason, treated in measures_for(treatments, concerns):
        regions = [pair for pair in measured if pair[0] == metric]
        if not regions:
            continue
        in_area = [pair for pair in regions if pair[1] in treated]
        best = min(in_area or regions, key=rank)
        picks.append(ChartPick(best[0], best[1], reason))
        if len(picks) >= limit:
            return picks
    if not picks and measured:
        best = min(measured, key=rank)
        picks.append(ChartPick(best[0], best[1], "stands_out"))
    return picks


def same_within(metric: str) -> float:
    """The relative change below which a measure reads "about the same" (retake noise)."""
    return max(SAME_WITHIN, REPEATABILITY_FACTOR * RETAKE_CV.get(metric, 0.0) / 100)


def trend(metric: str, region: str, points: Sequence[TrendPoint]) -> Trend | None:
    """Baseline -> newest visit for one series; None before the second visit."""
    ordered = sorted(points, key=lambda p: p.measured_at)
    if len(ordered) < 2:
        return None
    first, last = ordered[0], ordered[-1]
    relative = None if first.value == 0 else (last.value - first.value) / abs(first.value)
    if relative is None:
        direction: Direction = "same" if last.value == 0 else "higher"
    elif abs(relative) < same_within(metric):
        direction = "same"
    else:
        direction = "higher" if relative > 0 else "lower"
    return Trend(metric, region, first, last, len(ordered), relative, direction)
