"""Each visit is measured on its own (issue 13): the baseline submission and every follow-up
check-in get their own assessment, a check-in's without anyone pressing a button; "Run again"
re-runs one visit and never changes another visit's stored numbers; the physician's video
snapshots are not measured."""

from __future__ import annotations

from datetime import date
from typing import Any

import cv2
import numpy as np
import pytest

from core.access import SYSTEM_PRINCIPAL, NotFound
from core.assessment.engine import AssessmentOptions
from core.care.followup import PlannedCheckIn
from core.care.records import TreatmentInput
from core.clinic import Clinic
from core.config import Settings
from core.consult.cases import IntakeForm
from tests.photo_factory import checked_photo

PASSWORD = "correct-horse-battery"
FAST = AssessmentOptions(run_registry=False, evidence=False)
VIEWS = ("front", "left_oblique", "right_oblique")


def _jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def _open() -> Clinic:
    clinic = Clinic.open(Settings.from_env())
    clinic.assessments._options = FAST
    return clinic


@pytest.fixture
def visit_world(data_dir, face_photo_bgr):
    clinic = _open()
    clinic.auth.create_staff(SYSTEM_PRINCIPAL, "physician", "doc@clinic.test", "Dr Doc", PASSWORD)
    clinic.auth.register_patient(
        "alice@example.test", PASSWORD, "Alice", date(1988, 5, 4), "en", "Europe/Amsterdam", True
    )
    doc = clinic.auth.login("doc@clinic.test", PASSWORD).principal
    alice = clinic.auth.login("alice@example.test", PASSWORD).principal
    small = cv2.resize(face_photo_bgr, (410, 492), interpolation=cv2.INTER_AREA)
    # The follow-up: the same face a little brighter and shifted, as a second session's photo is.
    later = cv2.warpAffine(
        cv2.convertScaleAbs(small, alpha=1.0, beta=12),
        np.array([[1, 0, 4], [0, 1, 3]], dtype=np.float32),
        (small.shape[1], small.shape[0]),
        borderMode=cv2.BORDER_REPLICATE,
    )
    intake = IntakeForm(
        concerns=["lines_wrinkles"], areas=["forehead"], duration="1 year", consent_photo_storage=True
    )
    case_id = clinic.cases.submit_case(alice, intake, [checked_photo(v, _jpeg(small)) for v in VIEWS])
    _, (checkin,) = clinic.care.treatments.record_treatment(
        doc,
        case_id,
        TreatmentInput("botulinum_toxin", "forehead", date.today(), "Bocouture", 10, "U"),
        [PlannedCheckIn(date.today(), "2-week check-in", VIEWS)],
    )
    world = {
        "clinic": clinic,
        "doc": doc,
        "alice": alice,
        "case_id": case_id,
        "checkin_id": checkin.checkin_id,
    }
    world["later"] = {v: checked_photo(v, _jpeg(later), source="followup") for v in VIEWS}
    world["snapshot"] = checked_photo("front", _jpeg(later[:, ::-1].copy()), source="video_snapshot")
    yield world
    clinic.assessments.wait_idle(120)
    clinic.close()


def _stored(clinic: Clinic, assessment_id: str) -> tuple[Any, list[tuple]]:
    """A run's stored report and metric rows, exactly as in the database."""
    report = clinic.db.fetchone(
        "SELECT report_json, finished_at FROM assessments WHERE id = ?", [assessment_id]
    )
    rows = clinic.db.fetchall(
        'SELECT id, photo_id, "view", region, metric, value, unit, score, band, engine_version, measured_at'
        " FROM assessment_metrics WHERE assessment_id = ? ORDER BY id",
        [assessment_id],
    )
    return report, rows


def _send_checkin(world: dict) -> None:
    world["clinic"].care.checkins.submit_checkin(world["alice"], world["checkin_id"], world["later"])


def test_a_checkin_is_assessed_as_its_own_visit_without_a_button(visit_world) -> None:
    clinic, doc, case_id, checkin_id = (visit_world[k] for k in ("clinic", "doc", "case_id", "checkin_id"))
    assert clinic.assessments.wait_idle(120)
    baseline = clinic.assessments.latest_for_case(doc, case_id)
    assert baseline is not None and baseline.status == "done" and baseline.checkin_id is None
    assert clinic.assessments.latest_for_case(doc, case_id, checkin_id) is None

    _send_checkin(visit_world)  # the patient sends the photos; nobody presses "Run again"
    assert clinic.assessments.wait_idle(120)
    followup = clinic.assessments.latest_for_case(doc, case_id, checkin_id)
    assert followup is not None and followup.status == "done", followup and followup.error
    assert followup.checkin_id == checkin_id and followup.assessment_id != baseline.assessment_id
    checkin = clinic.care.checkins.get_checkin(doc, checkin_id)
    measured = {p["photo_id"] for p in followup.report["photos"]}
    assert measured == set(checkin.photo_ids.values())  # only the check-in's own photos
    assert not measured & {p["photo_id"] for p in baseline.report["photos"]}
    # The baseline's newest run is still the same one, and both visits have their chart rows.
    assert clinic.assessments.latest_for_case(doc, case_id).assessment_id == baseline.assessment_id
    visits = clinic.assessments.visits_for_case(doc, case_id)
    assert [v.checkin_id for v in visits] == [None, checkin_id] and visits[1].label == "2-week check-in"
    series = clinic.archive.metric_series(doc, visit_world["alice"].patient_id, "wrinkles", "forehead")
    assert len(series.points) == 2 and series.points[0].measured_at <= series.points[1].measured_at


