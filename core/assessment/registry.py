"""Further ONNX models, registered by a small JSON manifest beside the file.

A manifest `<dir>/<name>.json`:
{
  "name": "acne_counter", "version": "0.3.1", "file": "acne_counter.onnx",
  "sha256": "<hex of the .onnx file>",
  "inputs": [{"name": "image", "layout": "NCHW", "format": "RGB float32 0..1 canonical face"}],
  "outputs": [{"name": "lesion_map", "unit": "probability"}, {"name": "grade", "unit": "grade"}],
  "intended_use": "...", "validation": {"dataset": "...", "mae": 0.8}
}
Each model gets the same canonical image the filter bank sees (the shared input contract);
an output with the image's spatial size is reduced per region (mean), anything else is reported
as numbers. Outputs appear in the report under `<name>.<output>`. The file is refused when its
sha256 differs from the manifest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.paths import model_dir

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

REQUIRED_FIELDS = ("name", "version", "file", "sha256", "inputs", "outputs", "intended_use")


class RegistryError(RuntimeError):
    """A manifest is malformed or its model file does not match."""


def registry_dir() -> Path:
    return model_dir() / "registry"


@dataclass
class RegisteredModel:
    name: str
    version: str
    path: Path
    sha256: str
    inputs: list[dict]
    outputs: list[dict]
    intended_use: str
    validation: dict = field(default_factory=dict)
    _session: InferenceSession | None = None

    def describe(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "file": self.path.name,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "intended_use": self.intended_use,
            "validation": self.validation,
        }

    def output_unit(self, output: str) -> str:
        return next((str(o.get("unit", "")) for o in self.outputs if o.get("name") == output), "")

    def _ensure_session(self) -> InferenceSession:
        if self._session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.log_severity_level = 3
            self._session = ort.InferenceSession(
                self.path.read_bytes(), options, providers=["CPUExecutionProvider"]
            )
        return self._session

    def run(self, image_rgb01: np.ndarray) -> dict[str, np.ndarray]:
        session = self._ensure_session()
        input_name = self.inputs[0].get("name") or session.get_inputs()[0].name
        tensor = np.ascontiguousarray(image_rgb01.transpose(2, 0, 1)[None], dtype=np.float32)
        names = [o["name"] for o in self.outputs]
        values = session.run(names, {input_name: tensor})
        arrays = {name: np.asarray(value) for name, value in zip(names, values, strict=True)}
        return {name: array[0] if array.ndim > 0 else array for name, array in arrays.items()}


def load_manifest(path: Path) -> RegisteredModel:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RegistryError(f"{path}: unreadable manifest ({error})") from error
    missing = [key for key in REQUIRED_FIELDS if key not in data]
    if missing:
        raise RegistryError(f"{path}: manifest lacks {', '.join(missing)}")
    if not data["outputs"] or not all("name" in o for o in data["outputs"]):
        raise RegistryError(f"{path}: every output needs a name")
    model_file = (path.parent / data["file"]).resolve()
    if model_file.parent != path.parent.resolve():
        raise RegistryError(f"{path}: the model file must sit beside its manifest")
    if not model_file.is_file():
        raise RegistryError(f"{path}: model file {model_file.name} is missing")
    actual = hashlib.sha256(model_file.read_bytes()).hexdigest()
    if actual != data["sha256"]:
        raise RegistryError(f"{model_file}: sha256 {actual} does not match the manifest ({data['sha256']})")
    return RegisteredModel(
        name=str(data["name"]),
        version=str(data["version"]),
        path=model_file,
        sha256=actual,
        inputs=list(data["inputs"]),
        outputs=list(data["outputs"]),
        intended_use=str(data["intended_use"]),
        validation=dict(data.get("validation") or {}),
    )


_cache: dict[str, tuple[tuple, list[RegisteredModel]]] = {}
_lock = threading.Lock()


def load_registry(directory: Path | None = None) -> list[RegisteredModel]:
    """Every registered model in the directory (none when it does not exist), sorted by name."""
    root = directory or registry_dir()
    if not root.is_dir():
        return []
    manifests = sorted(root.glob("*.json"))
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in manifests)
    with _lock:
        cached = _cache.get(str(root))
        if cached and cached[0] == stamp:
            return cached[1]
        models = sorted((load_manifest(p) for p in manifests), key=lambda m: m.name)
        _cache[str(root)] = (stamp, models)
        return models


def write_manifest(directory: Path, model_file: Path, **fields) -> Path:
    """Register `model_file` (already in `directory`): writes `<name>.json` with its sha256."""
    data = {
        "name": fields.pop("name"),
        "version": fields.pop("version"),
        "file": model_file.name,
        "sha256": hashlib.sha256(model_file.read_bytes()).hexdigest(),
        "inputs": fields.pop(
            "inputs", [{"name": "image", "layout": "NCHW", "format": "RGB float32 0..1 canonical face"}]
        ),
        "outputs": fields.pop("outputs"),
        "intended_use": fields.pop("intended_use"),
        "validation": fields.pop("validation", {}),
        **fields,
    }
    path = directory / f"{data['name']}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    return path
