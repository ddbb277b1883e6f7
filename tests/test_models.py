from pathlib import Path

import pytest

from core.models import MODEL_FILES, ModelFileError, model_path


def test_prepared_models_verify():
    for name in MODEL_FILES:
        assert model_path(name).stat().st_size > 0


def test_missing_model_names_the_fix(tmp_path: Path):
    with pytest.raises(ModelFileError, match="make setup"):
        model_path("face_landmarker.task", tmp_path)


def test_wrong_model_hash_names_the_fix(tmp_path: Path):
    (tmp_path / "face_landmarker.task").write_bytes(b"not the model")
    with pytest.raises(ModelFileError, match="expected"):
        model_path("face_landmarker.task", tmp_path)
