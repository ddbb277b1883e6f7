"""Registered ONNX models: manifest, sha256 check, outputs in the report under their own name."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import TensorProto, helper

from core.assessment.engine import AssessmentOptions, PhotoInput, assess_case
from core.assessment.registry import RegistryError, load_registry, write_manifest


def _tiny_model(path) -> None:
    """image (N,3,H,W) -> redness_map = R - G (N,1,H,W) and brightness = mean of all pixels (N,1)."""
    nodes = [
        helper.make_node("Split", ["image", "split"], ["r", "g", "b"], axis=1),
        helper.make_node("Sub", ["r", "g"], ["redness_map"]),
        helper.make_node("ReduceMean", ["image"], ["brightness"], axes=[1, 2, 3], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [
            helper.make_tensor_value_info("redness_map", TensorProto.FLOAT, ["N", 1, "H", "W"]),
            helper.make_tensor_value_info("brightness", TensorProto.FLOAT, ["N"]),
        ],
        [helper.make_tensor("split", TensorProto.INT64, [3], [1, 1, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, path)


@pytest.fixture
def registry(tmp_path):
    model_file = tmp_path / "tiny_redness.onnx"
    _tiny_model(model_file)
    write_manifest(
        tmp_path,
        model_file,
        name="tiny_redness",
        version="0.0.1",
        outputs=[{"name": "redness_map", "unit": "R-G"}, {"name": "brightness", "unit": "0..1"}],
        intended_use="test model: red minus green",
        validation={"dataset": "none", "note": "built by the test"},
    )
    return tmp_path


def test_registered_model_outputs_appear_under_its_name(registry, face_photo_bgr, face_points):
    options = AssessmentOptions(registry_dir=registry, evidence=False)
    case = assess_case([PhotoInput(face_photo_bgr, "front", "p1", face_points)], options)
    report = json.loads(json.dumps(case.to_report()))
    described = {m["name"]: m for m in report["models"]}
    assert described["tiny_redness"]["version"] == "0.0.1"
    assert described["tiny_redness"]["intended_use"] == "test model: red minus green"
    assert described["tiny_redness"]["validation"]["dataset"] == "none"
    per_region = [m for m in report["metrics"] if m["metric"] == "tiny_redness.redness_map"]
    assert {m["region"] for m in per_region} >= {"cheek_left", "cheek_right", "forehead"}
    assert all(m["source"] == "tiny_redness" and m["unit"] == "R-G" for m in per_region)
    # Skin is redder than green: R - G > 0 on the cheeks.
    assert next(m for m in per_region if m["region"] == "cheek_left")["value"] > 0
    brightness = [m for m in report["metrics"] if m["metric"] == "tiny_redness.brightness"]
    assert len(brightness) == 1 and 0 < brightness[0]["value"] < 1


def test_tampered_model_file_is_refused(registry):
    (registry / "tiny_redness.onnx").write_bytes(b"not the registered model")
    with pytest.raises(RegistryError, match="sha256"):
        load_registry(registry)


def test_manifest_missing_fields_is_refused(tmp_path):
    (tmp_path / "broken.json").write_text(json.dumps({"name": "broken"}))
    with pytest.raises(RegistryError, match="lacks"):
        load_registry(tmp_path)
    assert load_registry(tmp_path / "absent") == []
