"""One face, its pose for the view, and whether it is large and sharp enough in pixels: the
face count, yaw / pitch / roll, image size, pupil distance and face size checks."""

from __future__ import annotations

import math

import numpy as np

from core.i18n import N_
from core.vision.detector import FaceBox
from core.vision.landmarks import FaceLandmarks, HeadPose
from core.vision.quality.measures import _grade
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import QualityCheck, Status


def _yaw_from_keypoints(box: FaceBox) -> float:
    """Rough yaw from YuNet's 5 points (used only when MediaPipe finds no mesh, e.g. profiles)."""
    eye_a, eye_b, nose = box.keypoints[0], box.keypoints[1], box.keypoints[2]
    eye_mid = (eye_a + eye_b) / 2
    half_span = max(abs(eye_b[0] - eye_a[0]) / 2, 0.08 * box.w)
    ratio = float(np.clip((nose[0] - eye_mid[0]) / (half_span * 1.6), -1.0, 1.0))
    # Nose to the image's left (ratio < 0) = yaw > 0 (module convention).
    return -math.degrees(math.asin(ratio)) * (62.0 / 90.0)  # same compressed scale as MediaPipe


# Instructions are whole sentences (the catalog's message ids: the portal translates them where
# the patient reads them, by this English text; stored results keep the English). N_ only marks
# them for extraction. Side-dependent sentences are listed per side, never glued together.
# yaw > 0 = the head is turned to the patient's right; to reduce it, turn to the left.
_FRONT_TURN = {
    True: N_("Turn your head slightly to your left and look straight into the camera."),
    False: N_("Turn your head slightly to your right and look straight into the camera."),
}


_WRONG_SIDE = {  # by the side the view shows
    "left": N_("This looks like your right side. Show your left side: turn your head to your right."),
    "right": N_("This looks like your left side. Show your right side: turn your head to your left."),
}


_TURN_FURTHER = {
    "left": N_("Turn your head further to your right, so your left cheek faces the camera."),
    "right": N_("Turn your head further to your left, so your right cheek faces the camera."),
}


_TURN_BACK = {
    "left": N_("Turn your head back a little towards the camera (to your left)."),
    "right": N_("Turn your head back a little towards the camera (to your right)."),
}


_TILT = {  # roll > 0: the patient's left eye is lower
    True: N_("Keep your head straight, do not tilt it towards your left shoulder."),
    False: N_("Keep your head straight, do not tilt it towards your right shoulder."),
}


def _check_faces(faces: list[FaceBox], landmarks: FaceLandmarks | None, view: str) -> QualityCheck:
    count = len(faces)
    if count == 0 and landmarks is not None:
        count = 1  # YuNet skipped (live) or missed a face MediaPipe found
    if count == 1:
        return QualityCheck("one_face", "pass", 1, 1)
    if count == 0:
        if view == "close_up":
            return QualityCheck("one_face", "pass", 0, "none needed for a close-up")
        return QualityCheck(
            "one_face", "fail", 0, 1, N_("We cannot see a face. Make sure your whole face is in the picture.")
        )
    return QualityCheck(
        "one_face",
        "fail",
        count,
        1,
        N_("Only you should be in the photo. Ask others to step out of the picture."),
    )


