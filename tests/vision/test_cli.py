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


def test_the_cli_keeps_library_chatter_off_the_terminal_but_not_errors(face_photo_bgr, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "front.png"
    cv2.imwrite(str(path), face_photo_bgr)
    env = {**os.environ, "CLINIC_DATA_DIR": str(tmp_path / "no-clinic")}
    repo = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-m", "core", "photo-check", str(path)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "faces found: 1" in run.stdout
    assert run.stderr == ""  # MediaPipe/TFLite/OpenCV print several lines per model load otherwise
    missing = subprocess.run(
        [sys.executable, "-m", "core", "photo-check", str(tmp_path / "absent.png")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
