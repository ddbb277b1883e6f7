"""Consultations: the intake form, atomic submission, the physician queue and the status machine.

Status machine (one table, `TRANSITIONS`, says what may follow what and who may do it):

    submitted -> in_review -> report_sent -> closed
                 in_review -> in_person_requested -> closed
                 report_sent -> in_person_requested -> in_review (back for another look)

`report_sent` is reached only through `ReportService.send` (a report must exist).
Every method takes the acting Principal first; a patient only ever reaches their own cases.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from core.access import (
    ADMIN,
    CLINICAL_ROLES,
    PATIENT,
    PHYSICIAN,
    AccessDenied,
    NotFound,
    Principal,
    ValidationError,
    require_role,
    text_problem,
)
from core.audit import AuditLog
from core.blobstore import BlobStore
from core.consent import ConsentAnswer, consent_text, record_consent
from core.consult.case_access import CaseOwner, authorize_case, check_case_access
from core.consult.photos import CheckedPhoto, UploadRejected, decode_to_bgr, verify_clean
from core.consult.report_record import Report, load_report
from core.db import Cursor, Database, from_db_time, to_db_time, utcnow
from core.rows import fetch_all_as, fetch_one_as
from core.vocabulary import (
    CASE_STATUSES,
    CLOSED,
    CONSENT_ANONYMISED_USE,
    CONSENT_PHOTO_STORAGE,
    IN_PERSON_REQUESTED,
    IN_REVIEW,
    OPEN_STATUSES,
    REPORT_SENT,
    REQUIRED_VIEWS,
    SUBMITTED,
    VIEWS,
    ConsentKind,
)

if TYPE_CHECKING:
    from core.vision.identity import FaceEmbedding, IdentityRefusal
    from core.vision.quality import QualityResult
    from core.vocabulary import View

CONCERNS: tuple[str, ...] = (
    "lines_wrinkles",
    "pigmentation_melasma",
    "acne_scars",
    "redness_rosacea",
    "volume_loss",
    "skin_quality_texture",
    "other",
)
FACE_AREAS: tuple[str, ...] = (
    "forehead",
    "glabella",
    "periorbital",
    "under_eyes",
    "cheeks",
    "nose",
    "nasolabial",
    "lips",
    "perioral",
    "chin",
    "jawline",
    "neck",
    "whole_face",
)  # suggestions for the form; any short snake_case area is accepted
SKIN_TYPES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI", "unsure")

STATUSES = CASE_STATUSES

# (from, to) -> roles allowed. The single source of truth for the workflow.
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    (SUBMITTED, IN_REVIEW): (PHYSICIAN,),
    (IN_REVIEW, REPORT_SENT): (PHYSICIAN,),
    (IN_REVIEW, IN_PERSON_REQUESTED): (PHYSICIAN,),
    (REPORT_SENT, IN_PERSON_REQUESTED): (PHYSICIAN,),
    (REPORT_SENT, CLOSED): (PHYSICIAN, ADMIN),
    (IN_PERSON_REQUESTED, CLOSED): (PHYSICIAN, ADMIN),
    (IN_PERSON_REQUESTED, IN_REVIEW): (PHYSICIAN,),
}
# Reached only by sending a report (ReportService.send), never by a bare transition().
REPORT_ONLY_TARGETS: frozenset[str] = frozenset({REPORT_SENT})

_TEXT_LIMIT = 4000
MAX_PRIOR_TREATMENTS = 20  # rows in the intake's prior-treatment table
PRIOR_TREATMENT_LIMIT = 200  # characters in one row's treatment name
_PRIOR_KEYS = frozenset({"treatment", "date"})


def _string_list(value: object) -> list[str] | None:
    """`value` as a list of strings (None: not a list/tuple of strings)."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        return None
    return list(value)


def _prior_treatments_problem(rows: object) -> str | None:
    """Why the prior-treatment rows cannot be stored (None: they can)."""
    if rows is None:
        return None
    if not isinstance(rows, list | tuple):
        return "Please list your previous treatments in the table."
    if len(rows) > MAX_PRIOR_TREATMENTS:
        return f"Please list at most {MAX_PRIOR_TREATMENTS} previous treatments (the most relevant ones)."
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not set(row) <= _PRIOR_KEYS:
            return f"Treatment {index}: please give a treatment and a date."
        treatment, when = row.get("treatment"), row.get("date")
        if treatment is None or text_problem(treatment, PRIOR_TREATMENT_LIMIT) or not treatment.strip():
            return (
                f"Treatment {index}: please name the treatment (at most {PRIOR_TREATMENT_LIMIT} characters)."
            )
        if when not in (None, "") and not (
            isinstance(when, str) and re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", when)
        ):
            return f"Treatment {index}: please give the date as YYYY-MM(-DD)."
    return None


