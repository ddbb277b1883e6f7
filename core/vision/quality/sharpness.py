"""Sharpness: how narrow the face's strongest edges are at a fixed face width, over all
directions and in the direction where they are widest (a shaken camera)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.i18n import N_
from core.vision.quality.measures import _face_gray, _grade
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import _RANK, QualityCheck


def _gradients(gray: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """x and y gradients (float32, central differences) of `gray` smoothed by a Gaussian of `sigma` px."""
    smooth = cv2.GaussianBlur(gray, (0, 0), sigma)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=1, scale=0.5)
    return gx, gy


def _strongest_edges_ratio(fine: np.ndarray, coarse: np.ndarray, share: float) -> float:
    """sqrt of the `fine` energy over the `coarse` one on the `share` of pixels with the strongest
    `coarse` energy; 1.0 for a flat crop (no edge at all)."""
    rank = int((1.0 - share) * (coarse.size - 1))
    edges = (coarse >= np.partition(coarse.ravel(), rank)[rank]).view(np.uint8)  # a 0/1 mask
    total = cv2.mean(coarse, mask=edges)[0]
    if total <= 0.0:
        return 1.0
    return math.sqrt(cv2.mean(fine, mask=edges)[0] / total)


def _sharpness_measures(gray: np.ndarray, o: QualityOptions) -> tuple[float, float]:
    """(how narrow the face's strongest edges are, the same in the direction where they are
    widest). The first: sqrt of the fine-scale gradient energy over the coarse-scale one, on the
    `sharp_edge_share` of pixels with the strongest coarse gradient (see `sharpness_fail`); 1 = no
    edge sharper than the coarse scale. The second: the same with the gradient's component along
    each of four directions (0, 45, 90, 135 degrees: a shaken camera smears the edges across its
    motion only), the smallest (see `sharp_direction_fail`), on every 2nd pixel of every 2nd row
    (a quarter of the cost; the strongest edges are many pixels wide at the coarse scale). The
    scales are shares of `sharp_face_px`: a narrower face (read at its own pixels,
    `_check_sharpness`) is read at scales narrowed alike, as if enlarged without the
    interpolation's softening."""
    face = gray.astype(np.float32)
    scale = min(1.0, face.shape[1] / o.sharp_face_px)
    fine_x, fine_y = _gradients(face, o.sharp_fine_sigma * scale)
    coarse_x, coarse_y = _gradients(face, o.sharp_coarse_sigma * scale)
    overall = _strongest_edges_ratio(
        cv2.add(cv2.multiply(fine_x, fine_x), cv2.multiply(fine_y, fine_y)),
        cv2.add(cv2.multiply(coarse_x, coarse_x), cv2.multiply(coarse_y, coarse_y)),
        o.sharp_edge_share,
    )
    fx, fy, cx, cy = (np.ascontiguousarray(g[::2, ::2]) for g in (fine_x, fine_y, coarse_x, coarse_y))
    # The component along 0, 45, 90 and 135 degrees: x, (x + y) / sqrt 2, y, (x - y) / sqrt 2; the
    # 1 / sqrt 2 cancels in the ratio, so the sums are used as they are.
    components = (
        (fx, cx),
        (cv2.add(fx, fy), cv2.add(cx, cy)),
        (fy, cy),
        (cv2.subtract(fx, fy), cv2.subtract(cx, cy)),
    )
    directional = min(
        _strongest_edges_ratio(cv2.multiply(fine, fine), cv2.multiply(coarse, coarse), o.sharp_edge_share)
        for fine, coarse in components
    )
    return overall, directional


def _edge_sharpness(gray: np.ndarray, o: QualityOptions) -> float:
    """How narrow the face's strongest edges are (`_sharpness_measures`' first measure)."""
    return _sharpness_measures(gray, o)[0]


def _check_sharpness(
    image: np.ndarray, rect: tuple[int, int, int, int], view: str, o: QualityOptions
) -> QualityCheck:
    """Width of the strongest edges of the face `rect` of `image` (BGR or luma, the original
    pixels) at a fixed width, over all directions and, on a front, in the direction where they
    are widest (`_sharpness_measures`; close-ups: `_close_up_focus`). Fronts only for the
    direction: its lines were fit on fronts (the tuning split has no correct oblique), and a turned
    face's strongest edges (its outline, the nose's profile) run mostly one way."""
    instruction = N_("The photo is blurry. Hold the phone still, tap your face to focus and try again.")
    # Normalise for face size: a face reduced to a fixed width has comparable detail at any
    # distance. A narrower face is read at its own pixels, at scales narrowed alike: enlarging it
    # (interpolation) softens every edge: the test suite's live frame (a face 146 px wide) read
    # 1.31 enlarged, 1.34 so; a soft 221 px video frame (tuning split) reads 1.30 and 1.31.
    face = _face_gray(image, rect, o.sharp_face_px)
    if face is None:
        return QualityCheck("sharpness", "warn", None, o.sharpness_fail, instruction)
    value, directional = _sharpness_measures(face, o)
    status = _grade(value, o.sharpness_warn, o.sharpness_fail, higher_is_worse=False)
    shaken = _grade(directional, o.sharp_direction_warn, o.sharp_direction_fail, higher_is_worse=False)
    if view == "front" and _RANK[shaken] > _RANK[status]:
        # Sharp across the motion's direction, smeared along it: the camera moved.
        return QualityCheck(
            "sharpness",
            shaken,
            directional,
            o.sharp_direction_warn,
            N_("The photo is blurred by movement. Hold the phone still with both hands and try again."),
            measure="direction",
        )
    return QualityCheck("sharpness", status, value, o.sharpness_warn, "" if status == "pass" else instruction)
