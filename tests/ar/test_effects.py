"""Each AR effect: exact no-op at 0, stays in its region, moves the right image statistic,
is clearly visible at full intensity and about half as strong at half intensity."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from benchmarks.bench_ar import beyond_region, delta_e, lip_border_shift  # visibility measures, in one place
from core.ar.effects import (
    CHEEK_REGIONS,
    LIP_INNER_LOWER,
    LIP_INNER_UPPER,
    LIP_OUTER_LOWER,
    LIP_OUTER_UPPER,
    SKIN,
    TREATMENT_REGIONS,
    TREATMENTS,
    NoFaceError,
    apply_treatments,
    has_watermark,
    normalise_treatments,
    simulate,
    watermark,
)
from tests.video_frames import first_frames

from .conftest import lab, region_mask


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
    region = region_mask(face_landmarks, face_photo_bgr.shape, TREATMENT_REGIONS[name])
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


# --- visibility: every treatment clearly visible at full intensity, about half at half ------------
# A treatment that corrects something (texture, redness, spots, lines) is measured on the photo
# with that problem painted in, by a measure of the problem that is linear in its strength: at
# full intensity at least REMOVED_AT_FULL of it is gone. Under-eye and contour brighten any face,
# so they are measured on the plain photo: a mean CIE76 colour difference of at least
# VISIBLE_DELTA_E in their region (side by side, about 1-2.3 is just noticeable). The lips are
# measured geometrically (vermilion height, below). Half intensity does about half.
REMOVED_AT_FULL = 0.5  # at least half of what it corrects is gone
VISIBLE_DELTA_E = 3.0
HALF_SHARE = (0.35, 0.65)  # change at 0.5 over change at 1.0
CORRECTIVE = ("skin", "redness", "pigment", "lines")
BRIGHTENING = ("under_eye", "contour")


def _flushed(image: np.ndarray, cheeks: np.ndarray) -> np.ndarray:
    """Visibly red cheeks (a flushed face)."""
    flushed = image.astype(np.float32)
    flushed[cheeks] = flushed[cheeks] * [0.88, 0.88, 1.0] + [0, 0, 18]
    return np.clip(flushed, 0, 255).astype(np.uint8)


def _textured(image: np.ndarray) -> np.ndarray:
    """Fine grey-level roughness (pores, rough skin) over the whole image."""
    rng = np.random.default_rng(3)
    return np.clip(image + rng.normal(0, 6, image.shape[:2])[..., None], 0, 255).astype(np.uint8)


def _high_frequency_energy(image: np.ndarray, mask: np.ndarray) -> float:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    detail = gray - cv2.GaussianBlur(gray, (0, 0), 2.0)
    return float((detail[mask] ** 2).mean())


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


def _paint_lines(image: np.ndarray, forehead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Three forehead wrinkles; returns (image, where they are: the lines and a few pixels around)."""
    ys, xs = np.nonzero(forehead)
    drawn = np.zeros(forehead.shape, np.uint8)
    for y in np.linspace(np.percentile(ys, 40), np.percentile(ys, 80), 3).astype(int):
        start, end = (int(np.percentile(xs, 25)), int(y)), (int(np.percentile(xs, 75)), int(y + 4))
        cv2.line(drawn, start, end, 255, 2, cv2.LINE_AA)
    # Wrinkles as shadowed furrows: the skin 30 % darker along the lines.
    shade = 1.0 - 0.3 * drawn.astype(np.float32)[..., None] / 255.0
    lined = np.clip(image * shade, 0, 255).astype(np.uint8)
    return lined, (cv2.dilate(drawn, np.ones((9, 9), np.uint8)) > 0) & forehead


