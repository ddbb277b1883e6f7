"""Landmarks, head-pose signs and the video-mode landmarker on the astronaut face."""

from __future__ import annotations

import cv2
import numpy as np

from core.vision.landmarks import FaceLandmarker, FaceLandmarks, detect_landmarks, pose_from_matrix


def test_landmarks_are_pixel_points_with_pose_and_blendshapes(face_photo_bgr, face_landmarks):
    h, w = face_photo_bgr.shape[:2]
    assert isinstance(face_landmarks, FaceLandmarks)
    assert face_landmarks.points.shape == (478, 3) and face_landmarks.points.dtype == np.float32
    assert face_landmarks.image_size == (h, w)
    x, y, bw, bh = face_landmarks.bbox()
    assert 0 <= x < w and 0 <= y < h and bw > w * 0.3 and bh > h * 0.3
    assert 100 < face_landmarks.interpupil_px() < 250
    assert {"mouthSmileLeft", "jawOpen", "eyeBlinkLeft"} <= set(face_landmarks.blendshapes)
    assert abs(face_landmarks.pose.yaw) < 10 and abs(face_landmarks.pose.roll) < 10
    right_eye, left_eye = face_landmarks.eye_centres()
    assert right_eye[0] < left_eye[0], "patient's right eye is on the image left in an unmirrored photo"


def test_mirroring_flips_yaw_and_roll_signs(face_photo_bgr, face_landmarks):
    rotated = cv2.warpAffine(
        face_photo_bgr, cv2.getRotationMatrix2D((410, 492), -15, 1.0), face_photo_bgr.shape[1::-1]
    )  # clockwise in the image: the patient's left eye drops
    turned = detect_landmarks(rotated)
    mirrored = detect_landmarks(np.ascontiguousarray(rotated[:, ::-1]))
    assert turned is not None and mirrored is not None
    assert turned.pose.roll > face_landmarks.pose.roll + 10
    assert turned.pose.roll > 8 and mirrored.pose.roll < -8
    assert abs(turned.pose.pitch - mirrored.pose.pitch) < 4
    assert np.sign(mirrored.pose.yaw) != np.sign(turned.pose.yaw) or abs(turned.pose.yaw) < 3


def test_pose_from_matrix_reads_a_pure_yaw():
    angle = np.radians(30)
    transform = np.eye(4)
    transform[:3, :3] = [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    pose = pose_from_matrix(transform)
    assert abs(abs(pose.yaw) - 30) < 0.01 and abs(pose.pitch) < 0.01 and abs(pose.roll) < 0.01


def test_blank_image_has_no_face():
    assert detect_landmarks(np.full((480, 640, 3), 128, np.uint8)) is None


def test_large_photo_points_scale_back(face_photo_bgr, face_landmarks):
    big = cv2.resize(face_photo_bgr, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    landmarks = detect_landmarks(big)
    assert landmarks is not None and landmarks.image_size == big.shape[:2]
    assert abs(landmarks.interpupil_px() / face_landmarks.interpupil_px() - 3) < 0.15


def test_video_mode_tracks_frames(face_photo_bgr):
    frame = cv2.resize(face_photo_bgr, (400, 480))
    with FaceLandmarker(mode="video") as landmarker:
        results = [landmarker.detect_video(frame, t) for t in (0, 33, 33, 66)]  # repeated stamp tolerated
    assert all(len(faces) == 1 for faces in results)
