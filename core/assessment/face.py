"""Landmarks and region masks for the assessment, in canonical coordinates.

The vision area owns landmark detection (`core.vision.landmarks`) and the clinical region
definitions (`core.vision.regions`); this module adapts them to the canonical image. When those
definitions fail on a face (e.g. every mask empty after the warp), a template built from a handful
of mesh points gives the same region names, and the report records which source was used.
"""

from __future__ import annotations

import dataclasses
import logging
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np

from core.vision import regions as vision_regions
from core.vision.landmarks import FaceLandmarks, detect_landmarks

log = logging.getLogger(__name__)

CLOSE_UP_REGION = "skin"


def detect_points(image_bgr: np.ndarray) -> tuple[np.ndarray | None, FaceLandmarks | None]:
    """(points (478, 3) in pixels, the vision FaceLandmarks object) or (None, None) with no face."""
    landmarks = detect_landmarks(image_bgr)
    if landmarks is None:
        return None, None
    return np.asarray(landmarks.points, dtype=np.float64), landmarks


def region_masks_canonical(
    landmarks: Any, canonical_points: np.ndarray, shape: tuple[int, int]
) -> tuple[dict[str, np.ndarray], str]:
    """Region masks for the canonical image: the vision area's definitions when available."""
    try:
        if landmarks is not None and dataclasses.is_dataclass(landmarks):
            moved = dataclasses.replace(landmarks, points=canonical_points)
        else:
            moved = SimpleNamespace(points=canonical_points, pose=None, blendshapes=None)
        masks = vision_regions.region_masks(moved, shape)
        masks = {name: np.asarray(mask, dtype=bool) for name, mask in masks.items()}
        if not any(mask.any() for mask in masks.values()):
            raise ValueError("all region masks are empty")
        return masks, "core.vision.regions"
    except Exception as error:  # noqa: BLE001 - a failing optional module must not stop the report
        log.warning("core.vision.regions failed (%s); using the template regions", error)
        return template_region_masks(canonical_points, shape), "template"


def _poly(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(points[:, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def _ellipse(shape: tuple[int, int], centre: np.ndarray, axes: tuple[float, float]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(
        mask,
        (round(centre[0]), round(centre[1])),
        (max(1, round(axes[0])), max(1, round(axes[1]))),
        0,
        0,
        360,
        1,
        -1,
    )
    return mask.astype(bool)


def _band(shape: tuple[int, int], start: np.ndarray, end: np.ndarray, thickness: float) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.line(
        mask,
        tuple(np.round(start[:2]).astype(int)),
        tuple(np.round(end[:2]).astype(int)),
        1,
        max(1, round(thickness)),
    )
    return mask.astype(bool)


OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
    148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip


def template_region_masks(points: np.ndarray, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Region masks from a few Face Mesh points (left/right = the patient's)."""
    p = points[:, :2]
    eye_width = float(np.linalg.norm(p[33] - p[133]) + np.linalg.norm(p[362] - p[263])) / 2
    face = _poly(shape, p[list(FACE_OVAL)])
    eyes = _poly(shape, p[[33, 160, 159, 158, 133, 153, 145, 144]]) | _poly(
        shape, p[[362, 385, 386, 387, 263, 373, 374, 380]]
    )
    eyes = cv2.dilate(eyes.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    brows = _poly(shape, p[[70, 63, 105, 66, 107, 55, 65, 52, 53, 46]]) | _poly(
        shape, p[[300, 293, 334, 296, 336, 285, 295, 282, 283, 276]]
    )
    brows = cv2.dilate(brows.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    lips = _poly(shape, p[list(OUTER_LIPS)])
    brow_top = float(np.min(p[[105, 334, 66, 296], 1]))
    top = float(p[10, 1])
    forehead = np.zeros(shape, bool)
    top = max(top, float(p[151, 1]))  # the mesh top often sits in the hairline; 151 is mid-forehead
    y0, y1 = round(top), round(brow_top - 0.1 * eye_width)
    x0, x1 = round(p[70, 0]), round(p[300, 0])
    forehead[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    glabella = _poly(shape, np.array([p[107], p[336], p[168], p[55], p[285]]))
    glabella |= _ellipse(shape, (p[107] + p[336] + 2 * p[168]) / 4, (0.35 * eye_width, 0.45 * eye_width))
    # Bridge and tip only: the alae and nostrils are dark folds, not skin findings.
    nose = cv2.dilate(
        _poly(shape, p[[6, 197, 45, 275, 1]]).astype(np.uint8), np.ones((9, 9), np.uint8)
    ).astype(bool)
    masks: dict[str, np.ndarray] = {
        "forehead": forehead,
        "glabella": glabella,
        "nose": nose,
        "lips": lips,
        "chin": _ellipse(shape, (p[17] + 2 * p[152]) / 3, (0.9 * eye_width, 0.45 * eye_width)),
        "perioral": _ellipse(
            shape, (p[13] + p[14]) / 2, (0.75 * np.linalg.norm(p[61] - p[291]), 0.9 * eye_width)
        )
        & ~lips,
    }
    lips_margin = cv2.dilate(lips.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    masks["perioral"] &= ~lips_margin
    for side, outer, inner, lower_lid, cheek, alar, mouth in (
        ("right", 33, 133, 145, (50, 101, 205, 36), 98, 61),
        ("left", 263, 362, 374, (280, 330, 425, 266), 327, 291),
    ):
        direction = np.sign(p[outer, 0] - p[inner, 0]) or 1.0
        centre = p[outer] + np.array([direction * 0.55 * eye_width, 0.0])
        masks[f"crows_feet_{side}"] = _ellipse(shape, centre, (0.4 * eye_width, 0.5 * eye_width))
        under = (p[outer] + p[inner]) / 2 + np.array([0.0, 0.0])
        under[1] = p[lower_lid, 1] + 0.35 * eye_width
        masks[f"under_eye_{side}"] = _ellipse(shape, under, (0.45 * eye_width, 0.22 * eye_width))
        cheek_centre = p[list(cheek)].mean(axis=0)
        masks[f"cheek_{side}"] = _ellipse(shape, cheek_centre, (0.5 * eye_width, 0.5 * eye_width))
        start = p[alar] + np.array([direction * 0.15 * eye_width, 0.05 * eye_width])
        end = p[mouth] + np.array([direction * 0.2 * eye_width, 0.1 * eye_width])
        masks[f"nasolabial_{side}"] = _band(shape, start, end, 0.3 * eye_width)
    blocked = eyes | brows
    for name in list(masks):
        keep = masks[name] & face
        if name != "lips":
            keep &= ~blocked & ~lips
        if name.startswith("cheek") or name.startswith("nasolabial"):
            keep &= ~nose
        masks[name] = keep
    return masks
