"""Patient data sealed before it reaches PostgreSQL (which has no encryption at rest of its own).

`SEALED_COLUMNS` lists the columns that identify or describe a patient. On PostgreSQL every value
written to one of them (`INSERT INTO t (cols) VALUES (?, ...)`, `UPDATE t SET col = ?`) is
replaced by `sealed1:` + base64(AES-256-GCM) under a key derived from the master key, and every
value read back that carries the prefix is opened again, whatever the query calls its column.
Services keep their SQL; the data directory, WAL and dumps hold no names, e-mails, birth dates,
concern texts, report texts or notes.

Equality look-ups: a `lookup` column (the log-in e-mail) is sealed deterministically, its nonce
being a keyed HMAC of the value (a blind index, as in AES-SIV): the same address always gives the
same text, so `WHERE email = ?` (the parameter sealed the same way) and the UNIQUE constraint still
work, and equality is all the database learns. Substring search over sealed columns happens in the
service, after opening (core.directory.patient_ids_matching). The embedded DuckDB file is
encrypted as a whole and needs none of this.
"""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from core import crypto

SealKind = Literal["text", "date", "lookup"]
PREFIX = "sealed1:"
_AAD = b"clinic-sealed-column-v1"

SEALED_COLUMNS: dict[str, dict[str, SealKind]] = {
    "users": {"email": "lookup", "display_name": "text"},
    "patients": {"name": "text", "date_of_birth": "date"},
    "cases": {"intake_json": "text"},
    "case_status_history": {"note": "text"},
    "reports": {
        "findings": "text",
        "assessment": "text",
        "recommended_treatments": "text",
        "home_care": "text",
        "in_person_reason": "text",
        "follow_up_suggestion": "text",
    },
    "care_appointments": {"reason": "text", "cancel_reason": "text"},
    "care_treatments": {"notes": "text"},
}
LOOKUP_COLUMNS: dict[str, SealKind] = {
    column: kind
    for columns in SEALED_COLUMNS.values()
    for column, kind in columns.items()
    if kind == "lookup"
}


class Sealer:
    """Seals and opens column values with keys derived from the master key."""

    def __init__(self, master_key: bytes) -> None:
        self._key = crypto.derive_key(master_key, "pg-columns")
        self._index_key = crypto.derive_key(master_key, "pg-blind-index")

    def seal(self, value: Any, kind: SealKind) -> Any:
        if value is None or (isinstance(value, str) and value.startswith(PREFIX)):
            return value
        if isinstance(value, date) and kind == "date":
            plain = b"d:" + value.isoformat().encode()
        elif isinstance(value, str):
            plain = b"s:" + value.encode()
        else:
            return value  # not a text or date: nothing a patient wrote
        if kind == "lookup":
            sealed = crypto.encrypt_deterministic(self._key, self._index_key, plain, _AAD)
        else:
            sealed = crypto.encrypt(self._key, plain, _AAD)
        return PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii")

    def open(self, value: str) -> Any:
        plain = crypto.decrypt(self._key, base64.urlsafe_b64decode(value[len(PREFIX) :]), _AAD)
        text = plain[2:].decode()
        return date.fromisoformat(text) if plain[:2] == b"d:" else text

    def open_row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        if not any(type(v) is str and v.startswith(PREFIX) for v in row):
            return row
        return tuple(self.open(v) if type(v) is str and v.startswith(PREFIX) else v for v in row)

    def seal_parameters(self, sql: str, parameters: list[Any]) -> list[Any]:
        plan = sealing_plan(sql)
        if not plan:
            return parameters
        values = list(parameters)
        for index, kind in plan:
            if index < len(values):
                values[index] = self.seal(values[index], kind)
        return values


