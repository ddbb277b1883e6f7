"""Pose bins and view gating on real, labelled photos from ../shared/testdata (skipped when absent)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import pytest

from core.vision.landmarks import detect_landmarks
from core.vision.quality import QualityOptions, check_photo

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def labelled(shared_testdata: Path) -> list[dict[str, str]]:
    with (shared_testdata / "faces_labels.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _image(shared_testdata: Path, row: dict[str, str]):
    image = cv2.imread(str(shared_testdata / row["file"]))
    assert image is not None, row["file"]
    return image


def test_yaw_sign_matches_the_labelled_side(shared_testdata, labelled):
    turned = [row for row in labelled if row["yaw_side"] in ("left", "right") and row["n_faces"] == "1"]
    assert len(turned) >= 8
    checked = 0
    for row in turned:
        landmarks = detect_landmarks(_image(shared_testdata, row))
        if landmarks is None:
            continue  # e.g. a full profile: MediaPipe finds no mesh
        checked += 1
        # yaw > 0 = the nose points to the image's left (module convention).
        assert (landmarks.pose.yaw > 0) == (row["yaw_side"] == "left"), (row["file"], landmarks.pose)
    assert checked >= 8


def test_pose_bins_agree_with_labels(shared_testdata, labelled):
    options = QualityOptions()
    hits = total = 0
    for row in labelled:
        if row["n_faces"] != "1":
            continue
        landmarks = detect_landmarks(_image(shared_testdata, row))
        if landmarks is None:
            continue
        magnitude = abs(landmarks.pose.yaw)
        if magnitude <= options.front_yaw_warn:
            predicted = "frontal"
        elif magnitude < options.profile_yaw_min_warn:
            predicted = "oblique"
        else:
            predicted = "profile"
        total += 1
        hits += predicted == row["yaw_bin"]
    assert total >= 30 and hits / total >= 0.9, f"{hits}/{total}"


def test_turned_photos_are_never_accepted_as_front_or_as_the_other_side(shared_testdata, labelled):
    for row in labelled:
        if row["yaw_bin"] == "frontal" or row["yaw_side"] not in ("left", "right"):
            continue
        image = _image(shared_testdata, row)
        assert check_photo(image, "front").verdict == "fail", row["file"]
        other = "right" if row["yaw_side"] == "left" else "left"
        swapped = check_photo(image, f"{other}_{row['yaw_bin']}")
        assert swapped.verdict == "fail" and swapped.check("yaw").status == "fail", row["file"]


def test_clinically_acceptable_fronts_pass_the_gate(shared_testdata, labelled):
    accepted = [row for row in labelled if row["clinical_front_ok"] == "yes"]
    assert accepted
    results = {row["file"]: check_photo(_image(shared_testdata, row), "front") for row in accepted}
    rejected = [name for name, result in results.items() if result.verdict == "fail"]
    assert not rejected, {name: [c.name for c in results[name].failing] for name in rejected}


def test_mirroring_a_turned_photo_flips_yaw_and_roll(shared_testdata, labelled):
    row = next(row for row in labelled if row["file"].endswith("yaw45_22.jpg"))
    image = _image(shared_testdata, row)
    original = detect_landmarks(image)
    mirrored = detect_landmarks(cv2.flip(image, 1))
    assert original.pose.yaw > 20 and mirrored.pose.yaw < -20
    assert abs(original.pose.yaw + mirrored.pose.yaw) < 5
    assert abs(original.pose.roll + mirrored.pose.roll) < 3
    assert check_photo(image, "left_oblique").check("yaw").status == "pass"
    assert check_photo(cv2.flip(image, 1), "right_oblique").check("yaw").status == "pass"
