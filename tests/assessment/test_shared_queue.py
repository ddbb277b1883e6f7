"""The assessment queue shared by several app servers on one PostgreSQL database (issue 17).

Two Clinic instances stand for two servers: queued runs are each done exactly once whichever
worker takes them; a server's start never takes back a run another server holds under a live
lease; a run whose server stopped mid-job (its lease expired) is finished by the other server,
and the stopped worker's late result is dropped; the attempt cap still holds for expired leases.
The statements are those DuckDB runs too (there without row locks: one process opens the file).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from core.assessment.service import INTERRUPTED_ERROR, MAX_ATTEMPTS, AssessmentService
from core.clinic import Clinic
from core.db import to_db_time, utcnow
from core.recovery import owned_blob_ids

from . import test_durable_queue as durable

_open = durable._open
stored_case = durable.stored_case  # the fixture: one submitted case, no run queued yet

RUNS = 4


@pytest.fixture
def shared_case(data_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, request) -> str:
    """One submitted case (no run queued yet) in a fresh PostgreSQL database."""
    monkeypatch.setenv("CLINIC_DATABASE_URL", postgres_url)
    return request.getfixturevalue("stored_case")


def _server() -> Clinic:
    clinic = _open()
    clinic.case_submitted_listeners.clear()
    clinic.assessments.poll_seconds = 0.2
    return clinic


def _wait_until_finished(clinic: Clinic, ids: list[str], deadline_s: float = 600.0) -> None:
    marks = ", ".join("?" for _ in ids)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        left = clinic.db.scalar(
            f"SELECT count(*) FROM assessments WHERE id IN ({marks}) AND status IN ('queued', 'running')", ids
        )
        if left == 0:
            return
        time.sleep(0.2)
    pytest.fail("the queued runs did not finish")


def _done_entries(clinic: Clinic, assessment_id: str) -> int:
    return sum(
        1
        for entry in clinic.audit.entries_for_object("case", _case_of(clinic, assessment_id))
        if entry.action == "assessment.done" and entry.detail.get("assessment_id") == assessment_id
    )


def _case_of(clinic: Clinic, assessment_id: str) -> str:
    return str(clinic.db.scalar("SELECT case_id FROM assessments WHERE id = ?", [assessment_id]))


def test_two_servers_share_the_queue_and_do_each_run_once(shared_case: str) -> None:
    first, second = _server(), _server()
    try:
        ids = [first.assessments._insert_queued(shared_case, None) for _ in range(RUNS)]
        # Both servers start: each puts what is still queued into its worker (the second
        # leaves alone what the first's worker already holds).
        assert sorted(first.assessments.resume().requeued) == sorted(ids)
        assert set(second.assessments.resume().requeued) <= set(ids)
        _wait_until_finished(first, ids)
        assert first.assessments.wait_idle(300) and second.assessments.wait_idle(300)
        rows = first.db.fetchall(
            f"SELECT id, status, attempts, lease_owner FROM assessments WHERE id IN ({', '.join('?' for _ in ids)})",
            ids,
        )
        assert {r[0] for r in rows} == set(ids)
        assert all(r[1] == "done" and r[2] == 1 for r in rows), rows
        workers = {first.assessments.worker_id, second.assessments.worker_id}
        assert {r[3] for r in rows} <= workers
        for assessment_id in ids:
            assert _done_entries(first, assessment_id) == 1
        assert first.audit.verify().ok
    finally:
        second.close()
        first.close()


def test_a_start_leaves_a_run_another_server_holds_alone(shared_case: str) -> None:
    first = _server()
    try:
        held = first.assessments._insert_queued(shared_case, None)
        expired = first.assessments._insert_queued(shared_case, None)
        exhausted = first.assessments._insert_queued(shared_case, None)
        now = utcnow()
        for assessment_id, attempts, expiry in (
            (held, 1, now + timedelta(minutes=10)),
            (expired, 1, now - timedelta(minutes=1)),
            (exhausted, MAX_ATTEMPTS, now - timedelta(minutes=1)),
        ):
            first.db.execute(
                "UPDATE assessments SET status = 'running', attempts = ?, lease_owner = 'server-a:1:dead',"
                " lease_expires_at = ? WHERE id = ?",
                [attempts, to_db_time(expiry), assessment_id],
            )
        first.assessments.poll_seconds = 3600.0  # only what resume() does is looked at here
        report = first.assessments.resume()
        assert report.requeued == [expired] and report.failed == [exhausted]
        assert first.assessments.wait_idle(300)
        status = dict(first.db.fetchall("SELECT id, status FROM assessments"))
        assert status == {held: "running", expired: "done", exhausted: "failed"}
        error = first.db.scalar("SELECT error FROM assessments WHERE id = ?", [exhausted])
        assert error == INTERRUPTED_ERROR.format(attempts=MAX_ATTEMPTS)
        # The live lease is still its server's: no claim takes it.
        assert first.assessments._claim(held) is None
    finally:
        first.close()


def test_a_run_whose_server_stopped_mid_job_is_finished_by_the_other(
    shared_case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, resume_first = threading.Event(), threading.Event()
    first, second = _server(), _server()
    try:
        blobs_before = set(first.blobs.list_ids())
        assess = first.assessments._assess

        def stalls(*args, **kwargs):
            started.set()
            resume_first.wait(600)  # the server hangs mid-job ...
            return assess(*args, **kwargs)

        monkeypatch.setattr(first.assessments, "_assess", stalls)
        # ... and its heartbeat stopped with it: the lease is never renewed.
        monkeypatch.setattr(first.assessments, "_renew_lease", lambda job: True)
        first.assessments.lease_seconds = 2.0
        assessment_id = first.assessments._insert_queued(shared_case, None)
        first.assessments.resume()
        assert started.wait(60)
        assert first.db.scalar("SELECT lease_owner FROM assessments WHERE id = ?", [assessment_id]) == (
            first.assessments.worker_id
        )
        second.assessments.resume()  # the other server's worker polls for expired leases
        _wait_until_finished(second, [assessment_id])
        row = second.db.fetchone(
            "SELECT status, attempts, lease_owner FROM assessments WHERE id = ?", [assessment_id]
        )
        assert row == ("done", 2, second.assessments.worker_id)
        # The stopped server comes back: its late result is dropped, its overlays deleted.
        resume_first.set()
        assert first.assessments.wait_idle(300)
        assert first.db.scalar("SELECT attempts FROM assessments WHERE id = ?", [assessment_id]) == 2
        assert _done_entries(second, assessment_id) == 1
        owned = {
            r[0]
            for r in first.db.fetchall(
                "SELECT blob_id FROM assessment_blobs WHERE assessment_id = ?", [assessment_id]
            )
        }
        assert owned
        assert set(first.blobs.list_ids()) - blobs_before <= owned_blob_ids(first.db)
        assert first.audit.verify().ok
    finally:
        resume_first.set()
        second.close()
        first.close()


def test_a_claim_records_the_workers_lease_on_the_test_engine(stored_case: str) -> None:
    """On the test engine (DuckDB by default: one process, no FOR UPDATE) a claim records the
    worker's lease too, renewed by its heartbeat; a live lease is not claimable."""
    clinic = _open()
    try:
        assert isinstance(clinic.assessments, AssessmentService)
        assessment_id = clinic.assessments._insert_queued(stored_case, None)
        job = clinic.assessments._claim(None)
        assert job is not None and job.assessment_id == assessment_id and job.attempts == 1
        owner, expiry = clinic.db.fetchone(
            "SELECT lease_owner, lease_expires_at FROM assessments WHERE id = ?", [assessment_id]
        ) or (None, None)
        assert owner == clinic.assessments.worker_id and expiry is not None
        assert clinic.assessments._renew_lease(job)
        assert clinic.assessments._claim(None) is None  # a live lease is not claimable
    finally:
        clinic.close()