# -- which parameters land in sealed columns -------------------------------------------------------
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)\s*VALUES\s*", re.I)
_UPDATE = re.compile(r"^\s*UPDATE\s+(\w+)\s+SET\s+", re.I)
_SET_END = re.compile(r"\b(WHERE|RETURNING|FROM)\b", re.I)
_LOOKUP = re.compile(r"\b(?:\w+\.)?(" + "|".join(LOOKUP_COLUMNS or {"-": 0}) + r")\s*=\s*\?", re.I)


@dataclass(frozen=True)
class _Masked:
    text: str  # the SQL with quoted strings, identifiers' quotes and comments blanked out
    marks: tuple[int, ...]  # offsets of the `?` placeholders, in order


def _mask(sql: str) -> _Masked:
    out = list(sql)
    marks: list[int] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char == "'":
            end = i + 1
            while end < n and not (sql[end] == "'" and not sql.startswith("''", end)):
                end += 2 if sql.startswith("''", end) else 1
            for k in range(i, min(end + 1, n)):
                out[k] = " "
            i = end + 1
        elif char == '"':  # a quoted identifier: keep its name, drop the quotes
            out[i] = " "
            end = sql.find('"', i + 1)
            end = n if end < 0 else end
            if end < n:
                out[end] = " "
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            for k in range(i, end):
                out[k] = " "
            i = end
        else:
            if char == "?":
                marks.append(i)
            i += 1
    return _Masked("".join(out), tuple(marks))


def _split_top(text: str) -> list[tuple[int, str]]:
    """(offset, item) of the comma-separated items of `text` at parenthesis depth 0."""
    items: list[tuple[int, str]] = []
    depth, start = 0, 0
    for k, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append((start, text[start:k]))
            start = k + 1
    items.append((start, text[start:]))
    return items


@functools.lru_cache(maxsize=4096)
def sealing_plan(sql: str) -> tuple[tuple[int, SealKind], ...]:
    """(parameter index, kind) of each parameter that must be sealed for `sql`."""
    masked = _mask(sql)
    text, marks = masked.text, masked.marks
    if not marks:
        return ()
    index_of = {offset: k for k, offset in enumerate(marks)}
    plan: dict[int, SealKind] = {}
    insert = _INSERT.match(text)
    if insert and insert.group(1).lower() in SEALED_COLUMNS:
        columns = SEALED_COLUMNS[insert.group(1).lower()]
        names = [name.strip().lower() for name in insert.group(2).split(",")]
        position = insert.end()
        while position < len(text) and text[position] == "(":
            depth, end = 0, position
            for end in range(position, len(text)):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            for column, (offset, item) in zip(names, _split_top(text[position + 1 : end]), strict=False):
                if item.strip() == "?" and column in columns:
                    plan[index_of[position + 1 + offset + item.index("?")]] = columns[column]
            position = end + 1
            while position < len(text) and text[position] in " \n\t,":
                position += 1
    update = _UPDATE.match(text)
    if update and update.group(1).lower() in SEALED_COLUMNS:
        columns = SEALED_COLUMNS[update.group(1).lower()]
        end = next(  # the first WHERE/RETURNING/FROM outside parentheses (not a sub-query's)
            (
                m.start()
                for m in _SET_END.finditer(text, update.end())
                if text.count("(", update.end(), m.start()) == text.count(")", update.end(), m.start())
            ),
            len(text),
        )
        for offset, item in _split_top(text[update.end() : end]):
            column, _, value = item.partition("=")
            if value.strip() == "?" and column.strip().lower() in columns:
                plan[index_of[update.end() + offset + len(column) + 1 + value.index("?")]] = columns[
                    column.strip().lower()
                ]
    for match in _LOOKUP.finditer(text):
        plan[index_of[match.end() - 1]] = LOOKUP_COLUMNS[match.group(1).lower()]
    return tuple(sorted(plan.items()))


def date_columns() -> list[tuple[str, str]]:
    """(table, column) of sealed DATE columns: TEXT on PostgreSQL, since they hold sealed text."""
    return [(t, c) for t, columns in SEALED_COLUMNS.items() for c, kind in columns.items() if kind == "date"]
