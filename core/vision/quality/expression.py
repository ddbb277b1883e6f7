"""Expression neutrality and open eyes, from the landmarker's blendshape scores."""

from __future__ import annotations

import numpy as np

from core.i18n import N_
from core.vision.landmarks import FaceLandmarks
from core.vision.quality.measures import _grade, _graded
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import QualityCheck
from core.vision.regions import (
    INNER_LIP_MIDDLE,
    MOUTH_CORNERS,
)


def _lips_apart(landmarks: FaceLandmarks, o: QualityOptions) -> bool:
    """The inner lips' gap against the mouth's width (corner to corner)."""
    (right, left), (upper, lower) = landmarks.xy[list(MOUTH_CORNERS)], landmarks.xy[list(INNER_LIP_MIDDLE)]
    width = float(np.linalg.norm(left - right))
    return width > 0 and float(np.linalg.norm(lower - upper)) >= o.lips_apart_ratio * width


def _check_expression(landmarks: FaceLandmarks, o: QualityOptions) -> list[QualityCheck]:
    b = landmarks.blendshape
    if not landmarks.blendshapes:
        return []
    jaw = b("jawOpen")
    smile = (b("mouthSmileLeft") + b("mouthSmileRight")) / 2
    pucker, funnel = b("mouthPucker"), b("mouthFunnel")
    grimace = max(pucker, funnel)
    checks = []
    status = _grade(jaw, o.jaw_open_warn, o.jaw_open_fail)
    grimace_status = _grade(grimace, o.grimace_warn, o.grimace_fail)
    if grimace_status == "fail" and funnel < o.grimace_fail and _lips_apart(landmarks, o):
        # A pucker presses the lips together; lips apart with a high pucker score are speech.
        grimace_status = "warn"
    if status == "pass" and grimace_status != "pass":
        checks.append(
            QualityCheck(
                "expression",
                grimace_status,
                grimace,
                o.grimace_warn,
                N_("Relax your lips and keep a neutral expression."),
                measure="grimace",
            )
        )
    elif status != "pass":
        checks.append(
            QualityCheck(
                "expression", status, jaw, o.jaw_open_warn, N_("Close your mouth and relax your face.")
            )
        )
    elif smile > o.smile_warn:
        checks.append(
            QualityCheck(
                "expression",
                "warn",
                smile,
                o.smile_warn,
                N_("Please do not smile: keep a neutral expression."),
                measure="smile",
            )
        )
    else:
        checks.append(QualityCheck("expression", "pass", max(jaw, smile), o.jaw_open_warn))
    blink = max(b("eyeBlinkLeft"), b("eyeBlinkRight"))
    checks.append(
        _graded(
            "eyes_open",
            blink,
            o.eye_blink_warn,
            o.eye_blink_fail,
            N_("Keep your eyes open and look at the camera."),
        )
    )
    return checks
