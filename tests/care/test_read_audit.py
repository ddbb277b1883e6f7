"""Issue 12: every read of patient data writes an audit row, and no caller can turn it off;
the assessment card's 2 s status poll does not write a row per poll."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest


def _count(clinic) -> int:
    return len(clinic.audit.actions())


# (service path, method, how to call it) for the 15 reads the issue names or implies.
def _reads(world, case_id: str, appointment_id: str, checkin_id: str):
    care, archive = world.clinic.care, world.clinic.archive
    doc, pat = world.physician, world.patient
    pid = pat.patient_id
    return {
        "care.appointments.get_appointment": lambda: care.appointments.get_appointment(doc, appointment_id),
        "care.appointments.case_appointments": lambda: care.appointments.case_appointments(doc, case_id),
        "care.appointments.patient_agenda": lambda: care.appointments.patient_agenda(pat),
        "care.appointments.physician_agenda": lambda: care.appointments.physician_agenda(doc),
        "care.treatments.baseline_photos": lambda: care.treatments.baseline_photos(doc, case_id),
        "care.treatments.case_treatments": lambda: care.treatments.case_treatments(doc, case_id),
        "care.checkins.get_checkin": lambda: care.checkins.get_checkin(pat, checkin_id),
        "care.checkins.case_checkins": lambda: care.checkins.case_checkins(doc, case_id),
        "care.checkins.patient_checkins": lambda: care.checkins.patient_checkins(pat),
        "care.tasks.outstanding_tasks(patient)": lambda: care.tasks.outstanding_tasks(pat),
        "care.tasks.outstanding_tasks(physician)": lambda: care.tasks.outstanding_tasks(doc),
        "archive.patient_timeline": lambda: archive.patient_timeline(doc, pid),
        "archive.available_metrics": lambda: archive.available_metrics(doc, pid),
        "archive.metric_series": lambda: archive.metric_series(doc, pid),
        "archive.patient_photos": lambda: archive.patient_photos(doc, pid),
        "archive.list_patients": lambda: archive.list_patients(doc, "zo"),
    }


@pytest.fixture
def treated(care_world):
    from core.care.records import TreatmentInput

    world = care_world
    case_id = world.submit_case()
    world.report_case(case_id)
    appointment = world.clinic.care.appointments.book_local(
        world.physician, case_id, dt.date.today() + dt.timedelta(days=5), dt.time(10), 30, "Treatment"
    )
    _, checkins = world.clinic.care.treatments.record_treatment(
        world.physician,
        case_id,
        TreatmentInput(treatment_type="botulinum_toxin", area="forehead", treated_on=dt.date.today()),
    )
    return world, case_id, appointment.appointment_id, checkins[0].checkin_id


def test_every_read_of_patient_data_writes_an_audit_row(treated) -> None:
    world, case_id, appointment_id, checkin_id = treated
    silent = []
    for name, call in _reads(world, case_id, appointment_id, checkin_id).items():
        before = _count(world.clinic)
        call()
        if _count(world.clinic) == before:
            silent.append(name)
    assert silent == [], f"reads without an audit row: {silent}"


def test_a_read_row_names_who_read_what(treated) -> None:
    world, case_id, *_ = treated
    world.clinic.care.treatments.case_treatments(world.physician, case_id)
    (entry,) = [
        e
        for e in world.clinic.audit.entries_for_object("case", case_id)
        if e.action == "care.treatments_read"
    ]
    assert entry.actor_id == world.physician.user_id and entry.actor_role == "physician"


def test_no_read_method_takes_a_flag_to_skip_the_audit() -> None:
    from core.care.appointments import AppointmentService
    from core.care.archive import ArchiveQueries
    from core.care.checkins import CheckInService
    from core.care.tasks import TaskService
    from core.care.treatments import TreatmentService

    flagged = [
        f"{cls.__name__}.{name}"
        for cls in (AppointmentService, ArchiveQueries, CheckInService, TaskService, TreatmentService)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
        and {"audit", "audited", "skip_audit"} & set(inspect.signature(member).parameters)
    ]
    assert flagged == []


def test_status_poll_writes_one_row_per_case_not_one_per_poll(care_world) -> None:
    world = care_world
    case_id = world.submit_case()
    service = world.clinic.assessments
    before = _count(world.clinic)
    statuses = {service.status_for_case(world.physician, case_id) for _ in range(30)}
    rows = [a for a in world.clinic.audit.actions()[before:] if a == "assessment.status_polled"]
    assert len(rows) == 1
    assert statuses <= {None, "queued", "running", "done", "failed"}
    # Another physician watching the same case is recorded too, once.
    for _ in range(5):
        service.status_for_case(world.physician2, case_id)
    rows = [a for a in world.clinic.audit.actions()[before:] if a == "assessment.status_polled"]
    assert len(rows) == 2


def test_status_poll_still_checks_access(care_world) -> None:
    from core.access import AccessDenied

    world = care_world
    case_id = world.submit_case()
    with pytest.raises(AccessDenied):
        world.clinic.assessments.status_for_case(world.other_patient, case_id)
    with pytest.raises(AccessDenied):
        world.clinic.assessments.status_for_case(world.admin, case_id)


def test_the_card_polls_the_status_not_the_record() -> None:
    import components.assessment_card as card

    source = inspect.getsource(card._poll_until_done)
    assert "status_for_case" in source and "latest_for_case" not in source
