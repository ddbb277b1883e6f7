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


def _capture_app(kept_names: dict[str, str], baseline_name: str | None, testdata: str) -> None:
    """guided_capture with photos standing in for views (a saved draft's), in a real script run."""
    import cv2
    import numpy as np
    import streamlit as st

    from components.guided_capture import guided_capture
    from core.consult.photos import encode_rgb
    from tests.photo_factory import checked_photo

    def jpeg(name: str) -> bytes:
        image = cv2.imread(f"{testdata}/{name}")
        assert image is not None, name
        return encode_rgb(np.ascontiguousarray(image[:, :, ::-1]))

    if "kept" not in st.session_state:
        st.session_state["kept"] = {
            view: checked_photo(view, jpeg(name)) for view, name in kept_names.items()
        }
    baseline = {"front": jpeg(baseline_name)} if baseline_name else None
    views = list(kept_names)
    photos = guided_capture(views, key="t", baseline=baseline, kept=st.session_state["kept"])
    st.write(f"returned {', '.join(sorted(photos)) or 'nothing'}")


def _messages(app) -> tuple[list[str], str]:
    errors = [element.value for element in app.error]
    returned = next(block.value for block in app.markdown if block.value.startswith("returned"))
    return errors, returned


def test_the_capture_shows_the_refusal_under_the_photo_and_does_not_return_it(shared_testdata: Path) -> None:
    from streamlit.testing.v1 import AppTest

    kept = {"front": A_PHOTO, "right_oblique": B_PHOTO}
    app = AppTest.from_function(_capture_app, args=(kept, None, str(shared_testdata)), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    errors, returned = _messages(app)
    assert (
        "The right side photo seems to show a different person from the front photo. Please retake it yourself."
        in errors
    )
    assert returned == "returned front"


def test_a_checkin_capture_refuses_someone_else_than_the_earlier_photo(shared_testdata: Path) -> None:
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(
        _capture_app, args=({"front": B_PHOTO}, A_PHOTO, str(shared_testdata)), default_timeout=120
    )
    app.run()
    assert not app.exception, app.exception
    errors, returned = _messages(app)
    assert any("different person from the first photos of this consultation" in text for text in errors)
    assert returned == "returned nothing"
