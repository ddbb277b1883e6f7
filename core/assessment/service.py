"""Storage and workflow of the AI pre-assessment: `clinic.assessments`.

- A case-submitted listener queues every new case on one background worker thread, so the
  patient's submission returns at once; the row's status goes queued -> running -> done|failed.
- The queue is the `assessments` table itself, so it survives a crash: `resume()` (the portal's
  start, `Clinic.start_background_work`) queues every row left `queued` again, and a row left
  `running` by a process that died is retried until it has been started `MAX_ATTEMPTS` times,
  then marked failed with a reason the card shows. A run claims its row by bumping `attempts`
  and finishes only while it still holds that attempt, so a stale worker never overwrites a
  newer run (nor writes for a patient erased meanwhile).
- Several app servers share the queue on PostgreSQL (issue 17): a claim records the worker's id
  and a lease (`LEASE_SECONDS`) that a heartbeat renews while the engine runs. A claim takes a
  queued row, or a running one whose lease expired (its server died), with
  `FOR UPDATE SKIP LOCKED`, so two workers never take the same row. An idle worker there looks
  for such rows every `POLL_SECONDS`; `resume()` takes back only running rows whose lease
  expired. DuckDB (one process) claims through the same statement without row locks, and its
  `resume()` still takes back every running row (no other process can hold one).
- `run_for_case` (physician) runs again, in the background or synchronously; `reassess` (admin,
  the `reassess` command) brings stored cases to the current engine.
- Each visit is measured on its own: the case's baseline submission (the patient's own photos,
  `checkin_id` NULL) and every follow-up check-in (`checkin_id` set; queued by a check-in-submitted
  listener when the patient sends it). A run reads only its visit's photos, so re-running one
  visit never changes another. The physician's video snapshots and AR stills are not measured:
  they are frames of a compressed call under whatever light, or altered images, not standard
  photos (merged in, a snapshot moved a baseline's ITA from 65 to 69 degrees).
- The report JSON of every run is kept in `assessments`; merged metrics go to `assessment_metrics`
  (one row per region and metric; `photo_id` set when a single photo gave the value), which the
  hybrid-care area reads for progress charts. Only the newest run of a visit keeps its rows there,
  so a chart shows one value per visit. Overlays are stored as encrypted blobs, each owned by an
  `assessment_blobs` row (patient and case as real columns: erasure, export and the orphan sweep
  find them like photos); a run that does not commit deletes the overlays it wrote.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from core.access import ADMIN, PATIENT, PHYSICIAN, AccessDenied, NotFound, Principal, require_role
from core.consult.case_access import check_case_access
from core.db import TransactionConflict, scalar, to_db_time
from core.rows import fetch_all_as, fetch_one_as
from core.vocabulary import PhotoSource

if TYPE_CHECKING:
    import numpy as np

    from core.assessment.engine import AssessmentOptions
    from core.audit import AuditLog
    from core.blobstore import BlobStore
    from core.db import Database
    from core.vision.quality import QualityResult

log = logging.getLogger(__name__)

# How often a run may be started before a crash-interrupted assessment is given up as failed.
MAX_ATTEMPTS = 3
INTERRUPTED_ERROR = (
    "The assessment was interrupted {attempts} times (the portal stopped or crashed while it ran)"
    " and is not retried again. Run it again when the portal is stable."
)
# A claimed run's lease: its worker renews it every third of this while the engine runs; a run
# whose lease expired (its server died) is taken again by another worker.
LEASE_SECONDS: Final = 60.0
# PostgreSQL: how often an idle worker looks for queued or expired runs of other servers.
POLL_SECONDS: Final = 5.0
# The baseline visit: the patient's own photos of the submission. A check-in's photos (source
# 'followup') are their own visit; video snapshots and simulations are never measured.
BASELINE_SOURCES: Final[tuple[PhotoSource, ...]] = ("upload", "webcam")
# A check-in's photos are measured once it was sent (and still after the physician reviewed it).
_SENT_CHECKIN = "status IN ('submitted', 'reviewed') AND photo_ids_json IS NOT NULL"


class ClinicParts(Protocol):
    """What the service uses of `core.clinic.Clinic`, structurally: the service never imports the
    facade that creates it (no import cycle)."""

    db: Database
    blobs: BlobStore
    audit: AuditLog
    clock: Callable[[], datetime]
    case_submitted_listeners: list[Callable[[str], None]]

    @property
    def closed(self) -> bool: ...


class CheckInParts(Protocol):
    """What the service uses of the care area's check-ins: the listeners called with a check-in's
    id once its photos are stored (no import of the care area)."""

    submitted_listeners: list[Callable[[str], None]]


@dataclass(frozen=True)
class Visit:
    """One set of photos taken together and measured on its own: the case's baseline submission
    (`checkin_id` None) or one follow-up check-in."""

    case_id: str
    checkin_id: str | None
    label: str | None  # the check-in's label as the physician wrote it; None for the baseline
    taken_at: datetime  # when its photos were stored

    @property
    def is_baseline(self) -> bool:
        return self.checkin_id is None


@dataclass(frozen=True)
class AssessmentRecord:
    assessment_id: str
    case_id: str
    patient_id: str
    checkin_id: str | None  # the visit: None = the baseline submission
    status: str
    engine_version: str | None
    engine_sha256: str | None
    report: dict | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in {"done", "failed"}


@dataclass(frozen=True)
class MetricRow:
    assessment_id: str
    case_id: str
    photo_id: str | None
    view: str | None
    region: str
    metric: str
    value: float | None
    unit: str | None
    score: float | None
    band: str | None
    engine_version: str
    measured_at: datetime


@dataclass(frozen=True)
class _AssessmentRow:
    """An `assessments` row as stored (the report still JSON text)."""

    id: str
    case_id: str
    patient_id: str
    checkin_id: str | None
    status: str
    engine_version: str | None
    engine_sha256: str | None
    report_json: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    def record(self) -> AssessmentRecord:
        return AssessmentRecord(
            assessment_id=self.id,
            case_id=self.case_id,
            patient_id=self.patient_id,
            checkin_id=self.checkin_id,
            status=self.status,
            engine_version=self.engine_version,
            engine_sha256=self.engine_sha256,
            report=json.loads(self.report_json) if self.report_json else None,
            error=self.error,
            created_at=self.created_at,
            finished_at=self.finished_at,
        )


@dataclass(frozen=True)
class _Job:
    assessment_id: str
    case_id: str
    patient_id: str
    attempts: int
    checkin_id: str | None


@dataclass(frozen=True)
class _Pending:
    id: str
    status: str
    attempts: int | None


@dataclass(frozen=True)
class _Left:
    """A queued or running row as `resume()` finds it, with the lease of a running one."""

    id: str
    status: str
    attempts: int | None
    lease_owner: str | None
    lease_expires_at: datetime | None


@dataclass(frozen=True)
class ResumeReport:
    """What `resume()` found at start: rows queued again, rows given up as failed."""

    requeued: list[str]
    failed: list[str]


@dataclass(frozen=True)
class _OwnedReport:
    id: str
    case_id: str
    patient_id: str
    report_json: str
    created_at: datetime


class _Superseded(Exception):
    """The row is no longer this run's (erased, or claimed again after a restart)."""


