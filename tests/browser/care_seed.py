"""A case carried through the physician's side through core, for browser tests of the pages that
show a case with content: the report written and sent (advising an in-person visit), the visit
booked, a treatment recorded with a photo check-in due today, and the pre-assessment's measures
released to the patient's "My progress".

It runs as its own process (`answer_cases(env, ...)`, e.g. in `start_portal(before_start=...)`
after `live_harness.seed` made the cases), since one process at a time may hold the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

from .conftest import REPO_ROOT, Credentials

FINDINGS = "Fine lines around the lips and under the eyes, in keeping with the patient's age."
TREATMENT_AREA = "perioral lines"
VISIT_REASON = "A closer look before the treatment"


@dataclass(frozen=True)
class AnsweredCase:
    case_id: str
    reference: str
    released: int  # measures released to the patient's "My progress"


def answer_cases(env: dict[str, str], physician: Credentials, case_ids: list[str]) -> list[AnsweredCase]:
    """Answer each case in `case_ids` as `physician` (see the module's docstring)."""
    plan = {"physician": vars(physician), "case_ids": case_ids}
    result = subprocess.run(
        [sys.executable, "-m", "tests.browser.care_seed", json.dumps(plan)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"answering the seeded cases failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        )
    return [AnsweredCase(**row) for row in json.loads(result.stdout.strip().splitlines()[-1])]


def _answer(plan: dict) -> list[AnsweredCase]:
    import datetime as dt

    from core.care.followup import PlannedCheckIn
    from core.care.records import TreatmentInput
    from core.care.release import MeasureKey
    from core.clinic import Clinic
    from core.config import Settings
    from core.consult.reports import PhysicianReport
    from core.vocabulary import IN_REVIEW

    clinic = Clinic.open(Settings.from_env())
    answered: list[AnsweredCase] = []
    try:
        doctor = clinic.auth.login(plan["physician"]["email"], plan["physician"]["password"]).principal
        today = dt.date.today()
        for case_id in plan["case_ids"]:
            clinic.cases.transition(doctor, case_id, IN_REVIEW)
            report = PhysicianReport(
                FINDINGS,
                "Suitable for a botulinum toxin treatment",
                "Botulinum toxin, low dose",
                "Daily SPF 50",
                True,
                VISIT_REASON,
                "Photo check-in after 2 weeks",
            )
            clinic.reports.save_draft(doctor, case_id, report)
            clinic.reports.send(doctor, case_id)
            clinic.care.appointments.book_local(
                doctor, case_id, today + dt.timedelta(days=7), dt.time(10, 0), 30, VISIT_REASON, "Room 2"
            )
            views = tuple(clinic.care.treatments.baseline_photos(doctor, case_id))
            clinic.care.treatments.record_treatment(
                doctor,
                case_id,
                TreatmentInput("botulinum_toxin", TREATMENT_AREA, today - dt.timedelta(days=14)),
                [PlannedCheckIn(today, "2-week check-in", views)],
            )
            measured: list[MeasureKey] = clinic.care.release.measured(doctor, case_id)
            clinic.care.release.set_released(doctor, case_id, measured[:2])
            reference = clinic.cases.get_case(doctor, case_id).reference
            answered.append(AnsweredCase(case_id, reference, len(measured[:2])))
    finally:
        clinic.close()
    return answered


if __name__ == "__main__":
    rows = _answer(json.loads(sys.argv[1]))
    print(json.dumps([asdict(row) for row in rows]), flush=True)
    os._exit(0)  # skip interpreter teardown: native worker threads of other areas may abort it
