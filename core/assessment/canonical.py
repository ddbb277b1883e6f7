"""Pose/scale normalisation and illumination handling before any measurement.

The face is warped by a similarity transform (roll, scale, shift; no shear, so skin texture is
not distorted) that puts the eye midpoint and the mouth centre at fixed positions of a square
canonical image. Eye-to-mouth distance sets the scale because, unlike the inter-pupil distance,
it barely shrinks when the head turns, so oblique views keep the same scale as the front view.

Illumination: the sclera (white of the eye) is the one near-neutral reflector every face photo
carries, so its colour sets the white balance; skin itself cannot be used (that would erase real
skin-tone differences, e.g. ITA between patients). Exposure is set from the frame's bright end
(95th percentile luminance), which is steadier than the sclera's brightness (a smile narrows and
shades the eyes). Without a usable sclera only the exposure is normalised and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

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
SCLERA_MAX_CHANNEL_RATIO = 1.45  # max/min channel of a usable eye white
FRAME_TARGET_P95 = 0.75  # linear luminance the frame's 95th percentile is brought to


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


def estimate_illumination(
    linear_rgb: np.ndarray,
    sclera: np.ndarray | None,
    whole_frame_linear: np.ndarray | None = None,
    skin_luminance: float | None = None,
) -> dict:
    """Per-channel gains that make the sclera neutral and bring it to a fixed exposure.

    The sclera estimate is used only when it looks like sclera (nearly neutral, not darker than
    the skin); narrowed or shaded eyes otherwise hand lid skin in as "white", which would
    over-expose the whole face. Gains are bounded either way.
    """
    stats: dict = {"method": "none", "sclera_pixels": 0}
    reference = None
    target = FRAME_TARGET_P95
    if sclera is not None and sclera.any():
        pixels = linear_rgb[sclera]
        lum = _luminance(pixels)
        chroma = pixels.max(axis=1) - pixels.min(axis=1)
        # The brightest, least coloured half of the eye opening is sclera, not lid or lash.
        keep = (lum >= np.percentile(lum, 50)) & (chroma <= np.percentile(chroma, 60))
        stats["sclera_pixels"] = int(keep.sum())
        if keep.sum() >= MIN_SCLERA_PIXELS:
            candidate = np.maximum(np.median(pixels[keep], axis=0), 1e-4)
            neutral_ratio = float(candidate.max() / candidate.min())
            bright_enough = (
                skin_luminance is None or float(_luminance(candidate[None])[0]) >= 0.8 * skin_luminance
            )
            stats["sclera_channel_ratio"] = round(neutral_ratio, 3)
            if neutral_ratio <= SCLERA_MAX_CHANNEL_RATIO and bright_enough:
                reference = candidate
                stats["method"] = "sclera"
    # Exposure always from the frame's bright end: a smile that narrows and shades the eyes
    # changes the sclera's brightness far more than its colour, and consecutive frames of one
    # scene must give the same exposure.
    frame = whole_frame_linear if whole_frame_linear is not None else linear_rgb
    flat = frame.reshape(-1, 3)
    lum95 = float(np.percentile(_luminance(flat), 95))
    if reference is None:
        # Without an eye white the grey-world cast is recorded, not applied: a skin-filled or
        # coloured frame would repaint the skin.
        grey = flat.mean(axis=0)
        stats["grey_world_cast"] = [
            round(float(v), 3) for v in grey / max(float(_luminance(grey[None])[0]), 1e-6)
        ]
        reference = np.ones(3, np.float32)
        stats["method"] = "grey_world"
    reference = np.maximum(reference.astype(np.float32), 1e-4)
    neutral = float(_luminance(reference[None])[0])
    colour_gains = neutral / reference  # equalise channels (white balance)
    exposure_gain = float(np.clip(target / max(lum95, 1e-4), *EXPOSURE_LIMITS))
    stats["frame_p95_luminance"] = round(lum95, 4)
    gains = np.clip(colour_gains * exposure_gain, *GAIN_LIMITS).astype(np.float32)
    stats["reference_rgb_linear"] = [round(float(v), 4) for v in reference]
    stats["colour_gains"] = [round(float(v), 3) for v in colour_gains]
    stats["exposure_gain"] = round(float(exposure_gain), 3)
    stats["applied_gains"] = [round(float(v), 3) for v in gains]
    stats["colour_cast"] = round(float(np.max(colour_gains) / np.min(colour_gains) - 1.0), 3)
    return {"gains": gains, **stats}


def canonicalise(
    image_bgr: np.ndarray,
    points: np.ndarray | None,
    size: int = CANONICAL_SIZE,
    white_balance: bool = True,
) -> CanonicalFace:
    """Warp to the canonical layout and normalise illumination.

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
        illumination = {"method": "none (close-up: no neutral reference)", "sclera_pixels": 0}
        illumination.update(_light_stats(linear, None))
        return CanonicalFace(raw.copy(), raw, matrix, None, illumination)

    matrix = similarity_to_canonical(points, size)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    # Shrinking: pre-blur so the warp does not alias (INTER_AREA is not available for warps).
    source = image_bgr
    if scale < 0.7:
        sigma = 0.45 / scale
        source = cv2.GaussianBlur(image_bgr, (0, 0), sigma)
    raw = cv2.warpAffine(source, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    canonical_points = transform_points(points, matrix)
    linear = srgb_to_linear(raw[..., ::-1] / 255.0)
    illumination: dict = {"source_scale": round(scale, 3)}
    if white_balance:
        small = cv2.resize(image_bgr, (128, 128), interpolation=cv2.INTER_AREA)
        whole = srgb_to_linear(small[..., ::-1] / 255.0)
        skin_lum = _skin_luminance(linear, canonical_points)
        estimate = estimate_illumination(
            linear, sclera_mask(canonical_points, raw.shape[:2]), whole, skin_lum
        )
        gains = estimate.pop("gains")
        illumination.update(estimate)
        corrected = linear * gains[None, None, :]
        illumination["clipped_share_after"] = round(float((corrected.max(axis=2) >= 1.0).mean()), 4)
        balanced = (linear_to_srgb(corrected) * 255.0 + 0.5).astype(np.uint8)[..., ::-1]
    else:
        illumination["method"] = "off"
        balanced = raw.copy()
    illumination.update(_light_stats(linear, canonical_points))
    return CanonicalFace(np.ascontiguousarray(balanced), raw, matrix, canonical_points, illumination)


def _skin_luminance(linear: np.ndarray, points: np.ndarray) -> float | None:
    """Median luminance of small cheek and forehead patches (where skin surely is)."""
    lum = _luminance(linear)
    values = []
    for index in (50, 280, 151):
        x, y = np.round(points[index, :2]).astype(int)
        patch = lum[max(y - 6, 0) : y + 6, max(x - 6, 0) : x + 6]
        if patch.size:
            values.append(patch.ravel())
    return float(np.median(np.concatenate(values))) if values else None


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
