"""Intake drafts: a half-filled consultation kept, encrypted, on the server as the patient goes.

Phones reload a tab whenever the patient switches to the camera; a reload, Back/Forward, a visit
to the photo guide or coming back the next day must not empty the form. So the intake page saves
what is filled in on every change (`save_answers`) and every accepted photo with its quality
result (`save_photo`), and restores the draft when it opens without a form in memory (`load`).

- One draft per patient and kind (`DraftKind`); its id is "<patient id>/<kind>", the table's
  primary key, so two tabs can never make two drafts. A follow-up check-in's draft (kind
  "checkin", its photos so far) names the check-in as its subject: "<patient id>/checkin/<id>".
- The answers are sealed with AES-256-GCM (`core.crypto`, a key derived from the master key,
  the draft id as associated data) before they reach the database, which is itself encrypted;
  photo bytes live in the encrypted blob store, owned by `intake_draft_photos` rows (patient_id
  + blob_id), so erasure, the data export and the orphan sweep find them like any photo.
- `submit_case` stores the consultation and deletes the draft in the same transaction: either
  the case exists and the draft is gone, or neither changed. The draft's blobs go after the commit.
- A draft not changed for `retention` (setting `CLINIC_DRAFT_RETENTION_DAYS`, default 30) has
  expired: `load` no longer returns it and `expire_drafts` (run by the orphan sweep) deletes it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from core import crypto
from core.access import PATIENT, AccessDenied, Principal, require_role
from core.consult.cases import CaseService, IntakeForm
from core.consult.photos import CheckedPhoto
from core.db import Database, to_db_time, utcnow
from core.rows import fetch_all_as, fetch_one_as
from core.vocabulary import DRAFT_NEW_CONSULTATION, DraftKind, View, normalise_view

if TYPE_CHECKING:
    from core.audit import AuditLog
    from core.blobstore import BlobStore

KEY_INFO = "intake-drafts"  # HKDF label of the sealing key (core.crypto.derive_key)
DEFAULT_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class IntakeDraft:
    """A patient's kept intake: the answers so far (not validated) and the accepted photos."""

    kind: DraftKind
    answers: IntakeForm
    photos: Mapping[View, CheckedPhoto]
    created_at: datetime
    updated_at: datetime

    @property
    def empty(self) -> bool:
        return not self.photos and self.answers.to_json() == empty_answers().to_json()


def empty_answers() -> IntakeForm:
    """The answers of a form nobody has touched (what a draft holds before its first answer)."""
    return IntakeForm(concerns=[], areas=[], duration="")


@dataclass(frozen=True)
class _DraftRow:
    draft_id: str
    answers_sealed: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class _PhotoRow:
    view: str
    blob_id: str
    width: int
    height: int
    mime: str
    source: str
    quality_json: str


class _Tx(Protocol):
    """The cursor of an open `Database.transaction()` (what the helpers below use of it)."""

    def execute(self, query: str, parameters: Any = ..., /) -> Any: ...


def draft_id(patient_id: str, kind: DraftKind, subject: str = "") -> str:
    """The draft's id; `subject` names what a kind has several of (a check-in's id)."""
    if "/" in subject:
        raise ValueError("a draft's subject is an id without '/'")
    return f"{patient_id}/{kind}/{subject}" if subject else f"{patient_id}/{kind}"


