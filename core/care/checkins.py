"""Follow-up check-ins: the photo tasks a treatment plans, the patient's submission, the review.

`clinic.care.checkins`. A check-in is open until the patient sends its photos (they join the
case as source 'followup'), then submitted until the physician marks it reviewed. Once its photos
are stored, `submitted_listeners` are called with its id (the pre-assessment queues the check-in
as a visit of its own).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from core.access import PATIENT, PHYSICIAN, Principal, ValidationError, require_patient_access, require_role
from core.care.context import CareContext
from core.care.followup import PlannedCheckIn
from core.care.records import CheckIn
from core.consult.case_access import authorize_patient_object
from core.db import Cursor, to_db_time, utcnow
from core.rows import fetch_all_as

if TYPE_CHECKING:
    from core.consult.cases import CaseService
    from core.consult.photos import CheckedPhoto
    from core.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _CheckInRow:
    """A `care_checkins` row as stored: views, photos and matches are JSON text."""

    checkin_id: str
    case_id: str
    patient_id: str
    treatment_id: str | None
    due_date: date
    label: str
    views_json: str
    status: str
    photo_ids_json: str | None
    match_json: str | None
    submitted_at: datetime | None

    def record(self) -> CheckIn:
        return CheckIn(
            checkin_id=self.checkin_id,
            case_id=self.case_id,
            patient_id=self.patient_id,
            treatment_id=self.treatment_id,
            due_date=self.due_date,
            label=self.label,
            views=tuple(json.loads(self.views_json)),
            status=self.status,
            photo_ids=json.loads(self.photo_ids_json) if self.photo_ids_json else {},
            match=json.loads(self.match_json) if self.match_json else {},
            submitted_at=self.submitted_at,
        )


_SELECT_CHECKINS = (
    "SELECT id AS checkin_id, case_id, patient_id, treatment_id, due_date, label, views_json, status,"
    " photo_ids_json, match_json, submitted_at FROM care_checkins"
)


def select_checkins(db: Database, where: str, params: list[Any]) -> list[CheckIn]:
    """Check-ins by a WHERE clause, without access check or audit: for services that already
    checked and audited (a recorded treatment returns the check-ins it planned)."""
    rows = fetch_all_as(db.cursor(), _CheckInRow, f"{_SELECT_CHECKINS} WHERE {where}", params)
    return [row.record() for row in rows]


def insert_checkin(
    tx: Cursor,
    case_id: str,
    patient_id: str,
    treatment_id: str | None,
    item: PlannedCheckIn,
) -> str:
    """One planned check-in, inside the caller's transaction (the treatment that plans it)."""
    if not item.views:
        raise ValidationError({"views": "a check-in needs at least one view"})
    checkin_id = uuid.uuid4().hex
    tx.execute(
        "INSERT INTO care_checkins (id, case_id, patient_id, treatment_id, due_date, label, views_json, status,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        [
            checkin_id,
            case_id,
            patient_id,
            treatment_id,
            item.due_date,
            item.label.strip() or "Check-in",
            json.dumps(list(item.views)),
            to_db_time(utcnow()),
        ],
    )
    return checkin_id


