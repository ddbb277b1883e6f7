"""Follow-up planner: check-ins per treatment type, baseline views, overdue."""

from __future__ import annotations

from datetime import date, datetime

from core.care.followup import DEFAULT_VIEWS, FOLLOW_UP_RULES, is_overdue, propose_plan, shift_plan


def test_filler_and_toxin_get_two_weeks_and_three_months() -> None:
    for kind in ("filler", "botulinum_toxin"):
        plan = propose_plan(kind, date(2027, 1, 10), ("front", "left_oblique"))
        assert [item.due_date for item in plan] == [date(2027, 1, 24), date(2027, 4, 10)]
        assert all(item.views == ("front", "left_oblique") for item in plan)


def test_peel_has_an_early_healing_check() -> None:
    plan = propose_plan("chemical_peel", datetime(2027, 5, 1, 14, 0))
    assert plan[0].due_date == date(2027, 5, 8)
    assert plan[0].views == DEFAULT_VIEWS


def test_unknown_type_falls_back_to_other() -> None:
    plan = propose_plan("thread_lift", date(2027, 1, 1))
    assert len(plan) == len(FOLLOW_UP_RULES["other"])


def test_every_rule_is_dated_after_the_treatment() -> None:
    for kind in FOLLOW_UP_RULES:
        assert all(item.due_date > date(2027, 1, 1) for item in propose_plan(kind, date(2027, 1, 1)))


def test_shift_and_overdue() -> None:
    plan = shift_plan(propose_plan("filler", date(2027, 1, 10)), 3)
    assert plan[0].due_date == date(2027, 1, 27)
    assert not is_overdue(date(2027, 1, 27), date(2027, 1, 27))
    assert is_overdue(date(2027, 1, 27), date(2027, 1, 28))
    assert not is_overdue(date(2027, 1, 27), date(2027, 1, 28), grace_days=2)
