"""Clinical region polygons and masks on the astronaut face."""

from __future__ import annotations

import numpy as np

from core.vision.landmarks import detect_landmarks
from core.vision.regions import REGIONS, region_masks, region_polygons, skin_mask


def _centre_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


def test_every_region_is_a_nonempty_mask_inside_the_face(face_photo_bgr, face_landmarks):
    masks = region_masks(face_landmarks, face_photo_bgr.shape)
    assert list(masks) == list(REGIONS)
    x, y, w, h = face_landmarks.bbox()
    for name, mask in masks.items():
        assert mask.dtype == bool and mask.shape == face_photo_bgr.shape[:2]
        assert mask.sum() > 150, name
        ys, xs = np.nonzero(mask)
        assert xs.min() >= x - 2 and xs.max() <= x + w + 2 and ys.min() >= y - 2 and ys.max() <= y + h + 2, (
            name
        )


def test_left_and_right_are_the_patients_sides(face_photo_bgr, face_landmarks):
    masks = region_masks(face_landmarks, face_photo_bgr.shape)
    nose_x = _centre_x(masks["nose"])
    for base in ("cheek", "crows_feet", "under_eye", "nasolabial"):
        # Unmirrored photo: the patient's left side is on the image's right.
        assert _centre_x(masks[f"{base}_left"]) > nose_x > _centre_x(masks[f"{base}_right"]), base
    # A mirrored copy is seen as a (mirror-image) person facing the camera: "left" stays on the image
    # right, which is why selfie previews must be un-mirrored before analysis (module docstring).
    mirrored = np.ascontiguousarray(face_photo_bgr[:, ::-1])
    flipped = region_masks(detect_landmarks(mirrored), mirrored.shape)
    assert _centre_x(flipped["cheek_left"]) > _centre_x(flipped["nose"]) > _centre_x(flipped["cheek_right"])


def test_vertical_order_of_regions(face_photo_bgr, face_landmarks):
    masks = region_masks(face_landmarks, face_photo_bgr.shape)
    centre_y = {name: float(np.nonzero(mask)[0].mean()) for name, mask in masks.items()}
    assert (
        centre_y["forehead"] < centre_y["glabella"] < centre_y["nose"] < centre_y["lips"] < centre_y["chin"]
    )
    assert centre_y["under_eye_left"] < centre_y["cheek_left"]


def test_skin_mask_excludes_eyes_and_lips(face_photo_bgr, face_landmarks):
    skin = skin_mask(face_landmarks, face_photo_bgr.shape)
    points = face_landmarks.points
    for index in (468, 473, 13, 14, 159, 386):  # iris centres, inner lips, upper eyelids
        x, y = np.round(points[index, :2]).astype(int)
        assert not skin[y, x], index
    for index in (151, 50, 280, 199):  # forehead, cheeks, chin
        x, y = np.round(points[index, :2]).astype(int)
        assert skin[y, x], index
    masks = region_masks(face_landmarks, face_photo_bgr.shape)
    for name in REGIONS:
        if name != "lips":
            assert not (masks[name] & masks["lips"]).any(), name


def test_polygons_accept_raw_arrays(face_landmarks):
    polygons = region_polygons(face_landmarks.points)
    assert set(polygons) == set(REGIONS)
    assert all(p.ndim == 2 and p.shape[1] == 2 and len(p) >= 3 for p in polygons.values())


def test_eyes_brows_lips_and_nostrils_are_cut_out_with_their_margin(face_landmarks):
    """The exclusion mask is each feature dilated in its own box: the same pixels as dilating the
    whole mask of filled features at once, also for a face cut by the frame's edge and at a scale
    where the margin rounds to nothing."""
    import cv2

    from core.vision import regions

    def whole_mask_dilated(xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        filled = np.zeros(shape, np.uint8)
        for contour in (regions.EYE_RIGHT, regions.EYE_LEFT, regions.LIPS_OUTER):
            cv2.fillPoly(filled, [np.round(xy[list(contour)]).astype(np.int32)], 1)
        for group in (regions.BROW_RIGHT, regions.BROW_LEFT, regions.NOSTRIL_RIGHT, regions.NOSTRIL_LEFT):
            cv2.fillPoly(filled, [np.round(regions._hull(xy, group)).astype(np.int32)], 1)
        margin = int(round(regions.EXCLUSION_MARGIN_IPD * regions._ipd(xy)))
        if margin <= 0:
            return filled
        return cv2.dilate(
            filled, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        )

    h, w = face_landmarks.image_size
    xy = face_landmarks.xy
    centre = xy.mean(axis=0)
    cases = [
        (xy, (h, w)),
        (xy - xy.min(axis=0) + np.float32([-25.0, -15.0]), (h, w)),  # the brows and an eye off the frame
        (xy - (xy.max(axis=0) - np.float32([w, h])) + 20.0, (h, w)),  # the mouth off the bottom edge
        ((xy - centre) * 0.05 + centre, (h, w)),  # a tiny face: no margin
    ]
    for points, shape in cases:
        expected = whole_mask_dilated(points, shape)
        assert expected.any()
        assert np.array_equal(regions._exclusions(points, shape), expected)