def _check_resolution(
    image_size: tuple[int, int],
    landmarks: FaceLandmarks | None,
    box: FaceBox | None,
    view: str,
    o: QualityOptions,
) -> list[QualityCheck]:
    h, w = image_size
    long_side, short_side = max(h, w), min(h, w)
    checks = []
    if short_side < o.min_image_short_side:
        checks.append(
            QualityCheck(
                "image_size",
                "fail",
                f"{w}x{h}",
                f"{o.min_image_size[0]}x{o.min_image_size[1]}",
                N_("The photo is too small. Use your phone's main camera at full resolution."),
            )
        )
    elif long_side < o.min_image_size[0] or short_side < o.min_image_size[1]:
        checks.append(
            QualityCheck(
                "image_size",
                "warn",
                f"{w}x{h}",
                f"{o.min_image_size[0]}x{o.min_image_size[1]}",
                N_("Use your phone's main camera at full resolution."),
            )
        )
    else:
        preferred = long_side >= o.preferred_image_size[0] and short_side >= o.preferred_image_size[1]
        checks.append(
            QualityCheck(
                "image_size",
                "pass",
                f"{w}x{h}",
                f"{o.preferred_image_size[0]}x{o.preferred_image_size[1]}"
                if preferred
                else "below preferred",
            )
        )
    if landmarks is not None:
        if view in ("front", "close_up"):
            size_px = landmarks.interpupil_px()
        else:
            # Turned faces foreshorten the pupil distance: use face height (~2.6x the frontal IPD).
            size_px = landmarks.face_height_px() / 2.6
        face_h = landmarks.face_height_px() * 1.25  # + hairline
    elif box is not None:
        size_px = box.h / 3.3  # YuNet box height ~3.3x the inter-pupil distance
        face_h = box.h
    else:
        return checks
    status = _grade(size_px, o.warn_interpupil_px, o.min_interpupil_px, higher_is_worse=False)
    checks.append(
        QualityCheck(
            "distance",
            status,
            float(size_px),
            o.min_interpupil_px,
            "" if status == "pass" else N_("Move the camera closer so your face fills most of the picture."),
        )
    )
    fraction = face_h / max(h, 1)
    if fraction < o.min_face_height_fraction or fraction < o.warn_face_height_fraction:
        status = "fail" if fraction < o.min_face_height_fraction else "warn"
        checks.append(
            QualityCheck(
                "face_size",
                status,
                float(fraction),
                o.warn_face_height_fraction,
                N_("Move the camera closer to your face."),
            )
        )
    elif fraction > o.max_face_height_fraction:
        checks.append(
            QualityCheck(
                "face_size",
                "warn",
                float(fraction),
                o.max_face_height_fraction,
                N_("Move the camera a little further away so your whole face fits."),
            )
        )
    else:
        checks.append(QualityCheck("face_size", "pass", float(fraction), o.warn_face_height_fraction))
    return checks


def _check_pose(pose: HeadPose, view: str, o: QualityOptions) -> list[QualityCheck]:
    yaw = pose.yaw
    if view == "front":
        status = _grade(abs(yaw), o.front_yaw_pass, o.front_yaw_warn)
        instruction = "" if status == "pass" else _FRONT_TURN[yaw > 0]
        yaw_check = QualityCheck("yaw", status, float(yaw), o.front_yaw_pass, instruction)
    else:
        wanted_sign = 1.0 if view.startswith("left") else -1.0  # left views: yaw > 0
        signed = yaw * wanted_sign  # > 0 when turned the right way
        side_word = "left" if wanted_sign > 0 else "right"
        if view.endswith("oblique"):
            lo_pass, hi_pass = o.oblique_yaw_range_pass
            lo_warn, hi_warn = o.oblique_yaw_range_warn
            target = f"{lo_pass:.0f}-{hi_pass:.0f}"
        else:
            lo_pass, hi_pass, lo_warn, hi_warn = o.profile_yaw_min_pass, 180.0, o.profile_yaw_min_warn, 180.0
            target = f">={lo_pass:.0f}"
        if signed < -5:
            status: Status = "fail"
            instruction = _WRONG_SIDE[side_word]
        elif lo_pass <= signed <= hi_pass:
            status, instruction = "pass", ""
        else:
            status = "warn" if lo_warn <= signed <= hi_warn else "fail"
            instruction = _TURN_FURTHER[side_word] if signed < lo_pass else _TURN_BACK[side_word]
        yaw_check = QualityCheck("yaw", status, float(yaw), target, instruction)
    if pose.pitch > 0:  # chin up
        pitch_status = _grade(pose.pitch, o.pitch_up_pass, o.pitch_up_warn)
    else:
        pitch_status = _grade(-pose.pitch, o.pitch_pass, o.pitch_warn)
    pitch_instruction = ""
    if pitch_status != "pass":
        pitch_instruction = (
            N_("Lower your chin slightly.") if pose.pitch > 0 else N_("Raise your chin slightly.")
        )
    roll_status = _grade(abs(pose.roll), o.roll_pass, o.roll_warn)
    roll_instruction = ""
    if roll_status != "pass":
        # roll > 0: the patient's left eye is lower -> straighten by tilting towards the right.
        roll_instruction = _TILT[pose.roll > 0]
    return [
        yaw_check,
        QualityCheck("pitch", pitch_status, float(pose.pitch), o.pitch_pass, pitch_instruction),
        QualityCheck("roll", roll_status, float(pose.roll), o.roll_pass, roll_instruction),
    ]
