"""What a patient sees of the AI pre-assessment: only the measures the case's physician released.

The pre-assessment is not clinically validated (the physician's own card says so), so no raw
number reaches a patient by default. Per case, the physician chooses which measures, if any, the
patient sees (`clinic.care.release`); each choice is stored (`care_released_measures`) and
audited. The rule is applied by every service that hands measurements to a patient principal
(`filter_for_principal`): the progress chart's queries (`clinic.archive`), the pre-assessment's
`metrics_for_patient`, and the patient's copy of the report letter and FHIR bundle
(`clinic.exports`). Physicians see everything; admins see no clinical content at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from core.access import PATIENT, PHYSICIAN, Principal, ValidationError, require_role
from core.care.context import CareContext
from core.db import to_db_time, utcnow
from core.rows import fetch_all_as

Row = TypeVar("Row")


class _Rows(Protocol):
    def fetchall(self) -> list[Any]: ...


class _Cursor(Protocol):
    """What the rule needs of a database cursor (DuckDB's, or any with the same two calls)."""

    def execute(self, query: str, parameters: Any = ..., /) -> _Rows: ...


@dataclass(frozen=True)
class MeasureKey:
    """One measure of one region, as the pre-assessment stores it ('wrinkles', 'forehead')."""

    metric: str
    region: str


@dataclass(frozen=True)
class ReleasedMeasure:
    case_id: str
    metric: str
    region: str
    released_by: str
    released_at: datetime

    @property
    def key(self) -> MeasureKey:
        return MeasureKey(self.metric, self.region)


_SELECT = "SELECT case_id, metric, region, released_by, released_at FROM care_released_measures"


def released_for_patient(cursor: _Cursor, patient_id: str) -> frozenset[tuple[str, str, str]]:
    """(case_id, metric, region) of every measure released to the patient, over all their cases."""
    rows = cursor.execute(
        "SELECT case_id, metric, region FROM care_released_measures WHERE patient_id = ?", [patient_id]
    ).fetchall()
    return frozenset((str(c), str(m), str(r)) for c, m, r in rows)


def filter_for_principal(
    cursor: _Cursor,
    principal: Principal,
    patient_id: str,
    rows: Iterable[Row],
    key: Callable[[Row], tuple[str, str, str]],
) -> list[Row]:
    """The rule: a patient reads a measurement row only when its (case, measure, region) was
    released; anyone else (already let through by the access checks) reads every row.
    `key(row)` gives a row's (case_id, metric, region)."""
    if principal.role != PATIENT:
        return list(rows)
    released = released_for_patient(cursor, patient_id)
    return [row for row in rows if key(row) in released]


class ReleaseService:
    """`clinic.care.release`: the physician's choice of the measures a patient sees, per case."""

    def __init__(self, context: CareContext) -> None:
        self._care = context
        self.db = context.db

    def released(self, principal: Principal, case_id: str) -> list[ReleasedMeasure]:
        """The measures released on the case (its physicians and its patient)."""
        require_role(principal, PHYSICIAN, PATIENT)
        self._care.case_owner(principal, case_id)
        found = self._released(case_id)
        self._care.audit_read(principal, "care.released_measures_read", "case", case_id, count=len(found))
        return found

    def _released(self, case_id: str) -> list[ReleasedMeasure]:
        return fetch_all_as(
            self.db.cursor(),
            ReleasedMeasure,
            f"{_SELECT} WHERE case_id = ? ORDER BY metric, region",
            [case_id],
        )

    def measured(self, principal: Principal, case_id: str) -> list[MeasureKey]:
        """The measures the case's visits produced: what a physician can choose from."""
        require_role(principal, PHYSICIAN)
        self._care.case_owner(principal, case_id)
        rows = self.db.fetchall(
            "SELECT DISTINCT metric, region FROM assessment_metrics WHERE case_id = ? AND value IS NOT NULL",
            [case_id],
        )
        self._care.audit_read(principal, "care.measures_listed", "case", case_id, count=len(rows))
        return sorted((MeasureKey(str(m), str(r)) for m, r in rows), key=lambda k: (k.metric, k.region))

    def set_released(
        self, principal: Principal, case_id: str, measures: Sequence[MeasureKey]
    ) -> list[ReleasedMeasure]:
        """The physician's choice (replacing the previous one): the patient sees exactly these.
        Only measured measures can be released; an empty choice withdraws everything. The change
        and its audit row (what was added and withdrawn) commit together."""
        require_role(principal, PHYSICIAN)
        owner = self._care.case_owner(principal, case_id)
        wanted = list(dict.fromkeys(measures))
        measured = {
            (str(m), str(r))
            for m, r in self.db.fetchall(
                "SELECT DISTINCT metric, region FROM assessment_metrics WHERE case_id = ? AND value IS NOT NULL",
                [case_id],
            )
        }
        unknown = [f"{k.metric} ({k.region})" for k in wanted if (k.metric, k.region) not in measured]
        if unknown:
            raise ValidationError({"measures": f"not measured on this consultation: {', '.join(unknown)}"})
        before = {r.key for r in self._released(case_id)}
        added = [k for k in wanted if k not in before]
        withdrawn = sorted(before - set(wanted), key=lambda k: (k.metric, k.region))
        if not added and not withdrawn:
            return self._released(case_id)
        now = to_db_time(utcnow())
        with self.db.transaction() as tx:
            for k in withdrawn:
                tx.execute(
                    "DELETE FROM care_released_measures WHERE case_id = ? AND metric = ? AND region = ?",
                    [case_id, k.metric, k.region],
                )
            for k in added:
                tx.execute(
                    "INSERT INTO care_released_measures (case_id, patient_id, metric, region, released_by,"
                    " released_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [case_id, owner.patient_id, k.metric, k.region, principal.user_id, now],
                )
            self._care.audit_log.record(
                principal,
                "care.measures_released",
                "case",
                case_id,
                {
                    "added": [f"{k.metric}:{k.region}" for k in added],
                    "withdrawn": [f"{k.metric}:{k.region}" for k in withdrawn],
                    "released": len(wanted),
                },
                tx=tx,
            )
        return self._released(case_id)