_AREA = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class IllegalTransition(Exception):
    """The case cannot move from its current status to the requested one (or not by this role)."""


class IdentityMismatch(ValidationError):
    """Photos that seem to show a different person (`errors`: photo_<view> -> a sentence).

    `refusals` says which photos, compared with what, and the scores. A patient cannot send them;
    a physician may add them anyway with a reason (`identity_override`), which is audited."""

    def __init__(self, errors: dict[str, str], refusals: Sequence[IdentityRefusal]) -> None:
        super().__init__(errors)
        self.refusals = list(refusals)


IDENTITY_OVERRIDE_LIMIT = 500  # characters in a physician's reason


def _identity_audit_detail(found: Sequence[IdentityRefusal]) -> dict[str, Any]:
    """What the audit log keeps of an identity refusal: views and scores, nothing biometric."""
    return {
        "views": [r.view for r in found],
        "scores": [round(r.match.score, 3) for r in found],
        "threshold": found[0].match.threshold,
    }


# Not checked for identity: an AR still is made by the portal from the case's own picture.
_IDENTITY_EXEMPT_SOURCES: frozenset[str] = frozenset({"simulation"})


@dataclass
class IntakeForm:
    concerns: list[str]
    areas: list[str]
    duration: str
    goals: str = ""
    concern_other_text: str = ""
    medications: str = ""
    allergies: str = ""
    pregnant_or_breastfeeding: bool = False
    isotretinoin_last_6_months: bool = False
    prior_treatments: list[dict[str, str]] = field(default_factory=list)  # [{"treatment", "date"}]
    skin_type_self_assessment: str = "unsure"  # Fitzpatrick I–VI or "unsure"
    consent_photo_storage: bool = False  # required
    consent_anonymised_use: bool = False  # optional
    consent_language: str = ""  # the language the consent texts were shown in (core.consent)

    def validate(self) -> None:
        """Raise ValidationError (field -> message) for anything a patient must correct.

        Any value of any type gives a field error, never a crash (the API is called with what a
        client sent): lists must be lists of strings, text must be storable text within limits.
        """
        errors: dict[str, str] = {}
        concerns = _string_list(self.concerns)
        if concerns is None:
            errors["concerns"] = "Please choose your concerns from the list."
        elif not concerns:
            errors["concerns"] = "Please choose at least one concern."
        elif unknown := [c for c in concerns if c not in CONCERNS]:
            errors["concerns"] = f"Unknown concern: {', '.join(unknown)[:200]}."
        areas = _string_list(self.areas)
        if areas is None:
            errors["areas"] = "Please choose the face areas from the list."
        elif not areas:
            errors["areas"] = "Please choose at least one face area."
        elif any(not _AREA.match(a) for a in areas):
            errors["areas"] = "Please choose the face areas from the list."
        for name in ("goals", "concern_other_text", "medications", "allergies", "duration"):
            value = getattr(self, name)
            if value is not None and (problem := text_problem(value, _TEXT_LIMIT, multiline=True)):
                errors[name] = problem
        if "duration" not in errors and not (self.duration or "").strip():
            errors["duration"] = "Please say how long you have had this concern."
        if (
            concerns
            and "other" in concerns
            and "concern_other_text" not in errors
            and not (self.concern_other_text or "").strip()
        ):
            errors["concern_other_text"] = "Please describe your other concern."
        if (
            not isinstance(self.skin_type_self_assessment, str)
            or self.skin_type_self_assessment not in SKIN_TYPES
        ):
            errors["skin_type_self_assessment"] = "Please choose a skin type I–VI or 'unsure'."
        if problem := _prior_treatments_problem(self.prior_treatments):
            errors["prior_treatments"] = problem
        if not isinstance(self.pregnant_or_breastfeeding, bool):
            errors["pregnant_or_breastfeeding"] = "Please answer yes or no."
        if not isinstance(self.isotretinoin_last_6_months, bool):
            errors["isotretinoin_last_6_months"] = "Please answer yes or no."
        if not isinstance(self.consent_anonymised_use, bool):
            errors["consent_anonymised_use"] = "Please answer yes or no."
        if self.consent_photo_storage is not True:
            errors["consent_photo_storage"] = "We need your consent to store your photos to review your case."
        if errors:
            raise ValidationError(errors)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> IntakeForm:
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class PatientSummary:
    patient_id: str
    name: str
    date_of_birth: date
    language: str
    timezone: str

    def age_on(self, day: date) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


