"""Pixel data of the face that several checks read, taken once per photo (`_face_measures`), and
the small numeric helpers they share (percentiles from histograms, Lab, the working copy)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from core.vision.landmarks import FaceLandmarks
from core.vision.quality.result import Measure, QualityCheck, Status
from core.vision.regions import (
    EYE_LEFT,
    EYE_RIGHT,
    region_masks,
    skin_mask,
)


def _grade(value: float, warn: float, fail: float, higher_is_worse: bool = True) -> Status:
    if higher_is_worse:
        return "fail" if value > fail else "warn" if value > warn else "pass"
    return "fail" if value < fail else "warn" if value < warn else "pass"


def _graded(
    name: str,
    value: float,
    warn: float,
    fail: float,
    instruction: str,
    higher_is_worse: bool = True,
    measure: Measure = "",
) -> QualityCheck:
    """The check `name` of one measure `value` graded against its `warn` and `fail` lines; the
    patient's `instruction` unless it passes."""
    status = _grade(value, warn, fail, higher_is_worse)
    return QualityCheck(name, status, value, warn, "" if status == "pass" else instruction, measure=measure)


def _working_copy(image_bgr: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(copy with long side in (max_side/2, max_side], factor original/copy).

    Halving only (pyrDown: Gaussian + decimate, ~12 ms on 12 MP): a 4000 px photo becomes 1000 px
    with no fractional INTER_AREA pass (which cost ~18 ms more). Sharpness, the one measure that
    needs the original detail, reads the full-resolution face crop (`_face_gray`).
    """
    h, w = image_bgr.shape[:2]
    small = image_bgr
    while max(small.shape[:2]) > max_side:
        small = cv2.pyrDown(small)
    if small is image_bgr:
        return image_bgr, 1.0
    return small, max(h, w) / max(small.shape[:2])


def _face_gray(image_bgr: np.ndarray, rect: tuple[int, int, int, int], width: int) -> np.ndarray | None:
    """The face crop `rect` (original pixels) as luma, `width` pixels wide (a fixed scale).

    Only the crop is converted; it is halved with pyrDown while at least twice too wide and
    finished with INTER_AREA. A crop narrower than `width` is kept at its own pixels (enlarging
    adds no detail and softens every edge by its interpolation)."""
    x, y, w, h = rect
    crop = image_bgr[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)]
    if crop.size == 0:
        return None
    while crop.shape[1] >= 2 * width:
        crop = cv2.pyrDown(crop)
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    if gray.shape[1] <= width:
        return gray
    scale = width / gray.shape[1]
    return cv2.resize(gray, (width, max(1, round(gray.shape[0] * scale))), interpolation=cv2.INTER_AREA)


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """`image` as 8-bit BGR: grey (2-D, one channel, or grey and alpha), BGRA and other depths
    (clipped to 0-255) are converted; any other shape is not a photo."""
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(f"not a photo: an array of shape {image.shape} (expected H x W, or H x W x 1-4)")
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] in (1, 2):
        image = np.ascontiguousarray(image[..., 0])  # grey (and alpha)
    if image.size == 0:
        return image.reshape(*image.shape[:2], 3)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


@dataclass
class _FaceMeasures:
    """Pixel data of the face crop (all masks are crop-sized: fast on big frames)."""

    luma: np.ndarray  # uint8 luma of the face crop
    lab_u8: np.ndarray  # OpenCV 8-bit Lab of the face crop (`lab_of` gives centred float pixels)
    skin: np.ndarray  # bool face-skin mask of the crop
    masks: dict[str, np.ndarray]  # region masks of the crop
    landmarks: FaceLandmarks  # landmarks in crop coordinates
    face_rect: tuple[int, int, int, int]  # landmark box in crop coordinates
    frame_luma: np.ndarray  # luma of the whole working copy (background for backlight)
    crop_rect: tuple[int, int, int, int]  # crop (x, y, w, h) in the working copy
    frame_lab: np.ndarray  # Lab of every 4th pixel of the working copy (grey-world colour cast)
    frame_bgr: np.ndarray  # every 4th pixel of the working copy, BGR (a view: the scene's colour)
    bgr: np.ndarray  # BGR face crop of the working copy (a view, not a copy)
    # Read by several checks, so taken once (a live frame has ~14 ms in all):
    skin_luma: np.ndarray  # uint8 luma of the face-skin pixels
    skin_luma_counts: np.ndarray  # their 256-bin histogram (`skin_luma_at`)
    # The scene once taken (`_background`): (which of every 4th pixel lie away from the face, their
    # luma), or None when there is too little; None = not yet taken.
    background_cache: tuple[tuple[np.ndarray, np.ndarray] | None] | None = None

    def lab_of(self, mask: np.ndarray) -> np.ndarray:
        """float32 Lab (a*, b* centred on 0) of the crop's pixels under `mask`, (N, 3): only the
        pixels a test reads are converted (the whole crop in float cost ~2 ms per live frame)."""
        pixels = self.lab_u8.reshape(-1, 3).take(np.flatnonzero(mask), axis=0)
        return pixels.astype(np.float32) - _LAB_OFFSET

    def skin_luma_at(self, *percents: float) -> list[float]:
        """Percentiles of the face skin's luma (`_percentiles_u8`'s values), from one histogram
        shared by the checks that read them."""
        return _hist_percentiles(self.skin_luma_counts, percents)

    def skin_lab_median(self, step: int = 1) -> np.ndarray:
        """Median (L, a*, b*) of the face skin (every `step`-th row and column), from histograms."""
        lab = self.lab_u8[::step, ::step]
        mask = self.skin[::step, ::step].astype(np.uint8)
        medians = [
            _hist_percentiles(cv2.calcHist([lab], [channel], mask, [256], [0, 256]).ravel(), (50,))[0]
            for channel in range(3)
        ]
        return np.array(medians, np.float32) - _LAB_OFFSET


# The regions the gate's checks read (lighting, cheek and forehead occlusion): only these are drawn.
_GATE_REGIONS = ("forehead", "under_eye_left", "under_eye_right", "cheek_left", "cheek_right")


# OpenCV's 8-bit Lab stores a* and b* offset by 128.
_LAB_OFFSET = np.array([0.0, 128.0, 128.0], np.float32)


def _percentiles_u8(values: np.ndarray, percents: tuple[float, ...]) -> list[float]:
    """`np.percentile(values, percents)` (linear interpolation, same values) of uint8 `values`
    from their 256-bin histogram: ~5x cheaper than the partition on a face's ~60k pixels."""
    return _hist_percentiles(np.bincount(values.ravel(), minlength=256), percents)


