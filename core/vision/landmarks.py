"""Dense face landmarks, expression blendshapes and head pose from MediaPipe Face Landmarker v2.

Coordinates
    `FaceLandmarks.points` is (478, 3) float32 in PIXELS of the image passed in: x to the right,
    y down, z scaled like x (MediaPipe's normalised z times the image width; smaller = nearer the
    camera). Points 0-467 are the face mesh, 468-477 the irises (468 = the patient's right iris
    centre, 473 = the patient's left iris centre).

Head pose sign convention (unmirrored photo, i.e. as a rear camera or a photographer sees it)
    yaw   > 0  the nose points to the image's LEFT: the head is turned to the patient's right, so
               the patient's LEFT cheek faces the camera ("left oblique/profile" views).
    yaw   < 0  the nose points to the image's RIGHT (the patient's right side faces the camera).
    pitch > 0  chin up (the nose points above the camera).
    roll  > 0  the head tilts so the patient's left eye (image right) is LOWER than the right eye,
               i.e. the face is rotated clockwise in the image.
    Mirroring the image horizontally flips the signs of yaw and roll; pitch stays.
    Angles come from MediaPipe's facial transformation matrix only (do not mix them with a
    solvePnP estimate: the two differ by ~10 degrees in pitch).

Threading
    MediaPipe graphs are not thread-safe. `detect_landmarks()` uses one process-wide IMAGE-mode
    instance behind a lock; every video stream creates its own `FaceLandmarker(mode="video")`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    from mediapipe.tasks.python.vision.face_landmarker import FaceLandmarker as MediaPipeFaceLandmarker

# Landmarks run on a downscaled copy of large photos: the model sees a 256x256 face crop anyway,
# so a 12 MP input only costs resizing time. Points are scaled back to the original pixels.
MAX_LANDMARK_SIDE = 1280

RIGHT_IRIS_CENTRE = 468  # the patient's right eye (image left in an unmirrored photo)
LEFT_IRIS_CENTRE = 473  # the patient's left eye
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
NOSE_TIP = 1
CHIN = 152
FOREHEAD_TOP = 10


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees; sign convention in the module docstring."""

    yaw: float
    pitch: float
    roll: float

    def to_dict(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 1), "pitch": round(self.pitch, 1), "roll": round(self.roll, 1)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadPose:
        return cls(float(data["yaw"]), float(data["pitch"]), float(data["roll"]))


def pose_from_matrix(transform: np.ndarray) -> HeadPose:
    """Yaw/pitch/roll (degrees, module convention) from MediaPipe's 4x4 facial transformation.

    MediaPipe's camera space is right-handed with y up and z towards the viewer, and the canonical
    face looks along +z. With R = Ry(yaw_mp) @ Rx(pitch_mp) @ Rz(roll_mp) the angles are read from
    the rotation part; the signs are then mapped to the module convention (verified on photos).
    """
    rotation = np.asarray(transform, dtype=np.float64)[:3, :3]
    # Remove any scale the matrix may carry so the angles are pure rotation.
    scale = np.linalg.norm(rotation, axis=0)
    rotation = rotation / np.where(scale > 1e-9, scale, 1.0)
    # Forward (face normal) vector = third column; yaw/pitch from it, roll from the x axis.
    yaw_mp = math.degrees(math.atan2(rotation[0, 2], rotation[2, 2]))
    pitch_mp = math.degrees(math.asin(float(np.clip(-rotation[1, 2], -1.0, 1.0))))
    roll_mp = math.degrees(math.atan2(rotation[1, 0], rotation[1, 1]))
    return HeadPose(yaw=_SIGN_YAW * yaw_mp, pitch=_SIGN_PITCH * pitch_mp, roll=_SIGN_ROLL * roll_mp)


# Sign mapping from the raw matrix angles to the documented convention (checked by tests on real
# photos with labelled sides, on mirrored copies and on in-plane rotations of the astronaut).
_SIGN_YAW = -1.0
_SIGN_PITCH = -1.0
_SIGN_ROLL = -1.0