@dataclass(frozen=True)
class PhotoMeta:
    photo_id: str
    case_id: str
    patient_id: str
    view: str
    width: int
    height: int
    mime: str
    source: str
    quality_verdict: str | None
    quality_json: str | None
    created_at: datetime
    created_by: str

    @property
    def quality(self) -> QualityResult | None:
        """The quality gate's result as stored with the photo, as its type (None: never checked)."""
        from core.vision.quality import QualityResult

        if self.quality_json:
            return QualityResult.from_json(self.quality_json)
        return None


@dataclass(frozen=True)
class PhotoBatch:
    """Photos being added by `CaseService.adding_photos`: the open transaction and the new ids
    (in the order the photos were given)."""

    tx: Cursor
    photo_ids: list[str]


@dataclass(frozen=True)
class StatusChange:
    from_status: str | None
    status: str
    at: datetime
    by: str
    note: str | None


@dataclass(frozen=True)
class CaseSummary:
    case_id: str
    reference: str
    patient_id: str
    patient_name: str
    status: str
    concerns: list[str]
    areas: list[str]
    submitted_at: datetime
    updated_at: datetime
    assigned_physician_id: str | None


@dataclass(frozen=True)
class CaseDetail:
    case_id: str
    reference: str
    status: str
    patient: PatientSummary
    intake: IntakeForm
    photos: list[PhotoMeta]
    history: list[StatusChange]
    report: Report | None
    submitted_at: datetime
    updated_at: datetime
    assigned_physician_id: str | None

    @property
    def patient_name(self) -> str:
        return self.patient.name

    @property
    def patient_id(self) -> str:
        return self.patient.patient_id

    @property
    def concerns(self) -> list[str]:
        return list(self.intake.concerns)


# -- query functions shared by the service and benchmarks/bench_archive_scale.py ----------------
_SUMMARY_COLUMNS = (
    "c.id AS case_id, c.reference, c.patient_id, p.name AS patient_name, c.status,"
    " c.concerns AS concerns_json, c.areas AS areas_json, c.created_at AS submitted_at, c.updated_at,"
    " c.assigned_physician_id"
)


@dataclass(frozen=True)
class _SummaryRow:
    """A queue row as stored (concerns and areas as JSON text)."""

    case_id: str
    reference: str
    patient_id: str
    patient_name: str
    status: str
    concerns_json: str
    areas_json: str
    submitted_at: datetime
    updated_at: datetime
    assigned_physician_id: str | None

    def summary(self) -> CaseSummary:
        return CaseSummary(
            self.case_id,
            self.reference,
            self.patient_id,
            self.patient_name,
            self.status,
            json.loads(self.concerns_json),
            json.loads(self.areas_json),
            self.submitted_at,
            self.updated_at,
            self.assigned_physician_id,
        )


