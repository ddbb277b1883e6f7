"""The keyed, anchored audit chain: every way of tampering with the rows makes `audit-verify` fail.

Each scenario fills a log, closes the clinic, tampers through SQL (what someone with the
database but without the master key can do), then runs the real `audit-verify` command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from core.__main__ import main as cli
from core.access import Principal
from core.audit import GENESIS_HASH, checkpoint_path, row_hash
from core.clinic import Clinic
from core.config import Settings
from core.db import Database

ACTOR = Principal("u-1", "physician", "doc@clinic.test", "Dr Doc")
ROWS = 12
_COLUMNS = "seq, recorded_at, actor_id, actor_role, action, object_type, object_id, detail_json, prev_hash"


def _rows(db: Database) -> list[tuple]:
    return db.fetchall(f"SELECT {_COLUMNS}, hash FROM audit_log ORDER BY seq")


def _rehash_from(db: Database, first: int) -> None:
    """Recompute the chain from row `first` on with plain SHA-256 (no key), links included."""
    rows = _rows(db)
    prev = rows[first - 2][9] if first > 1 else GENESIS_HASH
    for row in rows[first - 1 :]:
        digest = row_hash(*row[:8], prev)
        db.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", [prev, digest, row[0]])
        prev = digest


def edit_row(db: Database) -> None:
    db.execute("UPDATE audit_log SET object_id = 'case-99' WHERE seq = 5")


def delete_first(db: Database) -> None:
    db.execute("DELETE FROM audit_log WHERE seq = 1")


def delete_middle(db: Database) -> None:
    db.execute("DELETE FROM audit_log WHERE seq = 6")


def delete_newest(db: Database) -> None:
    db.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")


def delete_newest_five(db: Database) -> None:
    db.execute("DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 5 FROM audit_log)")


def delete_all(db: Database) -> None:
    db.execute("DELETE FROM audit_log")


def swap_rows(db: Database) -> None:
    """Rows 4 and 5 exchange everything but their seq."""
    a, b = (db.fetchone(f"SELECT {_COLUMNS}, hash FROM audit_log WHERE seq = ?", [n]) for n in (4, 5))
    for target, source in ((4, b), (5, a)):
        db.execute(
            "UPDATE audit_log SET recorded_at = ?, actor_id = ?, actor_role = ?, action = ?, object_type = ?,"
            " object_id = ?, detail_json = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            [*source[1:], target],
        )


def reorder_seq(db: Database) -> None:
    db.execute("UPDATE audit_log SET seq = 100 WHERE seq = 3")
    db.execute("UPDATE audit_log SET seq = 3 WHERE seq = 4")
    db.execute("UPDATE audit_log SET seq = 4 WHERE seq = 100")


def rehash_from_row(db: Database) -> None:
    db.execute("UPDATE audit_log SET object_id = 'case-99' WHERE seq = 6")
    _rehash_from(db, 6)


def renumber_after_delete(db: Database) -> None:
    db.execute("DELETE FROM audit_log WHERE seq = 6")
    for seq in range(7, ROWS + 1):
        db.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", [seq - 1, seq])
    _rehash_from(db, 6)


def append_forged_row(db: Database) -> None:
    last = _rows(db)[-1]
    seq, at = last[0] + 1, last[1]
    fields = (seq, at, "u-1", "physician", "case.read", "case", "case-x", "{}", last[9])
    db.execute(
        f"INSERT INTO audit_log ({_COLUMNS}, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*fields, row_hash(*fields)],
    )


def edit_prev_hash(db: Database) -> None:
    db.execute("UPDATE audit_log SET prev_hash = ? WHERE seq = 7", ["f" * 64])


def change_time(db: Database) -> None:
    db.execute("UPDATE audit_log SET recorded_at = recorded_at - INTERVAL '1 hour' WHERE seq = 3")


def change_actor(db: Database) -> None:
    db.execute("UPDATE audit_log SET actor_id = 'someone-else' WHERE seq = 8")


SCENARIOS: dict[str, Callable[[Database], None]] = {
    "edit a row": edit_row,
    "delete the first row": delete_first,
    "delete a middle row": delete_middle,
    "delete the newest row": delete_newest,
    "delete the newest 5 rows": delete_newest_five,
    "delete all rows": delete_all,
    "swap two rows": swap_rows,
    "reorder seq": reorder_seq,
    "rehash from a row with SHA-256": rehash_from_row,
    "renumber after a delete": renumber_after_delete,
    "append a forged row": append_forged_row,
    "edit prev_hash": edit_prev_hash,
    "change the time": change_time,
    "change the actor": change_actor,
}


@pytest.fixture
def filled_dir(data_dir: Path) -> Path:
    with Clinic.open(Settings.from_env()) as clinic:
        for n in range(ROWS - clinic.audit.head.seq):
            clinic.audit.record(ACTOR, "case.read", "case", f"case-{n}", {"n": n})
        assert clinic.audit.head.seq == ROWS
    return data_dir


def _tamper(tamper: Callable[[Database], None]) -> None:
    with Clinic.open(Settings.from_env()) as clinic:
        tamper(clinic.db)


def test_an_untouched_log_passes_the_command(filled_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["audit-verify"]) == 0
    assert "intact" in capsys.readouterr().out


@pytest.mark.parametrize("tamper", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_tampering_fails_audit_verify(
    filled_dir: Path, tamper: Callable[[Database], None], capsys: pytest.CaptureFixture[str]
) -> None:
    _tamper(tamper)
    assert cli(["audit-verify"]) == 1
    assert "BROKEN" in capsys.readouterr().err
    # Opening the clinic again (the portal restarting, new rows appended) keeps it detected.
    with Clinic.open(Settings.from_env()) as clinic:
        clinic.audit.record(ACTOR, "case.read", "case", "after", {})
        assert not clinic.audit.verify().ok
    assert cli(["audit-verify"]) == 1


def test_tampering_while_the_portal_runs_is_detected(data_dir: Path) -> None:
    with Clinic.open(Settings.from_env()) as clinic:
        for n in range(ROWS):
            clinic.audit.record(ACTOR, "case.read", "case", f"case-{n}", {})
        delete_newest_five(clinic.db)
        clinic.audit.record(ACTOR, "case.read", "case", "next", {})  # links to a deleted row
        assert not clinic.audit.verify().ok


def test_the_checkpoint_is_private_and_tracks_every_append(data_dir: Path) -> None:
    with Clinic.open(Settings.from_env()) as clinic:
        path = checkpoint_path(clinic.settings)
        assert path.parent == clinic.settings.key_file.parent
        for n in range(3):
            seq = clinic.audit.record(ACTOR, "case.read", "case", f"case-{n}", {})
            document = json.loads(path.read_text())
            assert document["seq"] == seq
            assert document["mac"] == clinic.db.fetchone("SELECT hash FROM audit_log WHERE seq = ?", [seq])[0]
        assert path.stat().st_mode & 0o777 == 0o600


def test_an_edited_checkpoint_fails_verification(filled_dir: Path) -> None:
    path = checkpoint_path(Settings.from_env())
    document = json.loads(path.read_text())
    document["seq"] -= 3  # hide the newest rows' absence
    path.write_text(json.dumps(document))
    assert cli(["audit-verify"]) == 1


def test_audit_rows_commit_with_the_change(clinic: Clinic) -> None:
    with pytest.raises(RuntimeError), clinic.db.transaction() as tx:
        tx.execute("UPDATE users SET failed_logins = 0")
        clinic.audit.record(ACTOR, "user.change", "user", "u-1", {}, tx=tx)
        raise RuntimeError("the change fails")
    assert clinic.audit.head.seq == 0 and clinic.audit.actions() == []
    with clinic.db.transaction() as tx:
        first = clinic.audit.record(ACTOR, "user.change", "user", "u-1", {}, tx=tx)
        second = clinic.audit.record(ACTOR, "user.change", "user", "u-2", {})  # same thread: joins it
    assert (first, second) == (1, 2) and clinic.audit.verify().ok
    with pytest.raises(ValueError):
        clinic.audit.record(ACTOR, "user.change", "user", "u-1", {}, tx=clinic.db.cursor())


def _write_legacy_chain(db: Database, count: int) -> None:
    """What the previous version stored: an unkeyed SHA-256 chain (and no checkpoint file)."""
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        fields = (
            seq,
            datetime(2026, 1, 5, 10, 0, seq),
            "u-1",
            "physician",
            "case.read",
            "case",
            f"c{seq}",
            "{}",
            prev,
        )
        prev = row_hash(*fields)
        db.execute(
            f"INSERT INTO audit_log ({_COLUMNS}, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [*fields, prev]
        )


def test_an_unkeyed_log_from_the_previous_version_is_sealed_once(data_dir: Path) -> None:
    with Clinic.open(Settings.from_env()) as clinic:
        clinic.db.execute("DELETE FROM audit_log")
        _write_legacy_chain(clinic.db, 7)
    checkpoint_path(Settings.from_env()).unlink()
    with Clinic.open(Settings.from_env()) as clinic:
        assert clinic.audit.verify().ok
        rows = clinic.db.fetchall(
            "SELECT seq, action, detail_json FROM audit_log WHERE action = 'audit.chain_keyed'"
        )
        assert [r[0] for r in rows] == [8] and json.loads(rows[0][2])["unkeyed_chain_ok"] is True
        clinic.audit.record(ACTOR, "case.read", "case", "new", {})
    with Clinic.open(Settings.from_env()) as clinic:  # once: a restart adds no second seal
        assert clinic.audit.actions().count("audit.chain_keyed") == 1 and clinic.audit.verify().ok
        clinic.db.execute("UPDATE audit_log SET object_id = 'c-x' WHERE seq = 3")  # the old part
    assert cli(["audit-verify"]) == 1


def test_a_broken_unkeyed_log_stays_broken_after_sealing(data_dir: Path) -> None:
    with Clinic.open(Settings.from_env()) as clinic:
        clinic.db.execute("DELETE FROM audit_log")
        _write_legacy_chain(clinic.db, 5)
        clinic.db.execute("UPDATE audit_log SET actor_id = 'x' WHERE seq = 2")
    checkpoint_path(Settings.from_env()).unlink()
    with Clinic.open(Settings.from_env()) as clinic:
        result = clinic.audit.verify()
        assert not result.ok and result.first_bad_row == 2
        (detail,) = clinic.db.fetchone("SELECT detail_json FROM audit_log WHERE action = 'audit.chain_keyed'")
        assert json.loads(detail)["unkeyed_first_bad_row"] == 2
