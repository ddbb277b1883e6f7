"""A patient reaches only their own data through every core call; physicians reach the clinic's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta

import pytest

from core.access import AccessDenied, NotFound, Principal
from core.care.archive import ArchiveFilter
from core.care.records import TreatmentInput
from core.clinic import Clinic
from core.consult.cases import IllegalTransition
from core.consult.reports import PhysicianReport
from core.live.rooms import RoomRegistry
from tests.photo_factory import checked_photo

from .conftest import Accounts, make_jpeg, required_photos, valid_intake


@pytest.fixture
def case_of_a(clinic: Clinic, accounts: Accounts) -> str:
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    clinic.reports.save_draft(accounts.physician, case_id, PhysicianReport(findings="f", assessment="a"))
    clinic.reports.send(accounts.physician, case_id)
    return case_id


def test_patient_b_cannot_reach_patient_a_data_through_any_call(
    clinic: Clinic, accounts: Accounts, case_of_a: str
) -> None:
    b = accounts.patient_b
    photo_id = clinic.cases.get_case(accounts.physician, case_of_a).photos[0].photo_id
    calls = [
        lambda: clinic.cases.get_case(b, case_of_a),
        lambda: clinic.cases.get_photo_bytes(b, photo_id),
        lambda: clinic.cases.list_photos(b, case_of_a),
        lambda: clinic.cases.list_patient_cases(b, accounts.patient_a.patient_id),
        lambda: clinic.cases.add_photo(
            b, case_of_a, checked_photo("close_up", make_jpeg(), source="followup")
        ),
        lambda: clinic.cases.list_queue(b),
        lambda: clinic.cases.check_case_access(b, case_of_a),
        lambda: clinic.reports.get_report(b, case_of_a),
        lambda: clinic.reports.save_draft(b, case_of_a, PhysicianReport()),
        lambda: clinic.reports.send(b, case_of_a),
    ]
    for call in calls:
        with pytest.raises(AccessDenied):
            call()
    with pytest.raises((AccessDenied, IllegalTransition)):
        clinic.cases.transition(b, case_of_a, "closed")
    assert clinic.cases.list_patient_cases(b) == []
    assert clinic.db.fetchone("SELECT count(*) FROM photos WHERE view = 'close_up'")[0] == 0
    assert "access.denied" in clinic.audit.actions()


def test_unknown_ids_look_the_same_as_foreign_ones_to_a_patient(clinic: Clinic, accounts: Accounts) -> None:
    with pytest.raises(AccessDenied):
        clinic.cases.get_case(accounts.patient_b, "no-such-case")
    with pytest.raises(AccessDenied):
        clinic.cases.get_photo_bytes(accounts.patient_b, "no-such-photo")


def test_owner_and_physician_can_read(clinic: Clinic, accounts: Accounts, case_of_a: str) -> None:
    for principal in (accounts.patient_a, accounts.physician):
        detail = clinic.cases.get_case(principal, case_of_a)
        assert detail.patient_name == "Alice Quartermain"
        assert clinic.cases.get_photo_bytes(principal, detail.photos[0].photo_id)[:2] == b"\xff\xd8"
        assert clinic.reports.get_report(principal, case_of_a).findings == "f"
    assert [c.case_id for c in clinic.cases.list_patient_cases(accounts.patient_a)] == [case_of_a]
    reads = clinic.audit.entries_for_object("case", case_of_a)
    assert {e.actor_id for e in reads if e.action == "case.read"} == {
        accounts.patient_a.user_id,
        accounts.physician.user_id,
    }


def test_admin_sees_the_queue_but_not_clinical_content(
    clinic: Clinic, accounts: Accounts, case_of_a: str
) -> None:
    assert [c.case_id for c in clinic.cases.list_queue(accounts.admin, include_closed=True)] == [case_of_a]
    with pytest.raises(AccessDenied):
        clinic.cases.get_case(accounts.admin, case_of_a)
    with pytest.raises(AccessDenied):
        clinic.reports.get_report(accounts.admin, case_of_a)


def test_physician_cannot_submit_and_patient_cannot_write_reports(clinic: Clinic, accounts: Accounts) -> None:
    with pytest.raises(AccessDenied):
        clinic.cases.submit_case(accounts.physician, valid_intake(), required_photos())
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    with pytest.raises(AccessDenied):
        clinic.reports.save_draft(accounts.patient_a, case_id, PhysicianReport(findings="x", assessment="y"))


# -- one gate: every case-scoped read answers the same, whichever area serves it ----------------

OK = "ok"


def _answer(read: Callable[[Principal], object], principal: Principal) -> str:
    try:
        read(principal)
    except AccessDenied:
        return "AccessDenied"
    except NotFound:
        return "NotFound"
    return OK


def _case_reads(clinic: Clinic, case_id: str) -> dict[str, Callable[[Principal], object]]:
    """Every read of one case's content, by area (the principal is the only thing that varies)."""
    rooms = RoomRegistry(clinic)
    return {
        "cases.get_case": lambda p: clinic.cases.get_case(p, case_id),
        "cases.list_photos": lambda p: clinic.cases.list_photos(p, case_id),
        "cases.check_case_access": lambda p: clinic.cases.check_case_access(p, case_id),
        "reports.get_report": lambda p: clinic.reports.get_report(p, case_id),
        "care.appointments.case_appointments": lambda p: clinic.care.appointments.case_appointments(
            p, case_id
        ),
        "care.treatments.case_treatments": lambda p: clinic.care.treatments.case_treatments(p, case_id),
        "care.treatments.baseline_photos": lambda p: clinic.care.treatments.baseline_photos(p, case_id),
        "care.checkins.case_checkins": lambda p: clinic.care.checkins.case_checkins(p, case_id),
        "exports.case_export": lambda p: clinic.exports.case_export(p, case_id),
        "exports.fhir_bundle": lambda p: clinic.exports.fhir_bundle(p, case_id),
        "exports.report_pdf": lambda p: clinic.exports.report_pdf(p, case_id),
        "live.room_for_case": lambda p: rooms.room_for_case(p, case_id),
        # The AI pre-assessment is the physician's decision support: physicians only.
        "assessments.latest_for_case": lambda p: clinic.assessments.latest_for_case(p, case_id),
    }


