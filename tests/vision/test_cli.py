"""`python -m core photo-check` prints a JSON result and fails clearly on unreadable files."""

from __future__ import annotations

import json

import cv2

from core.__main__ import main


def test_photo_check_json(face_photo_bgr, tmp_path, capsys):
    path = tmp_path / "front.jpg"
    cv2.imwrite(str(path), face_photo_bgr)
    assert main(["photo-check", str(path), "--view", "front", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] in ("pass", "warn") and data["view"] == "front"
    assert data["pose"] and len(data["faces"]) == 1 and data["checks"]


def test_photo_check_accepts_dashed_views(face_photo_bgr, tmp_path, capsys):
    path = tmp_path / "front.png"
    cv2.imwrite(str(path), face_photo_bgr)
    # A front-facing photo checked as a side view fails: scripts see it in the exit status.
    assert main(["photo-check", str(path), "--view", "left-oblique", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["view"] == "left_oblique" and data["verdict"] == "fail"


def test_a_photo_too_small_to_use_is_a_fail_verdict_with_its_reason(face_photo_bgr, tmp_path, capsys):
    path = tmp_path / "tiny.jpg"
    cv2.imwrite(str(path), cv2.resize(face_photo_bgr, (150, 180)))
    assert main(["photo-check", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "fail" and "too small" in data["instructions"][0]


def test_unreadable_file_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"not an image")
    assert main(["photo-check", str(path)]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["photo-check", str(tmp_path / "missing.jpg")]) == 2
    assert main(["photo-check", str(path), "--view", "sideways"]) == 2
