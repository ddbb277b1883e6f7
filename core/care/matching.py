"""Before/after geometry: align a pair through face landmarks, score a follow-up against its baseline.

Both functions take BGR uint8 images and use the vision area's `detect_landmarks` (MediaPipe
478-point mesh, pixel coordinates). A detector can be injected (tests, batch jobs).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.i18n import N_, Translator, translator
from core.vision.landmarks import FaceLandmarks, Landmarks, points_px

# MediaPipe face-mesh indices: iris rings (present in the 478-point model) and eye corners.
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (362, 263)
# Cheek and forehead patches (mesh indices around them) for skin colour: no eyes, brows, lips, hair.
SKIN_PATCHES: tuple[tuple[int, ...], ...] = (
    (50, 101, 118, 117, 123, 187, 205, 36),  # right cheek
    (280, 330, 347, 346, 352, 411, 425, 266),  # left cheek
    (109, 10, 338, 337, 151, 108),  # forehead
)

POSE_ZERO_SCORE_DEG = 15.0  # pose difference that scores 0
SCALE_ZERO_SCORE_LOG = math.log(1.25)  # 25 % larger or smaller scores 0
COLOUR_ZERO_SCORE_DE = 20.0  # CIEDE2000 difference that scores 0
OK_SCORE = 70.0
OK_COMPONENT = 40.0

Detector = Callable[[np.ndarray], FaceLandmarks | None]


def _default_detector() -> Detector:
    from core.vision.landmarks import detect_landmarks

    return detect_landmarks


@dataclass(frozen=True)
class BaselineMatch:
    pose_difference_deg: float
    scale_ratio: float  # follow-up face size / baseline face size (in image-width units)
    colour_delta_e: float  # CIEDE2000 between median face-skin colours
    score: float  # 0–100, higher = closer to the baseline's framing
    components: dict[str, float] = field(default_factory=dict)  # pose / scale / colour sub-scores
    ok: bool = False
    # What to change, as a catalog message (English, N_) and its placeholder values: translated and
    # filled where shown, with `instruction_in(translator)`; `instruction` is the English text.
    message: str = ""
    message_values: dict[str, float] = field(default_factory=dict)

    def instruction_in(self, translate: Translator) -> str:
        """The hint in `translate`'s language, numbers formatted in it."""
        return hint_in(translate, self.message, self.message_values) if self.message else ""

    @property
    def instruction(self) -> str:
        return self.instruction_in(translator(None))


def eye_centres(landmarks: Landmarks) -> tuple[np.ndarray, np.ndarray]:
    """(right eye, left eye) centres in pixels: iris centres when present, else eye-corner midpoints."""
    points = points_px(landmarks, dtype=np.float64)
    if len(points) >= 478:
        return points[list(RIGHT_IRIS)].mean(axis=0), points[list(LEFT_IRIS)].mean(axis=0)
    return points[list(RIGHT_EYE_CORNERS)].mean(axis=0), points[list(LEFT_EYE_CORNERS)].mean(axis=0)


def _roll_deg(landmarks: Landmarks) -> float:
    right, left = eye_centres(landmarks)
    return math.degrees(math.atan2(left[1] - right[1], left[0] - right[0]))