class CheckInService:
    def __init__(self, context: CareContext, cases: CaseService) -> None:
        self._care = context
        self._cases = cases  # check-in photos join the case through the consultation's intake
        self.db = context.db
        # Called with the check-in's id after its photos committed; one failing listener never
        # undoes the patient's submission (the pre-assessment's start-up sweep catches up).
        self.submitted_listeners: list[Callable[[str], None]] = []

    def _checkins(self, where: str, params: list[Any]) -> list[CheckIn]:
        return select_checkins(self.db, where, params)

    # -- reading (each public read writes one audit row) ----------------------------------------
    def get_checkin(self, principal: Principal, checkin_id: str) -> CheckIn:
        checkin = self._get(principal, checkin_id)
        self._care.audit_read(principal, "care.checkin_read", "checkin", checkin_id, case_id=checkin.case_id)
        return checkin

    def _get(self, principal: Principal, checkin_id: str) -> CheckIn:
        found = self._checkins("id = ?", [checkin_id])
        authorize_patient_object(
            principal, found[0].patient_id if found else None, "no such check-in", checkin_id
        )
        return found[0]

    def case_checkins(self, principal: Principal, case_id: str) -> list[CheckIn]:
        self._care.case_owner(principal, case_id)
        found = self._checkins("case_id = ? ORDER BY due_date, created_at", [case_id])
        self._care.audit_read(principal, "care.checkins_read", "case", case_id, count=len(found))
        return found

    def patient_checkins(
        self, principal: Principal, patient_id: str | None = None, open_only: bool = True
    ) -> list[CheckIn]:
        found = self._patient_checkins(principal, patient_id, open_only)
        self._care.audit_read(
            principal,
            "care.checkins_read",
            "patient",
            patient_id or str(principal.patient_id),
            count=len(found),
        )
        return found

    def _patient_checkins(
        self, principal: Principal, patient_id: str | None = None, open_only: bool = True
    ) -> list[CheckIn]:
        principal = require_role(principal, PATIENT, PHYSICIAN)
        patient_id = patient_id or principal.patient_id
        if patient_id is None:
            raise ValidationError({"patient": "which patient?"})
        require_patient_access(principal, patient_id)
        status = " AND status = 'open'" if open_only else ""
        return self._checkins(f"patient_id = ?{status} ORDER BY due_date", [patient_id])

    # -- the physician's plan -------------------------------------------------------------------
    def update_checkin(
        self, principal: Principal, checkin_id: str, due_date: date | None = None, label: str | None = None
    ) -> CheckIn:
        """Physician edits the plan: move a check-in or rename it (only while open)."""
        require_role(principal, PHYSICIAN)
        current = self._get(principal, checkin_id)
        if current.status != "open":
            raise ValidationError({"status": "only open check-ins can be changed"})
        self.db.execute(
            "UPDATE care_checkins SET due_date = ?, label = ? WHERE id = ?",
            [due_date or current.due_date, (label or current.label).strip(), checkin_id],
        )
        self._care.audit(principal, "care.checkin_updated", "checkin", checkin_id)
        return self._get(principal, checkin_id)

    def cancel_checkin(self, principal: Principal, checkin_id: str) -> CheckIn:
        require_role(principal, PHYSICIAN)
        if self._get(principal, checkin_id).status != "open":
            raise ValidationError({"status": "only open check-ins can be dropped"})
        self.db.execute("UPDATE care_checkins SET status = 'cancelled' WHERE id = ?", [checkin_id])
        self._care.audit(principal, "care.checkin_cancelled", "checkin", checkin_id)
        return self._get(principal, checkin_id)

    # -- the patient's photos and the review ----------------------------------------------------
    def submit_checkin(
        self,
        principal: Principal,
        checkin_id: str,
        photos: Mapping[str, CheckedPhoto],
        matches: dict[str, dict[str, Any]] | None = None,
    ) -> CheckIn:
        """The patient's checked photos (from the intake) join the case as source 'followup', with
        their quality results; the task is then done."""
        require_role(principal, PATIENT)
        checkin = self._get(principal, checkin_id)
        if checkin.status != "open":
            raise ValidationError({"status": "this check-in was already sent"})
        missing = [view for view in checkin.views if view not in photos]
        if missing:
            raise ValidationError({"photos": f"still missing: {', '.join(missing)}"})
        # The server names the origin: a check-in photo is a follow-up, however it was taken.
        followups = [dataclasses.replace(photos[view], source="followup") for view in checkin.views]
        # All or nothing: every photo is checked before any is stored; the photos, the check-in's
        # new status and both audit rows commit together, and a failure leaves no photo or blob.
        with self._cases.adding_photos(principal, checkin.case_id, followups) as batch:
            photo_ids = dict(zip(checkin.views, batch.photo_ids, strict=True))
            sent = batch.tx.execute(
                "UPDATE care_checkins SET status = 'submitted', photo_ids_json = ?, match_json = ?, submitted_at = ?"
                " WHERE id = ? AND status = 'open' RETURNING id",
                [
                    json.dumps(photo_ids),
                    json.dumps(matches or {}, default=float),
                    to_db_time(utcnow()),
                    checkin_id,
                ],
            ).fetchone()
            if sent is None:  # sent from another tab meanwhile
                raise ValidationError({"status": "this check-in was already sent"})
            self._care.audit_log.record(
                principal,
                "care.checkin_submitted",
                "checkin",
                checkin_id,
                {"case_id": checkin.case_id},
                tx=batch.tx,
            )
        for listener in list(self.submitted_listeners):
            try:
                listener(checkin_id)
            except Exception:  # noqa: BLE001 - a listener's bug must not undo a patient's check-in
                log.exception("check-in-submitted listener %r failed for %s", listener, checkin_id)
        return self._get(principal, checkin_id)

    def mark_checkin_reviewed(self, principal: Principal, checkin_id: str) -> CheckIn:
        require_role(principal, PHYSICIAN)
        if self._get(principal, checkin_id).status != "submitted":
            raise ValidationError({"status": "only submitted check-ins can be reviewed"})
        self.db.execute(
            "UPDATE care_checkins SET status = 'reviewed', reviewed_at = ? WHERE id = ?",
            [to_db_time(utcnow()), checkin_id],
        )
        self._care.audit(principal, "care.checkin_reviewed", "checkin", checkin_id)
        return self._get(principal, checkin_id)
