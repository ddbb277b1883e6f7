"""Erasure erases everything: no blob left decrypts to anything of the patient (the assessment's
overlays and canonical face crop included), and restoring an older backup does not bring the
patient back (the erasure ledger beside the key file is re-applied) (issue 12)."""

from __future__ import annotations

import json

import cv2
import pytest

from core.assessment.engine import AssessmentOptions
from core.backup import create_backup, restore_backup
from core.clinic import Clinic
from core.config import Settings
from core.consult.cases import IntakeForm
from core.erasure import ErasureLedger, ledger_path
from tests.care.conftest import _settle
from tests.photo_factory import checked_photo

FAST = AssessmentOptions(run_registry=False, evidence=False)


def _submit(world, patient, photo: bytes) -> str:
    intake = IntakeForm(
        concerns=["lines_wrinkles"], areas=["forehead"], duration="1-2 years", consent_photo_storage=True
    )
    photos = [checked_photo(view, photo) for view in ("front", "left_oblique", "right_oblique")]
    return world.clinic.cases.submit_case(patient, intake, photos)


def _patient_blob_contents(clinic, patient_id: str) -> dict[str, bytes]:
    """Every blob the patient's rows point at, photos and overlays (read from the reports
    themselves, not from the new owner table), decrypted."""
    ids = {r[0] for r in clinic.db.fetchall("SELECT blob_id FROM photos WHERE patient_id = ?", [patient_id])}
    for (report_json,) in clinic.db.fetchall(
        "SELECT report_json FROM assessments WHERE patient_id = ? AND report_json IS NOT NULL", [patient_id]
    ):
        for photo in json.loads(report_json).get("photos", []):
            ids.update((photo.get("overlay_blobs") or {}).values())
    return {blob_id: clinic.blobs.get(blob_id) for blob_id in ids}


def test_after_erasure_no_blob_decrypts_to_anything_of_the_patient(care_world, face_photo_bgr) -> None:
    world = care_world
    clinic = world.clinic
    clinic.assessments._options = FAST
    case_id = _submit(world, world.patient, world.photo_bytes)
    # The other patient's photos differ, so their overlays are theirs alone.
    mirrored = cv2.imencode(".jpg", cv2.flip(face_photo_bgr, 1), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    other_case = _submit(world, world.other_patient, mirrored)
    assert clinic.assessments.wait_idle(300)
    record = clinic.assessments.latest_for_case(world.physician, case_id)
    assert record is not None and record.status == "done", record and record.error
    patient_id = world.patient.patient_id
    mine = _patient_blob_contents(clinic, patient_id)
    overlays = set(mine) - {r[0] for r in clinic.db.fetchall("SELECT blob_id FROM photos")}
    assert len(overlays) >= 4, "the assessment stored overlays (incl. the canonical face crop)"
    others = _patient_blob_contents(clinic, world.other_patient.patient_id)

    result = clinic.exports.erase_patient(world.admin, patient_id)
    assert result.blobs_deleted == len(mine)
    assert result.rows_deleted["assessment_blobs"] == len(overlays)
    remaining = {blob_id: clinic.blobs.get(blob_id) for blob_id in clinic.blobs.list_ids()}
    assert not set(mine) & set(remaining)
    contents = set(mine.values())
    assert not [b for b, data in remaining.items() if data in contents], (
        "a blob still holds the patient's data"
    )
    # The other patient keeps every photo and overlay.
    assert remaining.keys() >= others.keys() and all(remaining[b] == data for b, data in others.items())
    assert clinic.cases.get_case(world.physician, other_case).patient_name == "Sam Other"


@pytest.mark.duckdb_only  # backups copy the DuckDB file (PostgreSQL: pg_dump)
def test_restoring_an_older_backup_does_not_bring_an_erased_patient_back(care_world, tmp_path) -> None:
    world = care_world
    world.clinic.case_submitted_listeners.clear()
    case_id = world.submit_case()
    other_case = world.submit_case(world.other_patient)
    patient_id, user_id = world.patient.patient_id, world.patient.user_id
    archive = create_backup(world.clinic, tmp_path / "before-erasure.tar").path
    world.clinic.exports.erase_patient(world.admin, patient_id)

    # The ledger: beside the key file, outside the data a backup holds; ids and time only.
    settings = Settings.from_env()
    ledger_file = ledger_path(settings)
    assert ledger_file.parent == settings.key_file.resolve().parent
    text = ledger_file.read_text()
    assert patient_id in text and "Zoë" not in text and "zoe@example.test" not in text
    assert set(json.loads(text)) == {"format", "entries", "seal"}
    assert set(json.loads(text)["entries"][0]) == {"patient_id", "erased_at"}
    assert (ledger_file.stat().st_mode & 0o777) == 0o600

    _settle(world.clinic)
    world.clinic.close()
    summary = restore_backup(settings, archive, force=True)
    assert summary.erasures_reapplied == (patient_id,)
    with Clinic.open(settings) as clinic:
        assert clinic.reapplied_erasures == []  # done by the restore already
        assert clinic.db.scalar("SELECT count(*) FROM patients WHERE id = ?", [patient_id]) == 0
        assert clinic.db.scalar("SELECT count(*) FROM users WHERE id = ?", [user_id]) == 0
        assert clinic.db.scalar("SELECT count(*) FROM cases WHERE id = ?", [case_id]) == 0
        assert clinic.db.scalar("SELECT count(*) FROM photos WHERE patient_id = ?", [patient_id]) == 0
        assert clinic.db.scalar("SELECT count(*) FROM cases WHERE id = ?", [other_case]) == 1
        photo_blobs = {r[0] for r in clinic.db.fetchall("SELECT blob_id FROM photos")}
        assert set(clinic.blobs.list_ids()) == photo_blobs  # the erased patient's blobs are gone
        assert "care.patient_erased" in clinic.audit.actions()
        assert clinic.audit.verify().ok


def test_an_erasure_cut_short_is_finished_at_the_next_open(care_world) -> None:
    world = care_world
    world.clinic.case_submitted_listeners.clear()
    world.submit_case()
    patient_id = world.patient.patient_id
    settings = Settings.from_env()
    # As if the process died after writing the ledger and before the delete committed.
    from core import crypto

    key = crypto.load_or_create_master_key(settings.master_key_env, settings.key_file, create=False)
    ErasureLedger.for_settings(settings, key).record(patient_id)
    _settle(world.clinic)
    world.clinic.close()
    with Clinic.open(settings) as clinic:
        assert clinic.reapplied_erasures == [patient_id]
        assert clinic.db.scalar("SELECT count(*) FROM patients WHERE id = ?", [patient_id]) == 0
        assert clinic.db.scalar("SELECT count(*) FROM patients") == 1


def test_an_altered_ledger_erases_nothing(care_world) -> None:
    world = care_world
    world.clinic.case_submitted_listeners.clear()
    settings = Settings.from_env()
    from core import crypto

    key = crypto.load_or_create_master_key(settings.master_key_env, settings.key_file, create=False)
    ErasureLedger.for_settings(settings, key).record("someone-else")
    document = json.loads(ledger_path(settings).read_text())
    document["entries"].append(
        {"patient_id": world.patient.patient_id, "erased_at": "2026-01-01T00:00:00+00:00"}
    )
    ledger_path(settings).write_text(json.dumps(document))
    world.clinic.close()
    with Clinic.open(settings) as clinic:
        assert clinic.reapplied_erasures == []
        assert clinic.db.scalar("SELECT count(*) FROM patients") == 2