class DraftService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        audit: AuditLog,
        cases: CaseService,
        key: bytes,
        clock: Callable[[], datetime] = utcnow,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._audit = audit
        self._cases = cases
        self._key = key
        self._clock = clock
        self.retention = retention

    # -- writing -------------------------------------------------------------------------------
    def save_answers(
        self,
        principal: Principal,
        answers: IntakeForm,
        kind: DraftKind = DRAFT_NEW_CONSULTATION,
        subject: str = "",
    ) -> None:
        """Keep the answers as they are now (unvalidated: a draft may be half-filled)."""
        patient_id = _patient(principal)
        did = draft_id(patient_id, kind, subject)
        with self._db.transaction() as tx:
            self._upsert(tx, patient_id, kind, did, self._seal(did, answers))
        self._audit.record_once(principal, "intake_draft.save", "intake_draft", did)

    def save_photo(
        self,
        principal: Principal,
        photo: CheckedPhoto,
        kind: DraftKind = DRAFT_NEW_CONSULTATION,
        subject: str = "",
    ) -> None:
        """Keep an accepted photo (replacing the draft's photo of that view) with its quality result."""
        patient_id = _patient(principal)
        if not isinstance(photo, CheckedPhoto):
            raise TypeError("a draft keeps photos from the intake (CheckedPhoto)")
        if not photo.usable:
            raise ValueError("a draft keeps only photos the quality gate accepted")
        did = draft_id(patient_id, kind, subject)
        now = to_db_time(self._clock())
        blob_id = self._blobs.put(photo.image_bytes)  # first the blob, then its owner row
        try:
            with self._db.transaction() as tx:
                if tx.execute("SELECT 1 FROM intake_drafts WHERE id = ?", [did]).fetchone() is None:
                    self._upsert(tx, patient_id, kind, did, self._seal(did, empty_answers()))
                else:
                    tx.execute("UPDATE intake_drafts SET updated_at = ? WHERE id = ?", [now, did])
                replaced = self._delete_photos(tx, did, photo.view)
                tx.execute(
                    'INSERT INTO intake_draft_photos (id, draft_id, patient_id, "view", blob_id, width, height,'
                    " mime, source, quality_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        str(uuid.uuid4()),
                        did,
                        patient_id,
                        photo.view,
                        blob_id,
                        photo.width,
                        photo.height,
                        photo.mime,
                        photo.source,
                        photo.quality.to_json(),
                        now,
                    ],
                )
                self._audit.record(
                    principal, "intake_draft.photo_saved", "intake_draft", did, {"view": photo.view}, tx=tx
                )
        except BaseException:
            self._blobs.delete(blob_id)
            raise
        self._delete_blobs(replaced)

    def remove_photo(
        self, principal: Principal, view: str, kind: DraftKind = DRAFT_NEW_CONSULTATION, subject: str = ""
    ) -> bool:
        """Forget the draft's photo of `view`; False when it had none."""
        did = draft_id(_patient(principal), kind, subject)
        with self._db.transaction() as tx:
            removed = self._delete_photos(tx, did, normalise_view(view))
            if removed:
                tx.execute(
                    "UPDATE intake_drafts SET updated_at = ? WHERE id = ?", [to_db_time(self._clock()), did]
                )
                self._audit.record(
                    principal, "intake_draft.photo_removed", "intake_draft", did, {"view": view}, tx=tx
                )
        self._delete_blobs(removed)
        return bool(removed)

    def discard(
        self, principal: Principal, kind: DraftKind = DRAFT_NEW_CONSULTATION, subject: str = ""
    ) -> bool:
        """Start over: delete the draft and its photos; False when there was none."""
        did = draft_id(_patient(principal), kind, subject)
        with self._db.transaction() as tx:
            blob_ids = self._delete_draft(tx, did)
            if blob_ids is not None:
                self._audit.record(principal, "intake_draft.discarded", "intake_draft", did, tx=tx)
        self._delete_blobs(blob_ids or [])
        return blob_ids is not None

    # -- reading -------------------------------------------------------------------------------
    def load(
        self, principal: Principal, kind: DraftKind = DRAFT_NEW_CONSULTATION, subject: str = ""
    ) -> IntakeDraft | None:
        """The patient's draft of this kind (and subject), photos decrypted; None when none (or it
        expired: then it is deleted now)."""
        patient_id = _patient(principal)
        did = draft_id(patient_id, kind, subject)
        cursor = self._db.cursor()
        row = fetch_one_as(
            cursor,
            _DraftRow,
            "SELECT id AS draft_id, answers_sealed, created_at, updated_at FROM intake_drafts WHERE id = ?",
            [did],
        )
        if row is None:
            return None
        if row.updated_at < self._clock() - self.retention:
            expire_drafts(self._db, self._blobs, self._audit, self._clock(), self.retention, draft_ids=[did])
            return None
        from core.vision.quality import QualityResult

        photos: dict[View, CheckedPhoto] = {}
        for photo in fetch_all_as(
            cursor,
            _PhotoRow,
            'SELECT "view", blob_id, width, height, mime, source, quality_json FROM intake_draft_photos'
            " WHERE draft_id = ? ORDER BY created_at",
            [did],
        ):
            view = normalise_view(photo.view)
            photos[view] = CheckedPhoto(
                view=view,
                source=photo.source,  # type: ignore[arg-type] - stored from a CheckedPhoto's source
                image_bytes=self._blobs.get(photo.blob_id),
                mime=photo.mime,
                width=int(photo.width),
                height=int(photo.height),
                quality=QualityResult.from_json(photo.quality_json),
            )
        self._audit.record(principal, "intake_draft.restored", "intake_draft", did, {"photos": len(photos)})
        return IntakeDraft(kind, self._open(did, row.answers_sealed), photos, row.created_at, row.updated_at)

    # -- submission ----------------------------------------------------------------------------
    def submit_case(
        self,
        principal: Principal,
        intake: IntakeForm,
        photos: Sequence[CheckedPhoto],
        kind: DraftKind = DRAFT_NEW_CONSULTATION,
    ) -> str:
        """`CaseService.submit_case`, deleting the draft in the submission's own transaction."""
        patient_id = _patient(principal)
        return self._cases.submit_case(
            principal, intake, photos, in_transaction=lambda tx: self.consume(tx, draft_id(patient_id, kind))
        )

    def consume(self, tx: _Tx, did: str) -> None:
        """Inside an open transaction: delete the draft's rows; its blobs go once that commits."""
        blob_ids = self._delete_draft(tx, did)
        state = self._db.open_transaction()
        if blob_ids and state is not None:

            def after(committed: bool) -> None:
                if committed:
                    self._delete_blobs(blob_ids)

            state.on_end.append(after)

    # -- internals -----------------------------------------------------------------------------
    def _upsert(self, tx: _Tx, patient_id: str, kind: DraftKind, did: str, sealed: str) -> None:
        now = to_db_time(self._clock())
        tx.execute(
            "INSERT INTO intake_drafts (id, patient_id, kind, answers_sealed, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
            " answers_sealed = excluded.answers_sealed, updated_at = excluded.updated_at",
            [did, patient_id, kind, sealed, now, now],
        )

    @staticmethod
    def _delete_photos(tx: _Tx, did: str, view: str) -> list[str]:
        rows = tx.execute(
            'SELECT blob_id FROM intake_draft_photos WHERE draft_id = ? AND "view" = ?', [did, view]
        ).fetchall()
        if rows:
            tx.execute('DELETE FROM intake_draft_photos WHERE draft_id = ? AND "view" = ?', [did, view])
        return [r[0] for r in rows]

    @staticmethod
    def _delete_draft(tx: _Tx, did: str) -> list[str] | None:
        """Delete the draft's rows; its photos' blob ids (None: there was no draft)."""
        if tx.execute("SELECT 1 FROM intake_drafts WHERE id = ?", [did]).fetchone() is None:
            return None
        blob_ids = [
            r[0]
            for r in tx.execute(
                "SELECT blob_id FROM intake_draft_photos WHERE draft_id = ?", [did]
            ).fetchall()
        ]
        tx.execute("DELETE FROM intake_draft_photos WHERE draft_id = ?", [did])
        tx.execute("DELETE FROM intake_drafts WHERE id = ?", [did])
        return blob_ids

    def _delete_blobs(self, blob_ids: Sequence[str]) -> None:
        for blob_id in blob_ids:
            self._blobs.delete(blob_id)

    def _seal(self, did: str, answers: IntakeForm) -> str:
        plain = answers.to_json().encode("utf-8")
        return base64.b64encode(crypto.encrypt(self._key, plain, _aad(did))).decode("ascii")

    def _open(self, did: str, sealed: str) -> IntakeForm:
        data = json.loads(crypto.decrypt(self._key, base64.b64decode(sealed), _aad(did)).decode("utf-8"))
        known = {f.name for f in fields(IntakeForm)}
        base = json.loads(empty_answers().to_json())
        return IntakeForm(**{**base, **{k: v for k, v in data.items() if k in known}})