def _ridge_response(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean dark-ridge strength: the largest Hessian eigenvalue of the smoothed grey image."""
    gray = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32), (0, 0), 1.5)
    dxx = cv2.Sobel(gray, cv2.CV_32F, 2, 0)
    dyy = cv2.Sobel(gray, cv2.CV_32F, 0, 2)
    dxy = cv2.Sobel(gray, cv2.CV_32F, 1, 1)
    largest = (dxx + dyy) / 2 + np.sqrt(((dxx - dyy) / 2) ** 2 + dxy**2)
    return float(np.maximum(largest, 0)[mask].mean())


@dataclass(frozen=True)
class _Problem:
    """A photo with what one treatment corrects painted in."""

    image: np.ndarray
    amount: Callable[[np.ndarray], float]  # how much of it an image shows, linear in its strength


def _problem(name: str, photo: np.ndarray, landmarks) -> _Problem:
    cheeks = region_mask(landmarks, photo.shape, CHEEK_REGIONS)
    if name == "skin":  # texture: RMS of the fine detail (energy would be quadratic)
        return _Problem(_textured(photo), lambda image: math.sqrt(_high_frequency_energy(image, cheeks)))
    if name == "redness":
        return _Problem(_flushed(photo, cheeks), lambda image: float(lab(image)[..., 1][cheeks].mean()))
    if name == "pigment":  # spot contrast: how much darker the spots are than the skin around them
        radius = max(3, int(_face_width(landmarks) * 0.012))
        spotted, spots = _paint_spots(photo, cheeks, radius)
        around = cv2.dilate(spots.astype(np.uint8), np.ones((radius * 4, radius * 4), np.uint8)) > 0
        ring = around & ~spots & cheeks

        def contrast(image: np.ndarray) -> float:
            lightness = lab(image)[..., 0]
            return float(lightness[ring].mean() - lightness[spots].mean())

        return _Problem(spotted, contrast)
    if name == "lines":
        lined, near_lines = _paint_lines(photo, region_mask(landmarks, photo.shape, ("forehead",)))
        return _Problem(lined, lambda image: _ridge_response(image, near_lines))
    raise ValueError(f"{name} corrects nothing in particular")


@pytest.mark.parametrize("name", CORRECTIVE)
def test_each_corrective_treatment_removes_most_of_its_problem_and_half_at_half(
    face_photo_bgr, face_landmarks, name
) -> None:
    problem = _problem(name, face_photo_bgr, face_landmarks)
    before, clean = problem.amount(problem.image), problem.amount(face_photo_bgr)
    assert before - clean >= 0.3 * abs(before), f"the painted {name} problem does not register"
    removed = {
        intensity: (
            before - problem.amount(apply_treatments(problem.image, face_landmarks, {name: intensity})[0])
        )
        / (before - clean)
        for intensity in (0.5, 1.0)
    }
    assert removed[1.0] >= REMOVED_AT_FULL, f"{name} removes only {removed[1.0]:.0%} of it"
    assert HALF_SHARE[0] * removed[1.0] <= removed[0.5] <= HALF_SHARE[1] * removed[1.0], f"{name}: {removed}"


@pytest.mark.parametrize("name", BRIGHTENING)
def test_each_brightening_treatment_is_clearly_visible_and_half_at_half(
    face_photo_bgr, face_landmarks, name
) -> None:
    region = region_mask(face_landmarks, face_photo_bgr.shape, TREATMENT_REGIONS[name])
    change = {}
    for intensity in (0.5, 1.0):
        out, _ = apply_treatments(face_photo_bgr, face_landmarks, {name: intensity})
        change[intensity] = float(delta_e(face_photo_bgr, out)[region].mean())
        assert lab(out)[..., 0][region].mean() > lab(face_photo_bgr)[..., 0][region].mean()  # lighter
    assert change[1.0] >= VISIBLE_DELTA_E, f"{name} at full intensity: mean dE {change[1.0]:.2f}"
    assert HALF_SHARE[0] * change[1.0] <= change[0.5] <= HALF_SHARE[1] * change[1.0], f"{name}: dE {change}"


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
    redetected = detect_landmarks(out)
    assert redetected is not None
    p_after = np.asarray(redetected.points)[:, :2]
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
    flushed = _flushed(face_photo_bgr, region_mask(face_landmarks, face_photo_bgr.shape, CHEEK_REGIONS))
    treated, _ = apply_treatments(flushed, face_landmarks, {"redness": 1.0})

    def cheek_redness(image: np.ndarray) -> float:
        result = engine.assess_photo(image, view="front", landmarks=face_landmarks)
        values = [m.value for m in result.metrics if m.metric == "redness" and m.region.startswith("cheek")]
        assert values, "the assessment reports no cheek redness"
        return float(np.mean(values))

    assert cheek_redness(treated) < cheek_redness(flushed) - 1.0


@pytest.mark.parametrize("name", TREATMENTS)
def test_no_seam_where_a_treatment_ends(face_photo_bgr, face_landmarks, name) -> None:
    out, changed = apply_treatments(face_photo_bgr, face_landmarks, {name: 1.0})
    # The outermost changed pixels change by a level or two at most: no visible step.
    inner = cv2.erode(changed.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    edge = changed & ~inner
    diff = np.abs(out.astype(np.int16) - face_photo_bgr.astype(np.int16)).max(axis=2)[edge]
    assert edge.any()
    assert np.percentile(diff, 99) <= 3, f"{name}: step of {np.percentile(diff, 99)} levels at its edge"


# --- lips: volume -----------------------------------------------------------------------------------
LIP_PAINT = (40, 40, 210)  # BGR: a vivid red, R - G = 170


def _lip_polygon(points: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...]) -> np.ndarray:
    """Closed outline from two corner-to-corner landmark chains."""
    return np.round(points[list(upper) + list(lower[-2:0:-1])]).astype(np.int32)


def _fill(shape: tuple[int, ...], polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(mask, [polygon], 1)
    return mask > 0


def _paint_share(image: np.ndarray) -> np.ndarray:
    """How much of each pixel is lip paint: 0 for the astronaut's skin and teeth around the mouth
    (R - G below 70), 1 for paint, in between where a resampled border cuts a pixel."""
    red_minus_green = image[..., 2].astype(np.float32) - image[..., 1].astype(np.float32)
    return np.clip((red_minus_green - 70.0) / 90.0, 0.0, 1.0)


def test_lips_grow_each_lip_at_the_centre_and_keep_the_mouth(face_photo_bgr, face_landmarks) -> None:
    """On the astronaut with the vermilion painted in, so its border is known to the pixel."""
    points = np.asarray(face_landmarks.points)[:, :2]
    opening = _fill(face_photo_bgr.shape, _lip_polygon(points, LIP_INNER_UPPER, LIP_INNER_LOWER))
    vermilion = _fill(face_photo_bgr.shape, _lip_polygon(points, LIP_OUTER_UPPER, LIP_OUTER_LOWER)) & ~opening
    painted = face_photo_bgr.copy()
    painted[vermilion] = LIP_PAINT
    # Paint is looked for around the mouth only (the flag on the sleeve is as red).
    lip_height = int(np.ptp(np.nonzero(vermilion.any(axis=1))[0]))
    near_mouth = cv2.dilate(vermilion.astype(np.uint8), np.ones((2 * lip_height + 1,) * 2, np.uint8)) > 0

    def paint(image: np.ndarray) -> np.ndarray:
        return np.where(near_mouth, _paint_share(image), 0.0)

    np.testing.assert_array_equal(paint(painted) > 0, vermilion)  # nothing else reads as paint
    # Sub-pixel lip heights (summed paint shares) in the five columns at the mouth's centre.
    x = int(round((points[13, 0] + points[14, 0]) / 2))
    above = (np.arange(painted.shape[0]) < (points[13, 1] + points[14, 1]) / 2)[:, None]

    def heights(image: np.ndarray) -> np.ndarray:
        columns = paint(image)[:, x - 2 : x + 3]
        return np.array([(columns * above).sum(axis=0).mean(), (columns * ~above).sum(axis=0).mean()])

    growth = {}
    for intensity in (0.5, 1.0):
        out, _ = apply_treatments(painted, face_landmarks, {"lips": intensity})
        growth[intensity] = heights(out) / heights(painted) - 1.0  # (upper, lower)
    # Each lip at least 30 % higher at the centre at full intensity, about half that at half.
    assert growth[1.0].min() >= 0.3, growth
    assert (HALF_SHARE[0] * growth[1.0] <= growth[0.5]).all(), growth
    assert (growth[0.5] <= HALF_SHARE[1] * growth[1.0]).all(), growth

    # Fuller, not wider: the painted lips span the same columns (the growth tapers to the corners).
    columns_before = np.nonzero((paint(painted) >= 0.5).any(axis=0))[0]
    columns_after = np.nonzero((paint(out) >= 0.5).any(axis=0))[0]
    assert abs(columns_after.min() - columns_before.min()) <= 2
    assert abs(columns_after.max() - columns_before.max()) <= 2
    # The teeth do not move: the mouth opening (inset by 2 px) is untouched.
    inset = cv2.erode(opening.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    np.testing.assert_array_equal(out[inset], painted[inset])

    # No tearing: the painted lips stay as many pieces, enclosing as many holes (the opening).
    def topology(mask: np.ndarray) -> tuple[int, int]:
        pieces = cv2.connectedComponents(mask.astype(np.uint8))[0] - 1
        _, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
        return pieces, sum(1 for entry in hierarchy[0] if entry[3] >= 0)

    assert topology(paint(out) >= 0.5) == topology(paint(painted) >= 0.5)
    # The border stays sharp: across each outer border at most two in-between pixels (a
    # resampled edge has one), not a smear.
    column = paint(out)[:, x]
    outer_rows = (np.arange(len(column)) < points[13, 1]) | (np.arange(len(column)) > points[14, 1])
    assert ((column > 0.1) & (column < 0.9) & outer_rows).sum() <= 2 * 2


def test_real_photos_lips_are_fuller_at_the_centre(real_front_cases) -> None:
    for name, image, landmarks in real_front_cases:
        shift = {
            intensity: lip_border_shift(
                image, apply_treatments(image, landmarks, {"lips": intensity})[0], landmarks
            )
            for intensity in (0.5, 1.0)
        }
        # Full intensity: the vermilion about 30 % or more higher at the centre, neither lip left out.
        assert np.mean(shift[1.0]) >= 0.3 and min(shift[1.0]) >= 0.2, (name, shift)
        assert (
            HALF_SHARE[0] * np.mean(shift[1.0]) <= np.mean(shift[0.5]) <= HALF_SHARE[1] * np.mean(shift[1.0])
        )


def test_real_open_mouth_keeps_the_opening_and_grows_the_lips(shared_testdata) -> None:
    from core.vision.landmarks import detect_landmarks

    image = cv2.imread(str(shared_testdata / "faces" / "frontal_openmouth_05.jpg"), cv2.IMREAD_COLOR)
    assert image is not None
    landmarks = detect_landmarks(image)
    assert landmarks is not None
    out, _ = apply_treatments(image, landmarks, {"lips": 1.0})
    points = np.asarray(landmarks.points)[:, :2]
    opening = _fill(image.shape, _lip_polygon(points, LIP_INNER_UPPER, LIP_INNER_LOWER))
    inset = cv2.erode(opening.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert inset.sum() > 1000  # the mouth is wide open
    np.testing.assert_array_equal(out[inset], image[inset])
    assert min(lip_border_shift(image, out, landmarks)) >= 0.25


# --- real photos: every treatment scales with intensity and stays in its region -------------------
@pytest.mark.parametrize("name", TREATMENTS)
def test_real_photos_each_treatment_scales_with_intensity_and_stays_in_its_region(
    real_front_cases, name
) -> None:
    for photo, image, landmarks in real_front_cases:
        region = region_mask(landmarks, image.shape, TREATMENT_REGIONS[name])
        outside = beyond_region(region, name, _face_width(landmarks))
        change = {}
        for intensity in (0.5, 1.0):
            delta = delta_e(image, apply_treatments(image, landmarks, {name: intensity})[0])
            change[intensity] = float(delta[region].mean())
            assert delta[outside].max(initial=0.0) < 1.0, f"{name} changed {photo} outside its region"
        assert 0.0 < change[0.5] < change[1.0], (photo, change)
        if name != "lips":  # the warp's colour change is not linear in how far the border moves
            assert HALF_SHARE[0] * change[1.0] <= change[0.5] <= HALF_SHARE[1] * change[1.0], (photo, change)
        if name in BRIGHTENING:  # they brighten any face, so always visibly
            assert change[1.0] >= VISIBLE_DELTA_E, (photo, change)


def test_a_frame_with_the_last_frames_landmarks_reuses_their_masks_exactly(shared_testdata) -> None:
    """Live AR composes every camera frame but gets landmarks on only some: the next frame with
    the same points reuses the face's masks, and its result is what fresh masks give."""
    from core.ar import effects
    from core.vision.landmarks import detect_landmarks

    first, second = first_frames(shared_testdata / "video" / "face_closeup_pexels_640x480.mp4", 2)
    face = detect_landmarks(first)
    assert face is not None
    options = effects.SimulationOptions()
    context = effects._face_context(first.shape, face, options)
    assert effects._face_context(second.shape, face, options) is context
    all_on = {name: 0.7 for name in TREATMENTS}
    apply_treatments(first, face, all_on)
    reused, reused_changed = apply_treatments(second, face, all_on)
    effects._contexts.clear()
    fresh, fresh_changed = apply_treatments(second, face, all_on)
    np.testing.assert_array_equal(reused, fresh)
    np.testing.assert_array_equal(reused_changed, fresh_changed)


def test_landmarks_changed_in_place_get_new_masks(face_photo_bgr, face_landmarks) -> None:
    """The reuse is keyed on the points' values, never on the object: a caller that moves the
    points of the same array gets the effect where the face now is."""
    points = np.array(face_landmarks.points[:, :2], dtype=np.float32)
    before, changed_before = apply_treatments(face_photo_bgr, points, {"redness": 1.0})
    points += np.float32(12.0)  # the same array, moved
    moved, changed_moved = apply_treatments(face_photo_bgr, points, {"redness": 1.0})
    expected, changed_expected = apply_treatments(face_photo_bgr, points.copy(), {"redness": 1.0})
    np.testing.assert_array_equal(changed_moved, changed_expected)
    np.testing.assert_array_equal(moved, expected)
    assert not np.array_equal(changed_moved, changed_before)


def test_a_large_photos_face_masks_are_not_kept(face_photo_bgr, face_landmarks) -> None:
    """Reuse is for video-sized faces: a full-resolution photo's masks would hold ~100 MB."""
    from core.ar import effects

    scale = 8
    large_shape = (face_photo_bgr.shape[0] * scale, face_photo_bgr.shape[1] * scale, 3)
    points = np.asarray(face_landmarks.points[:, :2], dtype=np.float32) * scale
    options = effects.SimulationOptions()
    first = effects._face_context(large_shape, points, options)
    assert first.crop_shape[0] * first.crop_shape[1] > effects._CONTEXT_CACHE_MAX_CROP_PIXELS
    assert effects._face_context(large_shape, points, options) is not first
    small = effects._face_context(face_photo_bgr.shape, face_landmarks, options)
    assert effects._face_context(face_photo_bgr.shape, face_landmarks, options) is small
