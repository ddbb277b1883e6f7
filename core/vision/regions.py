"""Clinical face regions as polygons and boolean masks, from MediaPipe face-mesh indices.

Left/right are the PATIENT's left/right in an UNMIRRORED photo (rear camera, photographer,
uploaded file): `cheek_left` is the patient's left cheek, on the image's RIGHT. A mirrored
image looks like a mirror-image person to the model, so its "left" regions land on the patient's
right: un-mirror selfie previews (`image[:, ::-1]`) before analysing them.

How the index sets were chosen (reproducible, no hand-picking per photo): each region is the set
of vertices of MediaPipe's canonical face mesh (shipped in face_landmarker.task, units ~cm,
x to the patient's left, y up, origin near the nose bridge) inside a simple box or band, e.g.
crow's feet = lateral to the outer eye corner (-7.3 <= x <= -5.0, 0.9 <= y <= 3.8); the patient's
left side uses the exact mirror vertices of the canonical mesh. A region's polygon is the convex
hull of its vertices in the image, so it follows the face in any pose.

Masks: every skin region is intersected with `skin_mask` (face oval minus eyes, brows, lips and
nostrils), so no region contains an eye or the lips; `lips` is the outer lip contour. Regions
may touch but are built to overlap little (perioral excludes the lips and the nasolabial bands).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.vision.landmarks import Landmarks, points_px

REGIONS: tuple[str, ...] = (
    "forehead",
    "glabella",
    "crows_feet_left",
    "crows_feet_right",
    "under_eye_left",
    "under_eye_right",
    "cheek_left",
    "cheek_right",
    "nose",
    "nasolabial_left",
    "nasolabial_right",
    "perioral",
    "chin",
    "lips",
)

# Vertex sets (convex hull in the image = region polygon). See the module docstring.
# fmt: off
REGION_VERTICES: dict[str, tuple[int, ...]] = {
    "forehead": (10, 67, 69, 104, 108, 109, 151, 297, 299, 333, 337, 338),
    "glabella": (8, 9, 55, 285, 107, 336),
    "crows_feet_right": (31, 34, 35, 111, 116, 117, 124, 139, 143, 156, 226),
    "crows_feet_left": (261, 264, 265, 340, 345, 346, 353, 368, 372, 383, 446),
    "under_eye_right": (22, 23, 24, 26, 120, 121, 229, 230, 231, 232),
    "under_eye_left": (252, 253, 254, 256, 349, 350, 449, 450, 451, 452),
    "cheek_right": (50, 101, 118, 119, 123, 147, 187, 205, 207),
    "cheek_left": (280, 330, 347, 348, 352, 376, 411, 425, 427),
    "nose": (
        1, 2, 4, 5, 6, 19, 45, 48, 49, 51, 64, 94, 98, 115, 122, 129, 131, 168, 174, 188, 193,
        195, 196, 197, 209, 220, 275, 278, 279, 281, 294, 327, 344, 351, 358, 360, 399, 412, 417, 419,
        429, 440,
    ),
    "nasolabial_right": (57, 61, 76, 92, 185, 186, 203, 206),
    "nasolabial_left": (287, 291, 306, 322, 409, 410, 423, 426),
    "perioral": (
        0, 11, 12, 13, 14, 15, 16, 17, 18, 37, 39, 40, 43, 61, 84, 91, 106, 146, 164, 167, 181, 182,
        185, 204, 267, 269, 270, 273, 291, 314, 321, 335, 375, 393, 405, 406, 409, 424,
    ),
    "chin": (32, 140, 148, 152, 171, 175, 176, 194, 199, 200, 201, 208, 262, 369, 377, 396, 400, 418, 421, 428),
}

# Ordered contours (polygons that are not convex).
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
    148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
EYE_RIGHT = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_LEFT = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
BROW_RIGHT = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
BROW_LEFT = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
NOSTRIL_RIGHT = (20, 60, 75, 97, 98, 99, 240, 241, 242)
NOSTRIL_LEFT = (250, 290, 305, 326, 327, 328, 460, 461, 462)
# Nostril wings, subnasale and upper-lip midline: the skin under the nose (light from above shades it).
UNDER_NOSE = (98, 97, 2, 326, 327, 0, 37, 267)
MOUTH_CORNERS = (61, 291)  # the patient's right, left
INNER_LIP_MIDDLE = (13, 14)  # upper, lower: their gap is the mouth's opening
# fmt: on

# Eyes and lips are cut out with a margin (fraction of the inter-pupil distance) so lashes,
# eyeliner and lip borders do not count as skin.
EXCLUSION_MARGIN_IPD = 0.06


def _hull(xy: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    return cv2.convexHull(xy[list(indices)].astype(np.float32)).reshape(-1, 2)


def region_polygons(landmarks: Landmarks) -> dict[str, np.ndarray]:
    """{region: (N, 2) float32 pixel polygon} for every name in REGIONS.

    Polygons are outlines only; use `region_masks` for skin pixels (eyes/lips removed).
    """
    xy = points_px(landmarks)
    polygons = {name: _hull(xy, REGION_VERTICES[name]) for name in REGIONS if name != "lips"}
    polygons["lips"] = xy[list(LIPS_OUTER)].astype(np.float32)
    return {name: polygons[name] for name in REGIONS}


def _fill(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask


def _ipd(xy: np.ndarray) -> float:
    if xy.shape[0] >= 478:
        return float(np.linalg.norm(xy[468] - xy[473]))
    return float(np.linalg.norm(xy[33] - xy[263])) * 0.7  # outer corners are ~1.4x the pupils


def _exclusions(xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 mask of eyes, brows, lips and nostrils, with a small safety margin."""
    polygons = [np.round(xy[list(contour)]).astype(np.int32) for contour in (EYE_RIGHT, EYE_LEFT, LIPS_OUTER)]
    polygons += [
        np.round(_hull(xy, group)).astype(np.int32)
        for group in (BROW_RIGHT, BROW_LEFT, NOSTRIL_RIGHT, NOSTRIL_LEFT)
    ]
    blocked = np.zeros(shape, np.uint8)
    margin = int(round(EXCLUSION_MARGIN_IPD * _ipd(xy)))
    if margin <= 0:
        for polygon in polygons:  # one at a time: overlapping contours in one call leave holes
            cv2.fillPoly(blocked, [polygon], 1)
        return blocked
    # A dilation is the union of each feature's own: each is dilated in its box grown by the
    # margin only (the same pixels as dilating the whole mask, at a fraction of the cost).
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    height, width = shape
    for polygon in polygons:
        x0, y0 = np.maximum(polygon.min(axis=0) - margin, 0)
        x1, y1 = np.minimum(polygon.max(axis=0) + margin + 1, (width, height))
        if x1 <= x0 or y1 <= y0:
            continue
        feature = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(feature, [polygon - np.array([x0, y0], np.int32)], 1)
        box = blocked[y0:y1, x0:x1]
        np.maximum(box, cv2.dilate(feature, kernel), out=box)
    return blocked


