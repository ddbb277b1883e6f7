"""Every score agrees with the measure it is built from, and the scores that misled the card
(redness on uncorrected colour, a normal under-eye, fractional counts) no longer do."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.assessment.engine import PhotoInput, assess_case
from core.assessment.metrics import BANDS, METRIC_SPECS, score_and_band

from .conftest import FAST


@pytest.mark.parametrize("name", sorted(METRIC_SPECS))
def test_score_is_monotonic_in_its_measure_and_the_band_follows_the_score(name):
    spec = METRIC_SPECS[name]
    values = np.linspace(spec.low - abs(spec.high - spec.low), spec.high + abs(spec.high - spec.low), 61)
    scores = [score_and_band(name, float(v))[0] for v in values]
    steps = np.diff(scores) * np.sign(spec.high - spec.low) * np.sign(np.diff(values))
    assert np.all(steps >= 0), name  # "more of the finding" never scores lower
    assert sorted([scores[0], scores[-1]]) == [0, 100]
    if name != "ita":
        for value, score in zip(values, scores, strict=True):
            assert score_and_band(name, float(value))[1] == BANDS[min(int(score // 25), 3)]


def test_every_reported_score_is_the_score_of_its_own_value(baseline):
    for metric in baseline.metrics:
        if metric.metric in METRIC_SPECS and math.isfinite(metric.score):
            assert metric.score == score_and_band(metric.metric, metric.value)[0], metric


def test_a_normal_under_eye_and_normal_redness_do_not_reach_moderate(baseline):
    """The astronaut is a normal studio portrait: nothing under the eyes or on the cheeks is marked."""
    for metric in baseline.metrics:
        if metric.metric in {"under_eye", "redness"}:
            assert metric.band in {"minimal", "mild", "not scored"}, metric


def test_merged_counts_are_whole_numbers(face_photo_bgr, face_points):
    case = assess_case(
        [
            PhotoInput(face_photo_bgr, "front", "a", face_points),
            PhotoInput(face_photo_bgr[:, ::-1].copy(), "front", "b"),
        ],
        FAST,
    )
    for metric in case.metrics:
        if metric.unit == "count":
            assert float(metric.value).is_integer(), metric


@pytest.mark.shared
def test_real_front_photos_exposure_never_clips_the_face_and_redness_agrees(shared_testdata):
    import cv2

    from core.assessment.canonical import MAX_FACE_CLIP
    from core.assessment.engine import assess_photo

    for name in ("frontal_goodlight_older_male_02.jpg", "frontal_evenlight_03.png"):
        image = cv2.imread(str(shared_testdata / "faces" / name))
        assert image is not None, name
        result = assess_photo(image, "front", options=FAST)
        light = result.illumination
        # At most the share the exposure step allows (glints), nowhere near the fifth of the face
        # an uncapped gain clipped.
        assert light["clipped_share_after"] <= light["clipped_share_before"] + MAX_FACE_CLIP, (name, light)
        assert light["method"] != "exposure_only", (name, light)  # colour corrected (teeth)
        # Redness is not "marked" everywhere while no region shows a red area.
        marked = [m for m in result.metrics if m.metric == "redness" and m.band == "marked"]
        assert len(marked) <= 2, (name, [(m.region, m.value) for m in marked])


@pytest.mark.shared
def test_a_retake_keeps_the_band_of_the_scores_fitted_to_people(shared_testdata):
    """Two standard front photos whose white reference (the teeth) holds in every capture: as
    taken, re-encoded, shifted by 2-3 px and 3 % smaller are two shots of one sitting, and the
    bands of the measures whose slopes were fitted to the spread across people stay put. With
    the earlier slopes 9 of the 155 comparisons changed band (redness 10-25 a* among them)."""
    import cv2

    from benchmarks.eval_repeatability import CAPTURES
    from core.assessment.engine import assess_photo

    fitted = {"redness", "tone_evenness", "under_eye", "symmetry"}
    compared = changed = 0
    for name in ("frontal_goodlight_older_male_02.jpg", "frontal_goodlight_medium_dark_skin_01.jpg"):
        image = cv2.imread(str(shared_testdata / "faces" / name))
        assert image is not None, name
        results = [assess_photo(make(image), "front", options=FAST) for _, make in CAPTURES]
        assert {r.illumination["method"] for r in results} == {"teeth"}, name  # the premise
        first = {(m.metric, m.region): m.band for m in results[0].metrics if m.metric in fitted}
        for result in results[1:]:
            for metric in result.metrics:
                if (metric.metric, metric.region) in first:
                    compared += 1
                    changed += metric.band != first[(metric.metric, metric.region)]
    assert compared >= 120
    assert changed <= 0.03 * compared, (changed, compared)
