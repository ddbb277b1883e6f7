"""A follow-up check-in is sent all or nothing: a bad photo, or a failure while storing, leaves
no photo, no blob and the check-in open (issue 12)."""

from __future__ import annotations

from datetime import date

import pytest

from core.access import ValidationError
from core.care.followup import PlannedCheckIn
from core.care.records import TreatmentInput
from tests.photo_factory import checked_photo

VIEWS = ("front", "left_oblique", "right_oblique")


def _open_checkin(world) -> tuple[str, str]:
    world.clinic.case_submitted_listeners.clear()  # no pre-assessment: its overlays are blobs too
    case_id = world.submit_case()
    plan = [PlannedCheckIn(date.today(), "3-view check-in", VIEWS)]
    _, (checkin,) = world.clinic.care.treatments.record_treatment(
        world.physician, case_id, TreatmentInput("filler", "lips", date.today()), plan
    )
    return case_id, checkin.checkin_id


def _state(world, case_id: str) -> tuple[int, int, list[str]]:
    clinic = world.clinic
    photos = clinic.db.scalar("SELECT count(*) FROM photos WHERE case_id = ?", [case_id])
    actions = [a for a in clinic.audit.actions() if a in ("photo.add", "care.checkin_submitted")]
    return photos, len(clinic.blobs.list_ids()), actions


def test_a_bad_third_photo_stores_nothing_and_the_checkin_stays_open(care_world) -> None:
    world = care_world
    case_id, checkin_id = _open_checkin(world)
    before = _state(world, case_id)
    photos = {
        "front": checked_photo("front", world.photo_bytes),
        "left_oblique": checked_photo("left_oblique", world.photo_bytes),
        "right_oblique": checked_photo("right_oblique", world.photo_bytes, verdict="fail"),
    }
    with pytest.raises(ValidationError, match="cannot be used"):
        world.clinic.care.checkins.submit_checkin(world.patient, checkin_id, photos)
    assert _state(world, case_id) == before  # no photo row, no blob, no audit row
    assert world.clinic.care.checkins.get_checkin(world.patient, checkin_id).status == "open"

    # Fixed, it goes through: three photos and the check-in sent, in one commit.
    photos["right_oblique"] = checked_photo("right_oblique", world.photo_bytes)
    done = world.clinic.care.checkins.submit_checkin(world.patient, checkin_id, photos)
    assert done.status == "submitted" and set(done.photo_ids) == set(VIEWS)
    stored, blobs, actions = _state(world, case_id)
    assert stored == before[0] + 3 and blobs == before[1] + 3
    assert actions.count("photo.add") == 3 and actions.count("care.checkin_submitted") == 1


def test_a_failure_while_storing_leaves_no_photo_or_blob(care_world, monkeypatch) -> None:
    world = care_world
    case_id, checkin_id = _open_checkin(world)
    before = _state(world, case_id)
    photos = {view: checked_photo(view, world.photo_bytes) for view in VIEWS}
    real_put = world.clinic.blobs.put
    calls = {"n": 0}

    def third_put_fails(data: bytes) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real_put(data)

    monkeypatch.setattr(world.clinic.blobs, "put", third_put_fails)
    with pytest.raises(OSError, match="disk full"):
        world.clinic.care.checkins.submit_checkin(world.patient, checkin_id, photos)
    assert _state(world, case_id) == before

    # A failure inside the transaction (after the photo rows were inserted) rolls them back too.
    monkeypatch.setattr(world.clinic.blobs, "put", real_put)
    audit = world.clinic.audit
    real_record = audit.record

    def checkin_row_fails(*args, **kwargs):
        if args[1] == "care.checkin_submitted":
            raise RuntimeError("audit write failed")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(audit, "record", checkin_row_fails)
    with pytest.raises(RuntimeError, match="audit write failed"):
        world.clinic.care.checkins.submit_checkin(world.patient, checkin_id, photos)
    monkeypatch.setattr(audit, "record", real_record)
    assert _state(world, case_id) == before
    assert world.clinic.care.checkins.get_checkin(world.patient, checkin_id).status == "open"
    assert audit.verify().ok
