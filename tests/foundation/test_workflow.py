"""The case status machine, reports and the case-submitted listeners."""

from __future__ import annotations

import pytest

from core.access import ValidationError
from core.clinic import Clinic
from core.consult.cases import (
    IN_PERSON_REQUESTED,
    IN_REVIEW,
    REPORT_ONLY_TARGETS,
    REPORT_SENT,
    STATUSES,
    SUBMITTED,
    TRANSITIONS,
    IllegalTransition,
)
from core.consult.reports import PhysicianReport

from .conftest import Accounts, required_photos, valid_intake


@pytest.fixture
def case_id(clinic: Clinic, accounts: Accounts) -> str:
    return clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())


def _force_status(clinic: Clinic, case_id: str, status: str) -> None:
    clinic.db.execute("UPDATE cases SET status = ? WHERE id = ?", [status, case_id])


def test_every_transition_outside_the_table_is_refused(
    clinic: Clinic, accounts: Accounts, case_id: str
) -> None:
    for current in STATUSES:
        for target in STATUSES:
            _force_status(clinic, case_id, current)
            allowed = (current, target) in TRANSITIONS and target not in REPORT_ONLY_TARGETS
            if allowed:
                assert clinic.cases.transition(accounts.physician, case_id, target) == target
                assert clinic.db.fetchone("SELECT status FROM cases WHERE id = ?", [case_id])[0] == target
            else:
                with pytest.raises(IllegalTransition):
                    clinic.cases.transition(accounts.physician, case_id, target)
                assert clinic.db.fetchone("SELECT status FROM cases WHERE id = ?", [case_id])[0] == current
    with pytest.raises(IllegalTransition):
        clinic.cases.transition(accounts.physician, case_id, "archived")


def test_roles_outside_the_table_are_refused(clinic: Clinic, accounts: Accounts, case_id: str) -> None:
    for (current, target), roles in TRANSITIONS.items():
        if target in REPORT_ONLY_TARGETS:
            continue
        for principal in (accounts.patient_a, accounts.admin):
            if principal.role in roles:
                continue
            _force_status(clinic, case_id, current)
            with pytest.raises(IllegalTransition):
                clinic.cases.transition(principal, case_id, target)
    _force_status(clinic, case_id, REPORT_SENT)
    assert clinic.cases.transition(accounts.admin, case_id, "closed") == "closed"


def test_report_flow_and_status_history(clinic: Clinic, accounts: Accounts, case_id: str) -> None:
    doc, patient = accounts.physician, accounts.patient_a
    draft = clinic.reports.save_draft(
        doc, case_id, PhysicianReport(findings="Mild melasma", assessment="...")
    )
    assert draft.sent_at is None
    assert clinic.cases.get_case(doc, case_id).status == IN_REVIEW  # first draft starts the review
    assert clinic.reports.get_report(patient, case_id) is None  # drafts stay with the physician
    assert clinic.cases.get_case(patient, case_id).report is None
    clinic.reports.save_draft(doc, case_id, PhysicianReport(findings="Melasma", assessment="Epidermal"))
    sent = clinic.reports.send(doc, case_id)
    assert sent.sent_at is not None
    seen = clinic.reports.get_report(patient, case_id)
    assert seen.findings == "Melasma" and seen.assessment == "Epidermal"
    detail = clinic.cases.get_case(patient, case_id)
    assert detail.status == REPORT_SENT and detail.assigned_physician_id == doc.user_id
    assert [h.status for h in detail.history] == [SUBMITTED, IN_REVIEW, REPORT_SENT]
    with pytest.raises(ValidationError):
        clinic.reports.save_draft(doc, case_id, PhysicianReport(findings="changed"))
    with pytest.raises(ValidationError):
        clinic.reports.send(doc, case_id)


def test_in_person_report_moves_to_in_person_requested(
    clinic: Clinic, accounts: Accounts, case_id: str
) -> None:
    doc = accounts.physician
    with pytest.raises(ValidationError) as caught:
        clinic.reports.save_draft(
            doc, case_id, PhysicianReport(findings="f", assessment="a", in_person_needed=True)
        )
    assert "in_person_reason" in caught.value.errors
    clinic.reports.save_draft(
        doc,
        case_id,
        PhysicianReport(
            findings="f", assessment="a", in_person_needed=True, in_person_reason="biopsy advised"
        ),
    )
    clinic.reports.send(doc, case_id)
    assert clinic.cases.get_case(doc, case_id).status == IN_PERSON_REQUESTED


def test_sending_needs_findings_and_assessment(clinic: Clinic, accounts: Accounts, case_id: str) -> None:
    clinic.reports.save_draft(accounts.physician, case_id, PhysicianReport(findings="only findings"))
    with pytest.raises(ValidationError) as caught:
        clinic.reports.send(accounts.physician, case_id)
    assert "assessment" in caught.value.errors
    assert clinic.cases.get_case(accounts.physician, case_id).status == IN_REVIEW


