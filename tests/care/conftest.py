"""Care-area fixtures: a landmark detector (the vision area's, or a MediaPipe stand-in) and a clinic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest


@dataclass(frozen=True)
class _Landmarks:
    points: np.ndarray
    pose: Any = None


def _mediapipe_detector() -> Callable[[np.ndarray], Any]:
    """Used only while core.vision.landmarks is absent: same contract (478 pixel points)."""
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions

    from core.models import model_path

    landmarker = FaceLandmarker.create_from_options(
        FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path("face_landmarker.task")))
        )
    )

    def detect(bgr: np.ndarray) -> _Landmarks | None:
        rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        if not result.face_landmarks:
            return None
        height, width = bgr.shape[:2]
        points = np.array([[p.x * width, p.y * height, p.z * width] for p in result.face_landmarks[0]])
        return _Landmarks(points)

    return detect


@pytest.fixture(scope="session")
def landmark_detector() -> Callable[[np.ndarray], Any]:
    try:
        from core.vision.landmarks import detect_landmarks
    except ImportError:
        return _mediapipe_detector()
    return detect_landmarks


# -- a clinic with a physician, an admin and two patients --------------------------------------


@dataclass
class CareWorld:
    clinic: Any
    physician: Any
    physician2: Any
    admin: Any
    patient: Any  # Europe/Amsterdam
    other_patient: Any  # America/New_York
    photo_bytes: bytes

    def submit_case(self, patient: Any | None = None) -> str:
        from core.consult.cases import IntakeForm
        from tests.photo_factory import checked_photo

        intake = IntakeForm(
            concerns=["lines_wrinkles"], areas=["forehead"], duration="1-2 years", consent_photo_storage=True
        )
        photos = [
            checked_photo(view, self.photo_bytes) for view in ("front", "left_oblique", "right_oblique")
        ]
        return self.clinic.cases.submit_case(patient or self.patient, intake, photos)

    def report_case(self, case_id: str, in_person: bool = True) -> None:
        from core.consult.reports import PhysicianReport

        self.clinic.cases.transition(self.physician, case_id, "in_review")
        self.clinic.reports.save_draft(
            self.physician,
            case_id,
            PhysicianReport(
                findings="Dynamic forehead lines",
                assessment="Suitable for botulinum toxin",
                recommended_treatments="Botulinum toxin, 10 U forehead",
                home_care="Daily SPF 50",
                in_person_needed=in_person,
                in_person_reason="Treatment needs a visit" if in_person else None,
                follow_up_suggestion="Check-in after 2 weeks",
            ),
        )
        self.clinic.reports.send(self.physician, case_id)


def _settle(clinic: Any) -> None:
    """Let the pre-assessment's background worker (another area's) finish before closing."""
    assessments = getattr(clinic, "assessments", None)
    if assessments is not None and not clinic.closed and hasattr(assessments, "wait_idle"):
        assessments.wait_idle(timeout=60)


@pytest.fixture
def care_world(data_dir, face_photo_bgr) -> CareWorld:
    import datetime as dt

    import cv2

    from core.access import SYSTEM_PRINCIPAL
    from core.clinic import Clinic
    from core.config import Settings

    clinic = Clinic.open(Settings.from_env())
    auth = clinic.auth
    physician = auth.create_staff(
        SYSTEM_PRINCIPAL, "physician", "doc@example.test", "Dr Ada Lovelace", "Doc-Pass-12345!"
    )
    physician2 = auth.create_staff(
        SYSTEM_PRINCIPAL, "physician", "doc2@example.test", "Dr Bob Two", "Doc-Pass-12345!"
    )
    admin = auth.create_staff(SYSTEM_PRINCIPAL, "admin", "admin@example.test", "Ann Admin", "Adm-Pass-12345!")
    patient = auth.register_patient(
        "zoe@example.test",
        "Patient-Pass-123!",
        "Zoë Müller",
        dt.date(1988, 5, 1),
        "de",
        "Europe/Amsterdam",
        True,
    )
    other = auth.register_patient(
        "sam@example.test",
        "Patient-Pass-123!",
        "Sam Other",
        dt.date(1979, 1, 9),
        "en",
        "America/New_York",
        True,
    )
    photo = cv2.imencode(".jpg", face_photo_bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    world = CareWorld(clinic, physician, physician2, admin, patient, other, photo)
    yield world
    _settle(clinic)
    clinic.close()
