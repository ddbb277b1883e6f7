"""Each AR effect: exact no-op at 0, stays in its region, moves the right image statistic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.ar.effects import (
    CHEEK_REGIONS,
    LINE_REGIONS,
    SKIN,
    TREATMENTS,
    UNDER_EYE_REGIONS,
    NoFaceError,
    apply_treatments,
    has_watermark,
    normalise_treatments,
    simulate,
    watermark,
)

from .conftest import lab, region_mask

# Where each effect may act (the lips warp reaches a little past the lip outline).
EFFECT_REGIONS: dict[str, tuple[str, ...]] = {
    "skin": SKIN,
    "redness": SKIN,
    "pigment": SKIN,
    "under_eye": UNDER_EYE_REGIONS,
    "lines": LINE_REGIONS,
    "lips": ("lips",),
    "contour": CHEEK_REGIONS,
}


def _face_width(landmarks) -> float:
    points = np.asarray(landmarks.points)[:, :2]
    return float(np.linalg.norm(points[234] - points[454]))


@pytest.mark.parametrize("name", TREATMENTS)
def test_intensity_zero_returns_the_input_exactly(face_photo_bgr, face_landmarks, name) -> None:
    out, changed = apply_treatments(face_photo_bgr, face_landmarks, {name: 0.0})
    np.testing.assert_array_equal(out, face_photo_bgr)
    assert not changed.any()
    # simulate() still marks it: every shown simulation carries the mark.
    np.testing.assert_array_equal(
        simulate(face_photo_bgr, face_landmarks, {name: 0.0}).image, watermark(face_photo_bgr)
    )


@pytest.mark.parametrize("name", TREATMENTS)
def test_pixels_outside_the_region_do_not_change(face_photo_bgr, face_landmarks, name) -> None:
    out, changed = apply_treatments(face_photo_bgr, face_landmarks, {name: 1.0})
    region = region_mask(face_landmarks, face_photo_bgr.shape, EFFECT_REGIONS[name])
    face_width = _face_width(face_landmarks)

    def near_region(margin_px: float) -> np.ndarray:
        size = 2 * int(round(margin_px)) + 1
        return cv2.dilate(region.astype(np.uint8), np.ones((size, size), np.uint8)) > 0

    # The feathered edge may straddle the outline by a few pixels (the masks are rasterised at
    # ~128 px across the face); beyond that nothing may change at all.
    feather_band, footprint_band = 0.02 * face_width, 0.04 * face_width
    if name == "lips":  # the lips grow: the warp reaches about one lip height past the outline
        rows = np.nonzero(region.any(axis=1))[0]
        feather_band = footprint_band = float(rows.max() - rows.min())
    diff = np.abs(out.astype(np.int16) - face_photo_bgr.astype(np.int16)).max(axis=2)
    assert diff[~near_region(feather_band)].max(initial=0) <= 2, f"{name} changed pixels outside its region"
    assert not (changed & ~near_region(footprint_band)).any()
    assert diff[region].max() > 2, f"{name} at full intensity changed nothing in its region"


@pytest.mark.parametrize("name", TREATMENTS)
def test_every_simulated_output_carries_the_mark(face_photo_bgr, face_landmarks, name) -> None:
    assert not has_watermark(face_photo_bgr)
    assert has_watermark(simulate(face_photo_bgr, face_landmarks, {name: 0.6}).image)


def test_watermark_is_visible_on_dark_and_bright_frames() -> None:
    for value in (0, 128, 255):
        frame = np.full((480, 640, 3), value, np.uint8)
        assert has_watermark(watermark(frame))
        assert not has_watermark(frame)


def test_redness_lowers_mean_a_star_in_the_cheeks(face_photo_bgr, face_landmarks) -> None:
    cheeks = region_mask(face_landmarks, face_photo_bgr.shape, CHEEK_REGIONS)
    # Make the cheeks visibly red first (a flushed face), then treat.
    flushed = face_photo_bgr.astype(np.float32)
    flushed[cheeks] = flushed[cheeks] * [0.88, 0.88, 1.0] + [0, 0, 18]
    flushed = np.clip(flushed, 0, 255).astype(np.uint8)
    before = lab(flushed)[..., 1][cheeks].mean()
    out, _ = apply_treatments(flushed, face_landmarks, {"redness": 1.0})
    after = lab(out)[..., 1][cheeks].mean()
    assert after < before - 2.0
    half, _ = apply_treatments(flushed, face_landmarks, {"redness": 0.5})
    assert after < lab(half)[..., 1][cheeks].mean() < before  # intensity is monotone


def _high_frequency_energy(image: np.ndarray, mask: np.ndarray) -> float:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    detail = gray - cv2.GaussianBlur(gray, (0, 0), 2.0)
    return float((detail[mask] ** 2).mean())


def test_skin_lowers_high_frequency_energy(face_photo_bgr, face_landmarks) -> None:
    cheeks = region_mask(face_landmarks, face_photo_bgr.shape, CHEEK_REGIONS)
    rng = np.random.default_rng(3)
    textured = np.clip(face_photo_bgr + rng.normal(0, 6, face_photo_bgr.shape[:2])[..., None], 0, 255).astype(
        np.uint8
    )
    before = _high_frequency_energy(textured, cheeks)
    out, _ = apply_treatments(textured, face_landmarks, {"skin": 1.0})
    assert _high_frequency_energy(out, cheeks) < 0.5 * before


def _paint_spots(
    image: np.ndarray, mask: np.ndarray, radius: int, seed: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Small brown spots inside `mask`; returns (image, spot mask)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.nonzero(cv2.erode(mask.astype(np.uint8), np.ones((radius * 4, radius * 4), np.uint8)))
    spots = np.zeros(mask.shape, np.uint8)
    for index in rng.choice(len(ys), size=12, replace=False):
        cv2.circle(spots, (int(xs[index]), int(ys[index])), radius, 255, -1)
    spots_soft = cv2.GaussianBlur(spots.astype(np.float32) / 255.0, (0, 0), radius / 3)[..., None]
    brown = np.array([40, 70, 110], np.float32)  # BGR
    painted = image.astype(np.float32) * (1 - 0.35 * spots_soft) + brown * 0.35 * spots_soft
    return np.clip(painted, 0, 255).astype(np.uint8), spots > 0


def test_pigment_lowers_spot_contrast(face_photo_bgr, face_landmarks) -> None:
    cheeks = region_mask(face_landmarks, face_photo_bgr.shape, CHEEK_REGIONS)
    radius = max(3, int(_face_width(face_landmarks) * 0.012))
    spotted, spots = _paint_spots(face_photo_bgr, cheeks, radius)
    ring = (
        (cv2.dilate(spots.astype(np.uint8), np.ones((radius * 4, radius * 4), np.uint8)) > 0)
        & ~spots
        & cheeks
    )

    def contrast(image: np.ndarray) -> float:
        lightness = lab(image)[..., 0]
        return float(lightness[ring].mean() - lightness[spots].mean())

    out, _ = apply_treatments(spotted, face_landmarks, {"pigment": 1.0})
    assert contrast(spotted) > 3.0
    assert contrast(out) < 0.5 * contrast(spotted)


def test_under_eye_raises_lightness(face_photo_bgr, face_landmarks) -> None:
    under_eyes = region_mask(face_landmarks, face_photo_bgr.shape, UNDER_EYE_REGIONS)
    out, _ = apply_treatments(face_photo_bgr, face_landmarks, {"under_eye": 1.0})
    assert lab(out)[..., 0][under_eyes].mean() > lab(face_photo_bgr)[..., 0][under_eyes].mean() + 2.0


def _ridge_response(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean dark-ridge strength: the largest Hessian eigenvalue of the smoothed grey image."""
    gray = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32), (0, 0), 1.5)
    dxx = cv2.Sobel(gray, cv2.CV_32F, 2, 0)
    dyy = cv2.Sobel(gray, cv2.CV_32F, 0, 2)
    dxy = cv2.Sobel(gray, cv2.CV_32F, 1, 1)
    largest = (dxx + dyy) / 2 + np.sqrt(((dxx - dyy) / 2) ** 2 + dxy**2)
    return float(np.maximum(largest, 0)[mask].mean())


