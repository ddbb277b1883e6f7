"""The eye white segmented by colour inside the eye opening (issue 13, engine 1.5.3).

A constructed front face in canonical coordinates: light skin, two narrowed eyes whose white shows
only beside the iris, inside the circle MediaPipe's iris radius draws (it over-covers narrowed
eyes), with lid skin at the outer corners and the pink caruncle at the inner ones. The opening less
that circle (`sclera_mask`) keeps lid and caruncle, which are as coloured as the skin; the white
found by colour (`eye_white_mask`) anchors the exposure at its own level.
"""

from __future__ import annotations

import numpy as np

from core.assessment import canonical as canon

SKIN = np.array([0.42, 0.30, 0.24])  # linear RGB of a light skin (red/blue 1.75)
LID = SKIN * 0.7  # the lid's skin, a little shaded
CARUNCLE = np.array([0.50, 0.30, 0.30])  # pink, as bright as the white's shade
IRIS = np.array([0.05, 0.03, 0.02])
WHITE_LEVEL = 0.5  # the eye white's linear luminance
HALF_WIDTH, HALF_HEIGHT = 26, 7  # a narrowed eye
IRIS_RADIUS, LANDMARK_RADIUS = 9, 14  # drawn iris; MediaPipe's over-covering radius
WHITE_REACH = 15  # the white shows from the iris out to here: all inside 1.15 x 14 px
CENTRES = {"right": (200.0, 200.0), "left": (312.0, 200.0)}


def constructed_face(white_levels: tuple[float, float] = (WHITE_LEVEL, WHITE_LEVEL)):
    """(linear image, landmarks, skin colour); `white_levels`: right eye's, left eye's."""
    image = np.tile(SKIN.astype(np.float32), (512, 512, 1))
    points = np.zeros((478, 3))
    rows, cols = np.mgrid[:512, :512]
    eyes = (
        (canon.RIGHT_EYE_CONTOUR, canon.RIGHT_IRIS, CENTRES["right"], white_levels[0], 1),
        (canon.LEFT_EYE_CONTOUR, canon.LEFT_IRIS, CENTRES["left"], white_levels[1], -1),
    )
    for contour, iris, (cx, cy), level, nose in eyes:
        # Contour from its first point (image left) along one lid to the opposite corner and back.
        angles = np.pi - np.arange(16) * np.pi / 8
        points[list(contour), 0] = cx + HALF_WIDTH * np.cos(angles)
        points[list(contour), 1] = cy + HALF_HEIGHT * np.sin(angles)
        points[iris[0], :2] = cx, cy
        for index, angle in zip(iris[1:], (0, np.pi / 2, np.pi, 3 * np.pi / 2), strict=True):
            points[index, :2] = cx + LANDMARK_RADIUS * np.cos(angle), cy + LANDMARK_RADIUS * np.sin(angle)
        dx, dy = cols - cx, rows - cy
        inside = (dx / HALF_WIDTH) ** 2 + (dy / HALF_HEIGHT) ** 2 <= 1.0
        image[inside & (dx * nose > 0)] = CARUNCLE  # the nose is towards the image centre
        image[inside & (dx * nose <= 0)] = LID
        image[inside & (np.abs(dx) <= WHITE_REACH)] = level
        image[inside & (np.hypot(dx, dy) <= IRIS_RADIUS)] = IRIS
        # A catchlight on the iris, off the pupil's disk and apart from the white: bright, neutral.
        image[(np.abs(dx + 5) <= 1) & (np.abs(dy + 5) <= 1)] = 0.9
    return image, points, SKIN


def test_a_narrowed_eyes_white_anchors_where_the_iris_circle_left_only_lid_and_caruncle():
    image, points, skin = constructed_face()
    least = canon.min_reference_pixels(points)
    old, reason = canon.white_level(image, canon.sclera_mask(points, (512, 512)), skin, "sclera", least)
    assert old is None and reason == "coloured"
    area = canon.eye_white_mask(image, points)
    assert not (area & (image.max(axis=2) > 0.8)).any()  # no catchlight
    assert np.allclose(image[area], WHITE_LEVEL)  # no lid, caruncle or iris
    found, reason = canon.white_level(image, area, skin, "sclera", least)
    assert reason is None and found is not None
    assert abs(found.level - WHITE_LEVEL) < 0.01 and found.confidence == 1.0


def test_an_opening_without_a_white_keeps_its_reason():
    image, points, skin = constructed_face((0.0, 0.0))  # both whites black: nothing brighter than the iris
    image[image.max(axis=2) == 0.0] = LID
    area = canon.eye_white_mask(image, points)
    assert (area == canon.sclera_mask(points, (512, 512))).all()  # judged, and refused, as before
    least = canon.min_reference_pixels(points)
    assert canon.white_level(image, area, skin, "sclera", least) == (None, "coloured")


def test_two_eye_whites_lit_differently_are_uneven():
    for left, expected in ((0.45, None), (0.3, "uneven")):  # 1.11 and 1.67 times darker
        image, points, skin = constructed_face((WHITE_LEVEL, left))
        least = canon.min_reference_pixels(points)
        found, reason = canon.white_level(image, canon.eye_white_mask(image, points), skin, "sclera", least)
        assert reason == expected, (left, reason)
        assert (found is None) == (expected is not None)