def test_run_again_reruns_one_visit_and_never_changes_another(visit_world) -> None:
    clinic, doc, case_id, checkin_id = (visit_world[k] for k in ("clinic", "doc", "case_id", "checkin_id"))
    _send_checkin(visit_world)
    assert clinic.assessments.wait_idle(120)
    baseline = clinic.assessments.latest_for_case(doc, case_id)
    followup = clinic.assessments.latest_for_case(doc, case_id, checkin_id)
    assert baseline is not None and followup is not None
    baseline_before = _stored(clinic, baseline.assessment_id)
    followup_before = _stored(clinic, followup.assessment_id)
    assert baseline_before[1] and followup_before[1]

    again = clinic.assessments.run_for_case(doc, case_id, checkin_id=checkin_id)
    assert again.status == "done" and again.checkin_id == checkin_id
    assert _stored(clinic, baseline.assessment_id) == baseline_before  # byte-identical
    assert _stored(clinic, followup.assessment_id)[1] == []  # the older run of this visit left the chart

    followup_after = _stored(clinic, again.assessment_id)
    again_baseline = clinic.assessments.run_for_case(doc, case_id)
    assert again_baseline.status == "done" and again_baseline.checkin_id is None
    assert _stored(clinic, again.assessment_id) == followup_after  # byte-identical
    # Same photos, same engine: re-running a visit gives the same numbers as before.
    values = lambda rows: sorted((r[3], r[4], r[5], r[7]) for r in rows)  # noqa: E731
    assert values(_stored(clinic, again_baseline.assessment_id)[1]) == values(baseline_before[1])


def test_video_snapshots_are_not_measured_and_do_not_move_the_baseline(visit_world) -> None:
    clinic, doc, case_id = visit_world["clinic"], visit_world["doc"], visit_world["case_id"]
    assert clinic.assessments.wait_idle(120)
    first = clinic.assessments.latest_for_case(doc, case_id)
    assert first is not None and first.status == "done"
    snapshot = clinic.cases.add_photo(doc, case_id, visit_world["snapshot"])
    again = clinic.assessments.run_for_case(doc, case_id)
    assert snapshot.photo_id not in {p["photo_id"] for p in again.report["photos"]}
    ita = lambda record: [m["value"] for m in record.report["metrics"] if m["metric"] == "ita"]  # noqa: E731
    assert ita(again) == ita(first)
    assert [v.checkin_id for v in clinic.assessments.visits_for_case(doc, case_id)] == [None]


def test_a_checkin_of_another_case_cannot_be_run_here(visit_world) -> None:
    clinic, doc = visit_world["clinic"], visit_world["doc"]
    with pytest.raises(NotFound):
        clinic.assessments.run_for_case(doc, visit_world["case_id"], checkin_id="no-such-checkin")
    # An open check-in (no photos yet) is no visit either.
    with pytest.raises(NotFound):
        clinic.assessments.run_for_case(doc, visit_world["case_id"], checkin_id=visit_world["checkin_id"])


def test_a_sent_checkin_without_a_run_is_queued_at_start(visit_world) -> None:
    clinic, case_id, checkin_id = visit_world["clinic"], visit_world["case_id"], visit_world["checkin_id"]
    assert clinic.assessments.wait_idle(120)
    clinic.care.checkins.submitted_listeners.clear()  # the process "dies" before queueing it
    _send_checkin(visit_world)
    assert clinic.db.scalar("SELECT count(*) FROM assessments WHERE checkin_id = ?", [checkin_id]) == 0
    clinic.close()

    reopened = _open()
    try:
        report = reopened.assessments.resume()
        assert len(report.requeued) == 1
        assert reopened.assessments.wait_idle(120)
        doc = reopened.auth.login("doc@clinic.test", PASSWORD).principal
        record = reopened.assessments.latest_for_case(doc, case_id, checkin_id)
        assert record is not None and record.status == "done"
        assert reopened.assessments.cases_to_reassess(SYSTEM_PRINCIPAL) == []
    finally:
        reopened.assessments.wait_idle(120)
        reopened.close()
    visit_world["clinic"] = _open()  # the fixture's teardown closes this one
