"""YuNet face boxes: original-pixel coordinates, small faces in big photos, several faces."""

from __future__ import annotations

import cv2
import numpy as np

from core.vision.detector import DetectorOptions, detect_faces, downscale


def test_face_box_and_keypoints_in_original_pixels(face_photo_bgr, face_landmarks):
    faces = detect_faces(face_photo_bgr)
    assert len(faces) == 1
    box = faces[0]
    assert box.score > 0.8
    x, y, w, h = face_landmarks.bbox()
    centre = np.array([x + w / 2, y + h / 2])
    assert np.linalg.norm(np.array([box.x + box.w / 2, box.y + box.h / 2]) - centre) < 0.2 * w
    eye_a, eye_b = box.keypoints[0], box.keypoints[1]
    right_eye, left_eye = face_landmarks.eye_centres()
    assert eye_a[0] < eye_b[0]  # YuNet order: the eye on the image's left first
    assert np.linalg.norm(eye_a - right_eye) < 0.1 * w and np.linalg.norm(eye_b - left_eye) < 0.1 * w


def test_small_face_in_a_12_megapixel_photo_is_found(face_photo_bgr):
    canvas = np.full((3000, 4000, 3), 170, np.uint8)
    small = cv2.resize(face_photo_bgr, (328, 394), interpolation=cv2.INTER_AREA)  # ~8% of the width
    canvas[1300 : 1300 + 394, 2500 : 2500 + 328] = small
    faces = detect_faces(canvas)
    assert len(faces) == 1
    assert 2450 < faces[0].x < 2700 and 1250 < faces[0].y < 1550


def test_several_faces_and_background_people(face_photo_bgr):
    pair = np.concatenate([face_photo_bgr, face_photo_bgr], axis=1)
    assert len(detect_faces(pair)) == 2
    # A much smaller face far behind is ignored as a background person by default.
    canvas = face_photo_bgr.copy()
    tiny = cv2.resize(face_photo_bgr, (82, 98), interpolation=cv2.INTER_AREA)
    canvas[0:98, 0:82] = tiny
    assert len(detect_faces(canvas, DetectorOptions(min_relative_size=0.0))) == 2
    assert len(detect_faces(canvas)) == 1
    assert detect_faces(np.full((480, 640, 3), 128, np.uint8)) == []


def test_downscale_keeps_aspect_and_limit():
    image = np.zeros((3000, 4000, 3), np.uint8)
    small = downscale(image, 1280)
    assert max(small.shape[:2]) == 1280 and abs(small.shape[1] / small.shape[0] - 4 / 3) < 0.01
    assert downscale(image[:100, :100], 1280).shape == (100, 100, 3)
