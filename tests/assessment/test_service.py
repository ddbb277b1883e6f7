"""Storage round trip: submission queues an assessment in the background; access and audit."""

from __future__ import annotations

import time
from datetime import date

import cv2
import numpy as np
import pytest

from core.access import SYSTEM_PRINCIPAL, AccessDenied
from core.clinic import Clinic
from core.config import Settings
from core.consult.cases import IntakeForm
from core.consult.photos import intake_frame
from core.vision.quality import QualityCheck, QualityResult

from .conftest import checked_photo

PASSWORD = "correct-horse-battery"


@pytest.fixture
def world(data_dir, face_photo_bgr):
    clinic = Clinic.open(Settings.from_env())
    clinic.auth.create_staff(SYSTEM_PRINCIPAL, "physician", "doc@clinic.test", "Dr Doc", PASSWORD)
    for email, name in (("alice@example.test", "Alice"), ("bob@example.test", "Bob")):
        clinic.auth.register_patient(
            email,
            PASSWORD,
            name,
            date(1988, 5, 4),
            "en",
            "Europe/Amsterdam",
            accepted_telemedicine_consent=True,
        )
    people = {
        "doc": clinic.auth.login("doc@clinic.test", PASSWORD).principal,
        "alice": clinic.auth.login("alice@example.test", PASSWORD).principal,
        "bob": clinic.auth.login("bob@example.test", PASSWORD).principal,
    }
    small = cv2.resize(face_photo_bgr, (410, 492), interpolation=cv2.INTER_AREA)
    warned = QualityResult(
        "warn",
        "left_oblique",
        [QualityCheck("lighting", "warn", 0.6, 0.7, "Face the light.")],
        None,
        [],
        None,
    )
    blank = np.full((480, 400, 3), 120, np.uint8)  # no face: the real gate fails it, not assessed
    photos = [
        checked_photo("front", small),
        checked_photo("left_oblique", small, warned),
        intake_frame(blank, "right_oblique", source="upload"),
    ]
    intake = IntakeForm(
        concerns=["redness_rosacea"], areas=["cheeks"], duration="1 year", consent_photo_storage=True
    )
    assert photos[2].verdict == "fail"
    case_id = clinic.cases.submit_example_case(people["alice"], intake, photos)  # keeps the failed one
    yield clinic, people, case_id
    clinic.assessments.wait_idle(60)
    clinic.close()


def test_submission_queues_a_background_assessment_that_is_stored(world):
    clinic, people, case_id = world
    assert clinic.assessments.wait_idle(120)
    record = clinic.assessments.latest_for_case(people["doc"], case_id)
    assert record is not None and record.status == "done", record and record.error
    report = record.report
    assert (
        record.engine_version == report["engine"]["version"]
        and record.engine_sha256 == report["engine"]["sha256"]
    )
    assert [p["status"] for p in report["photos"]] == ["assessed", "assessed", "not_assessed"]
    # The gate's instruction to the patient, not the check's name ("one_face").
    assert report["not_assessed"][0]["reason"] == (
        "We cannot see a face. Make sure your whole face is in the picture."
    )
    front = report["photos"][0]
    assert set(front["overlay_blobs"]) == {"redness", "spots", "lines", "canonical"}
    image = clinic.assessments.overlay_bytes(
        people["doc"], record.assessment_id, front["overlay_blobs"]["redness"]
    )
    assert cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR).shape == (512, 512, 3)

    rows = clinic.assessments.metrics_for_patient(people["doc"], people["alice"].patient_id)
    assert len(rows) == len(report["metrics"])
    cheek = clinic.assessments.metrics_for_patient(
        people["doc"], people["alice"].patient_id, metric="redness", region="cheek_left"
    )
    assert len(cheek) == 1 and cheek[0].value == pytest.approx(
        next(
            m["value"] for m in report["metrics"] if m["metric"] == "redness" and m["region"] == "cheek_left"
        ),
        abs=1e-3,
    )
    assert cheek[0].engine_version == record.engine_version and cheek[0].case_id == case_id
    # The hybrid-care area reads the table directly: column names are a contract.
    columns = [
        r[0]
        for r in clinic.db.fetchall(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database()"
            " AND table_schema = current_schema() AND table_name = 'assessment_metrics' ORDER BY ordinal_position"
        )
    ]
    assert columns == ["id", "assessment_id", "patient_id", "case_id", "photo_id", "view", "region", "metric",
                       "value", "unit", "score", "band", "engine_version", "measured_at"]  # fmt: skip
    actions = {r[0] for r in clinic.db.fetchall("SELECT action FROM audit_log")}
    assert {"assessment.done", "assessment.read", "assessment.metrics_read"} <= actions


