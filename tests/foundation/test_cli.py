"""`python -m core` operator commands, run as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from core.auth import LoginFailed
from core.clinic import Clinic
from core.config import Settings
from core.paths import REPO_ROOT


def run_cli(*args: str, data_dir: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("CLINIC_MASTER_KEY", "CLINIC_KEY_FILE")}
    environment.update({"CLINIC_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", **env})
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_init_create_user_and_login(data_dir: Path) -> None:
    first = run_cli("init", data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert (data_dir / "master.key").exists()
    assert Settings.from_env().database_url or (data_dir / "clinic.duckdb").exists()
    assert run_cli("init", data_dir=data_dir).returncode == 0  # idempotent
    created = run_cli(
        "create-user",
        "--role",
        "physician",
        "--email",
        "dr.who@clinic.test",
        "--name",
        "Dr Who",
        data_dir=data_dir,
        stdin="a-long-secret-pass\n",
    )
    assert created.returncode == 0, created.stderr
    assert "a-long-secret-pass" not in created.stdout + created.stderr
    with Clinic.open(Settings.from_env()) as clinic:
        principal, _ = clinic.auth.login("dr.who@clinic.test", "a-long-secret-pass")
        assert principal.role == "physician"
        with pytest.raises(LoginFailed):
            clinic.auth.login("dr.who@clinic.test", "a-long-secret-pass\n")


def test_cli_errors_are_one_line_and_non_zero(data_dir: Path, tmp_path: Path) -> None:
    assert run_cli("init", data_dir=data_dir).returncode == 0  # only init creates a clinic
    short = run_cli(
        "create-user",
        "--role",
        "admin",
        "--email",
        "a@clinic.test",
        "--name",
        "A",
        data_dir=data_dir,
        stdin="short\n",
    )
    assert short.returncode != 0 and short.stderr.startswith("error:") and "password" in short.stderr
    assert "Traceback" not in short.stderr and len(short.stderr.strip().splitlines()) == 1
    bad_role = run_cli(
        "create-user",
        "--role",
        "patient",
        "--email",
        "a@clinic.test",
        "--name",
        "A",
        data_dir=data_dir,
        stdin="long-enough-pass\n",
    )
    assert bad_role.returncode != 0
    missing = run_cli("restore", str(tmp_path / "nope.tar"), data_dir=data_dir)
    assert missing.returncode != 0 and "no backup archive" in missing.stderr
    bad_key = run_cli("init", data_dir=data_dir, CLINIC_MASTER_KEY="not-a-key")
    assert bad_key.returncode != 0 and "Traceback" not in bad_key.stderr


def test_demo_seed_prints_log_ins_once(data_dir: Path) -> None:
    first = run_cli("init", "--demo", data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert "patient@demo.clinic" in first.stdout and "physician@demo.clinic" in first.stdout
    password = next(line.split()[-1] for line in first.stdout.splitlines() if "patient@demo.clinic" in line)
    second = run_cli("init", "--demo", data_dir=data_dir)
    assert second.returncode == 0 and "already" in second.stdout and password not in second.stdout
    with Clinic.open(Settings.from_env()) as clinic:
        principal, _ = clinic.auth.login("patient@demo.clinic", password)
        (case,) = clinic.cases.list_patient_cases(principal)
        detail = clinic.cases.get_case(principal, case.case_id)
        assert {p.view for p in detail.photos} == {"front", "left_oblique", "right_oblique"}
        if not clinic.settings.database_url:  # PostgreSQL: tests/foundation/test_postgres.py
            assert password.encode() not in clinic.settings.db_path.read_bytes()


def test_audit_verify_detects_tampering(data_dir: Path) -> None:
    assert run_cli("init", "--demo", data_dir=data_dir).returncode == 0
    ok = run_cli("audit-verify", data_dir=data_dir)
    assert ok.returncode == 0 and "intact" in ok.stdout
    with Clinic.open(Settings.from_env()) as clinic:
        clinic.db.execute("UPDATE audit_log SET action = 'nothing.to.see' WHERE seq = 2")
    broken = run_cli("audit-verify", data_dir=data_dir)
    assert broken.returncode == 1 and "row 2" in broken.stderr


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_backup_restore_round_trip(data_dir: Path, tmp_path: Path) -> None:
    assert run_cli("init", "--demo", data_dir=data_dir).returncode == 0
    archive = tmp_path / "backups" / "clinic.tar"
    made = run_cli("backup", str(archive), data_dir=data_dir)
    assert made.returncode == 0, made.stderr
    key_file = data_dir / "master.key"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "clinic.duckdb" in names and not any("key" in n for n in names)
    assert key_file.read_bytes().strip() not in archive.read_bytes()
    assert b"Demo Patient" not in archive.read_bytes()

    # Restore into a fresh directory with the same master key.
    target = tmp_path / "restored"
    restored = run_cli("restore", str(archive), data_dir=target, CLINIC_KEY_FILE=str(key_file))
    assert restored.returncode == 0, restored.stderr
    env = {"CLINIC_DATA_DIR": str(target), "CLINIC_KEY_FILE": str(key_file)}
    source_blobs = sorted(p.name for p in (data_dir / "blobs").glob("*/*.blob"))
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "from core.clinic import Clinic; c = Clinic.open(); "
            "ids = [r[0] for r in c.db.fetchall('SELECT blob_id FROM photos')]; "
            "print(c.db.fetchone('SELECT count(*) FROM cases')[0], len(ids), "
            "all(len(c.blobs.get(i)) > 0 for i in ids), c.audit.verify().ok)",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.stdout.split() == ["1", "3", "True", "True"], check.stderr
    assert sorted(p.name for p in (target / "blobs").glob("*/*.blob")) == source_blobs

    # Existing data is never overwritten silently; --force keeps the old files aside.
    again = run_cli("restore", str(archive), data_dir=target, CLINIC_KEY_FILE=str(key_file))
    assert again.returncode != 0 and "--force" in again.stderr
    forced = run_cli("restore", str(archive), "--force", data_dir=target, CLINIC_KEY_FILE=str(key_file))
    assert forced.returncode == 0, forced.stderr
    assert list(target.glob("pre-restore-*/clinic.duckdb"))

    # Another master key cannot restore it.
    stranger = run_cli(
        "restore", str(archive), data_dir=tmp_path / "other", CLINIC_MASTER_KEY=os.urandom(32).hex()
    )
    assert stranger.returncode != 0 and "master key" in stranger.stderr
    assert not (tmp_path / "other" / "clinic.duckdb").exists()


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_backup_refuses_a_path_inside_the_data_dir(data_dir: Path) -> None:
    assert run_cli("init", data_dir=data_dir).returncode == 0
    inside = run_cli("backup", str(data_dir / "b.tar"), data_dir=data_dir)
    assert inside.returncode != 0 and "outside" in inside.stderr


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_restore_refuses_while_the_database_is_open(data_dir: Path, tmp_path: Path) -> None:
    assert run_cli("init", data_dir=data_dir).returncode == 0
    archive = tmp_path / "b.tar"
    assert run_cli("backup", str(archive), data_dir=data_dir).returncode == 0
    with Clinic.open(Settings.from_env()):  # this process holds the database, like a running portal
        busy = run_cli("restore", str(archive), "--force", data_dir=data_dir)
    assert busy.returncode != 0 and "in use" in busy.stderr
