"""Database rows as typed records, matched by column name (never by position).

`fetch_one_as(cursor, Report, sql, params)` runs the query and builds the dataclass from the
columns whose names equal its fields, so adding a column to a query or reordering it cannot
shift values into the wrong field. Timestamps come back as aware UTC datetimes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from core.db import from_db_time

T = TypeVar("T")


class _Cursor(Protocol):
    description: Any

    def execute(self, query: str, parameters: Any = ...) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


def _field_names(record_type: type) -> frozenset[str]:
    if not dataclasses.is_dataclass(record_type):
        raise TypeError(f"{record_type.__name__} is not a dataclass")
    return frozenset(field.name for field in dataclasses.fields(record_type) if field.init)


def _build(record_type: type[T], columns: Sequence[str], row: Sequence[Any]) -> T:
    fields = _field_names(record_type)
    values = {
        name: from_db_time(value) if isinstance(value, datetime) else value
        for name, value in zip(columns, row, strict=True)
        if name in fields
    }
    return record_type(**values)


def _columns(cursor: _Cursor) -> list[str]:
    return [column[0] for column in cursor.description]


def fetch_one_as(cursor: _Cursor, record_type: type[T], sql: str, parameters: Sequence[Any] = ()) -> T | None:
    """The first row of `sql` as a `record_type`, or None."""
    cursor.execute(sql, list(parameters))
    row = cursor.fetchone()
    return None if row is None else _build(record_type, _columns(cursor), row)


def fetch_all_as(cursor: _Cursor, record_type: type[T], sql: str, parameters: Sequence[Any] = ()) -> list[T]:
    """Every row of `sql` as a `record_type`."""
    cursor.execute(sql, list(parameters))
    rows = cursor.fetchall()
    columns = _columns(cursor)
    return [_build(record_type, columns, row) for row in rows]