def test_queue_is_oldest_first_and_filters(clinic: Clinic, accounts: Accounts, clock) -> None:
    first = clinic.cases.submit_case(
        accounts.patient_a, valid_intake(concerns=["acne_scars"]), required_photos()
    )
    clock.advance(minutes=5)
    second = clinic.cases.submit_case(accounts.patient_b, valid_intake(), required_photos(seed=3))
    queue = clinic.cases.list_queue(accounts.physician)
    assert [c.case_id for c in queue] == [first, second]
    assert queue[0].patient_name == "Alice Quartermain" and queue[0].concerns == ["acne_scars"]
    assert [c.case_id for c in clinic.cases.list_queue(accounts.physician, concern="acne_scars")] == [first]
    assert [c.case_id for c in clinic.cases.list_queue(accounts.physician, limit=1, offset=1)] == [second]
    clinic.reports.save_draft(accounts.physician, first, PhysicianReport(findings="f", assessment="a"))
    clinic.reports.send(accounts.physician, first)
    assert [c.case_id for c in clinic.cases.list_queue(accounts.physician)] == [second]
    assert len(clinic.cases.list_queue(accounts.physician, include_closed=True)) == 2
    assert [c.case_id for c in clinic.cases.list_queue(accounts.physician, status="report_sent")] == [first]


def test_listeners_get_the_case_id_and_a_failing_one_breaks_nothing(
    clinic: Clinic, accounts: Accounts
) -> None:
    seen: list[str] = []

    def broken(case_id: str) -> None:
        raise RuntimeError("listener bug")

    clinic.case_submitted_listeners.extend([broken, seen.append])
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    assert seen == [case_id]
    assert clinic.cases.get_case(accounts.patient_a, case_id).status == SUBMITTED


def test_add_photo_for_snapshots_and_followups(
    clinic: Clinic, accounts: Accounts, case_id: str, clock
) -> None:
    from tests.photo_factory import checked_photo

    from .conftest import make_jpeg

    clock.advance(minutes=1)
    meta = clinic.cases.add_photo(
        accounts.physician, case_id, checked_photo("front", make_jpeg(seed=9), source="video_snapshot")
    )
    assert meta.source == "video_snapshot" and meta.created_by == accounts.physician.user_id
    clock.advance(minutes=1)
    clinic.cases.add_photo(
        accounts.patient_a, case_id, checked_photo("close_up", make_jpeg(seed=8), source="followup")
    )
    assert [p.view for p in clinic.cases.get_case(accounts.patient_a, case_id).photos][-2:] == [
        "front",
        "close_up",
    ]
    # The origin of a photo is the server's to say: a patient cannot pass one off as the
    # physician's video snapshot, nor add a photo the gate failed.
    with pytest.raises(ValidationError, match="cannot be added"):
        clinic.cases.add_photo(
            accounts.patient_a, case_id, checked_photo("front", make_jpeg(), source="video_snapshot")
        )
    with pytest.raises(ValidationError) as caught:
        clinic.cases.add_photo(
            accounts.patient_a,
            case_id,
            checked_photo("close_up", make_jpeg(), verdict="fail", source="followup"),
        )
    assert "closer" in caught.value.errors["photo_close_up"]
    # The physician's own snapshot is kept with its failed verdict (it is not measured).
    kept = clinic.cases.add_photo(
        accounts.physician,
        case_id,
        checked_photo("front", make_jpeg(seed=3), verdict="fail", source="video_snapshot"),
    )
    assert kept.quality_verdict == "fail"


def test_concurrent_submissions_from_threads(clinic: Clinic, accounts: Accounts) -> None:
    import threading

    errors: list[BaseException] = []
    case_ids: list[str] = []

    def submit(principal, seed: int) -> None:
        try:
            for n in range(2):
                case_ids.append(
                    clinic.cases.submit_case(principal, valid_intake(), required_photos(seed=seed + n))
                )
        except BaseException as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [
        threading.Thread(target=submit, args=(p, i * 10))
        for i, p in enumerate((accounts.patient_a, accounts.patient_b, accounts.patient_a))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(clinic.cases.list_queue(accounts.physician)) == 6 == len(set(case_ids))
    assert len(clinic.blobs.list_ids()) == 18
    assert clinic.audit.verify().ok


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_shared_clinic_is_one_per_data_dir(data_dir) -> None:
    from core.clinic import shared_clinic
    from core.db import DatabaseError

    first = shared_clinic()
    try:
        assert shared_clinic() is first
        with pytest.raises(DatabaseError, match="already open in this process"):
            Clinic.open()
    finally:
        first.close()
    second = shared_clinic()
    assert second is not first
    second.close()
