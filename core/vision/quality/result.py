"""What the gate returns: one `QualityCheck` per check (status, value, threshold, the patient's
instruction, its ISO/IEC 29794-5 component) and the photo's `QualityResult`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from core.vision.detector import FaceBox
from core.vision.landmarks import FaceLandmarks, HeadPose
from core.vocabulary import Verdict

Status = Verdict
# Which of a check's measures its value is (`QualityCheck.measure`); "" for a check with one.
Measure = Literal[
    "",
    "dark_p90",
    "clipped",
    "channel_clipped",
    "frame_dark",
    "frame_clipped",
    "closeup_bright_end",
    "cheek_ratio",
    "side_gradient",
    "spread",
    "top_ratio",
    "direction",
    "closeup_focus",
    "cheek_skin",
    "cheek_edges",
    "forehead_skin",
    "forehead_edges",
    "grimace",
    "smile",
    "dark_lenses",
    "frames",
    "monochrome",
]


# Each check's ISO/IEC 29794-5 (face image quality) component, named as in OFIQ, its reference
# implementation. Check names stay as they are stored in results and read by the assessment's
# reliability notes; `QualityCheck.component` gives the standard's name. None: no component fits.
ISO_COMPONENTS: dict[str, str | None] = {
    "one_face": "SingleFacePresent",
    "yaw": "HeadPoseYaw",
    "pitch": "HeadPosePitch",
    "roll": "HeadPoseRoll",
    "image_size": None,  # capture requirement (ATA teledermatology), not a face-quality component
    "distance": "InterEyeDistance",
    "face_size": "HeadSize",
    "exposure": "UnderExposurePrevention/OverExposurePrevention",
    "backlight": "LuminanceMean",  # face luminance against the scene's
    "lighting": "IlluminationUniformity",
    "shadows": "LuminanceVariance",
    "colour": "NaturalColour",
    "sharpness": "Sharpness",
    "sunglasses": "EyesVisible",
    "hair_or_hand": "FaceOcclusionPrevention",  # forehead
    "cheek_occlusion": "FaceOcclusionPrevention",  # the view's cheek(s)
    "expression": "ExpressionNeutrality/MouthClosed",
    "eyes_open": "EyesOpen",
    "scale": None,  # a close-up's pixels per mm (from the inter-pupil distance): no face component
    "dynamic_range": "DynamicRange",
    "compression": "CompressionArtifacts",
}


@dataclass(frozen=True)
class QualityCheck:
    name: str
    status: Status
    value: float | str | None = None
    threshold: float | str | None = None
    instruction: str = ""
    # How far a failing check is past its fail line, in units of its warn band (0 = on the line;
    # 10 = a fail with no degree: no face, wrong side, sunglasses, too small a photo). The failing
    # check with the largest severity is the main problem. None for passing/warning checks.
    severity: float | None = None
    # Which of the check's measures `value` is, where it has more than one (exposure: the face's
    # bright end `dark_p90`, `clipped` luma, `channel_clipped`, or the whole `frame_dark` /
    # `frame_clipped`; lighting: `cheek_ratio` or `side_gradient`; ...): what the verdict reads to
    # weigh and order the failures. Empty for a check with one measure.
    measure: Measure = ""

    @property
    def component(self) -> str | None:
        """The ISO/IEC 29794-5 quality component this check measures (None: none fits)."""
        return ISO_COMPONENTS.get(self.name)

    def to_dict(self) -> dict[str, Any]:
        value = round(self.value, 3) if isinstance(self.value, float) else self.value
        threshold = round(self.threshold, 3) if isinstance(self.threshold, float) else self.threshold
        data: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "value": value,
            "threshold": threshold,
            "instruction": self.instruction,
        }
        if self.severity is not None:
            data["severity"] = round(self.severity, 3)
        if self.measure:
            data["measure"] = self.measure
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityCheck:
        """The check `to_dict` wrote (values come back rounded as stored)."""
        return cls(
            name=str(data["name"]),
            status=_status(data["status"]),
            value=data.get("value"),
            threshold=data.get("threshold"),
            instruction=str(data.get("instruction") or ""),
            severity=None if data.get("severity") is None else float(data["severity"]),
            measure=_measure(data.get("measure") or ""),
        )


def _box(values: list[int]) -> tuple[int, int, int, int]:
    x, y, w, h = values
    return int(x), int(y), int(w), int(h)


def _measure(value: object) -> Measure:
    if value not in get_args(Measure):
        raise ValueError(f"unknown quality measure {value!r}")
    return value  # type: ignore[return-value]


def _status(value: object) -> Status:
    if value not in ("pass", "warn", "fail"):
        raise ValueError(f"unknown quality status {value!r}")
    return value  # type: ignore[return-value]


@dataclass
class QualityResult:
    verdict: Status
    view: str
    checks: list[QualityCheck]
    pose: HeadPose | None
    faces: list[FaceBox]
    face_box: tuple[int, int, int, int] | None  # (x, y, w, h) in original pixels
    image_size: tuple[int, int] = (0, 0)  # (h, w)
    landmarks: FaceLandmarks | None = field(default=None, repr=False)

    @property
    def failing(self) -> list[QualityCheck]:
        """Failing checks, the main problem first: the largest `severity` (how far past its fail
        line), ties (and results stored without severities) in report order."""
        failing = [check for check in self.checks if check.status == "fail"]
        return sorted(failing, key=lambda check: -(check.severity if check.severity is not None else 0.0))

    @property
    def warnings(self) -> list[QualityCheck]:
        return [check for check in self.checks if check.status == "warn"]

    @property
    def first_problem(self) -> QualityCheck | None:
        problems = self.failing or self.warnings
        return problems[0] if problems else None

    def instructions(self) -> list[str]:
        """Unique instructions, failing checks first."""
        seen: list[str] = []
        for check in self.failing + self.warnings:
            if check.instruction and check.instruction not in seen:
                seen.append(check.instruction)
        return seen

    def check(self, name: str) -> QualityCheck | None:
        return next((check for check in self.checks if check.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "view": self.view,
            "checks": [check.to_dict() for check in self.checks],
            "pose": self.pose.to_dict() if self.pose else None,
            "faces": [face.to_dict() for face in self.faces],
            "face_box": list(self.face_box) if self.face_box else None,
            "image_size": list(self.image_size),
            "instructions": self.instructions(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityResult:
        """The result `to_dict` wrote. Landmarks are not stored, so they come back as None;
        `instructions` is derived from the checks and not read back."""
        pose, face_box, (height, width) = data["pose"], data["face_box"], data["image_size"]
        return cls(
            verdict=_status(data["verdict"]),
            view=str(data["view"]),
            checks=[QualityCheck.from_dict(check) for check in data["checks"]],
            pose=None if pose is None else HeadPose.from_dict(pose),
            faces=[FaceBox.from_dict(face) for face in data["faces"]],
            face_box=None if face_box is None else _box(face_box),
            image_size=(int(height), int(width)),
        )

    @classmethod
    def from_json(cls, text: str) -> QualityResult:
        """Raises ValueError (json.JSONDecodeError included) when `text` is not a stored result."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a stored quality result is a JSON object")
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a stored quality result: {error!r}") from error


_RANK = {"pass": 0, "warn": 1, "fail": 2}
