"""Pose/scale normalisation and illumination handling before any measurement.

The face is warped by a similarity transform (roll, scale, shift; no shear, so skin texture is
not distorted) that puts the eye midpoint and the mouth centre at fixed positions of a square
canonical image. Eye-to-mouth distance sets the scale because, unlike the inter-pupil distance,
it barely shrinks when the head turns, so oblique views keep the same scale as the front view.

Illumination: the sclera (white of the eye) is the one near-neutral reflector every face photo
carries, so its colour sets the white balance; skin itself cannot be used (that would erase real
skin-tone differences, e.g. ITA between patients). Exposure is set from the face's bright end
(95th percentile luminance inside the landmark hull), which is steadier than the sclera's
brightness (a smile narrows and shades the eyes) and blind to a bright wall or sky behind the
head. Without a usable sclera only the exposure is normalised and the report says so.
Photos of one case share one white balance, pooled from all their eye whites, so a blink in one
photo neither switches its method nor shifts its colour measures against the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.assessment.colour_chart import ChartCalibration

CANONICAL_SIZE = 512
# Close-ups show a few cm of skin: at 320 px their papules and spots come out about the size
# the filter bank's spot scales expect on a canonical face.
CLOSE_UP_SIZE = 320
# Canonical positions as fractions of the side: eye midpoint and mouth centre.
EYE_MID = (0.5, 200 / 512)
MOUTH_MID = (0.5, 350 / 512)

# MediaPipe Face Mesh indices (478-point model with irises).
RIGHT_EYE_CORNERS = (33, 133)  # patient's right eye: outer, inner (image left on a front view)
LEFT_EYE_CORNERS = (362, 263)
MOUTH_CORNERS = (61, 291)
LIP_MIDS = (13, 14)
RIGHT_EYE_CONTOUR = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE_CONTOUR = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

MIN_SCLERA_PIXELS = 25
GAIN_LIMITS = (0.35, 3.0)
EXPOSURE_LIMITS = (0.4, 2.5)
# A usable eye white: max/min channel at most this (a warm or cool light tints it, within reason)
SCLERA_MAX_CHANNEL_RATIO = 2.2
# ...and clearly less coloured than the same photo's skin: skin red/blue over eye-white red/blue.
# The light's tint cancels in that ratio, so it tells sclera from lid skin under any light.
SCLERA_MIN_SKIN_CONTRAST = 1.3
# A photo's own eye white this far from the case's pooled one (max per-channel log ratio) was
# taken under another light. Frame-to-frame noise of one scene stays under 0.03; daylight vs
# warm indoor light differs by more than 0.3.
SHARED_WHITE_TOLERANCE = 0.1
FACE_TARGET_P95 = 0.75  # linear luminance the face's 95th percentile is brought to


@dataclass
class CanonicalFace:
    image_bgr: np.ndarray  # canonical image after illumination handling, uint8
    raw_bgr: np.ndarray  # canonical image before illumination handling, uint8
    transform: np.ndarray  # 2x3 affine, source pixels -> canonical pixels
    points: np.ndarray | None  # landmarks in canonical pixels (N, 2 or 3), None for close-ups
    illumination: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.image_bgr.shape[0]


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    v = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055).astype(np.float32)


def relight(image_bgr: np.ndarray, gains_rgb: tuple[float, float, float]) -> np.ndarray:
    """The same scene under another light: per-channel gains on linear light (tests, evaluation)."""
    linear = srgb_to_linear(image_bgr[..., ::-1] / 255.0) * np.asarray(gains_rgb, np.float32)
    return (linear_to_srgb(linear) * 255.0 + 0.5).astype(np.uint8)[..., ::-1]


def _mean_point(points: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    return points[list(indices), :2].astype(np.float64).mean(axis=0)


def similarity_to_canonical(points: np.ndarray, size: int = CANONICAL_SIZE) -> np.ndarray:
    """2x3 similarity transform mapping the landmarks' eye/mouth anchors to the canonical layout."""
    eye_right = _mean_point(points, RIGHT_EYE_CORNERS)
    eye_left = _mean_point(points, LEFT_EYE_CORNERS)
    eye_mid = (eye_right + eye_left) / 2
    mouth_mid = (_mean_point(points, MOUTH_CORNERS) + _mean_point(points, LIP_MIDS)) / 2
    # Roll from the eye line (patient's right eye -> left eye points +x on a front view).
    eye_vector = eye_left - eye_right
    roll = np.arctan2(eye_vector[1], eye_vector[0])
    source_distance = float(np.linalg.norm(mouth_mid - eye_mid))
    target_distance = (MOUTH_MID[1] - EYE_MID[1]) * size
    scale = target_distance / max(source_distance, 1e-6)
    cos_r, sin_r = np.cos(-roll) * scale, np.sin(-roll) * scale
    rotation = np.array([[cos_r, -sin_r], [sin_r, cos_r]])
    target_eye = np.array([EYE_MID[0] * size, EYE_MID[1] * size])
    translation = target_eye - rotation @ eye_mid
    return np.hstack([rotation, translation[:, None]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    out = np.array(points, dtype=np.float64, copy=True)
    xy = out[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    out[:, :2] = xy
    if out.shape[1] > 2:
        out[:, 2] *= float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    return out


def sclera_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels inside the eye openings but outside the irises (canonical coordinates)."""
    mask = np.zeros(shape, np.uint8)
    for contour in (RIGHT_EYE_CONTOUR, LEFT_EYE_CONTOUR):
        polygon = np.round(points[list(contour), :2]).astype(np.int32)
        cv2.fillPoly(mask, [polygon], 1)
    if points.shape[0] >= 478:
        for iris in (RIGHT_IRIS, LEFT_IRIS):
            centre = points[iris[0], :2]
            radius = float(np.mean(np.linalg.norm(points[list(iris[1:]), :2] - centre, axis=1)))
            cv2.circle(
                mask, (int(round(centre[0])), int(round(centre[1]))), int(np.ceil(radius * 1.15)), 0, -1
            )
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))  # keep clear of lids and lashes
    return mask.astype(bool)


def _luminance(linear_rgb: np.ndarray) -> np.ndarray:
    return linear_rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


@dataclass(frozen=True)
class WhiteReference:
    """Colour of a neutral reflector under the photo's light: linear RGB scaled to luminance 1.

    `pixels` is how many eye-white pixels it rests on, its weight when a case pools its photos.
    """

    rgb: tuple[float, float, float]
    pixels: int

    def as_array(self) -> np.ndarray:
        return np.asarray(self.rgb, dtype=np.float32)


def sclera_reference(
    linear_rgb: np.ndarray, sclera: np.ndarray | None, skin_rgb: np.ndarray | None = None
) -> tuple[WhiteReference | None, dict]:
    """The eye white's colour, or None when the eye opening does not show usable sclera.

    Used only when it looks like sclera (far less coloured than the skin, not darker than it);
    narrowed or shaded eyes otherwise hand lid skin in as "white", which would repaint the face.
    """
    stats: dict = {"sclera_pixels": 0}
    if sclera is None or not sclera.any():
        return None, stats
    pixels = linear_rgb[sclera]
    lum = _luminance(pixels)
    chroma = pixels.max(axis=1) - pixels.min(axis=1)
    # The brightest, least coloured half of the eye opening is sclera, not lid or lash.
    keep = (lum >= np.percentile(lum, 50)) & (chroma <= np.percentile(chroma, 60))
    stats["sclera_pixels"] = int(keep.sum())
    if keep.sum() < MIN_SCLERA_PIXELS:
        return None, stats
    candidate = np.maximum(np.median(pixels[keep], axis=0), 1e-4)
    neutral_ratio = float(candidate.max() / candidate.min())
    candidate_luminance = float(_luminance(candidate[None])[0])
    stats["sclera_channel_ratio"] = round(neutral_ratio, 3)
    usable = neutral_ratio <= SCLERA_MAX_CHANNEL_RATIO
    if skin_rgb is not None:
        skin = np.maximum(np.asarray(skin_rgb, np.float64), 1e-4)
        contrast = float((skin[0] / skin[2]) / (candidate[0] / candidate[2]))
        stats["sclera_skin_contrast"] = round(contrast, 3)
        bright_enough = candidate_luminance >= 0.8 * float(_luminance(skin[None].astype(np.float32))[0])
        usable = usable and bright_enough and contrast >= SCLERA_MIN_SKIN_CONTRAST
    if not usable:
        return None, stats
    normalised = candidate / max(candidate_luminance, 1e-6)
    return WhiteReference(tuple(float(v) for v in normalised), int(keep.sum())), stats


def pool_white_references(references: Sequence[WhiteReference | None]) -> WhiteReference | None:
    """One reference for photos taken in one session: the pixel-weighted median per channel.

    A median, not a mean, so one photo with a half-closed eye cannot pull the whole case.
    """
    usable = [r for r in references if r is not None]
    if not usable:
        return None
    values = np.array([r.rgb for r in usable], dtype=np.float64)
    weights = np.array([r.pixels for r in usable], dtype=np.float64)
    pooled = []
    for channel in range(3):
        order = np.argsort(values[:, channel])
        cumulative = np.cumsum(weights[order])
        index = order[int(np.searchsorted(cumulative, cumulative[-1] / 2))]
        pooled.append(values[index, channel])
    rgb = np.array(pooled)
    rgb /= float(_luminance(rgb[None].astype(np.float32))[0])
    return WhiteReference(tuple(float(v) for v in rgb), int(weights.sum()))


def white_difference(first: WhiteReference, second: WhiteReference) -> float:
    """Largest per-channel chromaticity difference as a fraction (0.1 = one channel 10% off)."""
    ratio = first.as_array() / np.maximum(second.as_array(), 1e-6)
    return float(np.max(np.abs(np.log(ratio))))


def estimate_illumination(
    linear_rgb: np.ndarray,
    sclera: np.ndarray | None,
    exposure_pixels: np.ndarray | None = None,
    skin_rgb: np.ndarray | None = None,
    shared_reference: WhiteReference | None = None,
) -> dict:
    """Per-channel gains that make the neutral reference neutral and set a fixed exposure.

    `shared_reference` is the case's pooled eye-white colour: photos of one session share one
    white balance, so a blink or a squint in one photo does not change its colour measures. A
    photo whose own eye white disagrees with it was taken under another light and keeps its own.
    Gains are bounded either way.
    """
    own, stats = sclera_reference(linear_rgb, sclera, skin_rgb)
    reference: WhiteReference | None = None
    stats["method"] = "exposure_only"
    if shared_reference is not None:
        difference = None if own is None else white_difference(own, shared_reference)
        if difference is not None:
            stats["own_sclera_difference"] = round(difference, 3)
        if difference is None or difference <= SHARED_WHITE_TOLERANCE:
            reference = shared_reference
            stats["method"] = "case_sclera"
            stats["case_sclera_pixels"] = shared_reference.pixels
        else:
            reference = own
            stats["method"] = "sclera"
            stats["case_reference_rejected"] = "this photo's light differs from the case's other photos"
    elif own is not None:
        reference = own
        stats["method"] = "sclera"
    # Exposure always from the face's bright end: a smile that narrows and shades the eyes
    # changes the sclera's brightness far more than its colour, and consecutive frames of one
    # scene must give the same exposure.
    pixels = exposure_pixels if exposure_pixels is not None else linear_rgb
    lum95 = float(np.percentile(_luminance(pixels.reshape(-1, 3)), 95))
    if reference is None:
        # No grey-world fallback: the face is mostly skin, and balancing it to grey would erase
        # the very skin-tone differences (ITA) the report measures.
        colour_gains = np.ones(3, np.float32)
    else:
        colour_gains = 1.0 / np.maximum(reference.as_array(), 1e-4)
        stats["reference_rgb_linear"] = [round(float(v), 4) for v in reference.rgb]
    exposure_gain = float(np.clip(FACE_TARGET_P95 / max(lum95, 1e-4), *EXPOSURE_LIMITS))
    stats["face_p95_luminance"] = round(lum95, 4)
    gains = np.clip(colour_gains * exposure_gain, *GAIN_LIMITS).astype(np.float32)
    stats["colour_gains"] = [round(float(v), 3) for v in colour_gains]
    stats["exposure_gain"] = round(float(exposure_gain), 3)
    stats["applied_gains"] = [round(float(v), 3) for v in gains]
    stats["colour_cast"] = round(float(np.max(colour_gains) / np.min(colour_gains) - 1.0), 3)
    return {"gains": gains, **stats}


def _warp_to_canonical(
    image_bgr: np.ndarray, points: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(canonical image, 2x3 transform, canonical landmarks, source scale)."""
    matrix = similarity_to_canonical(points, size)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    source, warp = image_bgr, matrix
    if scale < 0.7:
        # Shrinking: area-average the photo down to about 1.4x the canonical scale first (a warp
        # alone would alias; blurring a 12 MP photo at full size costs far more than this).
        factor = scale * 1.4
        source = cv2.resize(image_bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        warp = matrix.copy()
        warp[:, :2] /= factor  # maps the shrunk photo's pixels; `matrix` keeps mapping the original
    raw = cv2.warpAffine(source, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return raw, matrix, transform_points(points, matrix), scale


def photo_white_reference(
    image_bgr: np.ndarray, points: np.ndarray, size: int = CANONICAL_SIZE
) -> WhiteReference | None:
    """The photo's own eye-white reference, for pooling over a case before measuring."""
    raw, _, canonical_points, _ = _warp_to_canonical(image_bgr, points, size)
    linear = srgb_to_linear(raw[..., ::-1] / 255.0)
    sclera = sclera_mask(canonical_points, raw.shape[:2])
    reference, _ = sclera_reference(linear, sclera, _skin_colour(linear, canonical_points))
    return reference


def canonicalise(
    image_bgr: np.ndarray,
    points: np.ndarray | None,
    size: int = CANONICAL_SIZE,
    white_balance: bool = True,
    shared_reference: WhiteReference | None = None,
    chart: ChartCalibration | None = None,
) -> CanonicalFace:
    """Warp to the canonical layout and normalise illumination.

    `shared_reference`: the case's pooled eye-white colour (see `pool_white_references`).
    `chart`: a colour calibration from a chart in the photo; it replaces the eye-white balance
    (faces and close-ups); on faces the exposure is still set from the face, as on every photo.

    Without landmarks (close-up of skin) the whole frame is resized to `size` on its long side
    and only measured, not colour-corrected: a frame full of skin has no neutral reference.
    """
    if points is None:
        height, width = image_bgr.shape[:2]
        factor = CLOSE_UP_SIZE / max(height, width)
        matrix = np.array([[factor, 0, 0], [0, factor, 0]], dtype=np.float64)
        new_size = (max(1, round(width * factor)), max(1, round(height * factor)))
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        raw = cv2.resize(image_bgr, new_size, interpolation=interpolation)
        linear = srgb_to_linear(raw[..., ::-1] / 255.0)
        if white_balance and chart is not None:
            illumination = {"method": "colour_chart", **chart.summary()}
            image = chart.correct(raw)
        else:
            illumination = {"method": "none (close-up: no neutral reference)", "sclera_pixels": 0}
            image = raw.copy()
        illumination.update(_light_stats(linear, None))
        return CanonicalFace(image, raw, matrix, None, illumination)

    raw, matrix, canonical_points, scale = _warp_to_canonical(image_bgr, points, size)
    linear = srgb_to_linear(raw[..., ::-1] / 255.0)
    illumination: dict = {"source_scale": round(scale, 3)}
    if white_balance:
        # Exposure from the face itself: a bright sky or wall behind a small face would otherwise
        # set it and read light skin as dark.
        hull = cv2.convexHull(np.round(canonical_points[:, :2]).astype(np.int32))
        face_area = np.zeros(raw.shape[:2], np.uint8)
        cv2.fillConvexPoly(face_area, hull, 1)
        face_area = face_area.astype(bool)
        if chart is not None:
            # The chart fixes the colour; the exposure still follows the face's bright end, as on
            # every other photo, so visits with and without a chart stay comparable.
            source = srgb_to_linear(chart.correct(raw)[..., ::-1] / 255.0)
            estimate = estimate_illumination(source, None, source[face_area])
            estimate.update({"method": "colour_chart", **chart.summary()})
        else:
            source = linear
            estimate = estimate_illumination(
                linear,
                sclera_mask(canonical_points, raw.shape[:2]),
                linear[face_area],
                _skin_colour(linear, canonical_points),
                shared_reference,
            )
        gains = estimate.pop("gains")
        illumination.update(estimate)
        corrected = source * gains[None, None, :]
        illumination["clipped_share_after"] = round(float((corrected.max(axis=2) >= 1.0).mean()), 4)
        balanced = (linear_to_srgb(corrected) * 255.0 + 0.5).astype(np.uint8)[..., ::-1]
    else:
        illumination["method"] = "off"
        balanced = raw.copy()
    illumination.update(_light_stats(linear, canonical_points))
    return CanonicalFace(np.ascontiguousarray(balanced), raw, matrix, canonical_points, illumination)


def _skin_colour(linear: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """Median linear RGB of small cheek and forehead patches (where skin surely is)."""
    values = []
    for index in (50, 280, 151):
        x, y = np.round(points[index, :2]).astype(int)
        patch = linear[max(y - 6, 0) : y + 6, max(x - 6, 0) : x + 6]
        if patch.size:
            values.append(patch.reshape(-1, 3))
    return np.median(np.concatenate(values), axis=0) if values else None


def _light_stats(linear: np.ndarray, points: np.ndarray | None) -> dict:
    """Recorded, not corrected: mean luminance, clipping and the left/right light balance."""
    lum = _luminance(linear)
    stats = {
        "mean_luminance_before": round(float(lum.mean()), 4),
        "clipped_share_before": round(float((linear.max(axis=2) >= 0.995).mean()), 4),
    }
    if points is not None and points.shape[0] >= 468:
        # Cheek patches under each eye: a strong difference means directional light.
        def patch_mean(index: int) -> float:
            x, y = np.round(points[index, :2]).astype(int)
            h, w = lum.shape
            y0, y1, x0, x1 = max(y - 8, 0), min(y + 8, h), max(x - 8, 0), min(x + 8, w)
            return float(lum[y0:y1, x0:x1].mean()) if y1 > y0 and x1 > x0 else float("nan")

        right, left = patch_mean(50), patch_mean(280)  # cheek points under each eye
        if np.isfinite(right) and np.isfinite(left) and max(right, left) > 0:
            stats["cheek_light_ratio"] = round(min(right, left) / max(right, left), 3)
    return stats