def test_lines_lower_ridge_response_on_the_forehead(face_photo_bgr, face_landmarks) -> None:
    forehead = region_mask(face_landmarks, face_photo_bgr.shape, ("forehead",))
    ys, xs = np.nonzero(forehead)
    drawn = np.zeros(forehead.shape, np.uint8)
    for y in np.linspace(np.percentile(ys, 40), np.percentile(ys, 80), 3).astype(int):
        start, end = (int(np.percentile(xs, 25)), int(y)), (int(np.percentile(xs, 75)), int(y + 4))
        cv2.line(drawn, start, end, 255, 2, cv2.LINE_AA)
    # Wrinkles as shadowed furrows: the skin 30 % darker along the lines.
    shade = 1.0 - 0.3 * drawn.astype(np.float32)[..., None] / 255.0
    lined = np.clip(face_photo_bgr * shade, 0, 255).astype(np.uint8)
    # Measure where the wrinkles are (the painted lines and a few pixels around them).
    near_lines = (cv2.dilate(drawn, np.ones((9, 9), np.uint8)) > 0) & forehead
    before = _ridge_response(lined, near_lines)
    out, _ = apply_treatments(lined, face_landmarks, {"lines": 1.0})
    assert before > 2.0 * _ridge_response(face_photo_bgr, near_lines)  # the painted lines register
    assert _ridge_response(out, near_lines) < 0.5 * before
    # Half intensity softens less than full intensity.
    half, _ = apply_treatments(lined, face_landmarks, {"lines": 0.5})
    assert _ridge_response(out, near_lines) < _ridge_response(half, near_lines) < before