@dataclass
class FaceLandmarks:
    """One detected face: pixel landmarks, blendshape scores, transformation matrix and pose."""

    points: np.ndarray  # (478, 3) float32, pixels
    blendshapes: dict[str, float] = field(default_factory=dict)
    transform: np.ndarray = field(default_factory=lambda: np.eye(4, dtype=np.float32))
    pose: HeadPose = field(default_factory=lambda: HeadPose(0.0, 0.0, 0.0))
    image_size: tuple[int, int] = (0, 0)  # (h, w) of the image the points refer to

    @property
    def xy(self) -> np.ndarray:
        """(478, 2) float32 pixel x, y."""
        return self.points[:, :2]

    def bbox(self) -> tuple[int, int, int, int]:
        """(x, y, w, h) of the landmarks, clipped to the image."""
        x0, y0 = np.floor(self.points[:, :2].min(axis=0))
        x1, y1 = np.ceil(self.points[:, :2].max(axis=0))
        h, w = self.image_size
        if w and h:
            x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        return int(x0), int(y0), int(max(0, x1 - x0)), int(max(0, y1 - y0))

    def eye_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(patient's right eye, patient's left eye) centres in pixels (iris centres)."""
        return self.points[RIGHT_IRIS_CENTRE, :2].copy(), self.points[LEFT_IRIS_CENTRE, :2].copy()

    def interpupil_px(self) -> float:
        right, left = self.eye_centres()
        return float(np.linalg.norm(left - right))

    def face_height_px(self) -> float:
        return float(np.linalg.norm(self.points[FOREHEAD_TOP, :2] - self.points[CHIN, :2]))

    def blendshape(self, name: str) -> float:
        return float(self.blendshapes.get(name, 0.0))

    def with_points(self, points: np.ndarray) -> FaceLandmarks:
        """The same face with other points (smoothed, warped): blendshapes and pose are kept."""
        return replace(self, points=points)

    def scaled(self, factor: float, image_size: tuple[int, int]) -> FaceLandmarks:
        """The same face with points multiplied by `factor` (e.g. back to the full-size photo)."""
        return FaceLandmarks(
            points=(self.points * np.float32(factor)).astype(np.float32),
            blendshapes=dict(self.blendshapes),
            transform=self.transform,
            pose=self.pose,
            image_size=image_size,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "bbox": list(self.bbox()),
            "pose": self.pose.to_dict(),
            "interpupil_px": round(self.interpupil_px(), 1),
            "image_size": list(self.image_size),
        }


# What the areas that only need point positions accept: a detected face, or its point array
# ((N, 2|3) pixels, e.g. points moved into a crop or a canonical frame).
Landmarks = FaceLandmarks | np.ndarray

MIN_MESH_POINTS = 468  # the face mesh; the 478-point model adds the irises


def points_px(landmarks: Landmarks, *, with_z: bool = False, dtype: DTypeLike = np.float32) -> np.ndarray:
    """The pixel points of `landmarks` as an (N, 2) array, or (N, 2|3) as given with `with_z`.

    The one accessor every area uses, so none guesses at another's landmark type. Raises
    ValueError for anything that is not a face mesh.
    """
    points = landmarks.points if isinstance(landmarks, FaceLandmarks) else landmarks
    array = np.asarray(points, dtype=dtype)
    if array.ndim != 2 or array.shape[0] < MIN_MESH_POINTS or array.shape[1] not in (2, 3):
        raise ValueError(f"expected (478|468, 2|3) face landmarks, got shape {array.shape}")
    return array if with_z else array[:, :2]


def _downscale(image_bgr: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(image for the model, factor to multiply model points by to get original pixels)."""
    h, w = image_bgr.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return image_bgr, 1.0
    factor = max_side / longest
    small = cv2.resize(image_bgr, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)
    return small, longest / max(small.shape[:2])