def _aad(did: str) -> bytes:
    return f"intake-draft:{did}".encode()


def _patient(principal: Principal) -> str:
    require_role(principal, PATIENT)
    if not principal.patient_id:
        raise AccessDenied("this account has no patient profile")
    return principal.patient_id


def expire_drafts(
    db: Database,
    blobs: BlobStore,
    audit: AuditLog,
    now: datetime,
    retention: timedelta = DEFAULT_RETENTION,
    *,
    draft_ids: Sequence[str] | None = None,
) -> int:
    """Delete drafts not changed for `retention` (all, or those of `draft_ids`) and their photo
    blobs; returns how many. Run by the orphan sweep (`core.recovery`) and by `load`."""
    cutoff = to_db_time(now - retention)
    sql = "SELECT id FROM intake_drafts WHERE updated_at < ?"
    params: list[object] = [cutoff]
    if draft_ids is not None:
        if not draft_ids:
            return 0
        sql += f" AND id IN ({', '.join('?' for _ in draft_ids)})"
        params.extend(draft_ids)
    blob_ids: list[str] = []
    expired: list[str] = []
    with db.transaction() as tx:
        for (did,) in tx.execute(sql, params).fetchall():
            removed = DraftService._delete_draft(tx, did)
            if removed is not None:
                expired.append(did)
                blob_ids.extend(removed)
        if expired:
            audit.record(
                None,
                "intake_draft.expired",
                "intake_draft",
                None,
                {"drafts": len(expired), "retention_days": retention.days},
                tx=tx,
            )
    for blob_id in blob_ids:
        blobs.delete(blob_id)
    return len(expired)
