"""Issue 12, the operator's CLI: only `init` creates a clinic, `backup` never overwrites or turns
`dir/` into a file, a corrupted archive is one error line, and patients and cases are listed and
found by what people see (a case's `C-YYMMDD-XXXX`, a patient's e-mail)."""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
from pathlib import Path

import pytest

from core.__main__ import main


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "command",
    [
        ["audit-verify"],
        ["backup", "ARCHIVE"],
        ["list-patients"],
        ["list-cases"],
        ["send-reminders"],
    ],
)
def test_no_command_but_init_creates_a_clinic(
    command: list[str], data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    missing = data_dir / "typo"
    monkeypatch.setenv("CLINIC_DATA_DIR", str(missing))
    args = [str(tmp_path / "out.tar") if a == "ARCHIVE" else a for a in command]
    code, out, err = cli(capsys, *args)
    assert code != 0
    assert "no clinic in" in err and "init" in err and "intact" not in out
    assert not missing.exists(), "a command other than init created a data directory"


def test_init_still_creates_and_then_audit_verify_works(data_dir: Path, capsys) -> None:
    assert cli(capsys, "init")[0] == 0
    code, out, _ = cli(capsys, "audit-verify")
    assert code == 0 and "intact" in out


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_backup_never_overwrites_and_writes_into_a_directory(data_dir: Path, tmp_path: Path, capsys) -> None:
    assert cli(capsys, "init")[0] == 0
    existing = tmp_path / "keep.tar"
    existing.write_bytes(b"precious")
    code, _, err = cli(capsys, "backup", str(existing))
    assert code != 0 and "already exists" in err and existing.read_bytes() == b"precious"
    assert cli(capsys, "backup", str(existing), "--force")[0] == 0
    assert tarfile.is_tarfile(existing)

    folder = tmp_path / "backups"
    folder.mkdir()
    for spelled in (str(folder), str(folder) + "/"):
        assert cli(capsys, "backup", spelled)[0] == 0
    assert folder.is_dir() and len(list(folder.glob("clinic-*.tar"))) >= 1

    new_dir = tmp_path / "new-dir"
    code, _, err = cli(capsys, "backup", str(new_dir) + "/")
    assert code == 0, err
    assert new_dir.is_dir() and list(new_dir.glob("clinic-*.tar"))


@pytest.mark.duckdb_only  # the embedded file itself (PostgreSQL: tests/foundation/test_postgres.py)
def test_restore_of_a_corrupted_database_is_one_clean_line(
    data_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    assert cli(capsys, "init")[0] == 0
    archive = tmp_path / "good.tar"
    assert cli(capsys, "backup", str(archive))[0] == 0
    corrupted = tmp_path / "bad.tar"
    with tarfile.open(archive) as source, tarfile.open(corrupted, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else b""
            if member.name == "clinic.duckdb":
                middle = len(data) // 2
                data = data[:4096] + bytes(b ^ 0x5A for b in data[4096:middle]) + data[middle:]
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    target_dir = tmp_path / "restored"
    monkeypatch.setenv("CLINIC_DATA_DIR", str(target_dir))
    monkeypatch.setenv("CLINIC_KEY_FILE", str(data_dir / "master.key"))
    code, out, err = cli(capsys, "restore", str(corrupted))
    assert code != 0
    assert "Traceback" not in err and err.startswith("error: restore failed")
    assert len(err.strip().splitlines()) == 1


def test_list_patients_and_cases_by_reference_and_email(data_dir: Path, capsys, face_photo_bgr) -> None:
    import cv2

    from core.clinic import Clinic
    from core.config import Settings
    from core.consult.cases import IntakeForm
    from tests.photo_factory import checked_photo

    assert cli(capsys, "init")[0] == 0
    with Clinic.open(Settings.from_env()) as clinic:
        patient = clinic.auth.register_patient(
            "Zoe@Example.test",
            "Patient-Pass-123!",
            "Zoë Müller",
            dt.date(1988, 5, 1),
            "de",
            "Europe/Amsterdam",
            True,
        )
        intake = IntakeForm(concerns=["other"], areas=["cheeks"], duration="1 y", concern_other_text="x",
                            consent_photo_storage=True)  # fmt: skip
        photo = cv2.imencode(".jpg", face_photo_bgr)[1].tobytes()
        case_id = clinic.cases.submit_case(
            patient, intake, [checked_photo(v, photo) for v in ("front", "left_oblique", "right_oblique")]
        )
        reference = clinic.cases.get_case(patient, case_id).reference
        clinic.assessments.wait_idle(timeout=60)
    code, out, _ = cli(capsys, "list-patients", "--json")
    assert code == 0 and json.loads(out)[0]["email"] == "zoe@example.test"
    code, out, _ = cli(capsys, "list-cases", "--patient", "ZOE@example.test", "--json")
    assert code == 0 and [c["reference"] for c in json.loads(out)] == [reference]
    code, out, _ = cli(capsys, "list-cases", "--case", reference.lower())
    assert code == 0 and reference in out and case_id in out
    code, _, err = cli(capsys, "list-cases", "--case", "C-000000-ZZZZ")
    assert code != 0 and "no case" in err
    code, _, err = cli(capsys, "list-cases", "--patient", "nobody@example.test")
    assert code != 0 and "no patient" in err
    with Clinic.open(Settings.from_env()) as clinic:
        assert {"directory.patients_listed", "directory.cases_listed"} <= set(clinic.audit.actions())
