"""Booking rules, free of storage: local clinic time <-> UTC instants, overlaps, published slots.

Instants are always timezone-aware UTC `datetime`s; wall-clock times are interpreted in a named
IANA zone with zoneinfo, so DST gaps and folds are handled explicitly instead of silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_DURATION_MIN = 5
MAX_DURATION_MIN = 8 * 60


class BookingError(ValueError):
    """A booking request that breaks a rule (overlap, non-existent local time, bad duration)."""


@dataclass(frozen=True)
class Interval:
    """A half-open time range [start, end) in UTC; adjacent intervals do not overlap."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise BookingError("interval bounds must be timezone-aware")
        if self.end <= self.start:
            raise BookingError("an interval must end after it starts")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise BookingError(f"unknown time zone {name!r}") from error


def local_to_utc(day: date, clock: time, zone_name: str) -> datetime:
    """The UTC instant of a wall-clock time in `zone_name`.

    A time inside a spring-forward gap does not exist and is refused (a patient must never be
    told 02:30 on a day that skips from 02:00 to 03:00); in an autumn fold the first (summer
    time) occurrence is taken, which is what a calendar shows first.
    """
    tz = zone(zone_name)
    naive = datetime.combine(day, clock.replace(tzinfo=None))
    aware = naive.replace(tzinfo=tz, fold=0)
    # Round-tripping through UTC exposes non-existent times: they come back shifted.
    back = aware.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:
        raise BookingError(f"{naive:%Y-%m-%d %H:%M} does not exist in {zone_name} (daylight saving change)")
    return aware.astimezone(UTC)


def utc_to_local(instant: datetime, zone_name: str) -> datetime:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone(zone_name))


def format_local(instant: datetime, zone_name: str) -> str:
    """'2027-03-29 10:00 CEST (Europe/Amsterdam)': the abbreviation makes DST visible."""
    local = utc_to_local(instant, zone_name)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({zone_name})"


def appointment_interval(start_utc: datetime, duration_min: int) -> Interval:
    if not MIN_DURATION_MIN <= duration_min <= MAX_DURATION_MIN:
        raise BookingError(f"duration must be {MIN_DURATION_MIN}–{MAX_DURATION_MIN} minutes")
    if start_utc.tzinfo is None:
        raise BookingError("start must be timezone-aware")
    start = start_utc.astimezone(UTC)
    return Interval(start, start + timedelta(minutes=duration_min))


def find_conflicts(candidate: Interval, booked: Iterable[Interval]) -> list[Interval]:
    """Booked intervals that overlap the candidate (touching ends are fine)."""
    return [interval for interval in booked if candidate.overlaps(interval)]


def ensure_free(candidate: Interval, booked: Iterable[Interval]) -> None:
    conflicts = find_conflicts(candidate, booked)
    if conflicts:
        first = conflicts[0]
        raise BookingError(
            f"the physician is already booked {first.start:%Y-%m-%d %H:%M}–{first.end:%H:%M} UTC"
        )


def split_window(window: Interval, slot_minutes: int) -> list[Interval]:
    """Consecutive bookable slots inside an availability window; a short tail is dropped.

    Slots are cut in absolute time so a window that spans a DST change still yields slots of
    the real length.
    """
    if slot_minutes < MIN_DURATION_MIN:
        raise BookingError(f"slots must be at least {MIN_DURATION_MIN} minutes")
    slots: list[Interval] = []
    step = timedelta(minutes=slot_minutes)
    cursor = window.start
    while cursor + step <= window.end:
        slots.append(Interval(cursor, cursor + step))
        cursor += step
    return slots


def free_slots(windows: Iterable[Interval], slot_minutes: int, booked: Iterable[Interval]) -> list[Interval]:
    """Slots of the published windows not overlapped by any booked appointment, in time order."""
    booked_list = list(booked)
    slots = [
        slot
        for window in windows
        for slot in split_window(window, slot_minutes)
        if not find_conflicts(slot, booked_list)
    ]
    return sorted(slots, key=lambda slot: slot.start)
