"""`check_photo`: runs the checks of a view on one photo or live frame and assembles the result."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from core.vision.detector import FaceBox, detect_faces
from core.vision.landmarks import FaceLandmarks, HeadPose, detect_landmarks
from core.vision.quality.close_up import _close_up
from core.vision.quality.colour import _check_colour
from core.vision.quality.compression import _check_compression
from core.vision.quality.expression import _check_expression
from core.vision.quality.framing import _check_faces, _check_pose, _check_resolution, _yaw_from_keypoints
from core.vision.quality.lighting import (
    _check_backlight,
    _check_dynamic_range,
    _check_exposure,
    _check_lighting,
    _frame_exposure,
)
from core.vision.quality.measures import _as_bgr, _face_measures, _FaceMeasures, _lab, _working_copy
from core.vision.quality.occlusion import _check_occlusion
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import QualityCheck, QualityResult
from core.vision.quality.sharpness import _check_sharpness
from core.vision.quality.verdict import _result
from core.vocabulary import normalise_view


def check_photo(
    image_bgr: np.ndarray,
    view: str = "front",
    options: QualityOptions | None = None,
    landmarks: FaceLandmarks | None = None,
    faces: list[FaceBox] | None = None,
) -> QualityResult:
    """Run the quality gate on one photo (BGR uint8, unmirrored).

    `landmarks` (e.g. from a VIDEO-mode FaceLandmarker on this frame) skips MediaPipe; `faces`
    skips YuNet (pass `[]` with landmarks on live frames to trust the tracker's single face).
    """
    o = options or QualityOptions()
    view = normalise_view(view)
    image = _as_bgr(image_bgr)
    full_size = (int(image.shape[0]), int(image.shape[1]))
    if min(full_size) == 0:
        # Nothing to look at (an empty crop or upload): too small, with its instruction.
        return _result(
            view, _check_resolution(full_size, None, None, view, o), None, [], None, full_size, None, o
        )
    work, factor = _working_copy(image, o.work_side)
    work_size = (int(work.shape[0]), int(work.shape[1]))

    if landmarks is None:
        landmarks_work = detect_landmarks(work)
    else:
        scale_to_work = (
            work_size[1] / max(landmarks.image_size[1], 1) if landmarks.image_size[1] else 1.0 / factor
        )
        landmarks_work = (
            landmarks if abs(scale_to_work - 1.0) < 1e-6 else landmarks.scaled(scale_to_work, work_size)
        )
    if view == "close_up":
        # A close-up is judged on the skin; the landmarks (when the eyes are in it) give its scale.
        return _close_up(image, work, factor, _full_landmarks(landmarks_work, factor, full_size), o)
    if faces is None:
        detector = replace(o.detector, max_side=_detector_side(work_size, landmarks_work, o))
        faces = [
            replace(
                f,
                x=f.x * factor,
                y=f.y * factor,
                w=f.w * factor,
                h=f.h * factor,
                keypoints=f.keypoints * factor,
            )
            for f in detect_faces(work, detector)
        ]

    if landmarks_work is None and landmarks is None and faces:
        landmarks_work = _landmarks_in_crop(work, faces[0], factor, o)

    checks: list[QualityCheck] = []
    pose: HeadPose | None = landmarks_work.pose if landmarks_work is not None else None
    main_box = faces[0] if faces else None
    face_box: tuple[int, int, int, int] | None = None
    if landmarks_work is not None:
        x, y, w, h = landmarks_work.bbox()
        face_box = (round(x * factor), round(y * factor), round(w * factor), round(h * factor))
    elif main_box is not None:
        face_box = main_box.as_int()

    face_found = landmarks_work is not None or main_box is not None

    checks.append(_check_faces(faces, landmarks_work, view))
    if not face_found:
        # A face lost in darkness or glare: say so, it is the likelier fix than "show your face".
        exposure = _frame_exposure(cv2.cvtColor(work, cv2.COLOR_BGR2GRAY), o)
        if exposure.status == "fail":
            checks.append(exposure)
        return _result(view, checks, None, faces, None, full_size, None, o)

    # Pose before distance: on equal severity "turn your head" is the first thing to fix (a
    # turned face also reads smaller), so it is reported first.
    if pose is None and main_box is not None and view != "close_up":
        pose = HeadPose(_yaw_from_keypoints(main_box), 0.0, 0.0)
    if pose is not None and view != "close_up":
        checks.extend(_check_pose(pose, view, o))
    checks.extend(
        _check_resolution(full_size, _full_landmarks(landmarks_work, factor, full_size), main_box, view, o)
    )

    if landmarks_work is None:
        # No mesh (e.g. a full profile): judge what does not need regions.
        checks.append(_check_colour(_lab(work), None, o))
        if main_box is not None:
            checks.append(_check_sharpness(image, main_box.as_int(), view, o))
        return _result(view, checks, pose, faces, face_box, full_size, None, o)

    measures = _face_measures(work, landmarks_work)
    photometric = [_check_exposure(measures, view, o), _check_backlight(measures, view, o)]
    photometric.extend(_check_lighting(measures, view, o))
    photometric.append(
        _check_colour(measures.frame_lab, measures.skin, o, skin_median=measures.skin_lab_median())
    )
    dynamic_range = _check_dynamic_range(measures, o)
    if dynamic_range is not None:
        photometric.append(dynamic_range)
    # Sharpness and compression on the ORIGINAL pixels of the face (the working copy may be halved
    # twice); when the working copy is the image (live frames), on its luma, already converted.
    if factor == 1.0:
        original, face_rect = measures.luma, measures.face_rect
    else:
        fx, fy, fw, fh = measures.face_rect
        cx, cy = measures.crop_rect[:2]
        original = image
        face_rect = (
            round((fx + cx) * factor),
            round((fy + cy) * factor),
            round(fw * factor),
            round(fh * factor),
        )
    photometric.append(_check_sharpness(original, face_rect, view, o))
    if o.check_compression:
        photometric.append(_check_compression(original, face_rect, o))
    checks.extend(photometric)
    checks.extend(_check_occlusion(measures, measures.landmarks, view, o))
    checks.extend(_check_expression(landmarks_work, o))
    return _result(
        view,
        checks,
        pose,
        faces,
        face_box,
        full_size,
        _full_landmarks(landmarks_work, factor, full_size),
        o,
        _veiled(measures, photometric, o),
    )


def _veiled(m: _FaceMeasures, photometric: list[QualityCheck], o: QualityOptions) -> bool:
    """A dark face AND a flat range, with the frame's black point lifted (`veil_black_ratio`):
    a veil over the photo (flare, haze, a faded or filtered photo), not a dark photo. Measured only
    when both fail (a masked histogram of every 4th pixel)."""
    failing = {check.name: check for check in photometric if check.status == "fail"}
    exposure = failing.get("exposure")
    if "dynamic_range" not in failing or exposure is None or exposure.measure != "dark_p90":
        return False
    if not isinstance(exposure.value, int | float):
        return False
    counts = cv2.calcHist([np.ascontiguousarray(m.frame_luma[::4, ::4])], [0], None, [256], [0, 256]).ravel()
    black = float(np.searchsorted(np.cumsum(counts), 0.01 * counts.sum()))
    return black >= o.veil_black_ratio * float(exposure.value)


def _landmarks_in_crop(
    work: np.ndarray, box: FaceBox, factor: float, o: QualityOptions
) -> FaceLandmarks | None:
    """The mesh of a face YuNet found where MediaPipe's own detector found none, from a square
    crop around YuNet's box (`mesh_crop_boxes` box sides wide) with its points moved back into
    `work`. MediaPipe's face detector is short-range: a face under ~1/5 of the frame, or one half
    in shadow, is missed in the whole photo but found when it fills the crop (tuning split: a
    stage portrait and a group photo; a monochrome side-lit face, whose light was then never
    measured). `box` is in original pixels, `work` is smaller by `factor`."""
    x, y, w, h = (value / factor for value in (box.x, box.y, box.w, box.h))
    half = 0.5 * o.mesh_crop_boxes * max(w, h)
    cx, cy = x + 0.5 * w, y + 0.5 * h
    x0, y0 = max(0, round(cx - half)), max(0, round(cy - half))
    x1, y1 = min(work.shape[1], round(cx + half)), min(work.shape[0], round(cy + half))
    if x1 - x0 < 32 or y1 - y0 < 32:
        return None
    found = detect_landmarks(work[y0:y1, x0:x1])
    if found is None:
        return None
    points = found.points.copy()
    points[:, 0] += x0
    points[:, 1] += y0
    return replace(found, points=points, image_size=(int(work.shape[0]), int(work.shape[1])))


def _detector_side(work_size: tuple[int, int], landmarks: FaceLandmarks | None, o: QualityOptions) -> int:
    """Long side of YuNet's input: just large enough that a face `min_relative_size` times the
    landmarked face (the smallest face that counts as a second person) still has
    `detector_min_face_px` pixels; at most `detector.max_side` (no landmarks: that maximum).
    A close clinical face lets YuNet run at ~400 px (~4x cheaper than 640); a group photo's
    small faces keep the full input."""
    cap = min(o.detector.max_side, max(work_size))
    if landmarks is None:
        return cap
    _, _, w, h = landmarks.bbox()
    smallest = max(o.detector.min_relative_size * max(w, h), 1.0)
    side = max(work_size) * o.detector_min_face_px / smallest
    return int(np.clip(math.ceil(side), min(o.detector_min_side, cap), cap))


def _full_landmarks(
    landmarks: FaceLandmarks | None, factor: float, full_size: tuple[int, int]
) -> FaceLandmarks | None:
    if landmarks is None or factor == 1.0:
        return landmarks
    return landmarks.scaled(factor, full_size)
