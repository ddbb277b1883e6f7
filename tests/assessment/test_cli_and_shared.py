"""The `assess` CLI, and the real-photo checks (skipped without ../shared/testdata)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.__main__ import main
from core.assessment.engine import PhotoInput, assess_case, assess_photo
from core.vision.quality import check_photo
from tests.video_frames import first_frames

from .conftest import FAST


def test_cli_prints_json_report(tmp_path, face_photo_bgr, capsys):
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), face_photo_bgr)
    assert main(["assess", str(path), "--view", "front", "--json", "--no-quality"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["engine"]) >= {"version", "sha256"}
    assert isinstance(report["flags"], list)
    assert {"region", "metric", "value", "unit", "score"} <= set(report["metrics"][0])


def test_cli_reports_a_missing_file(tmp_path, capsys):
    assert main(["assess", str(tmp_path / "absent.jpg")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "empty"),
        ("dot.png", cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes(), "too small"),
        ("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "not"),
    ],
)
def test_cli_refuses_what_the_intake_refuses_without_a_traceback(tmp_path, capsys, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["assess", str(path)]) == 1
    assert reason in capsys.readouterr().err


def test_cli_reads_dashed_view_names_and_refuses_unknown_ones(tmp_path, face_photo_bgr, capsys):
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), face_photo_bgr)
    assert main(["assess", str(path), "--view", "close-up", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["photos"][0]["view"] == "close_up" and report["photos"][0]["status"] == "assessed"
    assert main(["assess", str(path), "--view", "sideways"]) == 2


def _spots(path, view: str) -> float:
    result = assess_photo(cv2.imread(str(path)), view, options=FAST)
    assert result.status == "assessed", result.reason
    if view == "close_up":
        return result.metric("inflammatory_spots", "skin").value
    return sum(
        m.value for m in result.metrics if m.metric == "inflammatory_spots" and m.region.startswith("cheek")
    )


@pytest.mark.shared
def test_acne_close_ups_score_higher_on_inflammatory_spots(shared_testdata):
    acne = [_spots(p, "close_up") for p in sorted((shared_testdata / "skin").glob("acne_*.jpg"))]
    clear_cheeks = _spots(shared_testdata / "faces" / "frontal_evenlight_03.png", "front")
    wrinkle_crop = _spots(shared_testdata / "skin" / "wrinkles_periorbital_forehead_10.jpg", "close_up")
    assert len(acne) == 9
    assert float(np.median(acne)) > clear_cheeks
    assert sum(a > clear_cheeks for a in acne) >= 8
    # The wrinkle crop (eyes, brows, one papule) is a harder reference: most acne photos still beat it.
    assert float(np.mean(acne)) > wrinkle_crop


# (metric, region, largest CV) over 30 frames of a smiling, talking face taken as one case.
# Colour holds to the 3% aim; shading- and expression-driven measures move more on this clip.
REPEATABLE = (("ita", "face", 0.01), ("redness", "cheek_left", 0.04), ("redness", "cheek_right", 0.04),
              ("redness", "forehead", 0.04), ("melanin", "forehead", 0.07), ("melanin", "cheek_left", 0.12),
              ("texture", "cheek_left", 0.10), ("texture", "nose", 0.16))  # fmt: skip


@pytest.mark.shared
def test_consecutive_video_frames_give_repeatable_metrics(shared_testdata):
    """The portal's path: the quality gate, then one case sharing the white balance of its eye whites."""
    frames = first_frames(shared_testdata / "video" / "face_closeup_pexels_640x480.mp4", 30)
    assert len(frames) == 30
    inputs = [
        PhotoInput(f, "front", f"frame{i}", None, check_photo(f, "front")) for i, f in enumerate(frames)
    ]
    results = [p for p in assess_case(inputs, FAST).photos if p.status == "assessed"]
    assert len(results) >= 25
    assert {r.illumination["method"] for r in results} == {"case_sclera"}
    for metric, region, limit in REPEATABLE:
        values = np.array([r.metric(metric, region).value for r in results])
        if metric == "ita" and not np.isfinite(values).all():
            # 1.2.0: without an exposure anchor ITA is withheld; where it is, it is withheld on all.
            assert not np.isfinite(values).any(), values
            continue
        cv = float(np.std(values) / max(abs(np.mean(values)), 1e-6))
        assert cv < limit, (metric, region, cv)


@pytest.mark.shared
def test_half_size_photo_gives_similar_colour_metrics(shared_testdata):
    image = cv2.imread(str(shared_testdata / "faces" / "frontal_goodlight_older_male_02.jpg"))
    full = assess_photo(image, "front", options=FAST)
    half = assess_photo(
        cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), "front", options=FAST
    )
    for metric, region in (("redness", "cheek_left"), ("ita", "face"), ("melanin", "forehead")):
        a, b = full.metric(metric, region).value, half.metric(metric, region).value
        assert abs(a - b) <= max(0.10 * abs(a), 1.5), (metric, region, a, b)


@pytest.mark.shared
def test_oblique_view_measures_the_near_side(shared_testdata):
    image = cv2.imread(str(shared_testdata / "faces" / "yaw35_darkbg_23.jpg"))  # turned to image-right
    result = assess_photo(image, "right_oblique", options=FAST)
    assert result.status == "assessed"
    regions = {m.region for m in result.metrics}
    sides = {name for name in regions if name.endswith(("_left", "_right"))}
    # One side is foreshortened away: its paired regions are not all measured.
    assert not ({"cheek_left", "cheek_right"} <= sides and {"crows_feet_left", "crows_feet_right"} <= sides)
    assert all("oblique view" in " ".join(m.reliability) for m in result.metrics if m.metric == "redness")
    assert not any(m.metric == "symmetry" for m in result.metrics)


def test_low_resolution_face_warns_on_detail_metrics(face_photo_bgr, face_points):
    small = cv2.resize(face_photo_bgr, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    result = assess_photo(small, "front", face_points * 0.3, options=FAST)
    texture = result.metric("texture", "cheek_left")
    assert any("low resolution" in note for note in texture.reliability)
    assert not any("low resolution" in note for note in result.metric("redness", "cheek_left").reliability)
