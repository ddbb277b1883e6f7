"""Colour calibration from a ColorChecker Classic in the photo (OpenCV mcc + ccm)."""

from __future__ import annotations

import numpy as np
import pytest

from core.assessment import canonical as canon
from core.assessment.colour_chart import (
    find_colour_chart,
    place_chart_beside,
    reference_patches_bgr,
    render_reference_chart,
)
from core.assessment.engine import AssessmentOptions, assess_photo

from .conftest import FAST, ita_of

NO_CHART = AssessmentOptions(colour_chart=False, run_registry=False, evidence=False)
PATCH, GAP, BORDER = 50, 10, 16


def _measured(metric) -> float:
    return ita_of(metric) if metric.metric == "ita" else metric.value


def render_chart() -> np.ndarray:
    return render_reference_chart(PATCH, GAP, BORDER)


def patch_centres(origin: tuple[int, int]) -> list[tuple[int, int]]:
    x0, y0 = origin
    return [
        (x0 + BORDER + c * (PATCH + GAP) + PATCH // 2, y0 + BORDER + r * (PATCH + GAP) + PATCH // 2)
        for r in range(4)
        for c in range(6)
    ]


def with_chart_beside(face: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    return place_chart_beside(face, render_chart())


def lit_by(image: np.ndarray, gains_rgb: tuple[float, float, float]) -> np.ndarray:
    return canon.relight(image, gains_rgb)


WARM_AND_DIM = (0.95, 0.78, 0.55)


def test_chart_is_found_and_its_fit_restores_the_patch_colours(face_photo_bgr):
    scene, origin = with_chart_beside(face_photo_bgr)
    warm = lit_by(scene, WARM_AND_DIM)
    calibration = find_colour_chart(warm)
    assert calibration is not None
    assert calibration.fit_error < 3.0
    x0, y0 = origin
    assert np.allclose(calibration.box.min(axis=0), (x0 + BORDER, y0 + BORDER), atol=15)
    corrected = calibration.correct(warm)
    reference = reference_patches_bgr().astype(float)
    before = [np.abs(warm[y - 8 : y + 8, x - 8 : x + 8].reshape(-1, 3).mean(0) - reference[i]).max()
              for i, (x, y) in enumerate(patch_centres(origin))]  # fmt: skip
    after = [np.abs(corrected[y - 8 : y + 8, x - 8 : x + 8].reshape(-1, 3).mean(0) - reference[i]).max()
             for i, (x, y) in enumerate(patch_centres(origin))]  # fmt: skip
    assert np.median(after) < 8 and np.median(before) > 4 * np.median(after), (
        np.median(before),
        np.median(after),
    )


def test_no_chart_no_calibration(face_photo_bgr):
    assert find_colour_chart(face_photo_bgr) is None


def test_a_chart_makes_skin_colour_independent_of_the_light(face_photo_bgr, face_points):
    scene, _ = with_chart_beside(face_photo_bgr)
    daylight = assess_photo(scene, "front", face_points, options=FAST)
    warm = assess_photo(lit_by(scene, WARM_AND_DIM), "front", face_points, options=FAST)
    uncalibrated = assess_photo(lit_by(scene, WARM_AND_DIM), "front", face_points, options=NO_CHART)
    assert daylight.illumination["method"] == warm.illumination["method"] == "colour_chart"
    assert warm.illumination["fit_error_de2000"] < 3.0
    for metric, region, tolerance in (("ita", "face", 2.5), ("redness", "cheek_left", 1.0)):
        calibrated_gap = abs(
            _measured(warm.metric(metric, region)) - _measured(daylight.metric(metric, region))
        )
        assert calibrated_gap < tolerance, (metric, calibrated_gap)
    # Without the chart, the eye white alone leaves a larger error on the same photo.
    ita_gap = abs(ita_of(uncalibrated.metric("ita", "face")) - ita_of(daylight.metric("ita", "face")))
    assert ita_gap > abs(ita_of(warm.metric("ita", "face")) - ita_of(daylight.metric("ita", "face")))


@pytest.mark.parametrize("lit", [False, True])
def test_close_up_with_a_chart_is_calibrated_and_the_chart_is_not_measured_as_skin(lit):
    rng = np.random.default_rng(5)
    skin = np.clip(rng.normal((150, 170, 215), 6, (700, 1000, 3)), 0, 255).astype(np.uint8)  # BGR skin tone
    chart = render_chart()
    skin[40 : 40 + chart.shape[0], 560 : 560 + chart.shape[1]] = chart
    image = lit_by(skin, WARM_AND_DIM) if lit else skin
    result = assess_photo(image, "close_up", options=FAST)
    assert result.illumination["method"] == "colour_chart"
    assert not any("no neutral reference" in note for m in result.metrics for note in m.reliability)
    mask = result.region_masks["skin"]
    factor = mask.shape[1] / image.shape[1]
    centre = (int((560 + chart.shape[1] / 2) * factor), int((40 + chart.shape[0] / 2) * factor))
    assert not mask[centre[1], centre[0]] and mask.mean() > 0.5