def query_queue(
    cursor: Cursor,
    statuses: Sequence[str],
    concern: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[CaseSummary]:
    """One page of the physician queue, oldest first.

    The page is cut from `cases` first and only its rows are joined to `patients`: joining
    before the LIMIT made the query ~3x slower at 300k cases (benchmarks/bench_archive_scale.py).
    """
    placeholders = ", ".join("?" for _ in statuses)
    where = f"status IN ({placeholders})"
    parameters: list[Any] = list(statuses)
    if concern:
        where += " AND concerns LIKE ?"  # concerns is a JSON list of fixed codes, so LIKE is exact
        parameters.append(f'%"{concern}"%')
    sql = (
        f"SELECT {_SUMMARY_COLUMNS} FROM ("
        f"SELECT * FROM cases WHERE {where} ORDER BY created_at, id LIMIT ? OFFSET ?"
        ") c JOIN patients p ON p.id = c.patient_id ORDER BY c.created_at, c.id"
    )
    parameters += [int(limit), int(offset)]
    return [row.summary() for row in fetch_all_as(cursor, _SummaryRow, sql, parameters)]


def query_patient_cases(cursor: Cursor, patient_id: str | None) -> list[CaseSummary]:
    """All cases of one patient, newest first (none for None: an account without a patient record)."""
    rows = fetch_all_as(
        cursor,
        _SummaryRow,
        f"SELECT {_SUMMARY_COLUMNS} FROM cases c JOIN patients p ON p.id = c.patient_id"
        " WHERE c.patient_id = ? ORDER BY c.created_at DESC, c.id",
        [patient_id],
    )
    return [row.summary() for row in rows]


_PHOTO_COLUMNS = 'id, case_id, patient_id, "view", width, height, mime, source, quality_verdict, quality_json, created_at, created_by'
_PHOTO_META = (
    'SELECT id AS photo_id, case_id, patient_id, "view", width, height, mime, source, quality_verdict,'
    " quality_json, created_at, created_by FROM photos"
)


# Who may add photos of which origin: patients send their own photos; the physician's live
# snapshots and AR stills come only from the physician's pages.
_SOURCES_BY_ROLE: dict[str, tuple[str, ...]] = {
    PATIENT: ("upload", "webcam", "followup"),
    PHYSICIAN: ("upload", "video_snapshot", "simulation"),
}


def new_reference(now: datetime) -> str:
    """A short reference a patient can read out on the phone, e.g. C-261127-7QX4."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return f"C-{now:%y%m%d}-" + "".join(secrets.choice(alphabet) for _ in range(4))


class CaseService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        audit: AuditLog,
        clock: Callable[[], datetime] = utcnow,
        on_submitted: Callable[[str], None] | None = None,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._audit = audit
        self._clock = clock
        self._on_submitted = on_submitted

    # -- submission ----------------------------------------------------------------------------
    def submit_case(
        self,
        principal: Principal,
        intake: IntakeForm,
        photos: Sequence[CheckedPhoto],
        *,
        in_transaction: Callable[[Cursor], None] | None = None,
    ) -> str:
        """Store a new consultation atomically; returns the case id.

        Photos come from `core.consult.photos.intake_photo`/`intake_frame` and are stored as they
        are; one the quality gate failed is refused with its instructions.

        Photo blobs are written first (files cannot join a DB transaction) and deleted again if
        the database transaction fails, so a failure leaves no case, no rows and no blobs.
        `in_transaction(tx)` runs inside the submission's transaction (the intake draft is
        deleted there: `core.consult.drafts.DraftService.submit_case`).
        """
        return self._submit(principal, intake, photos, accept_failed=False, in_transaction=in_transaction)

    def submit_example_case(
        self, principal: Principal, intake: IntakeForm, photos: Sequence[CheckedPhoto]
    ) -> str:
        """The demo's example case: a submission whose failed photos are kept with their verdict.

        The demo has one public-domain face, so its side views are crops of a front photo that
        the gate rightly fails; keeping them shows how a failed view reads on the physician's card.
        """
        return self._submit(principal, intake, photos, accept_failed=True)

    def _submit(
        self,
        principal: Principal,
        intake: IntakeForm,
        photos: Sequence[CheckedPhoto],
        accept_failed: bool,
        in_transaction: Callable[[Cursor], None] | None = None,
    ) -> str:
        require_role(principal, PATIENT)
        if not principal.patient_id:
            raise AccessDenied("this account has no patient profile")
        intake.validate()
        self._validate_photos(
            principal, photos, required=REQUIRED_VIEWS, unique_views=True, accept_failed=accept_failed
        )
        # One person in all the photos of a consultation (each compared with the front photo).
        if found := self._same_person_refusals(photos):
            self._refuse_identity(principal, None, found)
        now = self._clock()
        case_id = str(uuid.uuid4())
        with self._stored_blobs(photos) as rows, self._db.transaction() as tx:
            self._insert_case(tx, principal, case_id, intake, now)
            self._insert_photos(tx, principal, case_id, rows, now)
            # In the same transaction: a submitted case always has its audit row.
            self._audit.record(
                principal,
                "case.submit",
                "case",
                case_id,
                {"photos": len(rows), "concerns": list(intake.concerns)},
                tx=tx,
            )
            if in_transaction is not None:
                in_transaction(tx)
        if self._on_submitted is not None:
            self._on_submitted(case_id)
        return case_id

    def _insert_case(
        self,
        tx: Cursor,
        principal: Principal,
        case_id: str,
        intake: IntakeForm,
        now: datetime,
    ) -> None:
        at = to_db_time(now)
        tx.execute(
            "INSERT INTO cases (id, reference, patient_id, status, concerns, areas, intake_json, created_at,"
            " updated_at, assigned_physician_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [
                case_id,
                new_reference(now),
                principal.patient_id,
                SUBMITTED,
                json.dumps(list(intake.concerns)),
                json.dumps(list(intake.areas)),
                intake.to_json(),
                at,
                at,
            ],
        )
        tx.execute(
            "INSERT INTO case_status_history (id, case_id, position, from_status, to_status, changed_by, note,"
            " changed_at) VALUES (?, ?, 1, NULL, ?, ?, NULL, ?)",
            [str(uuid.uuid4()), case_id, SUBMITTED, principal.user_id, at],
        )
        assert principal.patient_id is not None  # _submit refused accounts without a patient
        answers: tuple[tuple[ConsentKind, bool], ...] = (
            (CONSENT_PHOTO_STORAGE, intake.consent_photo_storage),
            (CONSENT_ANONYMISED_USE, intake.consent_anonymised_use),
        )
        for kind, granted in answers:
            # The text in the language it was shown in: that language's version, its words' sha256.
            text = consent_text(
                kind, intake.consent_language if isinstance(intake.consent_language, str) else None
            )
            record_consent(tx, principal.patient_id, case_id, ConsentAnswer.to(text, bool(granted)), now)

    def _insert_photos(
        self, tx: Cursor, principal: Principal, case_id: str, rows: list, now: datetime
    ) -> list[str]:
        ids = []
        # The photo row carries the case's patient (denormalised for per-patient archive queries).
        case_row = tx.execute("SELECT patient_id FROM cases WHERE id = ?", [case_id]).fetchone()
        if case_row is None:
            raise NotFound(f"case {case_id} does not exist")
        patient_id = case_row[0]
        for photo, blob_id in rows:
            photo_id = str(uuid.uuid4())
            tx.execute(
                f"INSERT INTO photos ({_PHOTO_COLUMNS}, blob_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    photo_id,
                    case_id,
                    patient_id,
                    photo.view,
                    photo.width,
                    photo.height,
                    photo.mime,
                    photo.source,
                    photo.quality.verdict,
                    photo.quality.to_json(),
                    to_db_time(now),
                    principal.user_id,
                    blob_id,
                ],
            )
            ids.append(photo_id)
        return ids

    def _validate_photos(
        self,
        principal: Principal,
        photos: Sequence[CheckedPhoto],
        required: Sequence[str],
        unique_views: bool,
        accept_failed: bool = False,
    ) -> None:
        """Raise ValidationError for anything the sender must fix; stores nothing."""
        errors: dict[str, str] = {}
        if bad := [type(p).__name__ for p in photos if not isinstance(p, CheckedPhoto)]:
            raise TypeError(f"photos must come from the intake (CheckedPhoto), not {', '.join(bad)}")
        views = [p.view for p in photos]
        if missing := [v for v in required if v not in views]:
            errors["photos"] = "Missing photos: " + ", ".join(v.replace("_", " ") for v in missing) + "."
        if unknown := [v for v in views if v not in VIEWS]:
            errors["photos"] = f"Unknown photo view: {', '.join(map(str, unknown))}."
        if unique_views and len(set(views)) != len(views):
            errors["photos"] = "Each view can be sent only once."
        allowed = _SOURCES_BY_ROLE.get(principal.role, ())
        if bad := [p.source for p in photos if p.source not in allowed]:
            errors["photos"] = f"Photos of this kind cannot be added here: {', '.join(map(str, bad))}."
        if not accept_failed:
            for photo in photos:
                if not photo.usable:
                    what = " ".join(photo.quality.instructions()[:3]) or "Please take it again."
                    errors[f"photo_{photo.view}"] = f"This photo cannot be used yet. {what}"
        for photo in photos:
            try:
                # A header read, not a re-encode: the bytes must be a clean image of the stated size.
                if verify_clean(photo.image_bytes) != (photo.width, photo.height, photo.mime):
                    errors[f"photo_{photo.view}"] = "This photo's details do not match the picture."
            except UploadRejected as error:
                errors[f"photo_{photo.view}"] = str(error)
        if errors:
            raise ValidationError(errors)

    # -- reading -------------------------------------------------------------------------------
    def list_queue(
        self,
        principal: Principal,
        status: str | Sequence[str] | None = None,
        concern: str | None = None,
        include_closed: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[CaseSummary]:
        """The clinic's cases for physicians (and admins), oldest first.

        Default: open cases (submitted, in review, in person requested); `include_closed` adds
        report_sent and closed; `status` picks exact statuses.
        """
        require_role(principal, PHYSICIAN, ADMIN)
        if status is None:
            statuses: tuple[str, ...] = STATUSES if include_closed else OPEN_STATUSES
        else:
            statuses = (status,) if isinstance(status, str) else tuple(status)
        if bad := [s for s in statuses if s not in STATUSES]:
            raise ValidationError({"status": f"unknown status {', '.join(bad)}"})
        if concern is not None and concern not in CONCERNS:
            raise ValidationError({"concern": f"unknown concern {concern}"})
        rows = query_queue(
            self._db.cursor(), statuses, concern, max(1, min(int(limit), 500)), max(0, int(offset))
        )
        self._audit.record(
            principal,
            "case.list_queue",
            "case",
            None,
            {"statuses": list(statuses), "concern": concern, "count": len(rows)},
        )
        return rows

    def list_patient_cases(self, principal: Principal, patient_id: str | None = None) -> list[CaseSummary]:
        """A patient's own cases, newest first; physicians may pass a patient_id."""
        principal = require_role(principal, *CLINICAL_ROLES)
        if principal.role == PATIENT:
            if patient_id not in (None, principal.patient_id):
                raise AccessDenied("you may only see your own consultations")
            patient_id = principal.patient_id
        else:
            require_role(principal, PHYSICIAN)
            if not patient_id:
                raise ValidationError({"patient_id": "which patient?"})
        rows = query_patient_cases(self._db.cursor(), patient_id)
        self._audit.record(principal, "case.list_patient", "patient", patient_id, {"count": len(rows)})
        return rows

    def get_case(self, principal: Principal, case_id: str) -> CaseDetail:
        case = self._load_case_row(principal, case_id)
        cursor = self._db.cursor()
        patient = fetch_one_as(
            cursor,
            PatientSummary,
            "SELECT id AS patient_id, name, date_of_birth, preferred_language AS language,"
            " time_zone AS timezone FROM patients WHERE id = ?",
            [case[2]],
        )
        if patient is None:  # cases.patient_id references patients
            raise NotFound(f"the patient of case {case_id} does not exist")
        photos = self._photos_of(cursor, case_id)
        history = fetch_all_as(
            cursor,
            StatusChange,
            "SELECT from_status, to_status AS status, changed_at AS at, changed_by AS by, note"
            " FROM case_status_history WHERE case_id = ? ORDER BY position",
            [case_id],
        )
        report = load_report(cursor, case_id)
        if report is not None and principal.role == PATIENT and report.sent_at is None:
            report = None  # drafts are for the physician only
        self._audit.record(principal, "case.read", "case", case_id, {})
        return CaseDetail(
            case_id=case[0],
            reference=case[1],
            status=case[3],
            patient=patient,
            intake=IntakeForm.from_json(case[4]),
            photos=photos,
            history=history,
            report=report,
            submitted_at=from_db_time(case[5]),
            updated_at=from_db_time(case[6]),
            assigned_physician_id=case[7],
        )

    def get_photo_bytes(self, principal: Principal, photo_id: str) -> bytes:
        """The decrypted image of one photo, for its patient or a physician."""
        principal = require_role(principal, *CLINICAL_ROLES)
        row = self._db.fetchone("SELECT case_id, blob_id FROM photos WHERE id = ?", [photo_id])
        if row is None:
            if principal.role == PATIENT:
                raise AccessDenied("you may only see your own photos")
            raise NotFound(f"photo {photo_id} does not exist")
        self._load_case_row(principal, row[0])
        data = self._blobs.get(row[1])
        self._audit.record(principal, "photo.read", "photo", photo_id, {"case_id": row[0]})
        return data

    def list_photos(self, principal: Principal, case_id: str) -> list[PhotoMeta]:
        self._load_case_row(principal, case_id)
        photos = self._photos_of(self._db.cursor(), case_id)
        self._audit.record(principal, "photo.list", "case", case_id, {"count": len(photos)})
        return photos

    @staticmethod
    def _photos_of(cursor: Cursor, case_id: str) -> list[PhotoMeta]:
        """A case's photos, oldest first; within one submission in the order of VIEWS."""
        photos = fetch_all_as(cursor, PhotoMeta, f"{_PHOTO_META} WHERE case_id = ?", [case_id])
        return sorted(photos, key=lambda p: (p.created_at, VIEWS.index(p.view) if p.view in VIEWS else 99))

    # -- the same person in every photo of a case ---------------------------------------------
    def _same_person_refusals(
        self,
        photos: Sequence[CheckedPhoto],
        baseline: Callable[[], Sequence[FaceEmbedding]] = lambda: (),
    ) -> list[IdentityRefusal]:
        """Photos that seem to show someone else (core.vision.identity's rule); photos without a
        usable face (close-ups, synthetic pictures) and AR stills are never refused, and then the
        `baseline` (read from the encrypted photos) is not even computed."""
        from core.vision.identity import refusals

        checked: list[tuple[View, FaceEmbedding | None]] = [
            (p.view, p.face_embedding()) for p in photos if p.source not in _IDENTITY_EXEMPT_SOURCES
        ]
        if all(embedding is None for _, embedding in checked):
            return []
        return refusals(checked, baseline())

    def _baseline_embeddings(self, case_id: str) -> list[FaceEmbedding]:
        """Face embeddings of the case's first photos (the patient's own uploads and camera shots),
        computed from the encrypted photos now: embeddings are biometric data and never stored."""
        from core.vision.identity import face_embedding

        rows = self._db.fetchall(
            "SELECT p.blob_id FROM photos p JOIN cases c ON c.id = p.case_id"
            " JOIN patients pt ON pt.id = c.patient_id"
            " WHERE p.case_id = ? AND p.source IN ('upload', 'webcam') AND p.created_by = pt.user_id"
            " ORDER BY p.created_at, p.id",
            [case_id],
        )
        embeddings = (face_embedding(decode_to_bgr(self._blobs.get(row[0]))) for row in rows)
        return [embedding for embedding in embeddings if embedding is not None]

    def _refuse_identity(
        self, principal: Principal, case_id: str | None, found: Sequence[IdentityRefusal]
    ) -> None:
        """Raise IdentityMismatch (audited: views and scores, nothing biometric)."""
        from core.vision.identity import PHYSICIAN_REFUSAL

        self._audit.record(
            principal,
            "photo.identity_refused",
            "case",
            case_id,
            _identity_audit_detail(found),
        )
        if principal.role == PATIENT:
            errors = {f"photo_{r.view}": r.message for r in found}
        else:
            errors = {f"photo_{r.view}": PHYSICIAN_REFUSAL for r in found}
        raise IdentityMismatch(errors, found)

    # -- changes -------------------------------------------------------------------------------
    def add_photo(
        self,
        principal: Principal,
        case_id: str,
        photo: CheckedPhoto,
        identity_override: str | None = None,
    ) -> PhotoMeta:
        """Add one photo to an existing case (video snapshot, simulation, follow-up).

        A patient's photo the gate failed is refused; the physician's own snapshots and AR stills
        are kept with their verdict (the pre-assessment does not measure a failed photo). A photo
        of someone else than the case's first photos is refused (IdentityMismatch); a physician
        may add it anyway with a reason (`identity_override`, audited).
        """
        with self.adding_photos(principal, case_id, [photo], identity_override=identity_override) as batch:
            (photo_id,) = batch.photo_ids
        stored = fetch_one_as(self._db.cursor(), PhotoMeta, f"{_PHOTO_META} WHERE id = ?", [photo_id])
        if stored is None:
            raise NotFound(f"photo {photo_id} does not exist")
        return stored

    @contextlib.contextmanager
    def adding_photos(
        self,
        principal: Principal,
        case_id: str,
        photos: Sequence[CheckedPhoto],
        identity_override: str | None = None,
    ) -> Iterator[PhotoBatch]:
        """Add several photos to a case all or nothing, with the caller's own change beside them.

        Every photo is checked before anything is stored; the blobs are written, then one
        transaction inserts the photo rows and their `photo.add` audit rows and stays open for
        the body of the `with` (its cursor is `batch.tx`, e.g. to close a check-in in the same
        commit). Any failure, in here or in the body, rolls the rows back and deletes the blobs.
        """
        require_role(principal, PATIENT, PHYSICIAN)
        case = self._load_case_row(principal, case_id)
        if case[3] == CLOSED and principal.role == PATIENT:
            raise IllegalTransition("this consultation is closed")
        if not photos:
            raise ValidationError({"photos": "No photo to add."})
        self._validate_photos(
            principal, photos, required=(), unique_views=False, accept_failed=principal.role != PATIENT
        )
        # The case's first photos are the reference (a check-in, a snapshot); only a physician may
        # add another person's picture, with a reason.
        overridden = self._same_person_refusals(photos, lambda: self._baseline_embeddings(case_id))
        if overridden:
            reason = identity_override.strip() if isinstance(identity_override, str) else ""
            if principal.role != PHYSICIAN or not reason:
                self._refuse_identity(principal, case_id, overridden)
            if problem := text_problem(reason, IDENTITY_OVERRIDE_LIMIT, multiline=True):
                raise ValidationError({"identity_override": problem})
        now = self._clock()
        with self._stored_blobs(photos) as rows, self._db.transaction() as tx:
            photo_ids = self._insert_photos(tx, principal, case_id, rows, now)
            if overridden:
                self._audit.record(
                    principal,
                    "photo.identity_override",
                    "case",
                    case_id,
                    {
                        **_identity_audit_detail(overridden),
                        "reason": identity_override.strip() if identity_override else "",
                        "photo_ids": photo_ids,
                    },
                    tx=tx,
                )
            tx.execute("UPDATE cases SET updated_at = ? WHERE id = ?", [to_db_time(now), case_id])
            for photo_id, photo in zip(photo_ids, photos, strict=True):
                self._audit.record(
                    principal,
                    "photo.add",
                    "photo",
                    photo_id,
                    {"case_id": case_id, "view": photo.view, "source": photo.source},
                    tx=tx,
                )
            yield PhotoBatch(tx, photo_ids)

    @contextlib.contextmanager
    def _stored_blobs(self, photos: Sequence[CheckedPhoto]) -> Iterator[list[tuple[CheckedPhoto, str]]]:
        """Each photo's encrypted blob, written before the rows that point to it (files cannot
        join a database transaction) and deleted again when the block fails: a failure leaves
        no blob behind."""
        written: list[tuple[CheckedPhoto, str]] = []
        try:
            for photo in photos:
                written.append((photo, self._blobs.put(photo.image_bytes)))
            yield written
        except BaseException:
            for _, blob_id in written:
                self._blobs.delete(blob_id)
            raise

    def transition(self, principal: Principal, case_id: str, new_status: str, note: str | None = None) -> str:
        """Move a case to `new_status` if TRANSITIONS allows it for this role; returns the new status."""
        if new_status in REPORT_ONLY_TARGETS:
            raise IllegalTransition("a case reaches report_sent only by sending its report")
        with self._db.transaction() as tx:
            self._transition(tx, principal, case_id, new_status, note)
            self._audit.record(principal, "case.transition", "case", case_id, {"to": new_status}, tx=tx)
        return new_status

    def _transition(
        self,
        tx: Cursor,
        principal: Principal,
        case_id: str,
        new_status: str,
        note: str | None,
    ) -> str:
        """Inside the caller's transaction: check the table, update the case, record history."""
        row = tx.execute("SELECT status, patient_id FROM cases WHERE id = ?", [case_id]).fetchone()
        # Access first: whoever may not see the case learns nothing about it (not its status).
        principal = require_role(principal, *CLINICAL_ROLES, ADMIN)
        if principal.role == PATIENT and (row is None or row[1] != principal.patient_id):
            raise AccessDenied("you may only change your own consultations")
        if row is None:
            raise NotFound(f"case {case_id} does not exist")
        if new_status not in STATUSES:
            raise IllegalTransition(f"unknown status {new_status!r}")
        current = row[0]
        roles = TRANSITIONS.get((current, new_status))
        if roles is None:
            raise IllegalTransition(f"a case cannot go from {current} to {new_status}")
        if principal.role not in roles:
            raise IllegalTransition(f"a {principal.role} cannot move a case from {current} to {new_status}")
        now = to_db_time(self._clock())
        assign = principal.user_id if principal.role == PHYSICIAN else None
        tx.execute(
            "UPDATE cases SET status = ?, updated_at = ?, assigned_physician_id = COALESCE(?, assigned_physician_id)"
            " WHERE id = ?",
            [new_status, now, assign, case_id],
        )
        # An explicit position orders the history even when two changes share a timestamp.
        tx.execute(
            "INSERT INTO case_status_history (id, case_id, position, from_status, to_status, changed_by, note,"
            " changed_at) SELECT ?, ?, COALESCE(MAX(position), 0) + 1, ?, ?, ?, ?, ?"
            " FROM case_status_history WHERE case_id = ?",
            [str(uuid.uuid4()), case_id, current, new_status, principal.user_id, note, now, case_id],
        )
        return current

    # -- access --------------------------------------------------------------------------------
    def _load_case_row(self, principal: Principal, case_id: str) -> tuple:
        """The case row if this principal may see it (the one gate: `core.consult.case_access`)."""
        row = self._db.fetchone(
            "SELECT id, reference, patient_id, status, intake_json, created_at, updated_at, assigned_physician_id"
            " FROM cases WHERE id = ?",
            [case_id],
        )
        authorize_case(principal, case_id, None if row is None else CaseOwner(row[2], row[1]), self._audit)
        assert row is not None  # authorize_case raised for a missing case
        return row

    def check_case_access(self, principal: Principal, case_id: str) -> CaseOwner:
        """For other areas' services: raises unless `principal` may see the case; returns its owner."""
        return check_case_access(self._db.cursor(), principal, case_id, self._audit)
