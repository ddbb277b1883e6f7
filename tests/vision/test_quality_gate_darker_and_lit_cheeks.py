"""What the darker-skinned constructions of the tuning split showed (issue 15: the tuning split has
no correct photo of brown or dark skin, so each degradation is also made from the same photo with
its skin 1.5 EV darker), and a face MediaPipe's detector misses (../shared/testdata, skipped when
absent):

- the darker skin's construction feathered its edge across the eye openings, dimming the eye
  whites the exposure test reads as the camera's exposure: a correct photo 0.3 EV dark was refused
  as too dark on the darker skin only;
- light from above shades the eye whites with the sockets: on darker skin the exposure test lost
  its reference and named the photo "too dark"; the light is the fix;
- a face under ~1/5 of the frame, or half in shadow, is missed by MediaPipe's short-range
  detector in the whole photo and found in a crop around YuNet's box: a side-lit black-and-white
  stage portrait had no light test at all and was named only for its missing colour;
- a cheek lit by another lamp than the rest of the face (a cool window on one side) read as covered
  against the whole face's skin: each cheek is now compared with the skin of its own side;
- a forehead under warm light from above, its cheeks by a cool window, read as hair in most frames
  of the selfie clip: a smooth forehead may differ from the cheeks along b* (the light's colour),
  a fringe keeps the strict colour test."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.vision.landmarks import detect_landmarks
from core.vision.quality import QualityOptions, check_photo
from core.vision.quality.measures import _working_copy
from core.vision.regions import EYE_LEFT, EYE_RIGHT
from scripts.make_gate_degradations import (
    DARKER_EV,
    darker_skin,
    exposure,
    glabella_lines,
    greyscale,
    hair_texture,
    jpeg,
    paste_fringe,
    photo_seed,
    side_light,
    top_light,
)
from tests.video_frames import frames_at
from tests.vision.gate_helpers import CORRECT, PORTRAIT, check_named, photo_with_landmarks, pupil_distance

pytestmark = pytest.mark.shared


def test_the_darker_skin_construction_leaves_the_eye_openings_untouched(shared_testdata: Path):
    image, landmarks, face_w = photo_with_landmarks(shared_testdata / PORTRAIT)
    darker = darker_skin(image, landmarks, face_w, DARKER_EV)
    eyes = np.zeros(image.shape[:2], np.uint8)
    for contour in (EYE_LEFT, EYE_RIGHT):
        cv2.fillPoly(eyes, [np.round(landmarks.xy[list(contour)]).astype(np.int32)], 1)
    assert np.array_equal(darker[eyes > 0], image[eyes > 0])
    cheeks = darker[eyes == 0].astype(int).sum() < image[eyes == 0].astype(int).sum()
    assert cheeks, "the rest of the face is darker"


@pytest.mark.parametrize("name", CORRECT)
def test_a_slightly_dark_photo_of_darker_skin_is_accepted(shared_testdata: Path, name: str):
    # The same correct photo, its skin 1.5 EV darker and the whole photo 0.3 EV darker: the light
    # skin's -0.3 EV is accepted, so the darker skin's must be (no tone refused more often).
    image, landmarks, face_w = photo_with_landmarks(shared_testdata / name)
    result = check_photo(exposure(darker_skin(image, landmarks, face_w, DARKER_EV), -0.3), "front")
    assert check_named(result, "exposure").status != "fail"
    assert result.verdict != "fail", [c.to_dict() for c in result.failing]


@pytest.mark.parametrize("name", CORRECT)
def test_light_from_above_on_darker_skin_is_named_as_the_light(shared_testdata: Path, name: str):
    image, landmarks, face_w = photo_with_landmarks(shared_testdata / name)
    darker = darker_skin(image, landmarks, face_w, DARKER_EV)
    result = check_photo(top_light(darker, landmarks, pupil_distance(landmarks), -2.5), "front")
    assert result.verdict == "fail"
    assert result.first_problem is not None and result.first_problem.name == "shadows", [
        c.to_dict() for c in result.failing
    ]
    assert "above" in result.first_problem.instruction


def test_a_face_the_landmarker_misses_in_the_whole_photo_is_measured_in_a_crop(shared_testdata: Path):
    # The stage portrait (a face ~1/4 of a 2000 px frame), its far half 4 EV darker, in black and
    # white: MediaPipe finds no face in the whole photo; YuNet does.
    image, landmarks, _ = photo_with_landmarks(shared_testdata / "faces/small_face_stage_44.jpg")
    lit = greyscale(side_light(image, landmarks.bbox(), -4.0, False))
    work, _ = _working_copy(lit, QualityOptions().work_side)  # what the gate runs the mesh on
    assert detect_landmarks(work) is None, "precondition: the whole photo has no mesh"
    result = check_photo(lit, "front")
    lighting = check_named(result, "lighting")
    assert lighting.status == "fail", lighting
    assert result.landmarks is not None
    assert result.first_problem is not None and result.first_problem.name == "lighting", [
        c.to_dict() for c in result.failing
    ]
    # The crop's points are placed back in the photo: the eyes lie inside YuNet's face box.
    assert result.faces
    x, y, w, h = result.faces[0].as_int()
    for eye in result.landmarks.eye_centres():
        assert x <= eye[0] <= x + w and y <= eye[1] <= y + h, (eye, (x, y, w, h))


def test_a_cheek_lit_by_another_lamp_is_not_taken_for_a_cover(shared_testdata: Path):
    # The correct webcam selfie (office: a cool window and ceiling light on the patient's right, warm
    # light on the left) read 0.39 skin-like on its right cheek against the whole face's skin, and
    # frames of the same clip at 360x640 (H.264) 0.05-0.31: refused as "move your hair away". Frame
    # 120 is the labelled photo's own moment (t = 4.0 s, labelled correct), frame 0 the clip's start.
    # Against the skin of the cheek's own side of the face the light cancels.
    name = "faces/webcam_selfie_glasses_47.jpg"
    image, landmarks, face_w = photo_with_landmarks(shared_testdata / name)
    seed = photo_seed(name)
    clip = frames_at(shared_testdata / "video" / "face_selfie_glasses_360x640.mp4", (0, 120))
    assert set(clip) == {0, 120}, "the selfie clip's frames 0 and 120"
    for kind, varied in (
        ("as taken", image),
        ("frown lines", glabella_lines(image, landmarks, face_w, seed)),
        ("jpeg q50", jpeg(image, 50)),
        ("mirror", np.ascontiguousarray(image[:, ::-1])),
        ("clip frame 0", clip[0]),
        ("clip frame 120", clip[120]),
    ):
        result = check_photo(varied, "front")
        cheek = check_named(result, "cheek_occlusion")
        colour_test = cheek.measure == "cheek_skin"
        assert cheek.status == "pass" or not colour_test, (kind, cheek)
        assert result.verdict != "fail", (kind, [c.to_dict() for c in result.failing])


# Frames of the selfie clip whose clear forehead (warm light from above, b* 23-25) read 0.32-0.62
# skin-like against its cheeks (a cool window, b* 10-13): 168 refused "move your hair away", the
# others warned. The labelled photo (frame 120) is correct and has no hair on the forehead.
MIXED_LIGHT_FRAMES = (120, 144, 162, 168, 180)


def test_a_forehead_lit_by_another_lamp_is_not_taken_for_hair(shared_testdata: Path):
    clip = frames_at(shared_testdata / "video" / "face_selfie_glasses_360x640.mp4", MIXED_LIGHT_FRAMES)
    assert set(clip) == set(MIXED_LIGHT_FRAMES), "the selfie clip's frames"
    for index, frame in clip.items():
        forehead = check_named(check_photo(frame, "front"), "hair_or_hand")
        assert forehead.status == "pass", (index, forehead)


@pytest.mark.parametrize("name", CORRECT)
def test_a_fringe_on_darker_skin_is_still_refused(shared_testdata: Path, name: str):
    # The fringe differs from darker skin mostly along b*: with the mixed-light tolerance it would
    # read as skin (the stage portrait 0.24 -> 0.72); its strands' edges keep the strict test.
    hair = hair_texture(shared_testdata)
    assert hair is not None
    image, landmarks, face_w = photo_with_landmarks(shared_testdata / name)
    darker = darker_skin(image, landmarks, face_w, DARKER_EV)
    fringed = paste_fringe(darker, landmarks, hair, pupil_distance(landmarks), 0.5, photo_seed(name))
    result = check_photo(fringed, "front")
    assert check_named(result, "hair_or_hand").status == "fail", check_named(result, "hair_or_hand")
    assert result.first_problem is not None and result.first_problem.name in (
        "hair_or_hand",
        "cheek_occlusion",
    )
