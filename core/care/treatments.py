"""Treatments and their follow-up plans: `clinic.care.treatments`.

Recording a treatment stores it and its planned check-ins in one transaction; the plan is the
proposal of `core.care.followup` (views of the case's baseline photos) unless the physician
edited it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from core.access import PHYSICIAN, Principal, ValidationError, require_role
from core.care.checkins import CheckInService, insert_checkin, select_checkins
from core.care.context import CareContext
from core.care.followup import AMOUNT_UNITS, TREATMENT_TYPES, PlannedCheckIn, propose_plan
from core.care.records import CheckIn, Treatment, TreatmentInput
from core.db import to_db_time, utcnow
from core.rows import fetch_all_as

_SELECT_TREATMENTS = (
    "SELECT id AS treatment_id, case_id, patient_id, physician_id, treatment_type, area, product, amount, unit,"
    " treated_on, notes FROM care_treatments"
)


@dataclass(frozen=True)
class _BaselineRow:
    view: str
    photo_id: str


class TreatmentService:
    def __init__(self, context: CareContext, checkins: CheckInService) -> None:
        self._care = context
        self._checkins = checkins
        self.db = context.db

    def _treatments(self, where: str, params: list[Any]) -> list[Treatment]:
        return fetch_all_as(self.db.cursor(), Treatment, f"{_SELECT_TREATMENTS} WHERE {where}", params)

    def baseline_photos(self, principal: Principal, case_id: str) -> dict[str, str]:
        """view -> photo id of the case's first non-follow-up photo of that view (the baseline)."""
        baseline = self._baseline(principal, case_id)
        self._care.audit_read(principal, "care.baseline_read", "case", case_id, views=sorted(baseline))
        return baseline

    def _baseline(self, principal: Principal, case_id: str) -> dict[str, str]:
        self._care.case_owner(principal, case_id)
        rows = fetch_all_as(
            self.db.cursor(),
            _BaselineRow,
            "SELECT \"view\", id AS photo_id FROM photos WHERE case_id = ? AND source <> 'followup'"
            " ORDER BY created_at",
            [case_id],
        )
        baseline: dict[str, str] = {}
        for row in rows:
            baseline.setdefault(row.view, row.photo_id)
        return baseline

    def propose_follow_up(
        self, principal: Principal, case_id: str, treatment_type: str, treated_on: date
    ) -> list[PlannedCheckIn]:
        require_role(principal, PHYSICIAN)
        views = tuple(v for v in self._baseline(principal, case_id) if v != "close_up")
        return propose_plan(treatment_type, treated_on, views)

    def record_treatment(
        self,
        principal: Principal,
        case_id: str,
        treatment: TreatmentInput,
        plan: list[PlannedCheckIn] | None = None,
    ) -> tuple[Treatment, list[CheckIn]]:
        """Record a treatment and create its check-in tasks (the proposed plan unless one is given)."""
        require_role(principal, PHYSICIAN)
        patient_id = self._care.case_owner(principal, case_id).patient_id
        _validate(treatment)
        if plan is None:
            plan = self.propose_follow_up(principal, case_id, treatment.treatment_type, treatment.treated_on)
        treatment_id = uuid.uuid4().hex
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO care_treatments (id, case_id, patient_id, physician_id, treatment_type, area, product,"
                " amount, unit, treated_on, notes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    treatment_id,
                    case_id,
                    patient_id,
                    principal.user_id,
                    treatment.treatment_type,
                    treatment.area.strip(),
                    (treatment.product or "").strip() or None,
                    treatment.amount,
                    treatment.unit if treatment.amount is not None else None,
                    treatment.treated_on,
                    (treatment.notes or "").strip() or None,
                    to_db_time(utcnow()),
                ],
            )
            for item in plan:
                insert_checkin(tx, case_id, patient_id, treatment_id, item)
        self._care.audit(
            principal,
            "care.treatment_recorded",
            "case",
            case_id,
            treatment_id=treatment_id,
            checkins=len(plan),
        )
        (recorded,) = self._treatments("id = ?", [treatment_id])
        # What this change just created (its audit row above covers it): read without a read row.
        return recorded, select_checkins(
            self.db, "treatment_id = ? ORDER BY due_date, created_at", [treatment_id]
        )

    def case_treatments(self, principal: Principal, case_id: str) -> list[Treatment]:
        self._care.case_owner(principal, case_id)
        found = self._treatments("case_id = ? ORDER BY treated_on, created_at", [case_id])
        self._care.audit_read(principal, "care.treatments_read", "case", case_id, count=len(found))
        return found


def _validate(treatment: TreatmentInput) -> None:
    errors: dict[str, str] = {}
    if treatment.treatment_type not in TREATMENT_TYPES:
        errors["treatment_type"] = f"must be one of {', '.join(TREATMENT_TYPES)}"
    if not treatment.area.strip():
        errors["area"] = "which area was treated?"
    if treatment.amount is not None:
        if treatment.amount <= 0:
            errors["amount"] = "must be positive"
        allowed = AMOUNT_UNITS.get(treatment.treatment_type, ("",))
        if treatment.unit not in allowed and allowed != ("",):
            errors["unit"] = f"use {' or '.join(allowed)}"
    if treatment.treated_on > date.today() + timedelta(days=1):
        errors["treated_on"] = "a treatment is recorded once it is done"
    if errors:
        raise ValidationError(errors)