def skin_mask(landmarks: Landmarks, shape: tuple[int, ...]) -> np.ndarray:
    """bool (h, w): face oval minus eyes, brows, lips and nostrils (with a small margin)."""
    size = (int(shape[0]), int(shape[1]))
    xy = points_px(landmarks)
    oval = _fill(size, xy[list(FACE_OVAL)])
    return (oval > 0) & (_exclusions(xy, size) == 0)


def region_masks(
    landmarks: Landmarks,
    shape: tuple[int, ...],
    skin: np.ndarray | None = None,
    names: tuple[str, ...] = REGIONS,
) -> dict[str, np.ndarray]:
    """{region: bool (h, w)} for every name in `names` (default REGIONS); skin regions exclude
    eyes/brows/lips/nostrils. `skin`: this face's `skin_mask` when the caller has it already (it is
    the costly part); `names`: only the regions a caller reads (the live photo gate reads 5)."""
    size = (int(shape[0]), int(shape[1]))
    xy = points_px(landmarks)
    if skin is None:
        skin = skin_mask(xy, size)
    masks: dict[str, np.ndarray] = {}
    for name in names:
        polygon = (
            xy[list(LIPS_OUTER)].astype(np.float32) if name == "lips" else _hull(xy, REGION_VERTICES[name])
        )
        filled = _fill(size, polygon) > 0
        masks[name] = filled if name == "lips" else filled & skin
    if "perioral" in masks:
        # Perioral surrounds the mouth: keep the nasolabial bands out of it so the two do not overlap.
        for band in ("nasolabial_left", "nasolabial_right"):
            masks["perioral"] &= ~(
                masks[band] if band in masks else _fill(size, _hull(xy, REGION_VERTICES[band])) > 0
            )
    return masks
