"""The pre-assessment queue survives a restart: work left queued or running by a process that
died is resumed at the next start, with an attempt cap and a failed state the card shows; every
overlay blob has an owning row, and a run that does not commit leaves no blob (issue 12)."""

from __future__ import annotations

from datetime import date

import cv2
import pytest

from core.access import SYSTEM_PRINCIPAL
from core.assessment.engine import AssessmentOptions
from core.assessment.service import INTERRUPTED_ERROR, MAX_ATTEMPTS
from core.clinic import Clinic
from core.config import Settings
from core.consult.cases import IntakeForm
from core.recovery import owned_blob_ids

from .conftest import checked_photo

PASSWORD = "correct-horse-battery"
FAST = AssessmentOptions(run_registry=False, evidence=False)


def _open() -> Clinic:
    clinic = Clinic.open(Settings.from_env())
    clinic.assessments._options = FAST
    return clinic


@pytest.fixture
def stored_case(data_dir, face_photo_bgr):
    """A clinic with one submitted case whose pre-assessment was never queued (closed again)."""
    clinic = _open()
    clinic.case_submitted_listeners.clear()
    clinic.auth.create_staff(SYSTEM_PRINCIPAL, "physician", "doc@clinic.test", "Dr Doc", PASSWORD)
    clinic.auth.register_patient(
        "alice@example.test", PASSWORD, "Alice", date(1988, 5, 4), "en", "Europe/Amsterdam", True
    )
    alice = clinic.auth.login("alice@example.test", PASSWORD).principal
    small = cv2.resize(face_photo_bgr, (410, 492), interpolation=cv2.INTER_AREA)
    photos = [checked_photo(view, small) for view in ("front", "left_oblique", "right_oblique")]
    intake = IntakeForm(
        concerns=["redness_rosacea"], areas=["cheeks"], duration="1 year", consent_photo_storage=True
    )
    case_id = clinic.cases.submit_case(alice, intake, photos)
    clinic.close()
    return case_id


def _doc(clinic: Clinic):
    return clinic.auth.login("doc@clinic.test", PASSWORD).principal


def _leave(case_id: str, status: str, attempts: int) -> str:
    """What a killed process leaves: an assessment row stuck in `status`."""
    clinic = _open()
    try:
        clinic.case_submitted_listeners.clear()
        assessment_id = clinic.assessments._insert_queued(case_id, None)
        clinic.db.execute(
            "UPDATE assessments SET status = ?, attempts = ? WHERE id = ?", [status, attempts, assessment_id]
        )
    finally:
        clinic.close()
    return assessment_id


@pytest.mark.parametrize(
    ("status", "attempts"), [("queued", 0), ("running", 1), ("running", MAX_ATTEMPTS - 1)]
)
def test_work_left_by_a_dead_process_is_resumed_at_start(stored_case, status, attempts) -> None:
    assessment_id = _leave(stored_case, status, attempts)
    clinic = _open()
    try:
        clinic.start_background_work()
        assert clinic.assessments.wait_idle(300)
        record = clinic.assessments.latest_for_case(_doc(clinic), stored_case)
        assert record is not None and record.assessment_id == assessment_id
        assert record.status == "done", record.error
        attempts_now = clinic.db.scalar("SELECT attempts FROM assessments WHERE id = ?", [assessment_id])
        assert attempts_now == attempts + 1
        assert "assessment.queue_resumed" in clinic.audit.actions()
        # Every overlay (the canonical face crop included) is owned by a row with its patient.
        overlays = {
            blob for photo in record.report["photos"] for blob in (photo.get("overlay_blobs") or {}).values()
        }
        assert overlays and overlays <= owned_blob_ids(clinic.db)
        owners = clinic.db.fetchall(
            "SELECT DISTINCT patient_id, case_id FROM assessment_blobs WHERE assessment_id = ?",
            [assessment_id],
        )
        assert owners == [(record.patient_id, stored_case)]
        kinds = {r[0] for r in clinic.db.fetchall("SELECT kind FROM assessment_blobs")}
        assert "canonical" in kinds
    finally:
        clinic.close()


def test_work_interrupted_too_often_is_failed_with_a_reason_the_card_shows(stored_case) -> None:
    assessment_id = _leave(stored_case, "running", MAX_ATTEMPTS)
    clinic = _open()
    try:
        report = clinic.assessments.resume()
        assert report.failed == [assessment_id] and report.requeued == []
        record = clinic.assessments.latest_for_case(_doc(clinic), stored_case)
        assert record is not None and record.status == "failed" and record.finished
        assert record.error == INTERRUPTED_ERROR.format(attempts=MAX_ATTEMPTS)
        assert "interrupted" in record.error and "Run it again" in record.error
        assert clinic.assessments.resume().failed == []  # once per start
        # Running it again by hand works.
        again = clinic.assessments.run_for_case(_doc(clinic), stored_case)
        assert again.status == "done"
    finally:
        clinic.close()


def test_a_case_whose_process_died_before_queueing_gets_a_run(stored_case) -> None:
    clinic = _open()
    try:
        assert clinic.db.scalar("SELECT count(*) FROM assessments") == 0
        assert len(clinic.assessments.resume().requeued) == 1
        assert clinic.assessments.wait_idle(300)
        record = clinic.assessments.latest_for_case(_doc(clinic), stored_case)
        assert record is not None and record.status == "done"
    finally:
        clinic.close()


def test_a_run_that_does_not_commit_leaves_no_overlay_blob(stored_case, monkeypatch) -> None:
    clinic = _open()
    try:
        blobs_before = set(clinic.blobs.list_ids())

        def commit_fails(*args, **kwargs):
            raise RuntimeError("database went away")

        monkeypatch.setattr(clinic.assessments, "_finish", commit_fails)
        record = clinic.assessments.run_for_case(_doc(clinic), stored_case)
        assert record.status == "failed" and "database went away" in (record.error or "")
        assert set(clinic.blobs.list_ids()) == blobs_before
    finally:
        clinic.close()


def test_a_stale_run_cannot_overwrite_a_newer_claim(stored_case) -> None:
    """A worker of a closed clinic that finishes late must not write over the resumed run."""
    clinic = _open()
    try:
        assessment_id = clinic.assessments._insert_queued(stored_case, None)
        first = clinic.assessments._claim(assessment_id)
        assert first is not None and first.attempts == 1
        # The next start puts it back in the queue and a new worker claims it (attempt 2).
        clinic.db.execute("UPDATE assessments SET status = 'queued' WHERE id = ?", [assessment_id])
        assert clinic.assessments._claim(assessment_id) is not None
        blobs_before = set(clinic.blobs.list_ids())
        written: list = []
        report, rows = clinic.assessments._assess(assessment_id, stored_case, first.patient_id, written)
        from core.assessment.service import _Superseded

        with pytest.raises(_Superseded):
            clinic.assessments._finish(assessment_id, stored_case, first.patient_id, 1, report, rows, written)
        clinic.assessments._delete_blobs(written)
        assert set(clinic.blobs.list_ids()) == blobs_before
        assert clinic.db.scalar("SELECT status FROM assessments WHERE id = ?", [assessment_id]) == "running"
        assert clinic.db.scalar("SELECT count(*) FROM assessment_blobs") == 0
    finally:
        clinic.close()
