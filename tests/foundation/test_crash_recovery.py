"""The crash test (issue 12): SIGKILL a child that submits consultations and check-ins (with
the pre-assessment running) at random points, reopen, and check that nothing is half there.

Each round starts the child (which, like the portal, sweeps and resumes the queue first), kills
it after a random delay, then reopens the clinic here and checks: every case has its three
photos, every photo its blob (decrypting), every case its `case.submit` audit row, every
follow-up photo a sent check-in, every overlay owner row its blob; the audit chain verifies.
Orphan blobs and temp files found are counted, swept (the child is dead, so no grace period is
needed) and must be gone. At the end the queue is resumed here: no assessment is left queued or
running, and every submitted case has one. CLINIC_CRASH_ROUNDS / CLINIC_CRASH_SEED vary it;
the counts are printed (pytest -s).
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from core.assessment.engine import AssessmentOptions
from core.clinic import Clinic
from core.recovery import owned_blob_ids, sweep_orphans

ROUNDS = int(os.environ.get("CLINIC_CRASH_ROUNDS", "4"))
SEED = int(os.environ.get("CLINIC_CRASH_SEED", "20260302"))
CHILD = Path(__file__).with_name("crash_child.py")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Counts:
    rounds: int = 0
    killed: int = 0
    cases: int = 0
    checkins_sent: int = 0
    partial_records: list[str] = field(default_factory=list)
    orphan_blobs: int = 0
    temp_files: int = 0
    rounds_with_orphans: int = 0
    left_after_sweep: int = 0


def _start_child(log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, str(CHILD)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log
        )
    assert child.stdout is not None
    deadline = 240.0  # imports and models on a busy machine
    waited = 0.0
    while waited < deadline:
        ready, _, _ = select.select([child.stdout], [], [], 1.0)
        waited += 1.0
        if ready:
            line = child.stdout.readline().decode().strip()
            if line == "ready":
                return child
            if not line and child.poll() is not None:
                break
    child.kill()
    child.wait()
    raise AssertionError(f"the child did not get ready; see {log_path}:\n{log_path.read_text()[-3000:]}")


def _partial_records(clinic: Clinic) -> list[str]:
    problems: list[str] = []
    db = clinic.db
    submitted = {r[0] for r in db.fetchall("SELECT object_id FROM audit_log WHERE action = 'case.submit'")}
    for case_id, views in db.fetchall(
        "SELECT c.id, string_agg(p.\"view\", ',' ORDER BY p.\"view\") FILTER (WHERE p.source <> 'followup')"
        " FROM cases c LEFT JOIN photos p ON p.case_id = c.id GROUP BY c.id"
    ):
        if sorted((views or "").split(",")) != ["front", "left_oblique", "right_oblique"]:
            problems.append(f"case {case_id} has photos {views}")
        if case_id not in submitted:
            problems.append(f"case {case_id} has no case.submit audit row")
    for photo_id, blob_id in db.fetchall("SELECT id, blob_id FROM photos"):
        try:
            clinic.blobs.get(blob_id)
        except Exception as error:  # noqa: BLE001 - every kind of failure is a finding
            problems.append(f"photo {photo_id}: blob {blob_id} {type(error).__name__}")
    sent: set[str] = set()
    for checkin_id, status, photo_ids in db.fetchall("SELECT id, status, photo_ids_json FROM care_checkins"):
        ids = set(json.loads(photo_ids).values()) if photo_ids else set()
        if status == "submitted" and len(ids) != 3:
            problems.append(f"check-in {checkin_id} sent with {len(ids)} photos")
        sent |= ids
    for (photo_id,) in db.fetchall("SELECT id FROM photos WHERE source = 'followup'"):
        if photo_id not in sent:
            problems.append(f"follow-up photo {photo_id} belongs to no sent check-in")
    if missing := sent - {r[0] for r in db.fetchall("SELECT id FROM photos")}:
        problems.append(f"sent check-ins name {len(missing)} missing photo(s)")
    for (blob_id,) in db.fetchall("SELECT blob_id FROM assessment_blobs"):
        if not clinic.blobs.exists(blob_id):
            problems.append(f"overlay blob {blob_id} is missing")
    verification = clinic.audit.verify()
    if not verification.ok:
        problems.append(f"audit chain: {verification.reason}")
    return problems


def _temp_files(clinic: Clinic) -> list[Path]:
    data_dir = clinic.settings.data_dir
    return [p for p in data_dir.rglob("*.tmp") if ".duckdb-tmp" not in p.parts]


def test_sigkill_at_random_points_leaves_no_partial_records(data_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    counts = Counts()
    Clinic.open().close()  # the key and the database, before the first child
    log_path = tmp_path / "child.log"
    for _ in range(ROUNDS):
        child = _start_child(log_path)
        time.sleep(rng.uniform(0.0, 4.0))  # a random point: a submission, a check-in or an assessment
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            counts.killed += 1
        child.wait()
        counts.rounds += 1
        with Clinic.open() as clinic:  # reopen as the next start would (no queue resumed here)
            counts.partial_records += _partial_records(clinic)
            orphans = len(set(clinic.blobs.list_ids()) - owned_blob_ids(clinic.db))
            temps = len(_temp_files(clinic))
            counts.orphan_blobs += orphans
            counts.temp_files += temps
            counts.rounds_with_orphans += bool(orphans or temps)
            # The child is dead: nothing is in flight, so no grace period is needed.
            sweep_orphans(clinic, grace=timedelta(0), now=clinic.clock() + timedelta(seconds=1))
            counts.left_after_sweep += len(set(clinic.blobs.list_ids()) - owned_blob_ids(clinic.db))
            counts.left_after_sweep += len(_temp_files(clinic))

    with Clinic.open() as clinic:
        clinic.assessments._options = AssessmentOptions(run_registry=False, evidence=False)
        resumed = clinic.assessments.resume()
        assert clinic.assessments.wait_idle(600)
        statuses = dict(clinic.db.fetchall("SELECT status, count(*) FROM assessments GROUP BY status"))
        counts.cases = clinic.db.scalar("SELECT count(*) FROM cases")
        counts.checkins_sent = clinic.db.scalar(
            "SELECT count(*) FROM care_checkins WHERE status = 'submitted'"
        )
        unassessed = clinic.db.scalar(
            "SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM assessments a WHERE a.case_id = c.id)"
        )
        final_problems = _partial_records(clinic)
    print(
        f"\ncrash test: {counts.rounds} rounds ({counts.killed} killed), {counts.cases} cases,"
        f" {counts.checkins_sent} check-ins sent; partial records {len(counts.partial_records)};"
        f" orphans found {counts.orphan_blobs} blobs + {counts.temp_files} temp files in"
        f" {counts.rounds_with_orphans} round(s), left after sweep {counts.left_after_sweep};"
        f" assessments resumed at the end {len(resumed.requeued)}, failed as interrupted"
        f" {len(resumed.failed)}, final statuses {statuses}"
    )
    assert counts.partial_records == [], counts.partial_records
    assert counts.left_after_sweep == 0
    assert final_problems == []
    assert counts.cases > 0
    assert not statuses.get("queued") and not statuses.get("running"), statuses
    assert unassessed == 0