PHYSICIAN_ONLY = {"assessments.latest_for_case"}


def _patient_reads(clinic: Clinic, patient_id: str, appointment_id: str, checkin_id: str, photo_id: str):
    """Reads of one patient's clinical content outside a single case, and of objects in the case."""
    return {
        "cases.list_patient_cases": lambda p: clinic.cases.list_patient_cases(p, patient_id),
        "cases.get_photo_bytes": lambda p: clinic.cases.get_photo_bytes(p, photo_id),
        "care.appointments.get_appointment": lambda p: clinic.care.appointments.get_appointment(
            p, appointment_id
        ),
        "care.appointments.patient_agenda": lambda p: clinic.care.appointments.patient_agenda(p, patient_id),
        "care.checkins.get_checkin": lambda p: clinic.care.checkins.get_checkin(p, checkin_id),
        "care.checkins.patient_checkins": lambda p: clinic.care.checkins.patient_checkins(p, patient_id),
        "archive.patient_timeline": lambda p: clinic.archive.patient_timeline(p, patient_id),
        "archive.metric_series": lambda p: clinic.archive.metric_series(p, patient_id),
        "archive.available_metrics": lambda p: clinic.archive.available_metrics(p, patient_id),
        "archive.patient_photos": lambda p: clinic.archive.patient_photos(p, patient_id),
        "assessments.metrics_for_patient": lambda p: clinic.assessments.metrics_for_patient(p, patient_id),
    }


def test_every_area_gives_each_role_the_same_answer_for_a_case(
    clinic: Clinic, accounts: Accounts, case_of_a: str
) -> None:
    doc = accounts.physician
    appointment = clinic.care.appointments.book_local(
        doc, case_of_a, date.today() + timedelta(days=7), time(10), 30, "Visit"
    )
    _, (checkin, *_) = clinic.care.treatments.record_treatment(
        doc, case_of_a, TreatmentInput("filler", "lips", date.today())
    )
    photo_id = clinic.cases.list_photos(doc, case_of_a)[0].photo_id
    roles = {
        "owner": accounts.patient_a,
        "other patient": accounts.patient_b,
        "physician": doc,
        "admin": accounts.admin,
    }
    expected = {"owner": OK, "other patient": "AccessDenied", "physician": OK, "admin": "AccessDenied"}
    reads = {
        **_case_reads(clinic, case_of_a),
        **_patient_reads(
            clinic, accounts.patient_a.patient_id, appointment.appointment_id, checkin.checkin_id, photo_id
        ),
    }
    answers = {
        (role, name): _answer(read, principal)
        for role, principal in roles.items()
        for name, read in reads.items()
    }
    wanted = {
        (role, name): "AccessDenied" if role == "owner" and name in PHYSICIAN_ONLY else expected[role]
        for role in roles
        for name in reads
    }
    assert answers == wanted


def test_an_unknown_case_is_not_found_for_physicians_and_denied_to_everyone_else(
    clinic: Clinic, accounts: Accounts
) -> None:
    reads = _case_reads(clinic, "no-such-case")
    expected = {
        accounts.patient_a.user_id: "AccessDenied",  # no existence oracle for patients
        accounts.physician.user_id: "NotFound",
        accounts.admin.user_id: "AccessDenied",  # refused by role before the lookup
    }
    for principal in (accounts.patient_a, accounts.physician, accounts.admin):
        answers = {name: _answer(read, principal) for name, read in reads.items()}
        assert answers == dict.fromkeys(reads, expected[principal.user_id]), principal.role


def test_what_an_admin_keeps_accounts_gdpr_and_closing_cases(
    clinic: Clinic, accounts: Accounts, case_of_a: str
) -> None:
    admin = accounts.admin
    assert [p.patient_id for p in clinic.archive.list_patients(admin, "alice")] == [
        accounts.patient_a.patient_id
    ]
    assert clinic.exports.patient_data_zip(admin, accounts.patient_a.patient_id)[:2] == b"PK"
    assert clinic.cases.transition(admin, case_of_a, "closed") == "closed"
    for call in (
        lambda: clinic.care.tasks.outstanding_tasks(admin),
        lambda: clinic.care.appointments.physician_agenda(admin),
        lambda: clinic.archive.search_cases(admin, ArchiveFilter()),
    ):
        with pytest.raises(AccessDenied):
            call()