def _hist_percentiles(counts: np.ndarray, percents: tuple[float, ...]) -> list[float]:
    """`_percentiles_u8` from the values' 256-bin histogram `counts`."""
    cumulative = np.cumsum(np.rint(counts).astype(np.int64))
    n = int(cumulative[-1])
    if n == 0:
        return [math.nan] * len(percents)
    out = []
    for percent in percents:
        index = percent / 100.0 * (n - 1)
        low = math.floor(index)
        # The k-th smallest value is the first level whose cumulative count exceeds k.
        v_low, v_high = np.searchsorted(cumulative, [low, min(low + 1, n - 1)], side="right")
        out.append(float(v_low) + float(v_high - v_low) * (index - low))
    return out


def _face_measures(work: np.ndarray, landmarks: FaceLandmarks) -> _FaceMeasures:
    h, w = work.shape[:2]
    x, y, bw, bh = landmarks.bbox()
    pad = int(0.05 * max(bw, bh)) + 2
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(w, x + bw + pad), min(h, y + bh + pad)
    crop = work[y0:y1, x0:x1]
    shifted = replace(landmarks, points=landmarks.points - np.array([x0, y0, 0], np.float32))
    frame_luma = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
    lab_u8 = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)
    skin = skin_mask(shifted, crop.shape)
    masks = region_masks(shifted, crop.shape, skin, _GATE_REGIONS)
    luma = frame_luma[y0:y1, x0:x1]
    skin_luma = luma[skin]
    return _FaceMeasures(
        luma=luma,
        lab_u8=lab_u8,
        skin=skin,
        masks=masks,
        landmarks=shifted,
        face_rect=(x - x0, y - y0, bw, bh),
        frame_luma=frame_luma,
        crop_rect=(x0, y0, x1 - x0, y1 - y0),
        frame_lab=_lab(work[::4, ::4]),
        frame_bgr=work[::4, ::4],
        bgr=crop,
        skin_luma=skin_luma,
        skin_luma_counts=np.bincount(skin_luma, minlength=256),
    )


def _view_eyes(view: str) -> tuple[tuple[int, ...], ...]:
    """The eye contours a view shows clearly: both on a front, the near eye on a turned view."""
    if view in ("front", "close_up"):
        return (EYE_RIGHT, EYE_LEFT)
    return (EYE_LEFT,) if view.startswith("left") else (EYE_RIGHT,)


def _median_u8(values: np.ndarray) -> float:
    return _percentiles_u8(values, (50,))[0] if values.size else math.nan


def _lab(image_bgr: np.ndarray) -> np.ndarray:
    """float32 Lab with a*, b* centred on 0 (OpenCV 8-bit: L 0-255, a/b offset 128)."""
    lab = cv2.cvtColor(np.ascontiguousarray(image_bgr), cv2.COLOR_BGR2LAB).astype(np.float32)
    lab -= _LAB_OFFSET  # over the contiguous last axis: ~10x cheaper than `lab[..., 1:] -= 128`
    return lab


def _eye_line(m: _FaceMeasures) -> tuple[float, float]:
    """(cos, sin) of the line through the outer eye corners: the face's own horizontal (a rolled
    head rolls its wrinkles and spectacle rims too)."""
    corner_right, corner_left = m.landmarks.xy[33], m.landmarks.xy[263]
    dx, dy = float(corner_left[0] - corner_right[0]), float(corner_left[1] - corner_right[1])
    norm = max(math.hypot(dx, dy), 1e-6)
    return dx / norm, dy / norm
