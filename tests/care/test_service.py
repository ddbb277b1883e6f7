"""Care services against a real (encrypted, temporary) clinic: booking, plans, tasks, access."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest

from core.access import AccessDenied, ValidationError
from core.care.booking import local_to_utc, utc_to_local
from core.care.followup import PlannedCheckIn
from core.care.records import TreatmentInput
from tests.photo_factory import checked_photo


def future_day(days: int = 10) -> date:
    return datetime.now(UTC).date() + timedelta(days=days)


def test_physician_books_in_clinic_time_and_patient_sees_own_zone(care_world) -> None:
    world = care_world
    case_id = world.submit_case(world.other_patient)  # New York patient
    day = future_day()
    appointment = world.clinic.care.appointments.book_local(
        world.physician, case_id, day, time(10), 30, "Check nodule", "Room 2"
    )
    assert appointment.start_utc == local_to_utc(day, time(10), "Europe/Amsterdam")
    assert appointment.clinic_timezone == "Europe/Amsterdam"
    assert appointment.patient_timezone == "America/New_York"
    assert appointment.confirmed  # the physician booked it
    agenda = world.clinic.care.appointments.patient_agenda(world.other_patient)
    assert [a.appointment_id for a in agenda] == [appointment.appointment_id]
    local = agenda[0].local_start("America/New_York")
    assert local.hour in (4, 5)  # 6 h apart, 5 h in the DST gap weeks
    assert "America/New_York" in agenda[0].when_for_patient()


def test_double_booking_refused_adjacent_allowed_other_physician_free(care_world) -> None:
    world = care_world
    care = world.clinic.care
    case_id = world.submit_case()
    day = future_day()
    care.appointments.book_local(world.physician, case_id, day, time(10), 30, "Visit")
    with pytest.raises(ValidationError, match="already booked"):
        care.appointments.book_local(world.physician, case_id, day, time(10, 15), 30, "Overlap")
    care.appointments.book_local(
        world.physician, case_id, day, time(10, 30), 30, "Adjacent"
    )  # touching end is fine
    care.appointments.book_local(world.physician2, case_id, day, time(10), 30, "Other physician, same time")


def test_concurrent_bookings_of_the_same_slot_yield_one(care_world) -> None:
    world = care_world
    care = world.clinic.care
    case_id = world.submit_case()
    start = local_to_utc(future_day(), time(9), "Europe/Amsterdam")
    results: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        try:
            care.appointments.book_appointment(world.physician, case_id, start, 30, "race")
            results.append("ok")
        except ValidationError:
            results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]
    assert len(care.appointments.physician_agenda(world.physician)) == 1


def test_reschedule_and_cancel_free_the_time(care_world) -> None:
    world = care_world
    care = world.clinic.care
    case_id = world.submit_case()
    day = future_day()
    first = care.appointments.book_local(world.physician, case_id, day, time(10), 30, "Visit")
    second = care.appointments.book_local(world.physician, case_id, day, time(11), 30, "Visit 2")
    with pytest.raises(ValidationError):
        care.appointments.reschedule(world.physician, second.appointment_id, first.start_utc)
    moved = care.appointments.reschedule(
        world.physician, second.appointment_id, first.start_utc + timedelta(hours=3)
    )
    assert moved.start_utc == first.start_utc + timedelta(hours=3)
    care.appointments.cancel(world.physician, first.appointment_id, "patient ill")
    care.appointments.reschedule(world.physician, second.appointment_id, first.start_utc)  # now free
    with pytest.raises(ValidationError):
        care.appointments.cancel(world.patient, first.appointment_id)  # already cancelled


def test_patient_books_only_published_slots(care_world) -> None:
    world = care_world
    care = world.clinic.care
    case_id = world.submit_case()
    world.report_case(case_id, in_person=True)  # patients book only an advised visit (issue 12)
    day = future_day(5)
    care.appointments.publish_availability(world.physician, day, time(9), time(10), 20, "Room 1")
    slots = care.appointments.free_slots(world.patient)
    assert [utc_to_local(s.start_utc, "Europe/Amsterdam").strftime("%H:%M") for s in slots] == [
        "09:00",
        "09:20",
        "09:40",
    ]
    with pytest.raises(ValidationError, match="no longer available"):
        care.appointments.book_appointment(
            world.patient, case_id, slots[0].start_utc + timedelta(minutes=5), 20, "Off-grid"
        )
    booked = care.appointments.book_appointment(
        world.patient, case_id, slots[1].start_utc, 20, "Filler visit"
    )
    assert booked.physician_id == world.physician.user_id and booked.location == "Room 1"
    assert not booked.confirmed
    assert len(care.appointments.free_slots(world.patient)) == 2
    tasks = care.tasks.outstanding_tasks(world.physician)
    assert any(t.kind == "visit_to_confirm" and t.ref_id == booked.appointment_id for t in tasks)
    care.appointments.set_appointment_status(world.physician, booked.appointment_id, "booked")
    assert not any(t.kind == "visit_to_confirm" for t in care.tasks.outstanding_tasks(world.physician))


def test_patient_cannot_see_or_book_for_someone_else(care_world) -> None:
    world = care_world
    care = world.clinic.care
    case_id = world.submit_case()
    appointment = care.appointments.book_local(world.physician, case_id, future_day(), time(14), 30, "Visit")
    with pytest.raises(AccessDenied):
        care.appointments.get_appointment(world.other_patient, appointment.appointment_id)
    with pytest.raises(AccessDenied):
        care.appointments.patient_agenda(world.other_patient, world.patient.patient_id)
    with pytest.raises(AccessDenied):
        care.appointments.case_appointments(world.other_patient, case_id)
    with pytest.raises(AccessDenied):
        care.appointments.cancel(world.other_patient, appointment.appointment_id)
    assert care.appointments.patient_agenda(world.other_patient) == []


def test_treatment_creates_checkins_with_baseline_views_and_tasks(care_world) -> None:
    world = care_world
    care = world.clinic.care
    case_id = world.submit_case()
    world.report_case(case_id)
    tasks = care.tasks.outstanding_tasks(world.physician)
    assert any(t.kind == "visit_to_book" and t.case_id == case_id for t in tasks)
    treated = date.today() - timedelta(days=20)
    treatment, checkins = care.treatments.record_treatment(
        world.physician, case_id, TreatmentInput("botulinum_toxin", "forehead", treated, "Bocouture", 10, "U")
    )
    assert "10 U" in treatment.label
    assert [c.due_date for c in checkins] == [treated + timedelta(days=14), treated + timedelta(days=90)]
    assert set(checkins[0].views) == {"front", "left_oblique", "right_oblique"}
    patient_tasks = care.tasks.outstanding_tasks(world.patient)
    assert [t.kind for t in patient_tasks][:2] == ["checkin_due", "checkin_due"]
    assert patient_tasks[0].overdue and not patient_tasks[1].overdue  # the 2-week one is late
    assert care.tasks.outstanding_tasks(world.other_patient) == []
    physician_tasks = care.tasks.outstanding_tasks(world.physician)
    assert physician_tasks[0].overdue  # overdue first


def test_treatment_validation_and_custom_plan(care_world) -> None:
    world = care_world
    care = world.clinic.care
    case_id = world.submit_case()
    with pytest.raises(ValidationError) as error:
        care.treatments.record_treatment(
            world.physician, case_id, TreatmentInput("filler", "", date.today(), amount=1, unit="U")
        )
    assert {"area", "unit"} <= set(error.value.errors)
    with pytest.raises(AccessDenied):
        care.treatments.record_treatment(
            world.patient, case_id, TreatmentInput("filler", "lips", date.today())
        )
    plan = [PlannedCheckIn(date.today() + timedelta(days=3), "Custom", ("front",))]
    _, checkins = care.treatments.record_treatment(
        world.physician, case_id, TreatmentInput("filler", "lips", date.today(), amount=1, unit="ml"), plan
    )
    assert [(c.label, c.views) for c in checkins] == [("Custom", ("front",))]
    moved = care.checkins.update_checkin(
        world.physician, checkins[0].checkin_id, due_date=date.today() + timedelta(days=5)
    )
    assert moved.due_date == date.today() + timedelta(days=5)
    care.checkins.cancel_checkin(world.physician, checkins[0].checkin_id)
    assert care.checkins.patient_checkins(world.patient) == []


def test_checkin_submission_adds_followup_photos(care_world) -> None:
    world = care_world
    care = world.clinic.care
    case_id = world.submit_case()
    plan = [PlannedCheckIn(date.today(), "2-week check-in", ("front",))]
    _, (checkin,) = care.treatments.record_treatment(
        world.physician, case_id, TreatmentInput("filler", "lips", date.today()), plan
    )
    with pytest.raises(AccessDenied):
        care.checkins.submit_checkin(
            world.other_patient, checkin.checkin_id, {"front": checked_photo("front", world.photo_bytes)}
        )
    with pytest.raises(ValidationError, match="missing"):
        care.checkins.submit_checkin(world.patient, checkin.checkin_id, {})
    done = care.checkins.submit_checkin(
        world.patient,
        checkin.checkin_id,
        {"front": checked_photo("front", world.photo_bytes)},
        {"front": {"score": 93.0}},
    )
    assert done.status == "submitted" and set(done.photo_ids) == {"front"}
    photos = world.clinic.cases.list_photos(world.physician, case_id)
    assert [p.source for p in photos].count("followup") == 1
    # The check-in photo keeps the quality result the intake computed on it.
    assert [p.quality_verdict for p in photos if p.source == "followup"] == ["pass"]
    assert care.treatments.baseline_photos(world.physician, case_id)["front"] != done.photo_ids["front"]
    assert any(t.kind == "checkin_review" for t in care.tasks.outstanding_tasks(world.physician))
    care.checkins.mark_checkin_reviewed(world.physician, checkin.checkin_id)
    assert not any(t.kind == "checkin_review" for t in care.tasks.outstanding_tasks(world.physician))


@pytest.mark.parametrize(
    ("day", "ny_hour", "ny_zone"),
    [
        (date(2027, 3, 10), 4, "EST"),  # both on winter time: 6 h apart
        (date(2027, 3, 20), 5, "EDT"),  # US already on summer time, EU not yet: 5 h
        (date(2027, 4, 5), 4, "EDT"),  # both on summer time
        (date(2027, 11, 3), 5, "EDT"),  # EU back on winter time, US not yet: 5 h
    ],
)
def test_stored_visit_shows_dst_correct_for_both_zones(
    care_world, day: date, ny_hour: int, ny_zone: str
) -> None:
    world = care_world
    case_id = world.submit_case(world.other_patient)
    booked = world.clinic.care.appointments.book_local(
        world.physician, case_id, day, time(10), 30, "DST check"
    )
    (seen,) = world.clinic.care.appointments.patient_agenda(world.other_patient)
    assert seen.start_utc == booked.start_utc
    assert seen.local_start("Europe/Amsterdam").hour == 10
    assert seen.local_start("America/New_York").hour == ny_hour
    assert ny_zone in seen.when_for_patient()
