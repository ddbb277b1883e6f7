"""The Clinic facade: one object that opens the key, database, blob store, audit log and services.

    clinic = Clinic.open()            # settings from the environment
    principal, token = clinic.auth.login(email, password)
    clinic.cases.submit_case(principal, intake, photos)

Other areas add their service as one attribute here (e.g. `clinic.care`). Streamlit keeps one
Clinic per data directory per process (`shared_clinic`), wrapped in st.cache_resource.

Every open re-applies the erasure ledger (`core.erasure`: patients erased before a restore, or
an erasure a crash cut short). The portal's start (`shared_clinic`) also runs
`start_background_work`: it sweeps what a killed process left (orphan blobs and temp files older
than the grace period, `core.recovery`) and resumes the durable pre-assessment queue. Operator
commands do not, so an `audit-verify` never starts assessments (`sweep-orphans` runs the sweep).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from core import crypto, private_files
from core.audit import AuditLog
from core.auth import AuthService
from core.blobstore import BlobStore
from core.config import Settings
from core.consent import ConsentService
from core.consult.cases import CaseService
from core.consult.drafts import KEY_INFO as DRAFT_KEY_INFO
from core.consult.drafts import DraftService
from core.consult.reports import ReportService
from core.db import Database, utcnow
from core.db_engine import open_clinic_database
from core.erasure import ErasureLedger, reapply_erasures

log = logging.getLogger(__name__)


class Clinic:
    def __init__(
        self, settings: Settings, db: Database, blobs: BlobStore, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self.clock = clock
        master_key = crypto.load_or_create_master_key(
            settings.master_key_env, settings.key_file, create=False
        )
        self.audit = AuditLog.for_settings(db, settings, master_key, clock)
        # Beside the key file, outside what a restore brings back (core.erasure).
        self.erasure_ledger = ErasureLedger.for_settings(settings, master_key)
        # Called with the case id after each successful submission; one failing listener
        # never breaks a submission or the other listeners.
        self.case_submitted_listeners: list[Callable[[str], None]] = []
        self.auth = AuthService(db, self.audit, settings, clock)
        self.cases = CaseService(db, blobs, self.audit, clock, on_submitted=self._notify_case_submitted)
        self.reports = ReportService(db, self.cases, self.audit, clock)
        self.consents = ConsentService(db, self.audit)  # what patients accepted (core.consent)
        # Half-filled intakes, sealed, kept as the patient goes (core.consult.drafts).
        self.drafts = DraftService(
            db,
            blobs,
            self.audit,
            self.cases,
            crypto.derive_key(master_key, DRAFT_KEY_INFO),
            clock,
            timedelta(days=settings.draft_retention_days),
        )
        self._closed = False
        self._background_started = False
        self.reapplied_erasures: list[str] = []  # erased patients found again at open (core.erasure)

    @classmethod
    def open(cls, settings: Settings | None = None, clock: Callable[[], datetime] = utcnow) -> Clinic:
        """Create the data dir and master key if needed, open and migrate the database."""
        settings = settings or Settings.from_env()
        private_files.restrict_new_files()  # the database, its WAL, blobs, exports: 0600
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_files.tighten_tree(settings.data_dir)  # a directory made by an older version
        # A new key only for a new clinic (core.db_engine.open_clinic_database); DuckDB or PostgreSQL.
        db, master_key = open_clinic_database(settings)
        try:
            db.migrate()
            blobs = BlobStore(settings.blob_dir, master_key)
            clinic = cls(settings, db, blobs, clock)
        except BaseException:
            db.close()
            raise
        try:
            clinic._attach_extensions()
            clinic.reapplied_erasures = reapply_erasures(clinic)
        except BaseException:
            clinic.close()  # else the file stays attached and every retry fails
            raise
        return clinic

    def start_background_work(self) -> None:
        """The portal's start (once): sweep what a killed process left, resume queued work."""
        if self._background_started:
            return
        self._background_started = True
        from core.recovery import sweep_orphans

        try:
            sweep_orphans(self)
        except Exception:  # noqa: BLE001 - a failed sweep must not keep the portal from starting
            log.exception("the start-up sweep of orphan blobs and temp files failed")
        self.assessments.resume()
        try:  # this server's live rooms died with its previous process
            self.room_hosts.clear_own()
        except Exception:  # noqa: BLE001 - the portal starts anyway; the pages skip stale rows too
            log.exception("cannot clear this server's stale live room rows")

    def _attach_extensions(self) -> None:
        """Other areas' services, attached when their modules exist (added by those areas)."""
        # Hybrid care: workflows (`care`), archive queries and exports, on one shared context.
        from core.care.archive import ArchiveQueries
        from core.care.context import CareContext
        from core.care.exports import CareExports
        from core.care.workflows import Care

        care_context = CareContext(self.db, self.audit, self.settings)
        self.care = Care.build(care_context, self.cases)
        self.archive = ArchiveQueries(care_context)
        self.exports = CareExports(
            care_context, self.blobs, self.reports, self.care.appointments, self.care.treatments
        )
        from core.assessment.service import AssessmentService  # AI pre-assessment (queues new cases)

        self.assessments = AssessmentService(self)
        from core.notifications import Notifier  # e-mail: live consult invitations, appointment reminders

        self.notifications = Notifier(self)
        from core.live.room_hosts import RoomHostService  # several app servers: who holds a live room

        self.room_hosts = RoomHostService.for_settings(self.db, self.cases, self.settings)

    def _notify_case_submitted(self, case_id: str) -> None:
        for listener in list(self.case_submitted_listeners):
            try:
                listener(case_id)
            except Exception:  # noqa: BLE001 - a listener's bug must not undo a patient's submission
                log.exception("case-submitted listener %r failed for case %s", listener, case_id)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            # Background workers (the pre-assessment) stop before the database closes under them.
            for service in list(vars(self).values()):
                if service is not self and callable(getattr(service, "shutdown", None)):
                    service.shutdown()
            self.db.close()
            with _shared_lock:
                for key, clinic in list(_shared.items()):
                    if clinic is self:
                        del _shared[key]

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Clinic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: dict[Path, Clinic] = {}
_shared_lock = threading.Lock()


def shared_clinic(settings: Settings | None = None) -> Clinic:
    """One Clinic per data directory per process (DuckDB allows one writer process per file)."""
    settings = settings or Settings.from_env()
    key = settings.data_dir.resolve()
    with _shared_lock:
        clinic = _shared.get(key)
        if clinic is None or clinic.closed:
            clinic = Clinic.open(settings)
            _shared[key] = clinic
            clinic.start_background_work()
        return clinic
