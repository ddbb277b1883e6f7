"""Response tests: a known edit of the skin moves the metric it should, and little else."""

from __future__ import annotations

import cv2
import numpy as np

from core.assessment.engine import AssessmentOptions, assess_photo

from .conftest import FAST, ita_of, region_box, region_centre, spread_points, to_source


def _value(assessment, metric: str, region: str) -> float:
    found = assessment.metric(metric, region)
    assert found is not None, f"{metric} on {region} not measured"
    return ita_of(found) if metric == "ita" else found.value


def test_red_patch_on_one_cheek_raises_that_cheek_only(face_photo_bgr, face_points, baseline):
    centre, scale = to_source(face_points, region_centre(baseline, "cheek_left"))
    image = face_photo_bgr.astype(np.float32)
    mask = np.zeros(image.shape[:2], np.float32)
    cv2.circle(mask, tuple(np.round(centre[0]).astype(int)), int(22 * scale), 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3 * scale)[..., None]
    # Redden: more red, less green (BGR order).
    image = image * (1 - mask) + np.clip(image * [0.85, 0.72, 1.12], 0, 255) * mask
    edited = assess_photo(image.astype(np.uint8), "front", face_points, options=FAST)

    rise = _value(edited, "redness", "cheek_left") - _value(baseline, "redness", "cheek_left")
    assert rise > 4.0
    for region in ("cheek_right", "forehead", "chin", "nose"):
        change = abs(_value(edited, "redness", region) - _value(baseline, "redness", region))
        assert change < 1.0, (region, change)
    assert _value(edited, "red_area", "cheek_left") > _value(baseline, "red_area", "cheek_left") + 20


def test_dark_spots_are_counted(face_photo_bgr, face_points, baseline):
    count = 5
    canonical = spread_points(baseline.region_masks["cheek_right"], count, spacing=14)
    centres, scale = to_source(face_points, canonical)
    image = face_photo_bgr.copy()
    for centre in centres:
        # ~3.5 canonical px radius, brown: darker, slightly warmer.
        cv2.circle(
            image,
            tuple(np.round(centre).astype(int)),
            int(round(3.5 * scale)),
            (60, 85, 115),
            -1,
            cv2.LINE_AA,
        )
    edited = assess_photo(image, "front", face_points, options=FAST)
    rise = _value(edited, "brown_spots", "cheek_right") - _value(baseline, "brown_spots", "cheek_right")
    assert abs(rise - count) <= 1, rise
    assert (
        _value(edited, "inflammatory_spots", "cheek_right")
        <= _value(baseline, "inflammatory_spots", "cheek_right") + 1
    )
    assert _value(edited, "brown_spots", "cheek_left") == _value(baseline, "brown_spots", "cheek_left")


def test_fine_dark_lines_raise_forehead_wrinkles(face_photo_bgr, face_points, baseline):
    x0, y0, x1, y1 = region_box(baseline, "forehead")
    image = face_photo_bgr.copy()
    for fraction in (0.3, 0.55, 0.8):
        y = y0 + (y1 - y0) * fraction
        ends, scale = to_source(face_points, np.array([[x0 + 10, y], [x1 - 10, y + 2]]))
        start, end = tuple(np.round(ends[0]).astype(int)), tuple(np.round(ends[1]).astype(int))
        cv2.line(image, start, end, (95, 110, 140), max(1, int(round(1.2 * scale))), cv2.LINE_AA)
    edited = assess_photo(image, "front", face_points, options=FAST)
    before, after = _value(baseline, "wrinkles", "forehead"), _value(edited, "wrinkles", "forehead")
    assert after > before + 3.0, (before, after)
    assert edited.metric("wrinkles", "forehead").details["line_pixels"] > 100
    # Unedited regions keep their lines.
    assert abs(_value(edited, "wrinkles", "perioral") - _value(baseline, "wrinkles", "perioral")) < 1.0


def test_smoothing_lowers_texture_and_pores(face_photo_bgr, face_points, baseline):
    # Add fine grain first so there is texture to remove, then compare grain vs smoothed grain.
    rng = np.random.default_rng(3)
    grain = np.clip(face_photo_bgr + rng.normal(0, 6, face_photo_bgr.shape), 0, 255).astype(np.uint8)
    grainy = assess_photo(grain, "front", face_points, options=FAST)
    smoothed = assess_photo(cv2.bilateralFilter(grain, 9, 40, 5), "front", face_points, options=FAST)
    for region in ("cheek_left", "cheek_right", "nose"):
        assert _value(smoothed, "texture", region) < 0.8 * _value(grainy, "texture", region), region
    pores_grainy = sum(_value(grainy, "pores", r) for r in ("cheek_left", "cheek_right", "nose"))
    pores_smooth = sum(_value(smoothed, "pores", r) for r in ("cheek_left", "cheek_right", "nose"))
    assert pores_smooth < pores_grainy


def test_illumination_handling_steadies_ita_when_the_photo_is_darker(face_photo_bgr, face_points):
    darker = (face_photo_bgr.astype(np.float32) * 0.72).astype(np.uint8)
    shifts = {}
    for balance in (True, False):
        options = AssessmentOptions(white_balance=balance, run_registry=False, evidence=False)
        original = assess_photo(face_photo_bgr, "front", face_points, options=options)
        dimmed = assess_photo(darker, "front", face_points, options=options)
        shifts[balance] = abs(_value(dimmed, "ita", "face") - _value(original, "ita", "face"))
    assert shifts[False] > 8.0  # the raw photo's ITA moves a lot
    assert shifts[True] < 0.35 * shifts[False], shifts