def _to_bgr3(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class FaceLandmarker:
    """MediaPipe Face Landmarker in IMAGE or VIDEO (tracking) mode; not thread-safe.

    Use one instance per video stream; `detect_landmarks()` for one-off photos.
    """

    def __init__(
        self,
        mode: Literal["image", "video"] = "image",
        num_faces: int = 1,
        max_side: int = MAX_LANDMARK_SIDE,
        min_detection_confidence: float = 0.5,
    ) -> None:
        import mediapipe as mp  # imported lazily: 0.2 s and only needed where faces are analysed
        from mediapipe.tasks.python import BaseOptions, vision

        from core.models import model_path

        if mode not in ("image", "video"):
            raise ValueError(f"mode must be 'image' or 'video', not {mode!r}")
        self._mp = mp
        self.mode = mode
        self.max_side = max_side
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path("face_landmarker.task"))),
            running_mode=vision.RunningMode.IMAGE if mode == "image" else vision.RunningMode.VIDEO,
            num_faces=num_faces,
            min_face_detection_confidence=min_detection_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._landmarker: MediaPipeFaceLandmarker | None = vision.FaceLandmarker.create_from_options(options)
        self._last_timestamp_ms = -1

    def _prepare(self, image_bgr: np.ndarray) -> tuple[Any, float, tuple[int, int], tuple[int, int]]:
        image_bgr = _to_bgr3(np.asarray(image_bgr))
        if image_bgr.dtype != np.uint8:
            image_bgr = np.clip(image_bgr, 0, 255).astype(np.uint8)
        small, factor = _downscale(image_bgr, self.max_side)
        rgb = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        return mp_image, factor, (small.shape[0], small.shape[1]), image_bgr.shape[:2]

    def detect(self, image_bgr: np.ndarray) -> list[FaceLandmarks]:
        if self.mode != "image":
            raise RuntimeError("this landmarker runs in video mode: call detect_video()")
        mp_image, factor, small_size, full_size = self._prepare(image_bgr)
        result = self._open_landmarker().detect(mp_image)
        return _convert(result, small_size, factor, full_size)

    def detect_video(self, image_bgr: np.ndarray, timestamp_ms: int) -> list[FaceLandmarks]:
        """Track faces in a stream; timestamps must increase (equal/older ones are nudged forward)."""
        if self.mode != "video":
            raise RuntimeError("this landmarker runs in image mode: call detect()")
        timestamp_ms = int(timestamp_ms)
        if timestamp_ms <= self._last_timestamp_ms:
            timestamp_ms = self._last_timestamp_ms + 1
        self._last_timestamp_ms = timestamp_ms
        mp_image, factor, small_size, full_size = self._prepare(image_bgr)
        result = self._open_landmarker().detect_for_video(mp_image, timestamp_ms)
        return _convert(result, small_size, factor, full_size)

    def _open_landmarker(self) -> MediaPipeFaceLandmarker:
        if self._landmarker is None:
            raise RuntimeError("this landmarker is closed")
        return self._landmarker

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _convert(
    result: Any, small_size: tuple[int, int], factor: float, full_size: tuple[int, int]
) -> list[FaceLandmarks]:
    h, w = small_size
    faces = []
    for index, landmarks in enumerate(result.face_landmarks or []):
        points = np.array([[p.x * w, p.y * h, p.z * w] for p in landmarks], dtype=np.float32) * np.float32(
            factor
        )
        blendshapes: dict[str, float] = {}
        if result.face_blendshapes and index < len(result.face_blendshapes):
            blendshapes = {c.category_name: float(c.score) for c in result.face_blendshapes[index]}
        transform = np.eye(4, dtype=np.float32)
        if result.facial_transformation_matrixes and index < len(result.facial_transformation_matrixes):
            transform = np.asarray(result.facial_transformation_matrixes[index], dtype=np.float32)
        faces.append(
            FaceLandmarks(
                points=points,
                blendshapes=blendshapes,
                transform=transform,
                pose=pose_from_matrix(transform),
                image_size=(int(full_size[0]), int(full_size[1])),
            )
        )
    return faces


_shared_lock = threading.Lock()
_shared_landmarker: FaceLandmarker | None = None


def detect_landmarks(image_bgr: np.ndarray) -> FaceLandmarks | None:
    """The most prominent face in a photo (IMAGE mode, process-wide instance, thread-safe) or None."""
    global _shared_landmarker
    with _shared_lock:
        if _shared_landmarker is None:
            _shared_landmarker = FaceLandmarker(mode="image", num_faces=1)
        faces = _shared_landmarker.detect(image_bgr)
    return faces[0] if faces else None
