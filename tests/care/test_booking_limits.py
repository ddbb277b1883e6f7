"""Issue 12: a patient books only an advised or physician-approved visit, and at most the
setting's number of upcoming visits per case (default 1); the errors say what to do."""

from __future__ import annotations

import dataclasses
from datetime import date, time, timedelta

import pytest

from core.access import AccessDenied, ValidationError


def _publish(world, slots: int = 6) -> None:
    world.clinic.care.appointments.publish_availability(
        world.physician, date.today() + timedelta(days=4), time(9), time(9 + slots // 2), 30, "Room 1"
    )


def _book_every_slot(world, case_id: str) -> tuple[int, list[str]]:
    booked, errors = 0, []
    for slot in world.clinic.care.appointments.free_slots(world.patient):
        try:
            world.clinic.care.appointments.book_appointment(
                world.patient, case_id, slot.start_utc, slot.minutes, "visit", physician_id=slot.physician_id
            )
            booked += 1
        except ValidationError as error:
            errors.append(error.errors.get("booking", str(error)))
    return booked, errors


def test_no_visit_on_a_case_that_never_advised_one(care_world) -> None:
    world = care_world
    case_id = world.submit_case()
    _publish(world)
    booked, errors = _book_every_slot(world, case_id)
    assert booked == 0
    assert errors and "physician advises" in errors[0]
    # A report that does not advise a visit does not open booking either.
    world.report_case(case_id, in_person=False)
    assert _book_every_slot(world, case_id)[0] == 0
    assert world.clinic.care.appointments.patient_may_book(world.patient, case_id) is not None


def test_one_upcoming_visit_per_case_by_default(care_world) -> None:
    world = care_world
    case_id = world.submit_case()
    world.report_case(case_id, in_person=True)
    _publish(world)
    booked, errors = _book_every_slot(world, case_id)
    assert booked == 1
    assert len(errors) == 5 and all("already have an upcoming visit" in e for e in errors)
    assert world.clinic.care.appointments.patient_may_book(world.patient, case_id) is not None
    # Cancelling frees the allowance again.
    (visit,) = world.clinic.care.appointments.case_appointments(world.patient, case_id)
    world.clinic.care.appointments.cancel(world.patient, visit.appointment_id)
    assert world.clinic.care.appointments.patient_may_book(world.patient, case_id) is None
    assert _book_every_slot(world, case_id)[0] == 1


def test_the_limit_is_a_setting(care_world) -> None:
    world = care_world
    world.clinic.care.appointments._care = dataclasses.replace(
        world.clinic.care.appointments._care,
        settings=dataclasses.replace(world.clinic.settings, max_patient_bookings_per_case=2),
    )
    case_id = world.submit_case()
    world.report_case(case_id, in_person=True)
    _publish(world)
    booked, errors = _book_every_slot(world, case_id)
    assert booked == 2 and all("2 upcoming visits" in e for e in errors)


def test_setting_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import Settings

    assert Settings.from_env().max_patient_bookings_per_case == 1
    monkeypatch.setenv("CLINIC_MAX_PATIENT_BOOKINGS_PER_CASE", "3")
    assert Settings.from_env().max_patient_bookings_per_case == 3


def test_a_physician_can_approve_a_visit_the_report_did_not_advise(care_world) -> None:
    world = care_world
    case_id = world.submit_case()
    _publish(world)
    with pytest.raises(AccessDenied):
        world.clinic.care.appointments.approve_visit(world.patient, case_id)
    world.clinic.care.appointments.approve_visit(world.physician, case_id)
    assert "care.visit_approved" in world.clinic.audit.actions()
    assert _book_every_slot(world, case_id)[0] == 1


def test_physicians_still_book_freely(care_world) -> None:
    world = care_world
    case_id = world.submit_case()
    for hour in (9, 11):
        world.clinic.care.appointments.book_local(
            world.physician, case_id, date.today() + timedelta(days=3), time(hour), 30, "Visit"
        )
    assert len(world.clinic.care.appointments.case_appointments(world.physician, case_id)) == 2


def test_another_patients_case_cannot_be_booked(care_world) -> None:
    world = care_world
    case_id = world.submit_case()
    world.report_case(case_id, in_person=True)
    _publish(world)
    slot = world.clinic.care.appointments.free_slots(world.other_patient)[0]
    with pytest.raises(AccessDenied):
        world.clinic.care.appointments.book_appointment(world.other_patient, case_id, slot.start_utc, 30, "x")
