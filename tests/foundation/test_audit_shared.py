"""The audit chain with several writers on one PostgreSQL database (issue 17): two Clinic
instances (two app servers) with two threads each append at the same moment, alone and inside
transactions whose snapshot predates the other server's appends; the chain still verifies, with
every seq taken once and every row linked to the one before it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.clinic import Clinic
from core.config import Settings

APPENDS = 30  # per thread; every third inside a transaction


@pytest.fixture
def pg_data_dir(data_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clinic whose tables are in a fresh PostgreSQL database, whatever the test engine."""
    monkeypatch.setenv("CLINIC_DATABASE_URL", postgres_url)
    return data_dir


def _append(clinic: Clinic, name: str, start: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        start.wait(30)
        for n in range(APPENDS):
            if n % 3 == 2:
                with clinic.db.transaction() as tx:
                    # A statement first: the transaction's snapshot is older than other appends.
                    tx.execute("SELECT count(*) FROM audit_log").fetchone()
                    clinic.audit.record(None, "test.in_transaction", "writer", name, {"n": n}, tx=tx)
                    clinic.audit.record(
                        None, "test.in_transaction", "writer", name, {"n": n, "second": 1}, tx=tx
                    )
            else:
                clinic.audit.record(None, "test.alone", "writer", name, {"n": n})
    except BaseException as error:  # noqa: BLE001 - reported by the test
        errors.append(error)


def test_two_servers_appending_at_once_leave_a_chain_that_verifies(pg_data_dir: Path) -> None:
    first = Clinic.open(Settings.from_env())
    second = Clinic.open(Settings.from_env())
    try:
        before = first.db.scalar("SELECT count(*) FROM audit_log")
        start = threading.Barrier(4)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_append, args=(clinic, f"{tag}{t}", start, errors))
            for tag, clinic in (("a", first), ("b", second))
            for t in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        per_thread = APPENDS + APPENDS // 3  # a transaction appends two rows
        rows = first.db.fetchall("SELECT seq, prev_hash, hash, object_id FROM audit_log ORDER BY seq")
        assert len(rows) == before + 4 * per_thread
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
        assert all(row[1] == previous[2] for previous, row in zip(rows, rows[1:], strict=False))
        writers = {r[3] for r in rows[before:]}
        assert writers == {"a0", "a1", "b0", "b1"}
        for clinic in (first, second):  # what `audit-verify` runs, on either server
            result = clinic.audit.verify()
            assert result.ok, result.reason
            assert result.rows_checked == len(rows)
        # Each server continues from the shared head, not from its own memory.
        seq = second.audit.record(None, "test.after", "writer", "b0")
        assert seq == len(rows) + 1
        assert first.audit.record(None, "test.after", "writer", "a0") == seq + 1
        assert first.audit.verify().ok
    finally:
        second.close()
        first.close()