def _pose_angles(landmarks: Landmarks) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees; roll from the eye line, which is exact in the image plane.
    A bare point array has no head pose: yaw and pitch read 0."""
    if isinstance(landmarks, FaceLandmarks):
        yaw, pitch = float(landmarks.pose.yaw), float(landmarks.pose.pitch)
    else:
        yaw = pitch = 0.0
    return yaw, pitch, _roll_deg(landmarks)


def similarity_to(
    src_eyes: tuple[np.ndarray, np.ndarray], dst_eyes: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """2x3 similarity matrix (rotation, uniform scale, translation) taking src eyes onto dst eyes."""
    src_vec = src_eyes[1] - src_eyes[0]
    dst_vec = dst_eyes[1] - dst_eyes[0]
    src_len = float(np.hypot(*src_vec))
    if src_len < 1e-6:
        raise ValueError("degenerate eye positions")
    scale = float(np.hypot(*dst_vec)) / src_len
    angle = math.atan2(dst_vec[1], dst_vec[0]) - math.atan2(src_vec[1], src_vec[0])
    cos_a, sin_a = scale * math.cos(angle), scale * math.sin(angle)
    rotation = np.array([[cos_a, -sin_a], [sin_a, cos_a]])
    translation = dst_eyes[0] - rotation @ src_eyes[0]
    return np.hstack([rotation, translation.reshape(2, 1)])


class NoFaceFound(ValueError):
    """No face in one of the photos; alignment needs landmarks in both."""


def align_pair(
    before_bgr: np.ndarray, after_bgr: np.ndarray, detector: Detector | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Warp `after` into `before`'s frame so both eyes land on the same pixels at the same scale.

    The before photo is the reference (returned as a copy); the after photo is resampled to the
    before photo's size with a similarity transform, borders filled black.
    """
    detect = detector or _default_detector()
    before_lm, after_lm = detect(before_bgr), detect(after_bgr)
    if before_lm is None or after_lm is None:
        raise NoFaceFound("no face found in the " + ("before" if before_lm is None else "after") + " photo")
    matrix = similarity_to(eye_centres(after_lm), eye_centres(before_lm))
    height, width = before_bgr.shape[:2]
    aligned_after = cv2.warpAffine(
        after_bgr, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return before_bgr.copy(), aligned_after


def _skin_patches(landmarks: Landmarks, shape: tuple[int, ...]) -> np.ndarray:
    """bool (h, w): the cheek and forehead patches only (not the vision area's whole-face
    `skin_mask`: the patches keep hair, beard and shadowed jaw out of the colour comparison)."""
    points = points_px(landmarks, dtype=np.float64)
    mask = np.zeros(shape[:2], dtype=np.uint8)
    for patch in SKIN_PATCHES:
        polygon = points[list(patch)].round().astype(np.int32)
        cv2.fillConvexPoly(mask, cv2.convexHull(polygon), 255)
    return mask > 0


def median_skin_lab(bgr: np.ndarray, landmarks: Landmarks) -> np.ndarray:
    """Median CIELAB (L 0–100) of cheek and forehead skin; the median ignores specular spots."""
    mask = _skin_patches(landmarks, bgr.shape)
    if not mask.any():
        raise NoFaceFound("no skin area under the landmarks")
    lab = cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)
    return np.median(lab[mask], axis=0)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000

    return float(deltaE_ciede2000(np.asarray(lab1, float)[None, :], np.asarray(lab2, float)[None, :])[0])


def _linear_score(value: float, zero_at: float) -> float:
    return float(max(0.0, 100.0 * (1.0 - value / zero_at)))


def _face_size(landmarks: Landmarks, image_width: int) -> float:
    right, left = eye_centres(landmarks)
    return float(np.hypot(*(left - right))) / max(image_width, 1)


def baseline_match(
    baseline_bgr: np.ndarray, followup_bgr: np.ndarray, detector: Detector | None = None
) -> BaselineMatch:
    """How well a follow-up photo reproduces the baseline's pose, framing scale and light.

    The scale is compared relative to the image width, because the ghost overlay shows the
    baseline at the camera frame's size. A poor match says what to change.
    """
    detect = detector or _default_detector()
    base_lm, follow_lm = detect(baseline_bgr), detect(followup_bgr)
    if base_lm is None or follow_lm is None:
        return BaselineMatch(
            float("nan"),
            float("nan"),
            float("nan"),
            0.0,
            {},
            False,
            NO_FACE_BASELINE if base_lm is None else NO_FACE_NEW,
        )
    base_pose, follow_pose = _pose_angles(base_lm), _pose_angles(follow_lm)
    # Signed: follow-up minus baseline (core.vision.landmarks conventions), for a directional hint.
    signed = {
        name: f - b for name, b, f in zip(("yaw", "pitch", "roll"), base_pose, follow_pose, strict=True)
    }
    pose_diffs = {name: abs(value) for name, value in signed.items()}
    pose_difference = max(pose_diffs.values())
    scale_ratio = _face_size(follow_lm, followup_bgr.shape[1]) / max(
        _face_size(base_lm, baseline_bgr.shape[1]), 1e-9
    )
    delta_e = ciede2000(median_skin_lab(baseline_bgr, base_lm), median_skin_lab(followup_bgr, follow_lm))
    components = {
        "pose": _linear_score(pose_difference, POSE_ZERO_SCORE_DEG),
        "scale": _linear_score(abs(math.log(max(scale_ratio, 1e-9))), SCALE_ZERO_SCORE_LOG),
        "colour": _linear_score(delta_e, COLOUR_ZERO_SCORE_DE),
    }
    score = 0.4 * components["pose"] + 0.3 * components["scale"] + 0.3 * components["colour"]
    ok = score >= OK_SCORE and min(components.values()) >= OK_COMPONENT
    message, message_values = _instruction(ok, components, signed, scale_ratio, delta_e)
    return BaselineMatch(
        pose_difference_deg=pose_difference,
        scale_ratio=scale_ratio,
        colour_delta_e=delta_e,
        score=round(score, 1),
        components={name: round(value, 1) for name, value in components.items()},
        ok=ok,
        message=message,
        message_values=message_values,
    )


