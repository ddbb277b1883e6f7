"""Follow-up planner: which remote check-ins a treatment calls for, and when.

Rules are data (`FOLLOW_UP_RULES`), so the clinic can tune them; the proposal is editable before
it is saved (the physician may move, drop or add check-ins).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from core.i18n import N_
from core.vocabulary import FOLLOW_UP_VIEWS

# Marked for translation: the pages show them in the reader's language (`_()` on the value).
TREATMENT_TYPES: dict[str, str] = {
    "filler": N_("Dermal filler"),
    "botulinum_toxin": N_("Botulinum toxin"),
    "chemical_peel": N_("Chemical peel"),
    "laser": N_("Laser / light treatment"),
    "vascular_laser": N_("Vascular laser / IPL (redness, vessels)"),
    "pigment_laser": N_("Pigment laser / IPL (brown spots)"),
    "microneedling": N_("Microneedling"),
    "skin_booster": N_("Skin booster"),
    "topical": N_("Topical prescription"),
    "other": N_("Other"),
}

# Units that make sense per treatment type (first = default); None = no amount recorded.
AMOUNT_UNITS: dict[str, tuple[str, ...]] = {
    "filler": ("ml",),
    "botulinum_toxin": ("U",),
    "skin_booster": ("ml",),
    "chemical_peel": ("%", "layers"),
    "laser": ("J/cm²", "passes"),
    "vascular_laser": ("J/cm²", "passes"),
    "pigment_laser": ("J/cm²", "passes"),
    "microneedling": ("mm",),
    "topical": ("%",),
    "other": ("",),
}


@dataclass(frozen=True)
class CheckInRule:
    offset_days: int
    label: str


# Why these offsets: toxin reaches full effect at ~2 weeks and wears off at ~3 months; filler
# swelling settles within 2 weeks and integration is judged at ~3 months; peels/lasers are
# reviewed once healing is done and again when the series effect shows.
FOLLOW_UP_RULES: dict[str, tuple[CheckInRule, ...]] = {
    "filler": (CheckInRule(14, "2-week check-in"), CheckInRule(90, "3-month check-in")),
    "botulinum_toxin": (CheckInRule(14, "2-week check-in"), CheckInRule(90, "3-month check-in")),
    "skin_booster": (CheckInRule(28, "4-week check-in"), CheckInRule(90, "3-month check-in")),
    "chemical_peel": (CheckInRule(7, "1-week healing check"), CheckInRule(42, "6-week result check")),
    "laser": (CheckInRule(7, "1-week healing check"), CheckInRule(56, "8-week result check")),
    # Vascular and pigment sessions come 4-6 weeks apart; the result shows after the series.
    "vascular_laser": (CheckInRule(7, "1-week healing check"), CheckInRule(42, "6-week result check")),
    "pigment_laser": (CheckInRule(7, "1-week healing check"), CheckInRule(56, "8-week result check")),
    "microneedling": (CheckInRule(7, "1-week healing check"), CheckInRule(42, "6-week result check")),
    "topical": (CheckInRule(28, "4-week check-in"), CheckInRule(84, "12-week check-in")),
    "other": (CheckInRule(30, "1-month check-in"),),
}

DEFAULT_VIEWS = FOLLOW_UP_VIEWS


@dataclass(frozen=True)
class PlannedCheckIn:
    due_date: date
    label: str
    views: tuple[str, ...]


def propose_plan(
    treatment_type: str, treated_on: date | datetime, baseline_views: tuple[str, ...] | list[str] = ()
) -> list[PlannedCheckIn]:
    """Check-ins for a treatment: dated from the treatment day, asking for the baseline's views."""
    day = treated_on.date() if isinstance(treated_on, datetime) else treated_on
    views = tuple(baseline_views) or DEFAULT_VIEWS
    rules = FOLLOW_UP_RULES.get(treatment_type, FOLLOW_UP_RULES["other"])
    return [PlannedCheckIn(day + timedelta(days=rule.offset_days), rule.label, views) for rule in rules]


def shift_plan(plan: list[PlannedCheckIn], days: int) -> list[PlannedCheckIn]:
    return [replace(item, due_date=item.due_date + timedelta(days=days)) for item in plan]


def is_overdue(due_date: date, today: date, grace_days: int = 0) -> bool:
    return today > due_date + timedelta(days=grace_days)
