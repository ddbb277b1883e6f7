"""The child process of tests/foundation/test_crash_recovery.py: it opens the clinic as the
portal does (sweep + resume the queue), then submits consultations and follow-up check-ins as
fast as it can, with the pre-assessment running in the background, until the test SIGKILLs it.

Run as a script (`python tests/foundation/crash_child.py`) with CLINIC_DATA_DIR set; prints
"ready" once set up, then one line per stored case.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

CASES_PER_RUN = 5
PASSWORD = "correct-horse-battery"
VIEWS = ("front", "left_oblique", "right_oblique")


def main() -> None:
    import cv2
    import numpy as np
    from skimage import data

    from core.access import SYSTEM_PRINCIPAL
    from core.assessment.engine import AssessmentOptions
    from core.care.followup import PlannedCheckIn
    from core.care.records import TreatmentInput
    from core.clinic import Clinic
    from core.consult.cases import IntakeForm
    from tests.photo_factory import checked_photo

    clinic = Clinic.open()
    clinic.assessments._options = AssessmentOptions(run_registry=False, evidence=False)
    clinic.start_background_work()  # as the portal's start: sweep, resume the queue
    if clinic.db.scalar("SELECT count(*) FROM users") == 0:
        clinic.auth.create_staff(SYSTEM_PRINCIPAL, "physician", "doc@clinic.test", "Dr Doc", PASSWORD)
        clinic.auth.register_patient(
            "alice@example.test", PASSWORD, "Alice", date(1988, 5, 4), "en", "Europe/Amsterdam", True
        )
    patient = clinic.auth.login("alice@example.test", PASSWORD).principal
    physician = clinic.auth.login("doc@clinic.test", PASSWORD).principal
    face = cv2.cvtColor(np.ascontiguousarray(data.astronaut()[0:300, 90:340]), cv2.COLOR_RGB2BGR)
    face = cv2.resize(face, (410, 492), interpolation=cv2.INTER_CUBIC)
    jpeg = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    intake = IntakeForm(
        concerns=["redness_rosacea"], areas=["cheeks"], duration="1 year", consent_photo_storage=True
    )
    print("ready", flush=True)
    for index in range(CASES_PER_RUN):
        case_id = clinic.cases.submit_case(patient, intake, [checked_photo(v, jpeg) for v in VIEWS])
        print("case", case_id, flush=True)
        if index % 2 == 0:
            plan = [PlannedCheckIn(date.today(), "Check-in", VIEWS)]
            _, (checkin,) = clinic.care.treatments.record_treatment(
                physician, case_id, TreatmentInput("filler", "lips", date.today()), plan
            )
            clinic.care.checkins.submit_checkin(
                patient, checkin.checkin_id, {v: checked_photo(v, jpeg) for v in VIEWS}
            )
            print("checkin", checkin.checkin_id, flush=True)
    while True:  # the pre-assessment works on; the test kills this process
        time.sleep(0.5)


if __name__ == "__main__":
    main()