# What to say when the follow-up's angle is larger (+) or smaller (-) than the baseline's: whole
# sentences (catalog entries, translated where shown), the difference as the named placeholder
# {degrees}. Signs as in core.vision.landmarks: yaw > 0 head turned to the patient's right,
# pitch > 0 chin up, roll > 0 head tilted towards the patient's left shoulder (image as the camera sees it).
_POSE_FIX: dict[str, tuple[str, str]] = {
    "yaw": (
        N_(
            "Retake: your head is turned sideways about {degrees}° differently than in the first photo; "
            "turn your head a little to your left and line up with the outline."
        ),
        N_(
            "Retake: your head is turned sideways about {degrees}° differently than in the first photo; "
            "turn your head a little to your right and line up with the outline."
        ),
    ),
    "pitch": (
        N_(
            "Retake: your head is tilted up or down about {degrees}° differently than in the first photo; "
            "lower your chin a little and line up with the outline."
        ),
        N_(
            "Retake: your head is tilted up or down about {degrees}° differently than in the first photo; "
            "raise your chin a little and line up with the outline."
        ),
    ),
    "roll": (
        N_(
            "Retake: your head is tilted to one shoulder about {degrees}° differently than in the first photo; "
            "tilt your head a little towards your right shoulder and line up with the outline."
        ),
        N_(
            "Retake: your head is tilted to one shoulder about {degrees}° differently than in the first photo; "
            "tilt your head a little towards your left shoulder and line up with the outline."
        ),
    ),
}
GOOD_MATCH = N_("Good match with your first photo.")
NO_FACE_BASELINE = N_("No face found in the baseline photo: face the camera in good light and retake it.")
NO_FACE_NEW = N_("No face found in the new photo: face the camera in good light and retake it.")
FACE_LARGER = N_(
    "Retake: your face is {percent} larger; move back (you are closer to the camera than in the first photo)."
)
FACE_SMALLER = N_(
    "Retake: your face is {percent} smaller; move closer (you are further from the camera than in the first photo)."
)
LIGHT_DIFFERS = N_(
    "Retake: the light differs from the first photo (colour difference ΔE {delta_e}); "
    "use the same daylight, no filters."
)


def _instruction(
    ok: bool, components: dict[str, float], signed_pose: dict[str, float], scale_ratio: float, delta_e: float
) -> tuple[str, dict[str, float]]:
    """The hint's catalog message and its placeholder values (numbers, formatted where shown)."""
    if ok:
        return GOOD_MATCH, {}
    worst = min(components, key=lambda name: components[name])
    if worst == "pose":
        axis = max(signed_pose, key=lambda name: abs(signed_pose[name]))
        message = _POSE_FIX[axis][0 if signed_pose[axis] > 0 else 1]
        return message, {"degrees": abs(signed_pose[axis])}
    if worst == "scale":
        return (FACE_LARGER if scale_ratio > 1 else FACE_SMALLER), {"percent": abs(scale_ratio - 1)}
    return LIGHT_DIFFERS, {"delta_e": delta_e}


def hint_in(translate: Translator, message: str, values: dict[str, float]) -> str:
    """A stored hint (`message` + `message_values`) in `translate`'s language."""
    formatted = {
        "degrees": lambda value: translate.number(value, decimals=0),
        "percent": lambda value: translate.percent(value),
        "delta_e": lambda value: translate.number(value, decimals=1),
    }
    return translate.gettext(
        message,
        **{name: formatted[name](float(value)) for name, value in values.items() if name in formatted},
    )