def test_run_again_and_access_rules(world):
    clinic, people, case_id = world
    clinic.assessments.wait_idle(120)
    again = clinic.assessments.run_for_case(people["doc"], case_id)
    assert again.status == "done"
    assert clinic.assessments.latest_for_case(people["doc"], case_id).assessment_id == again.assessment_id
    # Progress charts see one value per case and metric: the newest run's, not one per run.
    cheek = clinic.assessments.metrics_for_patient(
        people["doc"], people["alice"].patient_id, metric="redness", region="cheek_left"
    )
    assert [row.assessment_id for row in cheek] == [again.assessment_id]
    series = clinic.archive.metric_series(people["doc"], people["alice"].patient_id, "redness", "cheek_left")
    assert len(series.points) == 1
    queued = clinic.assessments.run_for_case(people["doc"], case_id, background=True)
    assert queued.status in {"queued", "running", "done"}
    assert clinic.assessments.wait_idle(120)
    assert clinic.assessments.latest_for_case(people["doc"], case_id).status == "done"

    with pytest.raises(AccessDenied):
        clinic.assessments.run_for_case(people["alice"], case_id)
    with pytest.raises(AccessDenied):
        clinic.assessments.latest_for_case(people["alice"], case_id)
    with pytest.raises(AccessDenied):
        clinic.assessments.metrics_for_patient(people["bob"], people["alice"].patient_id)
    # A patient reads only what the physician released (core.care.release): nothing by default.
    assert clinic.assessments.metrics_for_patient(people["alice"], people["alice"].patient_id) == []
    from core.care.release import MeasureKey

    clinic.care.release.set_released(people["doc"], case_id, [MeasureKey("redness", "cheek_left")])
    own = clinic.assessments.metrics_for_patient(people["alice"], people["alice"].patient_id)
    assert own and {(r.metric, r.region) for r in own} == {("redness", "cheek_left")}


def test_a_run_finishing_after_a_newer_one_does_not_replace_its_numbers(world):
    clinic, people, case_id = world
    clinic.assessments.wait_idle(120)
    service = clinic.assessments
    older = service._insert_queued(case_id, people["doc"].user_id)
    time.sleep(0.01)  # created_at orders the runs
    newer = service._insert_queued(case_id, people["doc"].user_id)
    service._execute(newer)
    service._execute(older)
    ids = {
        row.assessment_id for row in service.metrics_for_patient(people["doc"], people["alice"].patient_id)
    }
    assert ids == {newer}
    assert service._record(older).status == "done"  # its report is kept


def test_reassess_command_brings_outdated_cases_to_the_current_engine(world, capsys):
    from core.__main__ import main

    clinic, people, case_id = world
    clinic.assessments.wait_idle(120)
    with pytest.raises(AccessDenied):
        clinic.assessments.cases_to_reassess(people["doc"])
    assert clinic.assessments.cases_to_reassess(SYSTEM_PRINCIPAL) == []
    # The stored run as if an older engine had made it.
    clinic.db.execute("UPDATE assessments SET engine_version = '0.9.0' WHERE case_id = ?", [case_id])
    assert clinic.assessments.cases_to_reassess(SYSTEM_PRINCIPAL) == [case_id]
    clinic.close()

    assert main(["reassess"]) == 0
    output = capsys.readouterr().out
    assert f"[1/1] {case_id} done" in output
    assert main(["reassess"]) == 0
    assert "already assessed" in capsys.readouterr().out
    assert main(["reassess", "--case", "no-such-case"]) == 1
    assert "no case with photos: no-such-case" in capsys.readouterr().err
