"""Face boxes with YuNet (OpenCV `cv2.FaceDetectorYN`): finds small, distant and several faces.

MediaPipe's built-in detector (BlazeFace short range) misses faces that fill little of the frame
and reports at most `num_faces`; the quality gate needs "exactly one face" over the whole photo,
so it uses YuNet. Photos are detected on a copy whose long side is at most
`DetectorOptions.max_side` pixels (a 12 MP photo costs about as much as a 640x480 frame), and boxes
are scaled back to the original pixels.

Keypoints (5, 2) in original pixels, in YuNet's order: the eye on the image's left, the eye on
the image's right, nose tip, mouth corner on the image's left, mouth corner on the image's right.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class DetectorOptions:
    # Long side of the copy YuNet runs on: ~20 ms, finds faces down to ~2% of the long side
    # (YuNet's smallest anchors are ~10 px). 512 was faster but scored a shirt fold 0.79 on a
    # labelled photo (0.69 at 640), so a second "face" appeared.
    max_side: int = 640
    # YuNet's own default is 0.9; 0.75 keeps blurred, dark and turned faces (all real faces in the
    # labelled set score >= 0.87) while dropping texture false positives (0.6-0.7).
    score_threshold: float = 0.75
    nms_threshold: float = 0.3
    top_k: int = 50
    # Faces smaller than this fraction of the larger found face are ignored as background people
    # (a poster or a passer-by far behind does not make a clinical photo "two faces").
    min_relative_size: float = 0.35


@dataclass(frozen=True)
class FaceBox:
    x: float
    y: float
    w: float
    h: float
    score: float
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((5, 2), np.float32))

    @property
    def area(self) -> float:
        return self.w * self.h

    def as_int(self) -> tuple[int, int, int, int]:
        return int(round(self.x)), int(round(self.y)), int(round(self.w)), int(round(self.h))

    def to_dict(self) -> dict:
        return {
            "x": round(self.x, 1),
            "y": round(self.y, 1),
            "w": round(self.w, 1),
            "h": round(self.h, 1),
            "score": round(self.score, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceBox:
        """A stored box (`to_dict` keeps no keypoints: they come back as zeros)."""
        return cls(
            float(data["x"]), float(data["y"]), float(data["w"]), float(data["h"]), float(data["score"])
        )


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """Anti-aliased copy with long side <= max_side, fast on 12 MP photos.

    Halves with pyrDown (Gaussian + decimate, ~4x cheaper than INTER_AREA at odd factors) while
    the image is at least twice too large, then finishes with INTER_AREA (a factor below 2).
    """
    while max(image.shape[:2]) >= 2 * max_side:
        image = cv2.pyrDown(image)
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    return cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )


_lock = threading.Lock()
_detector: cv2.FaceDetectorYN | None = None
_detector_key: tuple[float, float, int] | None = None


def _get_detector(options: DetectorOptions, size: tuple[int, int]) -> cv2.FaceDetectorYN:
    """The process-wide YuNet instance (callers hold `_lock`: the OpenCV object is stateful)."""
    global _detector, _detector_key
    key = (options.score_threshold, options.nms_threshold, options.top_k)
    if _detector is None or _detector_key != key:
        from core.models import model_path

        _detector = cv2.FaceDetectorYN.create(
            str(model_path("face_detection_yunet_2023mar_int8bq.onnx")),
            "",
            size,
            options.score_threshold,
            options.nms_threshold,
            options.top_k,
        )
        _detector_key = key
    _detector.setInputSize(size)
    return _detector


def detect_faces(image_bgr: np.ndarray, options: DetectorOptions | None = None) -> list[FaceBox]:
    """Faces in the image, largest first, in original pixel coordinates."""
    options = options or DetectorOptions()
    image = np.asarray(image_bgr)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    h, w = image.shape[:2]
    small = downscale(image, options.max_side)
    sh, sw = small.shape[:2]
    with _lock:
        detector = _get_detector(options, (sw, sh))
        _, raw = detector.detect(np.ascontiguousarray(small))
    if raw is None:
        return []
    factor_x, factor_y = w / sw, h / sh
    boxes = [
        FaceBox(
            x=float(row[0] * factor_x),
            y=float(row[1] * factor_y),
            w=float(row[2] * factor_x),
            h=float(row[3] * factor_y),
            score=float(row[14]),
            keypoints=(row[4:14].reshape(5, 2) * np.array([factor_x, factor_y])).astype(np.float32),
        )
        for row in raw
    ]
    boxes.sort(key=lambda box: box.area, reverse=True)
    if boxes and options.min_relative_size > 0:
        largest_side = max(boxes[0].w, boxes[0].h)
        boxes = [box for box in boxes if max(box.w, box.h) >= options.min_relative_size * largest_side]
    return boxes