@dataclass(frozen=True)
class _StoredPhoto:
    id: str
    view: str
    blob_id: str
    quality_verdict: str | None
    quality_json: str | None
    created_at: datetime


@dataclass(frozen=True)
class _VisitEngine:
    case_id: str
    checkin_id: str | None
    engine_version: str | None  # of the visit's newest finished run; None when none finished


@dataclass(frozen=True)
class _SentCheckIn:
    id: str
    label: str
    photo_ids_json: str
    submitted_at: datetime | None


_RECORD_COLUMNS = "id, case_id, patient_id, checkin_id, status, engine_version, engine_sha256, report_json, error, created_at, finished_at"
_METRIC_COLUMNS = 'assessment_id, case_id, photo_id, "view", region, metric, value, unit, score, band, engine_version, measured_at'


class AssessmentService:
    def __init__(self, clinic: ClinicParts, options: AssessmentOptions | None = None) -> None:
        self._clinic = clinic
        self._db = clinic.db
        self._options = options
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._resumed = False
        # Several servers may share the queue (PostgreSQL); DuckDB is opened by one process.
        self._shared = self._db.engine != "duckdb"
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_seconds = LEASE_SECONDS
        self.poll_seconds = POLL_SECONDS
        clinic.case_submitted_listeners.append(self._on_case_submitted)
        checkins: CheckInParts | None = getattr(getattr(clinic, "care", None), "checkins", None)
        if checkins is not None and hasattr(checkins, "submitted_listeners"):
            checkins.submitted_listeners.append(self._on_checkin_submitted)
        self._own_legacy_overlays()

    @property
    def options(self) -> AssessmentOptions:
        if self._options is None:
            from core.assessment.engine import AssessmentOptions

            self._options = AssessmentOptions()
        return self._options

    # -- queueing ------------------------------------------------------------------------------
    def _on_case_submitted(self, case_id: str) -> None:
        self._enqueue(case_id, requested_by=None)

    def _on_checkin_submitted(self, checkin_id: str) -> None:
        """A check-in's photos were stored: they are measured as their own visit."""
        row = self._db.fetchone("SELECT case_id FROM care_checkins WHERE id = ?", [checkin_id])
        if row is not None:
            self._enqueue(str(row[0]), requested_by=None, checkin_id=checkin_id)

    def _enqueue(self, case_id: str, requested_by: str | None, checkin_id: str | None = None) -> str:
        assessment_id = self._insert_queued(case_id, requested_by, checkin_id)
        self._ensure_worker()
        self._queue.put(assessment_id)
        return assessment_id

    def resume(self) -> ResumeReport:
        """Pick the durable queue up again (once per service; the portal's start).

        A `running` row found here was left by a process that died (DuckDB: only one process
        opens the file; PostgreSQL: its lease expired, or it has none): it is queued again, or
        marked failed once it has been started `MAX_ATTEMPTS` times (a photo that kills the
        process must not crash it forever). A running row with a live lease is another
        server's and is left alone.
        A submitted case that never got a run (the process died before queueing it) gets one.
        """
        with self._worker_lock:
            if self._resumed:
                return ResumeReport([], [])
            self._resumed = True
        now = to_db_time(self._clinic.clock())
        pending = [
            row
            for row in fetch_all_as(
                self._db.cursor(),
                _Left,
                "SELECT id, status, attempts, lease_owner, lease_expires_at FROM assessments"
                " WHERE status IN ('queued', 'running') ORDER BY created_at, id",
            )
            if row.status == "queued"
            or not self._shared
            or row.lease_expires_at is None
            or to_db_time(row.lease_expires_at) < now
            or _owner_died_here(row.lease_owner)
        ]
        requeued: list[str] = []
        failed: list[str] = []
        for row in pending:
            attempts = row.attempts or 0
            if row.status == "running" and attempts >= MAX_ATTEMPTS:
                self._fail(row.id, attempts, INTERRUPTED_ERROR.format(attempts=attempts), "interrupted")
                failed.append(row.id)
                continue
            if row.status == "running":
                self._db.execute(
                    "UPDATE assessments SET status = 'queued', started_at = NULL, lease_owner = NULL,"
                    " lease_expires_at = NULL WHERE id = ? AND status = 'running' AND attempts = ?",
                    [row.id, attempts],
                )
            requeued.append(row.id)
        # A case whose submission committed but whose process died before the listener queued
        # it has no run at all: it is queued now (still-unreviewed cases only).
        for case_id in [
            r[0]
            for r in self._db.fetchall(
                "SELECT c.id FROM cases c WHERE c.status = 'submitted'"
                " AND EXISTS (SELECT 1 FROM photos p WHERE p.case_id = c.id)"
                " AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.case_id = c.id AND a.checkin_id IS NULL)"
                " ORDER BY c.created_at, c.id"
            )
        ]:
            requeued.append(self._insert_queued(case_id, None))
        # Likewise a sent check-in without a run (the process died before queueing it, or it was
        # sent before check-ins were measured).
        for case_id, checkin_id in self._db.fetchall(
            f"SELECT k.case_id, k.id FROM care_checkins k WHERE k.{_SENT_CHECKIN.replace(' AND ', ' AND k.')}"
            " AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.checkin_id = k.id)"
            " ORDER BY k.submitted_at, k.id"
        ):
            requeued.append(self._insert_queued(str(case_id), None, str(checkin_id)))
        if requeued or self._shared:  # a shared queue's worker also polls for other servers' work
            self._ensure_worker()
            for assessment_id in requeued:
                self._queue.put(assessment_id)
        if requeued or failed:
            log.info("assessment queue resumed: %d queued again, %d given up", len(requeued), len(failed))
            self._clinic.audit.record(
                None, "assessment.queue_resumed", "assessment", None,
                {"requeued": len(requeued), "failed": len(failed)},
            )  # fmt: skip
        return ResumeReport(requeued, failed)

    def _ensure_worker(self) -> None:
        with self._worker_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="assessment-worker", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        # Lower this thread's CPU priority (Linux: per-thread nice) so pages and uploads stay snappy.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while True:
            try:
                assessment_id = self._queue.get(timeout=self.poll_seconds if self._shared else None)
            except queue.Empty:
                if self._clinic.closed:
                    return
                try:
                    self._take_shared_work()
                except Exception:  # noqa: BLE001 - the worker must survive a failed poll
                    log.exception("cannot look for queued assessments")
                continue
            try:
                if assessment_id is None or self._clinic.closed:
                    return
                self._execute(assessment_id)
            except Exception:  # noqa: BLE001 - the worker must survive one bad case
                log.exception("assessment %s failed outside the engine", assessment_id)
            finally:
                self._queue.task_done()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Let the running assessment finish and stop the worker (called by Clinic.close before
        the database closes, so no worker writes into a closed database)."""
        worker = self._worker
        if worker is not None and worker.is_alive():
            self._queue.put(None)
            worker.join(timeout)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until the queue is empty (tests, CLI); True when it drained in time."""
        done = threading.Event()

        def joiner() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=joiner, daemon=True).start()
        return done.wait(timeout)

    # -- running -------------------------------------------------------------------------------
    def run_for_case(
        self, principal: Principal, case_id: str, background: bool = False, checkin_id: str | None = None
    ) -> AssessmentRecord:
        """Assess one visit of the case again (physicians): the baseline submission, or the
        check-in `checkin_id`; no other visit changes. Background: returns the queued record."""
        require_role(principal, PHYSICIAN)
        check_case_access(self._db.cursor(), principal, case_id, self._clinic.audit)
        return self._run(principal, case_id, background, checkin_id)

    def _run(
        self, principal: Principal, case_id: str, background: bool, checkin_id: str | None = None
    ) -> AssessmentRecord:
        self._case_row(case_id)
        if checkin_id is not None and not any(v.checkin_id == checkin_id for v in self._visits(case_id)):
            raise NotFound("no sent check-in with these photos in this case")
        if background:
            assessment_id = self._enqueue(case_id, principal.user_id, checkin_id)
        else:
            assessment_id = self._insert_queued(case_id, principal.user_id, checkin_id)
        self._clinic.audit.record(
            principal,
            "assessment.run",
            "case",
            case_id,
            {"assessment_id": assessment_id, "background": background, "checkin_id": checkin_id},
        )
        if not background:
            self._execute(assessment_id)
        return self._record(assessment_id)

    def cases_to_reassess(self, principal: Principal, everything: bool = False) -> list[str]:
        """Cases with a visit whose newest finished run used another engine version, or that never
        finished one (admins; after an engine update, so every progress chart compares numbers of
        one method)."""
        require_role(principal, ADMIN)
        from core.assessment.engine import ENGINE_VERSION

        newest = (
            "(SELECT a.engine_version FROM assessments a WHERE a.case_id = {case} AND a.checkin_id {visit}"
            " AND a.status = 'done' ORDER BY a.created_at DESC, a.id DESC LIMIT 1) AS engine_version"
        )
        visits = fetch_all_as(
            self._db.cursor(),
            _VisitEngine,
            "SELECT c.id AS case_id, NULL AS checkin_id, "
            + newest.format(case="c.id", visit="IS NULL")
            + " FROM cases c WHERE EXISTS (SELECT 1 FROM photos p WHERE p.case_id = c.id"
            + f" AND p.source IN ({', '.join(repr(s) for s in BASELINE_SOURCES)})) UNION ALL"
            " SELECT k.case_id, k.id, "
            + newest.format(case="k.case_id", visit="= k.id")
            + f" FROM care_checkins k WHERE k.{_SENT_CHECKIN.replace(' AND ', ' AND k.')}",
        )
        order = {
            r[0]: n for n, r in enumerate(self._db.fetchall("SELECT id FROM cases ORDER BY created_at, id"))
        }
        due = {v.case_id for v in visits if everything or v.engine_version != ENGINE_VERSION}
        return sorted(due, key=lambda case_id: order.get(case_id, len(order)))

    def reassess(self, principal: Principal, case_id: str) -> list[AssessmentRecord]:
        """Run the current engine on every visit of a stored case now, one run each (admins; the
        operator's `reassess` command)."""
        require_role(principal, ADMIN)
        visits = self._visits(case_id) or [Visit(case_id, None, None, self._clinic.clock())]
        return [self._run(principal, case_id, False, visit.checkin_id) for visit in visits]

    def _insert_queued(self, case_id: str, requested_by: str | None, checkin_id: str | None = None) -> str:
        row = self._case_row(case_id)
        assessment_id = str(uuid.uuid4())
        self._db.execute(
            "INSERT INTO assessments (id, case_id, patient_id, checkin_id, status, requested_by, created_at)"
            " VALUES (?, ?, ?, ?, 'queued', ?, ?)",
            [assessment_id, case_id, row[0], checkin_id, requested_by, to_db_time(self._clinic.clock())],
        )
        return assessment_id

    def _take_shared_work(self) -> None:
        """Fail runs whose lease expired too often, then run every claimable row (queued, or
        running under an expired lease) until none is left."""
        self._fail_expired()
        while not self._clinic.closed:
            claimed = self._claim(None)
            if claimed is None:
                return
            self._run_claimed(claimed)

    def _fail_expired(self) -> None:
        """Running rows whose lease expired after their last allowed attempt: failed."""
        for row in fetch_all_as(
            self._db.cursor(),
            _Pending,
            "SELECT id, status, attempts FROM assessments WHERE status = 'running' AND lease_expires_at < ?"
            " AND attempts >= ? ORDER BY created_at, id",
            [to_db_time(self._clinic.clock()), MAX_ATTEMPTS],
        ):
            attempts = row.attempts or 0
            with contextlib.suppress(TransactionConflict):  # another server failed it meanwhile
                self._fail(row.id, attempts, INTERRUPTED_ERROR.format(attempts=attempts), "interrupted")

    def _execute(self, assessment_id: str) -> None:
        claimed = self._claim(assessment_id)
        if claimed is None:
            return  # done, failed, erased or already claimed: nothing to run
        self._run_claimed(claimed)

    def _run_claimed(self, claimed: _Job) -> None:
        assessment_id = claimed.assessment_id
        case_id, patient_id, attempt = claimed.case_id, claimed.patient_id, claimed.attempts
        written: list[tuple[str, str | None, str]] = []  # overlay blobs: (blob_id, photo_id, kind)
        try:
            release = self._hold_lease(claimed)
            try:
                report, metrics_rows = self._assess(
                    assessment_id, case_id, patient_id, written, claimed.checkin_id
                )
            finally:
                # Stopped before the result is written: a renewal never races the finishing
                # transaction's update of the same row.
                release()
            self._finish(
                assessment_id, case_id, patient_id, attempt, report, metrics_rows, written, claimed.checkin_id
            )
        except _Superseded:
            self._delete_blobs(written)
            log.info(
                "assessment %s was erased or claimed again while it ran; its result is dropped", assessment_id
            )
        except Exception as error:  # noqa: BLE001 - recorded on the row, shown to the physician
            self._delete_blobs(written)
            log.exception("assessment %s of case %s failed", assessment_id, case_id)
            self._fail(assessment_id, attempt, f"{type(error).__name__}: {error}"[:2000], "error")
        except BaseException:
            self._delete_blobs(written)
            raise

    def _claim(self, assessment_id: str | None) -> _Job | None:
        """queued (or running under an expired lease) -> running under this worker's lease, one
        more attempt: the row `assessment_id`, or the oldest claimable one when None. None when
        there is nothing (any more) to claim.

        One statement: on PostgreSQL the row is picked `FOR UPDATE SKIP LOCKED`, so workers of
        several servers never take the same row and never wait on each other.
        """
        now = self._clinic.clock()
        claimable = "(status = 'queued' OR (status = 'running' AND lease_expires_at < ? AND attempts < ?))"
        params: list[Any] = [
            to_db_time(now),
            self.worker_id,
            to_db_time(now + timedelta(seconds=self.lease_seconds)),
            to_db_time(now),
            MAX_ATTEMPTS,
        ]
        only = ""
        if assessment_id is not None:
            only = " AND id = ?"
            params.append(assessment_id)
        lock = " FOR UPDATE SKIP LOCKED" if self._shared else ""
        with contextlib.suppress(TransactionConflict):  # another worker claimed it at this moment
            row = self._db.fetchone(
                "UPDATE assessments SET status = 'running', started_at = ?, attempts = COALESCE(attempts, 0) + 1,"
                " lease_owner = ?, lease_expires_at = ?"
                f" WHERE id = (SELECT id FROM assessments WHERE {claimable}{only}"
                f" ORDER BY created_at, id LIMIT 1{lock})"
                " RETURNING id, case_id, patient_id, attempts, checkin_id",
                params,
            )
            return None if row is None else _Job(row[0], row[1], row[2], int(row[3]), row[4])
        return None

    def _hold_lease(self, job: _Job) -> Callable[[], None]:
        """Renew the job's lease every third of `lease_seconds` until the returned function is
        called (the heartbeat of a running run)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease_seconds / 3):
                try:
                    if not self._renew_lease(job):
                        return  # claimed again by another worker, or finished: nothing to hold
                except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                    log.exception("cannot renew the lease of assessment %s", job.assessment_id)

        thread = threading.Thread(target=beat, name="assessment-lease", daemon=True)
        thread.start()

        def release() -> None:
            stop.set()
            thread.join()

        return release

    def _renew_lease(self, job: _Job) -> bool:
        """Extend this worker's lease on its running row; False when it holds it no more."""
        row = self._db.fetchone(
            "UPDATE assessments SET lease_expires_at = ? WHERE id = ? AND attempts = ? AND lease_owner = ?"
            " AND status = 'running' RETURNING id",
            [
                to_db_time(self._clinic.clock() + timedelta(seconds=self.lease_seconds)),
                job.assessment_id,
                job.attempts,
                self.worker_id,
            ],
        )
        return row is not None

    def _fail(self, assessment_id: str, attempt: int, error: str, reason: str) -> None:
        with self._db.transaction() as tx:
            row = tx.execute(
                "UPDATE assessments SET status = 'failed', error = ?, finished_at = ?"
                " WHERE id = ? AND attempts = ? AND status IN ('queued', 'running') RETURNING case_id",
                [error, to_db_time(self._clinic.clock()), assessment_id, attempt],
            ).fetchone()
            if row is not None:
                self._clinic.audit.record(
                    None, "assessment.failed", "case", row[0],
                    {"assessment_id": assessment_id, "reason": reason, "attempts": attempt}, tx=tx,
                )  # fmt: skip

    def _finish(
        self,
        assessment_id: str,
        case_id: str,
        patient_id: str,
        attempt: int,
        report: dict,
        metrics_rows: list[list[Any]],
        overlays: list[tuple[str, str | None, str]],
        checkin_id: str | None = None,
    ) -> None:
        """The report, its overlays' owner rows, the metrics and the audit row: one transaction."""
        engine = report["engine"]
        now = to_db_time(self._clinic.clock())
        with self._db.transaction() as tx:
            held = tx.execute(
                "UPDATE assessments SET status = 'done', engine_version = ?, engine_sha256 = ?, report_json = ?,"
                " finished_at = ? WHERE id = ? AND attempts = ? AND status = 'running' RETURNING id",
                [engine["version"], engine["sha256"], json.dumps(report), now, assessment_id, attempt],
            ).fetchone()
            if held is None:
                raise _Superseded(assessment_id)
            if overlays:
                tx.executemany(
                    "INSERT INTO assessment_blobs (blob_id, assessment_id, case_id, patient_id, photo_id, kind,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [[b, assessment_id, case_id, patient_id, p, k, now] for b, p, k in overlays],
                )
            # The progress charts read one set of numbers per visit: the newest run's. Rows of an
            # older run of the same visit are dropped (its report stays in `assessments`); a run
            # that finishes after a newer one has landed keeps only its report. Other visits'
            # rows are never touched.
            same_visit = "case_id = ? AND checkin_id IS NOT DISTINCT FROM ?"
            newer = scalar(
                tx,
                f"SELECT COUNT(*) FROM assessments WHERE {same_visit} AND status = 'done' AND id <> ?"
                " AND created_at > (SELECT created_at FROM assessments WHERE id = ?)",
                [case_id, checkin_id, assessment_id, assessment_id],
            )
            if newer:
                metrics_rows = []
            else:
                tx.execute(
                    "DELETE FROM assessment_metrics WHERE case_id = ? AND assessment_id <> ?"
                    f" AND assessment_id IN (SELECT id FROM assessments WHERE {same_visit})",
                    [case_id, assessment_id, case_id, checkin_id],
                )
            if metrics_rows:
                tx.executemany(
                    'INSERT INTO assessment_metrics (id, assessment_id, patient_id, case_id, photo_id, "view", region,'
                    " metric, value, unit, score, band, engine_version, measured_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    metrics_rows,
                )
            self._clinic.audit.record(
                None, "assessment.done", "case", case_id,
                {
                    "assessment_id": assessment_id,
                    "checkin_id": checkin_id,
                    "metrics": len(metrics_rows),
                    "flags": len(report["flags"]),
                },
                tx=tx,
            )  # fmt: skip

    def _delete_blobs(self, written: list[tuple[str, str | None, str]]) -> None:
        for blob_id, _, _ in written:
            try:
                self._clinic.blobs.delete(blob_id)
            except OSError:  # the orphan sweep removes it later
                log.exception("cannot delete overlay blob %s of an assessment that did not commit", blob_id)

    def _own_legacy_overlays(self) -> None:
        """Overlays of runs stored before `assessment_blobs` existed get their owner rows (once)."""
        try:
            rows = fetch_all_as(
                self._db.cursor(),
                _OwnedReport,
                "SELECT id, case_id, patient_id, report_json, created_at FROM assessments a"
                " WHERE status = 'done' AND report_json LIKE '%overlay_blobs%'"
                " AND NOT EXISTS (SELECT 1 FROM assessment_blobs b WHERE b.assessment_id = a.id)",
            )
            if not rows:
                return
            with self._db.transaction() as tx:
                for row in rows:
                    owned = [
                        [
                            blob_id,
                            row.id,
                            row.case_id,
                            row.patient_id,
                            photo.get("photo_id"),
                            kind,
                            row.created_at,
                        ]
                        for photo in json.loads(row.report_json).get("photos", [])
                        for kind, blob_id in (photo.get("overlay_blobs") or {}).items()
                    ]
                    if owned:
                        tx.executemany(
                            "INSERT INTO assessment_blobs (blob_id, assessment_id, case_id, patient_id, photo_id,"
                            " kind, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            owned,
                        )
            log.info("overlay blobs of %d earlier assessment(s) now have their owner rows", len(rows))
        except Exception:  # noqa: BLE001 - the clinic still opens; erasure then misses only these
            log.exception("cannot record the owners of earlier assessments' overlays")

    def _visit_photos(self, case_id: str, checkin_id: str | None) -> list[_StoredPhoto]:
        """The photos of one visit: the baseline's (the patient's own submission, no check-in's,
        no snapshot or simulation), or those a check-in stored."""
        select = 'SELECT id, "view", blob_id, quality_verdict, quality_json, created_at FROM photos'
        cursor = self._db.cursor()
        if checkin_id is None:
            marks = ", ".join("?" for _ in BASELINE_SOURCES)
            return fetch_all_as(
                cursor,
                _StoredPhoto,
                f"{select} WHERE case_id = ? AND source IN ({marks}) ORDER BY created_at, id",
                [case_id, *BASELINE_SOURCES],
            )
        row = self._db.fetchone(
            f"SELECT photo_ids_json FROM care_checkins WHERE id = ? AND case_id = ? AND {_SENT_CHECKIN}",
            [checkin_id, case_id],
        )
        ids = [str(i) for i in json.loads(row[0]).values()] if row and row[0] else []
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        return fetch_all_as(
            cursor,
            _StoredPhoto,
            f"{select} WHERE case_id = ? AND id IN ({marks}) ORDER BY created_at, id",
            [case_id, *ids],
        )

    def _assess(
        self,
        assessment_id: str,
        case_id: str,
        patient_id: str,
        written: list[tuple[str, str | None, str]],
        checkin_id: str | None = None,
    ) -> tuple[dict, list[list[Any]]]:
        """Run the engine on one visit's photos; overlays go to the blob store, each appended to
        `written` at once (so the caller deletes them if the run does not commit)."""
        from core.assessment.engine import PhotoInput, assess_case
        from core.assessment.overlays import OVERLAYS
        from core.consult.photos import decode_to_bgr

        photos = self._visit_photos(case_id, checkin_id)
        if not photos:
            raise ValueError("this visit has no photos to measure")
        from core.vocabulary import VIEWS

        photos.sort(
            key=lambda p: (VIEWS.index(p.view) if p.view in VIEWS else len(VIEWS), p.created_at, p.id)
        )
        inputs = []
        for photo in photos:
            image = decode_to_bgr(self._clinic.blobs.get(photo.blob_id))
            quality = _quality(image, photo.view, photo.quality_verdict, photo.quality_json)
            inputs.append(PhotoInput(image, photo.view, photo.id, None, quality))
        case = assess_case(inputs, self.options)
        report = case.to_report(with_images=True)
        # Overlays as encrypted blobs, referenced from the report.
        for photo_report, photo in zip(report["photos"], case.photos, strict=True):
            if photo.status != "assessed":
                continue
            overlays = {}
            images = [(kind, render(photo)) for kind, render in OVERLAYS.items()]
            for kind, image in [*images, ("canonical", photo.canonical_bgr)]:
                overlays[kind] = self._clinic.blobs.put(_jpeg(image))
                written.append((overlays[kind], photo_report.get("photo_id"), kind))
            photo_report["overlay_blobs"] = overlays
        measured_at = to_db_time(max(p.created_at for p in photos))
        version = report["engine"]["version"]
        photo_by_view = {p.view: p.id for p in photos}
        rows = []
        for metric in case.metrics:
            single = metric.views[0] if len(metric.views) == 1 else None
            rows.append(
                [
                    str(uuid.uuid4()), assessment_id, patient_id, case_id,
                    photo_by_view.get(single) if single else None,
                    single or ",".join(metric.views), metric.region, metric.metric,
                    _finite(metric.value), metric.unit, _finite(metric.score), metric.band, version, measured_at,
                ]
            )  # fmt: skip
        return report, rows

    # -- reading -------------------------------------------------------------------------------
    def visits_for_case(self, principal: Principal, case_id: str) -> list[Visit]:
        """The case's visits, oldest first: the baseline submission, then each sent check-in."""
        require_role(principal, PHYSICIAN)
        check_case_access(self._db.cursor(), principal, case_id, self._clinic.audit)
        return self._visits(case_id)

    def _visits(self, case_id: str) -> list[Visit]:
        visits: list[Visit] = []
        marks = ", ".join("?" for _ in BASELINE_SOURCES)
        row = self._db.fetchone(
            f"SELECT MAX(created_at) FROM photos WHERE case_id = ? AND source IN ({marks})",
            [case_id, *BASELINE_SOURCES],
        )
        if row is not None and row[0] is not None:
            visits.append(Visit(case_id, None, None, row[0]))
        sent = fetch_all_as(
            self._db.cursor(),
            _SentCheckIn,
            f"SELECT id, label, photo_ids_json, submitted_at FROM care_checkins WHERE case_id = ? AND {_SENT_CHECKIN}"
            " ORDER BY submitted_at, id",
            [case_id],
        )
        for checkin in sent:
            if json.loads(checkin.photo_ids_json or "{}"):
                visits.append(
                    Visit(case_id, checkin.id, checkin.label, checkin.submitted_at or self._clinic.clock())
                )
        return visits

    def latest_for_case(
        self, principal: Principal, case_id: str, checkin_id: str | None = None
    ) -> AssessmentRecord | None:
        """The newest run (any status) of one visit of the case, for physicians: the baseline
        submission by default, or the check-in `checkin_id`."""
        require_role(principal, PHYSICIAN)
        check_case_access(self._db.cursor(), principal, case_id, self._clinic.audit)
        row = fetch_one_as(
            self._db.cursor(),
            _AssessmentRow,
            f"SELECT {_RECORD_COLUMNS} FROM assessments WHERE case_id = ? AND checkin_id IS NOT DISTINCT FROM ?"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            [case_id, checkin_id],
        )
        self._clinic.audit.record(
            principal,
            "assessment.read",
            "case",
            case_id,
            {"found": row is not None, "checkin_id": checkin_id},
        )
        return None if row is None else row.record()

    def status_for_case(
        self, principal: Principal, case_id: str, checkin_id: str | None = None
    ) -> str | None:
        """Only the status word of the visit's newest run (None: no run yet), for the card's 2 s
        poll. It returns no patient data, so it is audited once per physician and case per
        process (`AuditLog.record_once`), not once per poll; the full record is read (and
        audited) by `latest_for_case` when the run has finished."""
        require_role(principal, PHYSICIAN)
        check_case_access(self._db.cursor(), principal, case_id, self._clinic.audit)
        row = self._db.fetchone(
            "SELECT status FROM assessments WHERE case_id = ? AND checkin_id IS NOT DISTINCT FROM ?"
            " ORDER BY created_at DESC, id DESC LIMIT 1",
            [case_id, checkin_id],
        )
        self._clinic.audit.record_once(principal, "assessment.status_polled", "case", case_id)
        return None if row is None else str(row[0])

    def get(self, principal: Principal, assessment_id: str) -> AssessmentRecord:
        require_role(principal, PHYSICIAN)
        record = self._record(assessment_id)
        self._clinic.audit.record(principal, "assessment.read", "assessment", assessment_id, {})
        return record

    def overlay_bytes(self, principal: Principal, assessment_id: str, blob_id: str) -> bytes:
        """A stored overlay image (JPEG) of this assessment."""
        require_role(principal, PHYSICIAN)
        record = self._record(assessment_id)
        allowed = {
            b
            for p in (record.report or {}).get("photos", [])
            for b in (p.get("overlay_blobs") or {}).values()
        }
        if blob_id not in allowed:
            raise NotFound("no such overlay in this assessment")
        self._clinic.audit.record(principal, "assessment.overlay_read", "assessment", assessment_id, {})
        return self._clinic.blobs.get(blob_id)

    def metrics_for_patient(
        self, principal: Principal, patient_id: str, metric: str | None = None, region: str | None = None
    ) -> list[MetricRow]:
        """A patient's measurements over time (physicians; a patient only their own, and of those
        only the measures the physician released)."""
        require_role(principal, PHYSICIAN, PATIENT, ADMIN)
        if principal.role == ADMIN:
            raise AccessDenied("clinical measurements are for physicians and the patient")
        if principal.role == PATIENT and principal.patient_id != patient_id:
            raise AccessDenied("you may only see your own measurements")
        sql = f"SELECT {_METRIC_COLUMNS} FROM assessment_metrics WHERE patient_id = ?"
        params: list[Any] = [patient_id]
        if metric:
            sql += " AND metric = ?"
            params.append(metric)
        if region:
            sql += " AND region = ?"
            params.append(region)
        cursor = self._db.cursor()
        rows = fetch_all_as(cursor, MetricRow, sql + " ORDER BY measured_at, metric, region", params)
        # A patient reads only the measures the physician released (core.care.release).
        from core.care.release import filter_for_principal

        rows = filter_for_principal(
            cursor, principal, patient_id, rows, lambda r: (r.case_id, r.metric, r.region)
        )
        self._clinic.audit.record(
            principal,
            "assessment.metrics_read",
            "patient",
            patient_id,
            {"metric": metric, "region": region, "rows": len(rows)},
        )
        return rows

    # -- helpers -------------------------------------------------------------------------------
    def _case_row(self, case_id: str) -> tuple:
        """The case's patient_id, without an access check: for the worker and the operator's
        `reassess`; reads for a person go through `check_case_access` first."""
        row = self._db.fetchone("SELECT patient_id FROM cases WHERE id = ?", [case_id])
        if row is None:
            raise NotFound(f"case {case_id} does not exist")
        return row

    def _record(self, assessment_id: str) -> AssessmentRecord:
        row = fetch_one_as(
            self._db.cursor(),
            _AssessmentRow,
            f"SELECT {_RECORD_COLUMNS} FROM assessments WHERE id = ?",
            [assessment_id],
        )
        if row is None:
            raise NotFound(f"assessment {assessment_id} does not exist")
        return row.record()


