"""`python -m core simulate`: writes a marked simulation; clear errors for no face / bad names."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.__main__ import main
from core.ar.effects import has_watermark
from core.commands import CommandError
from core.commands.simulate import parse_treatments


def test_simulate_writes_a_marked_image(tmp_path: Path, face_photo_bgr: np.ndarray, capsys) -> None:
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), face_photo_bgr)
    out = tmp_path / "out" / "sim.png"
    code = main(
        [
            "simulate",
            str(photo),
            "--treatment",
            "lips,under-eye,redness",
            "--intensity",
            "0.8",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    result = cv2.imread(str(out))
    assert result.shape == face_photo_bgr.shape
    assert has_watermark(result)
    assert "under_eye=0.80" in capsys.readouterr().out


def test_simulate_without_a_face_fails_clearly(tmp_path: Path, capsys) -> None:
    photo = tmp_path / "wall.png"
    cv2.imwrite(str(photo), np.full((480, 640, 3), 180, np.uint8))
    code = main(["simulate", str(photo), "--treatment", "skin", "--out", str(tmp_path / "o.png")])
    assert code == 2
    assert "no face found" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_treatment_names_and_intensity_are_validated() -> None:
    assert parse_treatments("skin, under-eye", 0.5) == {"skin": 0.5, "under_eye": 0.5}
    with pytest.raises(CommandError, match="unknown treatment"):
        parse_treatments("skin,facelift", 0.5)
    with pytest.raises(CommandError, match="between 0 and 1"):
        parse_treatments("skin", 1.5)


def test_missing_photo_is_an_operator_error(tmp_path: Path, capsys) -> None:
    code = main(
        ["simulate", str(tmp_path / "nope.jpg"), "--treatment", "skin", "--out", str(tmp_path / "o.png")]
    )
    assert code == 1
    assert "does not exist" in capsys.readouterr().err
