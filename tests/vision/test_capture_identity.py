"""The guided capture refuses a photo of someone else where it is taken, by storage's own rule
(components/guided_capture.py: `identity_refusal`, `baseline_embeddings`, `embedding_of`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from components.guided_capture import baseline_embeddings, embedding_of, identity_refusal
from core.consult.photos import CheckedPhoto, PhotoIdentity, decode_to_bgr, encode_rgb
from core.vision.identity import face_embedding
from tests.photo_factory import checked_photo

A_PHOTO = "faces/webcam_selfie_glasses_47.jpg"
A_VIDEO = "video/face_selfie_glasses_360x640.mp4"
B_PHOTO = "faces/frontal_goodlight_older_male_02.jpg"


@pytest.fixture(scope="module")
def jpegs(shared_testdata: Path) -> dict[str, bytes]:
    capture = cv2.VideoCapture(str(shared_testdata / A_VIDEO))
    ok, frame = capture.read()
    capture.release()
    assert ok
    images = {
        "a": cv2.imread(str(shared_testdata / A_PHOTO)),
        "a_frame": frame,
        "b": cv2.imread(str(shared_testdata / B_PHOTO)),
    }
    return {name: encode_rgb(np.ascontiguousarray(image[:, :, ::-1])) for name, image in images.items()}


@pytest.fixture(scope="module")
def photos(jpegs: dict[str, bytes]) -> dict[str, CheckedPhoto]:
    """Each person as a front and a left-side photo, with the intake's embedding."""
    out = {}
    for name, data in jpegs.items():
        identity = PhotoIdentity(face_embedding(decode_to_bgr(data)))
        for view in ("front", "left_oblique"):
            out[f"{name}/{view}"] = dataclasses.replace(checked_photo(view, data), identity=identity)
    return out


def test_a_side_photo_of_someone_else_than_the_front_is_refused(photos) -> None:
    cache: dict[str, Any] = {}
    captured = {"front": photos["a/front"]}
    refused = identity_refusal(photos["b/left_oblique"], captured, [], cache)
    assert refused is not None and refused.view == "left_oblique" and refused.against == "front"
    assert refused.message.startswith("The left side photo seems to show a different person")
    assert identity_refusal(photos["a_frame/left_oblique"], captured, [], cache) is None
    # The front itself is the reference; alone it is never refused.
    assert identity_refusal(photos["b/front"], {}, [], cache) is None


def test_a_followup_photo_is_compared_with_the_earlier_photos(photos, jpegs) -> None:
    cache: dict[str, Any] = {}
    earlier = baseline_embeddings({"front": jpegs["a"]}, cache)
    assert len(earlier) == 1
    refused = identity_refusal(photos["b/front"], {}, earlier, cache)
    assert refused is not None and refused.against == "baseline"
    assert "first photos of this consultation" in refused.message
    assert identity_refusal(photos["a_frame/front"], {}, earlier, cache) is None


def test_a_photo_without_the_intakes_embedding_is_embedded_once(photos, jpegs) -> None:
    cache: dict[str, Any] = {}
    kept = checked_photo("front", jpegs["b"])  # as a saved draft gives it back
    assert kept.identity is None
    first = embedding_of(kept, cache)
    assert first is not None and len(cache) == 1
    assert embedding_of(kept, cache) is first  # from the cache, not computed again
    captured = {"front": photos["a/front"]}
    assert identity_refusal(dataclasses.replace(kept, view="left_oblique"), captured, [], cache) is not None