def _lip_area(image: np.ndarray) -> float:
    from core.vision.landmarks import detect_landmarks

    face = detect_landmarks(image)
    assert face is not None
    points = np.asarray(face.points)[:, :2].astype(np.float32)
    outer = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]
    return float(cv2.contourArea(points[outer]))  # inside the vermilion border


def test_lips_enlarge_the_redetected_lip_area_smoothly(face_photo_bgr, face_landmarks) -> None:
    from core.vision.landmarks import detect_landmarks

    out, changed = apply_treatments(face_photo_bgr, face_landmarks, {"lips": 1.0})
    before, after = _lip_area(face_photo_bgr), _lip_area(out)
    assert after > before * 1.03  # (a broad smile with thin lips: the detector moves little)
    # Not a flat scale: the mouth does not get wider (corners stay within a few pixels).
    p_before = np.asarray(face_landmarks.points)[:, :2]
    p_after = np.asarray(detect_landmarks(out).points)[:, :2]
    width_before = np.linalg.norm(p_before[61] - p_before[291])
    width_after = np.linalg.norm(p_after[61] - p_after[291])
    assert abs(width_after - width_before) < 0.06 * width_before
    # The change is confined to a compact area around the mouth.
    assert changed.sum() < 0.05 * changed.size


def test_lips_on_a_real_video_frame_grow_clearly(shared_testdata) -> None:
    from core.vision.landmarks import detect_landmarks

    capture = cv2.VideoCapture(str(shared_testdata / "video" / "face_closeup_pexels_640x480.mp4"))
    ok, frame = capture.read()
    capture.release()
    assert ok
    face = detect_landmarks(frame)
    assert face is not None
    out, _ = apply_treatments(frame, face, {"lips": 1.0})
    assert _lip_area(out) > 1.08 * _lip_area(frame)
    half, _ = apply_treatments(frame, face, {"lips": 0.5})
    assert _lip_area(frame) < _lip_area(half) < _lip_area(out)


def test_effects_combine(face_photo_bgr, face_landmarks) -> None:
    all_on = {name: 0.7 for name in TREATMENTS}
    result = simulate(face_photo_bgr, face_landmarks, all_on)
    assert has_watermark(result.image)
    for name in TREATMENTS:
        _, single = apply_treatments(face_photo_bgr, face_landmarks, {name: 0.7})
        assert not (single & ~result.changed_mask).any()
    assert result.applied == all_on


def test_unknown_treatment_and_bad_landmarks_are_refused(face_photo_bgr) -> None:
    with pytest.raises(ValueError, match="unknown treatment"):
        normalise_treatments({"botox": 1.0})
    assert normalise_treatments({"under-eye": 3.0, "skin": -1}) == {"under_eye": 1.0}
    with pytest.raises(ValueError):
        apply_treatments(face_photo_bgr, np.zeros((10, 2)), {"skin": 1.0})
    with pytest.raises(NoFaceError):
        apply_treatments(face_photo_bgr, np.full((478, 2), 5.0), {"skin": 1.0})


def test_real_photos_redness_and_skin(real_front_faces) -> None:
    from core.vision.landmarks import detect_landmarks

    checked = 0
    for name, image in real_front_faces:
        landmarks = detect_landmarks(image)
        if landmarks is None:
            continue
        cheeks = region_mask(landmarks, image.shape, CHEEK_REGIONS)
        unchanged, changed = apply_treatments(image, landmarks, {"redness": 0.0, "skin": 0.0})
        np.testing.assert_array_equal(unchanged, image)
        red, _ = apply_treatments(image, landmarks, {"redness": 1.0})
        assert lab(red)[..., 1][cheeks].mean() <= lab(image)[..., 1][cheeks].mean(), name
        smooth, changed = apply_treatments(image, landmarks, {"skin": 1.0})
        assert _high_frequency_energy(smooth, cheeks) < _high_frequency_energy(image, cheeks), name
        assert not changed[~region_mask(landmarks, image.shape, SKIN + ("lips",))].all()
        assert has_watermark(simulate(image, landmarks, {name_: 0.5 for name_ in TREATMENTS}).image)
        checked += 1
    assert checked >= 2


def test_assessment_cheek_redness_falls_after_the_redness_treatment(face_photo_bgr, face_landmarks) -> None:
    engine = pytest.importorskip("core.assessment.engine")
    cheeks = region_mask(face_landmarks, face_photo_bgr.shape, CHEEK_REGIONS)
    flushed = face_photo_bgr.astype(np.float32)
    flushed[cheeks] = flushed[cheeks] * [0.88, 0.88, 1.0] + [0, 0, 18]
    flushed = np.clip(flushed, 0, 255).astype(np.uint8)
    treated, _ = apply_treatments(flushed, face_landmarks, {"redness": 1.0})

    def cheek_redness(image: np.ndarray) -> float:
        result = engine.assess_photo(image, view="front", landmarks=face_landmarks)
        values = [m.value for m in result.metrics if m.metric == "redness" and m.region.startswith("cheek")]
        assert values, "the assessment reports no cheek redness"
        return float(np.mean(values))

    assert cheek_redness(treated) < cheek_redness(flushed) - 1.0
