"""The patient sees only the measures the physician releases (issue 13): nothing by default; per
case the physician chooses, stored and audited; no service hands a patient an unreleased measure."""

from __future__ import annotations

import pytest

from core.access import AccessDenied, ValidationError
from core.assessment.engine import AssessmentOptions
from core.care.release import MeasureKey

FAST = AssessmentOptions(run_registry=False, evidence=False)
LINES = MeasureKey("wrinkles", "forehead")


@pytest.fixture
def assessed(care_world):
    world = care_world
    world.clinic.assessments._options = FAST
    case_id = world.submit_case()
    assert world.clinic.assessments.wait_idle(180)
    record = world.clinic.assessments.latest_for_case(world.physician, case_id)
    assert record is not None and record.status == "done", record and record.error
    return world, case_id


def _everything_a_patient_can_read(world, case_id: str) -> set[tuple[str, str]]:
    """(metric, region) of every measurement any service hands the patient."""
    clinic, patient = world.clinic, world.patient
    pid = patient.patient_id
    seen = set(clinic.archive.available_metrics(patient, pid))
    seen |= {(p.metric, p.region) for p in clinic.archive.metric_series(patient, pid).points}
    seen |= {(p.metric, p.region) for p in clinic.archive.metric_series(patient, pid, "wrinkles").points}
    seen |= {(r.metric, r.region) for r in clinic.assessments.metrics_for_patient(patient, pid)}
    export = clinic.exports.case_export(patient, case_id)
    seen |= {(m.metric, m.region) for m in export.metrics}
    assert all(run.summary == "" for run in export.assessments)
    bundle = clinic.exports.fhir_bundle(patient, case_id)
    observations = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(observations) == len(export.metrics)  # the bundle's measurements are the export's
    return seen


def test_nothing_is_released_by_default_and_no_service_shows_a_patient_a_measure(assessed) -> None:
    world, case_id = assessed
    clinic = world.clinic
    assert clinic.care.release.released(world.patient, case_id) == []
    assert _everything_a_patient_can_read(world, case_id) == set()
    # The physician still sees every measure.
    assert clinic.archive.available_metrics(world.physician, world.patient.patient_id)
    assert LINES in clinic.care.release.measured(world.physician, case_id)


def test_the_patient_reads_exactly_what_the_physician_released(assessed) -> None:
    world, case_id = assessed
    clinic = world.clinic
    released = clinic.care.release.set_released(world.physician, case_id, [LINES])
    assert [(r.metric, r.region, r.released_by) for r in released] == [
        ("wrinkles", "forehead", world.physician.user_id)
    ]
    seen = _everything_a_patient_can_read(world, case_id)
    assert seen == {("wrinkles", "forehead")}
    series = clinic.archive.metric_series(world.patient, world.patient.patient_id, "redness")
    assert series.points == []  # asking for an unreleased measure by name gives nothing either
    assert clinic.care.release.released(world.patient, case_id)[0].key == LINES

    # Withdrawn again: gone from every patient view; both changes are audited with what changed.
    clinic.care.release.set_released(world.physician, case_id, [])
    assert _everything_a_patient_can_read(world, case_id) == set()
    assert clinic.audit.actions().count("care.measures_released") == 2


def test_only_the_physician_releases_and_only_measured_measures(assessed) -> None:
    world, case_id = assessed
    release = world.clinic.care.release
    with pytest.raises(AccessDenied):
        release.set_released(world.patient, case_id, [LINES])
    with pytest.raises(AccessDenied):
        release.set_released(world.admin, case_id, [LINES])
    with pytest.raises(AccessDenied):
        release.released(world.other_patient, case_id)
    with pytest.raises(ValidationError, match="not measured"):
        release.set_released(world.physician, case_id, [MeasureKey("wrinkles", "elbow")])
    release.set_released(world.physician, case_id, [LINES])
    # Another patient never reads it through their own calls.
    other = world.other_patient
    assert world.clinic.archive.available_metrics(other, other.patient_id) == []
    with pytest.raises(AccessDenied):
        world.clinic.archive.metric_series(other, world.patient.patient_id)