def _owner_died_here(owner: str | None) -> bool:
    """Whether a lease's worker (`host:pid:tag`) was a process of this host that has ended: a
    restarted server takes back its own runs at once, not only when their lease expires."""
    host, _, rest = (owner or "").rpartition(":")[0].rpartition(":")
    if host != socket.gethostname() or not rest.isdigit() or int(rest) == os.getpid():
        return False  # another host's, or this process's (another service of it may hold it)
    try:
        os.kill(int(rest), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another account's
        return False
    return False


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _jpeg(image_bgr) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes()


def _quality(
    image_bgr: np.ndarray, view: str, verdict: str | None, quality_json: str | None
) -> QualityResult | None:
    """The photo's stored quality result; the gate runs now for a photo stored without one."""
    from core.vision.quality import QualityResult, check_photo

    if quality_json:
        try:
            return QualityResult.from_json(quality_json)
        except ValueError:
            log.warning("a %s photo's stored quality result is unreadable; using its verdict", view)
    if verdict in ("pass", "warn", "fail"):
        return QualityResult(verdict, view, checks=[], pose=None, faces=[], face_box=None)
    try:
        return check_photo(image_bgr, view)
    except Exception:  # noqa: BLE001 - no quality result is better than no assessment
        log.exception("quality check failed while assessing")
        return None
