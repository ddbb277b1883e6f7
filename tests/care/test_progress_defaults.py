"""The progress chart opens on the measures that matter for the treatment and the concern, and
states a trend from the second visit on (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.assessment.findings import CONCERN_MEASURES, PLAIN_NAMES
from core.care.followup import AMOUNT_UNITS, FOLLOW_UP_RULES, TREATMENT_TYPES
from core.care.progress import (
    RETAKE_CV,
    SAME_WITHIN,
    TREATMENT_MEASURES,
    ChartPick,
    TreatedArea,
    TrendPoint,
    area_regions,
    default_picks,
    same_within,
    trend,
)

REGIONS = ("cheek_left", "cheek_right", "crows_feet_left", "forehead", "glabella", "nose", "under_eye_left")
METRICS = ("brown_spots", "ita", "melanin", "red_area", "redness", "texture", "tone_evenness", "wrinkles")
AVAILABLE = [(m, r) for m in METRICS for r in REGIONS]


def test_every_treatment_type_has_its_measures_and_plan_in_one_place() -> None:
    assert set(TREATMENT_MEASURES) == set(TREATMENT_TYPES) == set(FOLLOW_UP_RULES) == set(AMOUNT_UNITS)
    named = {m for measures in TREATMENT_MEASURES.values() for m in measures}
    assert named <= set(PLAIN_NAMES) - {"ita"}  # every default is a measure the card can name
    assert named <= set(RETAKE_CV)  # and its retake noise was measured
    assert TREATMENT_MEASURES["botulinum_toxin"][0] == "wrinkles"
    assert TREATMENT_MEASURES["vascular_laser"][0] == "redness"
    assert {"brown_spots", "melanin"} <= set(TREATMENT_MEASURES["pigment_laser"])


def test_toxin_opens_on_lines_in_the_treated_area_not_the_first_measure_alphabetically() -> None:
    picks = default_picks(AVAILABLE, [TreatedArea("botulinum_toxin", "Forehead and glabella")])
    assert picks[0] == ChartPick("wrinkles", "forehead", "treatment")
    assert picks[0].metric != sorted(AVAILABLE)[0][0]  # "brown_spots" was the old default


def test_vascular_laser_opens_on_redness_and_pigment_treatment_on_brown_spots() -> None:
    redness = default_picks(AVAILABLE, [TreatedArea("vascular_laser", "cheeks")])
    assert [(p.metric, p.reason) for p in redness[:2]] == [
        ("redness", "treatment"),
        ("red_area", "treatment"),
    ]
    assert redness[0].region in {"cheek_left", "cheek_right"}
    pigment = default_picks(AVAILABLE, [TreatedArea("pigment_laser", "left cheek")])
    assert [p.metric for p in pigment] == ["brown_spots", "melanin", "tone_evenness"]


def test_the_newest_treatment_comes_first_then_the_concern() -> None:
    treatments = [TreatedArea("botulinum_toxin", "forehead"), TreatedArea("vascular_laser", "nose")]
    picks = default_picks(AVAILABLE, treatments, concerns=["pigmentation_melasma"], limit=5)
    assert [p.metric for p in picks] == ["redness", "red_area", "wrinkles", "brown_spots", "melanin"]
    assert picks[0].region == "nose" and picks[-1].reason == "concern"


def test_without_a_telling_treatment_the_intake_concern_decides() -> None:
    picks = default_picks(AVAILABLE, [TreatedArea("topical", "face")], concerns=["redness_rosacea"])
    expected = [m for m in CONCERN_MEASURES["redness_rosacea"] if m in METRICS]
    assert [p.metric for p in picks] == expected and {p.reason for p in picks} == {"concern"}


def test_the_region_that_stands_out_when_the_area_names_none() -> None:
    scores = {("texture", "cheek_right"): 70.0, ("texture", "forehead"): 20.0}
    picks = default_picks(AVAILABLE, [TreatedArea("microneedling", "full face")], scores=scores)
    assert picks[0] == ChartPick("texture", "cheek_right", "treatment")
    # Nothing known about treatment or concern: the measure that stands out most, never skin tone.
    fallback = default_picks(AVAILABLE, scores={("ita", "forehead"): 99.0, ("redness", "nose"): 60.0})
    assert fallback == [ChartPick("redness", "nose", "stands_out")]
    assert default_picks([("ita", "forehead")]) == [] and default_picks([]) == []


def test_area_words_name_regions() -> None:
    assert area_regions("Glabella, crow's feet") == ("glabella", "crows_feet_left", "crows_feet_right")
    assert area_regions("LIPS") == ("perioral", "lips") and area_regions("décolleté") == ()


def _point(day: int, value: float, band: str = "mild") -> TrendPoint:
    return TrendPoint(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day), value, None, band)


def test_a_trend_from_the_second_visit_on() -> None:
    assert trend("wrinkles", "forehead", [_point(0, 8.0)]) is None
    lower = trend("redness", "cheek_left", [_point(30, 4.0, "minimal"), _point(0, 8.0), _point(14, 6.0)])
    assert lower is not None and lower.visits == 3 and lower.direction == "lower"
    assert lower.first.value == 8.0 and lower.last.band == "minimal" and lower.relative == -0.5
    same = trend("redness", "cheek_left", [_point(0, 10.0), _point(14, 10.0 * (1 + SAME_WITHIN / 2))])
    assert same is not None and same.direction == "same"
    # Lines move about a quarter between retakes of one photo: halving them is within that noise,
    # while a fall to a fifth is a change.
    assert same_within("wrinkles") > 0.5 > same_within("redness") == SAME_WITHIN
    noisy = trend("wrinkles", "forehead", [_point(0, 8.0), _point(14, 4.0)])
    assert noisy is not None and noisy.direction == "same"
    clear = trend("wrinkles", "forehead", [_point(0, 8.0), _point(14, 1.6)])
    assert clear is not None and clear.direction == "lower"
    from_zero = trend("brown_spots", "cheek_left", [_point(0, 0.0), _point(14, 2.0)])
    assert from_zero is not None and from_zero.relative is None and from_zero.direction == "higher"
