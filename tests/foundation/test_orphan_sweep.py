"""The sweep of what a killed process leaves: unowned blobs and `.tmp` files older than the
grace period are removed, reported in the log and the audit log; owned or young ones stay."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

from core.clinic import Clinic
from core.recovery import GRACE, owned_blob_ids, sweep_orphans

from .conftest import Accounts, FakeClock, required_photos, valid_intake


def _age(path: Path, clock: FakeClock, age: timedelta) -> None:
    stamp = (clock.now - age).timestamp()
    os.utime(path, (stamp, stamp))


def test_old_orphans_and_temp_files_are_swept_and_reported(
    clinic: Clinic, accounts: Accounts, clock: FakeClock, caplog
) -> None:
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    owned = owned_blob_ids(clinic.db)
    assert len(owned) == 3
    old_orphan = clinic.blobs.put(b"left by a killed submission")
    young_orphan = clinic.blobs.put(b"a submission still in progress")
    blob_dir, data_dir = clinic.settings.blob_dir, clinic.settings.data_dir
    old_temp = blob_dir / old_orphan[:2] / f".{old_orphan}.blob.0123abcd.tmp"
    old_temp.write_bytes(b"half a blob")
    key_temp = data_dir / ".audit-head.json.89abcdef.tmp"
    key_temp.write_bytes(b"{")
    young_temp = blob_dir / ".young.blob.00000000.tmp"
    young_temp.write_bytes(b"being written")
    for blob_id in [*owned, old_orphan]:
        _age(clinic.blobs.path_for(blob_id), clock, timedelta(hours=3))
    _age(clinic.blobs.path_for(young_orphan), clock, timedelta(minutes=10))
    _age(old_temp, clock, timedelta(hours=2))
    _age(key_temp, clock, timedelta(hours=2))
    _age(young_temp, clock, timedelta(minutes=1))

    dry = sweep_orphans(clinic, dry_run=True)
    assert dry.orphan_blobs == [old_orphan] and clinic.blobs.exists(old_orphan)
    with caplog.at_level(logging.WARNING, logger="core.recovery"):
        report = sweep_orphans(clinic)
    assert report.orphan_blobs == [old_orphan] and report.young_orphans == 1
    assert sorted(report.temp_files) == sorted(
        [str(old_temp.relative_to(data_dir)), str(key_temp.relative_to(data_dir))]
    )
    assert not clinic.blobs.exists(old_orphan) and not old_temp.exists() and not key_temp.exists()
    assert clinic.blobs.exists(young_orphan) and young_temp.exists()
    assert all(clinic.blobs.exists(b) for b in owned)
    assert clinic.cases.get_photo_bytes(
        accounts.patient_a, clinic.cases.list_photos(accounts.patient_a, case_id)[0].photo_id
    )
    assert "removed 1 orphan blob(s) and 2 leftover temp file(s)" in caplog.text
    (entry,) = [e for e in clinic.audit.recent(accounts.admin, 5) if e.action == "maintenance.orphans_swept"]
    assert entry.detail["orphan_blobs"] == 1 and entry.detail["blob_ids"] == [old_orphan]
    assert entry.detail["temp_files"] == 2 and entry.detail["grace_seconds"] == int(GRACE.total_seconds())

    # Once the grace period has passed, the young ones go too; nothing to report afterwards.
    clock.advance(hours=2)
    assert sweep_orphans(clinic).removed == 2
    assert sweep_orphans(clinic).removed == 0
    assert clinic.audit.verify().ok


def test_the_sweep_command(data_dir: Path, capsys) -> None:
    from core.__main__ import main

    with Clinic.open() as clinic:
        orphan = clinic.blobs.put(b"orphan")
    assert main(["sweep-orphans"]) == 0  # written just now: inside the grace period
    assert "removed 0 orphan blob(s) and 0 temp file(s); kept 1" in capsys.readouterr().out
    assert main(["sweep-orphans", "--grace-minutes", "0", "--dry-run"]) == 0
    assert "would remove 1 orphan blob(s)" in capsys.readouterr().out
    assert main(["sweep-orphans", "--grace-minutes", "0"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 orphan blob(s)" in out and orphan in out
    with Clinic.open() as clinic:
        assert clinic.blobs.list_ids() == []
        assert "maintenance.orphans_swept" in clinic.audit.actions()
