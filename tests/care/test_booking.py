"""Booking rules: half-open overlaps, DST-correct local <-> UTC, published slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from core.care.booking import (
    BookingError,
    Interval,
    appointment_interval,
    ensure_free,
    find_conflicts,
    format_local,
    free_slots,
    local_to_utc,
    split_window,
    utc_to_local,
)

AMS = "Europe/Amsterdam"
NYC = "America/New_York"


def at(hour: int, minute: int = 0, day: date = date(2027, 6, 1)) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def test_overlap_is_half_open_so_adjacent_slots_are_fine() -> None:
    booked = [Interval(at(9), at(9, 30))]
    assert find_conflicts(Interval(at(9, 30), at(10)), booked) == []
    assert find_conflicts(Interval(at(8, 30), at(9)), booked) == []
    ensure_free(Interval(at(9, 30), at(10)), booked)


@pytest.mark.parametrize(
    ("start", "end"),
    [((9, 15), (9, 45)), ((8, 45), (9, 15)), ((8, 0), (11, 0)), ((9, 10), (9, 20))],
)
def test_any_overlap_is_refused(start: tuple[int, int], end: tuple[int, int]) -> None:
    booked = [Interval(at(9), at(9, 30))]
    with pytest.raises(BookingError, match="already booked"):
        ensure_free(Interval(at(*start), at(*end)), booked)


def test_durations_outside_limits_are_refused() -> None:
    with pytest.raises(BookingError):
        appointment_interval(at(9), 0)
    with pytest.raises(BookingError):
        appointment_interval(at(9), 24 * 60)
    with pytest.raises(BookingError):
        appointment_interval(datetime(2027, 6, 1, 9), 30)  # naive: ambiguous instant


def test_clinic_time_to_utc_follows_dst() -> None:
    # Amsterdam: CET (UTC+1) in winter, CEST (UTC+2) in summer.
    assert local_to_utc(date(2027, 1, 15), time(10), AMS) == at(9, day=date(2027, 1, 15))
    assert local_to_utc(date(2027, 7, 15), time(10), AMS) == at(8, day=date(2027, 7, 15))


def test_march_gap_week_amsterdam_clinic_new_york_patient() -> None:
    # 2027: the US springs forward on 14 March, the EU on 28 March. In between the offset is 5 h,
    # not the usual 6 h; a 10:00 Amsterdam visit is 05:00 in New York that week.
    start = local_to_utc(date(2027, 3, 20), time(10), AMS)
    assert start == at(9, day=date(2027, 3, 20))
    assert utc_to_local(start, NYC).hour == 5
    before_gap = local_to_utc(date(2027, 3, 10), time(10), AMS)
    assert utc_to_local(before_gap, NYC).hour == 4
    after_gap = local_to_utc(date(2027, 3, 30), time(10), AMS)
    assert utc_to_local(after_gap, NYC).hour == 4
    assert "EDT" in format_local(start, NYC) and "CET" in format_local(start, AMS)


def test_november_gap_week() -> None:
    # 2027: the EU falls back on 31 October, the US on 7 November: the offset is 5 h in between.
    start = local_to_utc(date(2027, 11, 3), time(15), AMS)
    assert utc_to_local(start, NYC).hour == 10
    assert utc_to_local(local_to_utc(date(2027, 11, 10), time(15), AMS), NYC).hour == 9


def test_nonexistent_local_time_is_refused_and_fold_takes_first() -> None:
    with pytest.raises(BookingError, match="does not exist"):
        local_to_utc(date(2027, 3, 28), time(2, 30), AMS)
    # 02:30 on 31 Oct 2027 happens twice in Amsterdam: the summer-time (first) one is 00:30 UTC.
    assert local_to_utc(date(2027, 10, 31), time(2, 30), AMS) == at(0, 30, day=date(2027, 10, 31))


def test_unknown_zone_is_a_booking_error() -> None:
    with pytest.raises(BookingError, match="unknown time zone"):
        local_to_utc(date(2027, 1, 1), time(9), "Mars/Olympus")


def test_window_splits_into_slots_and_booked_ones_disappear() -> None:
    window = Interval(at(9), at(11, 10))
    slots = split_window(window, 30)
    assert [s.start for s in slots] == [at(9), at(9, 30), at(10), at(10, 30)]
    free = free_slots([window], 30, [Interval(at(9, 40), at(10, 10))])
    assert [s.start for s in free] == [at(9), at(10, 30)]


def test_window_across_dst_change_keeps_real_slot_lengths() -> None:
    start = local_to_utc(date(2027, 10, 31), time(1), AMS)
    end = local_to_utc(date(2027, 10, 31), time(4), AMS)  # 4 real hours: the clock repeats 02:00-03:00
    slots = split_window(Interval(start, end), 60)
    assert len(slots) == 4
    assert all(slot.end - slot.start == timedelta(hours=1) for slot in slots)
