"""The same-person check (core/vision/identity.py) on real photos and video frames.

Embeddings are computed once per module; every test reads them from the fixture.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.vision.identity import (
    FaceEmbedding,
    IdentityOptions,
    compare_faces,
    face_embedding,
    refusal_message,
    refusals,
)
from tests.video_frames import frames_at

SELFIE_PHOTO = "faces/webcam_selfie_glasses_47.jpg"  # a frame of the selfie video's source clip
SELFIE_VIDEO = "video/face_selfie_glasses_360x640.mp4"
PEXELS_VIDEO = "video/face_closeup_pexels_640x480.mp4"
OTHERS = (
    "faces/frontal_goodlight_older_male_02.jpg",
    "faces/frontal_evenlight_03.png",
    "faces/east_asian_frontal_outdoor_11.jpg",
    "faces/dark_skin_frontal_indoor_07.jpg",
)
SKIN_CLOSE_UP = "skin/acne_forehead_02.jpg"


def video_frames(path: Path, indices: tuple[int, ...]) -> list[np.ndarray]:
    found = frames_at(path, indices)
    assert len(found) == len(indices), f"{path} has fewer frames than expected"
    return [found[index] for index in indices]


@pytest.fixture(scope="module")
def embeddings(shared_testdata: Path) -> dict[str, FaceEmbedding | None]:
    images: dict[str, np.ndarray] = {}
    for name in (SELFIE_PHOTO, *OTHERS, SKIN_CLOSE_UP):
        image = cv2.imread(str(shared_testdata / name))
        assert image is not None, name
        images[name] = image
    for index, frame in zip(
        (0, 120, 230), video_frames(shared_testdata / SELFIE_VIDEO, (0, 120, 230)), strict=True
    ):
        images[f"selfie#{index}"] = frame
    for index, frame in zip((10, 130), video_frames(shared_testdata / PEXELS_VIDEO, (10, 130)), strict=True):
        images[f"pexels#{index}"] = frame
    return {name: face_embedding(image) for name, image in images.items()}


def _get(embeddings: dict[str, FaceEmbedding | None], name: str) -> FaceEmbedding:
    embedding = embeddings[name]
    assert embedding is not None, f"{name} should give an embedding"
    return embedding


def test_an_embedding_is_a_unit_vector_of_128(embeddings) -> None:
    embedding = _get(embeddings, SELFIE_PHOTO)
    assert embedding.vector.shape == (128,) and embedding.vector.dtype == np.float32
    assert abs(float(np.linalg.norm(embedding.vector)) - 1.0) < 1e-5


def test_frames_of_one_person_are_accepted(embeddings) -> None:
    same = [
        (SELFIE_PHOTO, "selfie#0"),
        ("selfie#0", "selfie#230"),
        ("selfie#120", SELFIE_PHOTO),
        ("pexels#10", "pexels#130"),
    ]
    for a, b in same:
        match = compare_faces(_get(embeddings, a), _get(embeddings, b))
        assert match.same_person, f"{a} vs {b}: {match.score:.3f}"
        assert match.threshold == IdentityOptions().threshold


def test_different_people_are_refused(embeddings) -> None:
    people = [SELFIE_PHOTO, "pexels#10", *OTHERS]
    for index, a in enumerate(people):
        for b in people[index + 1 :]:
            match = compare_faces(_get(embeddings, a), _get(embeddings, b))
            assert not match.same_person, f"{a} vs {b}: {match.score:.3f}"


def test_a_skin_close_up_gives_no_embedding(embeddings) -> None:
    assert embeddings[SKIN_CLOSE_UP] is None


def test_no_face_and_a_face_too_small_give_no_embedding(shared_testdata: Path) -> None:
    assert face_embedding(np.full((480, 640, 3), 128, np.uint8)) is None
    image = cv2.imread(str(shared_testdata / SELFIE_PHOTO))
    assert image is not None
    # The same photo, with a minimum face size it does not reach: no judgement, not a refusal.
    assert face_embedding(image, IdentityOptions(min_face_px=10_000)) is None


def test_the_rule_names_the_view_that_shows_someone_else(embeddings) -> None:
    front = _get(embeddings, SELFIE_PHOTO)
    same = _get(embeddings, "selfie#120")
    other = _get(embeddings, OTHERS[0])
    found = refusals([("front", front), ("left_oblique", other), ("right_oblique", same), ("close_up", None)])
    assert [(r.view, r.against) for r in found] == [("left_oblique", "front")]
    assert found[0].message == (
        "The left side photo seems to show a different person from the front photo. Please retake it yourself."
    )
    assert not refusals([("front", front), ("left_oblique", same), ("close_up", None)])


def test_against_a_baseline_each_photo_is_compared_with_its_best_match(embeddings) -> None:
    baseline = [_get(embeddings, SELFIE_PHOTO), _get(embeddings, OTHERS[1])]
    found = refusals(
        [("front", _get(embeddings, "selfie#230")), ("left_oblique", _get(embeddings, "pexels#10"))], baseline
    )
    assert [(r.view, r.against) for r in found] == [("left_oblique", "baseline")]
    assert "first photos of this consultation" in found[0].message
    # Nothing to compare with: nothing is refused.
    assert not refusals([("front", _get(embeddings, "pexels#10"))], [])


def test_every_view_has_a_whole_sentence() -> None:
    from core.vocabulary import VIEWS

    for view in VIEWS:
        assert refusal_message(view, "baseline").endswith("Please retake it yourself.")
        if view != "front":
            assert "front photo" in refusal_message(view, "front")
