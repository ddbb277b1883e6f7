"""A patient reaches only their own data through every core call; physicians reach the clinic's."""

from __future__ import annotations

import pytest

from core.access import AccessDenied
from core.clinic import Clinic
from core.consult.cases import IllegalTransition
from core.consult.reports import PhysicianReport
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
