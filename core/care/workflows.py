"""`clinic.care`: the hybrid-care workflows, one small service each, built on one context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.care.appointments import AppointmentService
from core.care.checkins import CheckInService
from core.care.context import CareContext
from core.care.release import ReleaseService
from core.care.tasks import TaskService
from core.care.treatments import TreatmentService

if TYPE_CHECKING:
    from core.consult.cases import CaseService


@dataclass(frozen=True)
class Care:
    appointments: AppointmentService  # availability, slots, booking, agendas
    treatments: TreatmentService  # treatments and the follow-up plan they create
    checkins: CheckInService  # follow-up photo check-ins: plan edits, submission, review
    tasks: TaskService  # outstanding work per person
    release: ReleaseService  # which measures the physician lets the patient see, per case

    @classmethod
    def build(cls, context: CareContext, cases: CaseService) -> Care:
        appointments = AppointmentService(context)
        checkins = CheckInService(context, cases)
        return cls(
            appointments=appointments,
            treatments=TreatmentService(context, checkins),
            checkins=checkins,
            tasks=TaskService(context, appointments, checkins),
            release=ReleaseService(context),
        )
