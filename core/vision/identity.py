"""Same person or not: an SFace face embedding per photo and a cosine comparison of two.

`face_embedding(pixels, options)` finds the face with the detector module's YuNet (the one
process-wide instance, `core.vision.detector.detect_faces`), aligns it with YuNet's five
keypoints to SFace's 112x112 template (`cv2.FaceRecognizerSF.alignCrop`) and returns SFace's
128-d feature, L2-normalised. It returns None when no embedding is trustworthy: no face (a
skin close-up), a face too small, a weak detection, or a profile (eyes too close together
for the alignment). A photo without an embedding is never judged "someone else".

`compare_faces(a, b, options)` gives the cosine similarity, the threshold it was judged
against and the decision. The threshold was chosen on a tuning split of real photos and
video frames and checked on a held-out split (`benchmarks/eval_same_person.py`; the figures
are in `IdentityOptions`).

`refusals(...)` is the portal's one rule over a set of photos (which photo seems to show a
different person, and from what), used by storage and by the capture widget alike, with the
patient's words for each case (`refusal_message`).

Embeddings are biometric data: the portal never stores them (they are computed again from the
encrypted photos when needed), so erasing a patient's photos erases everything biometric.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from core.i18n import N_
from core.vision.detector import DetectorOptions, FaceBox, detect_faces, downscale
from core.vocabulary import View

SFACE_MODEL = "face_recognition_sface_2021dec_int8bq.onnx"
SFACE_INPUT = 112  # SFace's aligned crop is 112x112


@dataclass(frozen=True)
class IdentityOptions:
    # Cosine similarity at or above which two faces are the same person. Chosen on a tuning
    # split of ../shared/testdata (benchmarks/eval_same_person.py): every impostor pair there
    # scores <= 0.295, genuine video-frame pairs >= 0.797; the rule takes the lowest threshold
    # refusing all tuning impostors but never below OpenCV Zoo's SFace figure 0.363 (LFW pairs
    # taken on different days, which this data lacks). Held-out split (other people): genuine
    # 1084/1084 accepted, impostors 1308/1308 refused; over all pairs, across the splits too, one
    # impostor pair of 5557 (two light-skinned women, one turned 35°) scores 0.384 and passes.
    threshold: float = 0.363
    # Below these an embedding is not trusted (None: no identity judgement, never a refusal).
    min_face_px: float = 56.0  # face box width in the photo's pixels (SFace aligns to 112 px)
    min_detection_score: float = 0.80  # YuNet's confidence
    # YuNet's eye distance / face box width: a profile's far eye is hidden and the alignment
    # breaks down. Measured on the labelled photos: frontal 0.42-0.52, 35-60° turns 0.31-0.37,
    # 80-90° profiles 0.16-0.25.
    min_eye_ratio: float = 0.22
    # The face is aligned from a copy where it is at most this many pixels wide (anti-aliased;
    # warping a 1000 px face straight to 112 px would alias).
    align_face_px: float = 2.0 * SFACE_INPUT
    detector: DetectorOptions = field(default_factory=DetectorOptions)


@dataclass(frozen=True)
class FaceEmbedding:
    vector: np.ndarray  # (128,) float32, unit length
    face_px: float  # width of the face box in the photo's pixels
    detection_score: float


@dataclass(frozen=True)
class IdentityMatch:
    score: float  # cosine similarity, -1..1
    threshold: float
    same_person: bool


_lock = threading.Lock()
_sface: tuple[cv2.FaceRecognizerSF, cv2.dnn.Net] | None = None


def _get_sface() -> tuple[cv2.FaceRecognizerSF, cv2.dnn.Net]:
    """The process-wide SFace aligner and network (callers hold `_lock`: both are stateful).

    `FaceRecognizerSF.alignCrop` aligns; the network runs through `cv2.dnn` with its input named,
    because OpenCV 5's `FaceRecognizerSF.feature` sets an unnamed input and this int8 file lists
    its weights as graph inputs too ("empty name can only be used ... one input"). The blob is
    built as `feature` builds it: raw 0-255 values, channels swapped to RGB, no mean.
    """
    global _sface
    if _sface is None:
        from core.models import model_path

        path = str(model_path(SFACE_MODEL))
        _sface = (cv2.FaceRecognizerSF.create(path, ""), cv2.dnn.readNetFromONNX(path))
    return _sface


def _as_bgr(pixels: np.ndarray) -> np.ndarray:
    image = np.asarray(pixels)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _usable(face: FaceBox, options: IdentityOptions) -> bool:
    eyes = float(np.linalg.norm(face.keypoints[0] - face.keypoints[1]))
    return (
        face.w >= options.min_face_px
        and face.score >= options.min_detection_score
        and eyes >= options.min_eye_ratio * face.w
    )


def face_embedding(pixels: np.ndarray, options: IdentityOptions | None = None) -> FaceEmbedding | None:
    """SFace's embedding of the largest face (BGR uint8 pixels); None when none is trustworthy."""
    options = options or IdentityOptions()
    image = _as_bgr(pixels)
    faces = detect_faces(image, options.detector)
    if not faces or not _usable(faces[0], options):
        return None
    face = faces[0]
    # Align on a copy where the face is about `align_face_px` wide (same anti-aliasing as YuNet's).
    factor = max(1.0, face.w / options.align_face_px)
    work = downscale(image, max(1, round(max(image.shape[:2]) / factor))) if factor > 1 else image
    scale_x, scale_y = work.shape[1] / image.shape[1], work.shape[0] / image.shape[0]
    row = np.array(
        [
            face.x * scale_x,
            face.y * scale_y,
            face.w * scale_x,
            face.h * scale_y,
            *(face.keypoints * np.array([scale_x, scale_y], np.float32)).reshape(-1),
            face.score,
        ],
        np.float32,
    ).reshape(1, 15)
    with _lock:
        aligner, network = _get_sface()
        aligned = aligner.alignCrop(np.ascontiguousarray(work), row)
        blob = cv2.dnn.blobFromImage(aligned, 1.0, (SFACE_INPUT, SFACE_INPUT), (0, 0, 0), True, False)
        network.setInput(blob, "data")
        feature = network.forward()
    vector = np.asarray(feature, np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        return None
    return FaceEmbedding(vector / norm, float(face.w), float(face.score))


def compare_faces(
    a: FaceEmbedding, b: FaceEmbedding, options: IdentityOptions | None = None
) -> IdentityMatch:
    """Cosine similarity of two embeddings and whether it reaches the threshold."""
    options = options or IdentityOptions()
    score = float(np.clip(np.dot(a.vector, b.vector), -1.0, 1.0))
    return IdentityMatch(score, options.threshold, score >= options.threshold)


def best_match(
    candidate: FaceEmbedding, references: Sequence[FaceEmbedding], options: IdentityOptions | None = None
) -> IdentityMatch | None:
    """The comparison with the most similar reference (a left-side photo best matches the
    left-side baseline); None without references."""
    matches = [compare_faces(candidate, reference, options) for reference in references]
    return max(matches, key=lambda match: match.score) if matches else None


# --------------------------------------------------------------------------------------------
# the portal's rule over a set of photos, and its words

Against = Literal["front", "baseline"]


@dataclass(frozen=True)
class IdentityRefusal:
    """One photo that seems to show someone else: which view, compared with what, the scores."""

    view: View
    against: Against  # "front": the front photo sent with it; "baseline": the case's first photos
    match: IdentityMatch

    @property
    def message(self) -> str:
        return refusal_message(self.view, self.against)


def refusals(
    photos: Sequence[tuple[View, FaceEmbedding | None]],
    baseline: Sequence[FaceEmbedding] = (),
    options: IdentityOptions | None = None,
) -> list[IdentityRefusal]:
    """Photos that seem to show a different person, in the order given.

    With a `baseline` (the case's first photos: a check-in, a photo added later) every photo is
    compared with its most similar baseline photo. Without one (a new consultation) every photo
    is compared with the front photo (or, without a usable front, the first usable photo).
    Photos without an embedding are never refused; with no reference nothing is.
    """
    usable: list[tuple[View, FaceEmbedding]] = [(v, e) for v, e in photos if e is not None]
    if baseline:
        out: list[IdentityRefusal] = []
        for view, embedding in usable:
            match = best_match(embedding, baseline, options)
            if match is not None and not match.same_person:
                out.append(IdentityRefusal(view, "baseline", match))
        return out
    if len(usable) < 2:
        return []
    reference_view, reference = next(((v, e) for v, e in usable if v == "front"), usable[0])
    out = []
    for view, embedding in usable:
        if embedding is reference:
            continue
        match = compare_faces(embedding, reference, options)
        if not match.same_person:
            # Named after the front photo; a case without a usable front names the reference's view.
            out.append(IdentityRefusal(view, "front" if reference_view == "front" else "baseline", match))
    return out


# Whole sentences (the catalog's message ids), one per view: shown with _() where they are read.
_AGAINST_FRONT: dict[str, str] = {
    "left_oblique": N_(
        "The left side photo seems to show a different person from the front photo. "
        "Please retake it yourself."
    ),
    "right_oblique": N_(
        "The right side photo seems to show a different person from the front photo. "
        "Please retake it yourself."
    ),
    "left_profile": N_(
        "The left profile photo seems to show a different person from the front photo. "
        "Please retake it yourself."
    ),
    "right_profile": N_(
        "The right profile photo seems to show a different person from the front photo. "
        "Please retake it yourself."
    ),
    "close_up": N_(
        "The close-up seems to show a different person from the front photo. Please retake it yourself."
    ),
}
_AGAINST_BASELINE: dict[str, str] = {
    "front": N_(
        "The front photo seems to show a different person from the first photos of this consultation. "
        "Please retake it yourself."
    ),
    "left_oblique": N_(
        "The left side photo seems to show a different person from the first photos of this "
        "consultation. Please retake it yourself."
    ),
    "right_oblique": N_(
        "The right side photo seems to show a different person from the first photos of this "
        "consultation. Please retake it yourself."
    ),
    "left_profile": N_(
        "The left profile photo seems to show a different person from the first photos of this "
        "consultation. Please retake it yourself."
    ),
    "right_profile": N_(
        "The right profile photo seems to show a different person from the first photos of this "
        "consultation. Please retake it yourself."
    ),
    "close_up": N_(
        "The close-up seems to show a different person from the first photos of this consultation. "
        "Please retake it yourself."
    ),
}
PHYSICIAN_REFUSAL = N_(
    "This picture seems to show a different person from the patient's consultation photos. "
    "Give a reason to add it anyway."
)


def refusal_message(view: View, against: Against) -> str:
    """The patient's sentence for a refused photo (English: the catalog's message id)."""
    table = _AGAINST_FRONT if against == "front" and view != "front" else _AGAINST_BASELINE
    return table[view]
