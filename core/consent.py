"""Consent texts, versioned per language, and the record of what a patient answered.

Consent texts are legal text, so they live as files, not in the gettext catalogs:
`core/consent_texts/<language>/<kind>.md`, one per consent kind (`core.vocabulary.CONSENT_KINDS`)
and language (`core.i18n.LANGUAGES`), each starting with a header:

    version: 2026-02
    title: Consent to storing your photos and answers
    ---
    - the text, in Markdown ...

Each language's text has its own version: changing the words in one language bumps that
language's version. `core/consent_texts/VERSIONS` lists every text's version and the sha256 of
its words; tests/foundation/test_consent_texts.py fails when a text changed without a new version
(or a version without its line there), and when a language lacks a kind.

What is recorded (`record_consent`, the one INSERT into `consents`) is the kind, that language's
version, the language, the sha256 of the words shown and the time, so the exact text a patient
accepted can be named later. Rows from before this (language NULL) answered the English 2026-01
texts.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.access import ADMIN, PATIENT, Principal, require_patient_access, require_role
from core.consult.case_access import check_case_access
from core.db import to_db_time
from core.i18n import LANGUAGES, PSEUDO_LOCALE, SOURCE_LANGUAGE, normalise_language, pseudo
from core.rows import fetch_all_as
from core.vocabulary import CONSENT_KINDS, ConsentKind

if TYPE_CHECKING:
    from core.audit import AuditLog
    from core.db import Database

TEXTS_DIR = Path(__file__).resolve().parent / "consent_texts"
VERSIONS_FILE = TEXTS_DIR / "VERSIONS"
LEGACY_LANGUAGE = SOURCE_LANGUAGE  # consent rows recorded before texts had a language


class ConsentTextError(Exception):
    """A consent text file is missing or malformed."""


@dataclass(frozen=True)
class ConsentText:
    """One consent text in one language, as shown to the patient."""

    kind: ConsentKind
    language: str
    version: str
    title: str
    body: str  # Markdown
    sha256: str  # of the words shown (title and body)

    @property
    def markdown(self) -> str:
        """Title and body as one Markdown block (the title in bold)."""
        return f"**{self.title}**\n\n{self.body}"


@dataclass(frozen=True)
class ConsentAnswer:
    """What a patient answered to one shown text."""

    kind: ConsentKind
    language: str
    version: str
    text_sha256: str
    granted: bool

    @classmethod
    def to(cls, text: ConsentText, granted: bool) -> ConsentAnswer:
        return cls(text.kind, text.language, text.version, text.sha256, bool(granted))


@dataclass(frozen=True)
class RecordedConsent:
    """A consent row as the physician (and the patient) read it."""

    consent_id: str
    kind: str
    granted: bool
    version: str
    language: str | None  # None: recorded before texts had a language (English)
    recorded_at: datetime
    case_id: str | None = None

    @property
    def text_language(self) -> str:
        return self.language or LEGACY_LANGUAGE


def words_sha256(title: str, body: str) -> str:
    return hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()


def parse_text(kind: ConsentKind, language: str, source: str) -> ConsentText:
    """A text file's header (version, title) and body; ConsentTextError when malformed."""
    header, separator, body = source.replace("\r\n", "\n").partition("\n---\n")
    if not separator:
        raise ConsentTextError(f"{language}/{kind}: no '---' line after the header")
    fields: dict[str, str] = {}
    for line in header.splitlines():
        name, colon, value = line.partition(":")
        if not colon:
            raise ConsentTextError(f"{language}/{kind}: header line {line!r} is not 'name: value'")
        fields[name.strip()] = value.strip()
    version, title, body = fields.get("version", ""), fields.get("title", ""), body.strip()
    if not version or not title or not body:
        raise ConsentTextError(f"{language}/{kind}: version, title and text are all required")
    return ConsentText(kind, language, version, title, body, words_sha256(title, body))


def text_path(kind: str, language: str) -> Path:
    return TEXTS_DIR / language / f"{kind}.md"


@functools.cache
def _load(kind: ConsentKind, language: str) -> ConsentText:
    path = text_path(kind, language)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ConsentTextError(f"no consent text {language}/{kind} ({path})") from error
    return parse_text(kind, language, source)


def consent_text(kind: ConsentKind, language: str | None) -> ConsentText:
    """The text of `kind` in `language` ('de', 'de-DE'), English for a language without one.

    The pseudo-locale gets the English text accented (tests/ui/test_i18n_pseudo.py), recorded as
    that locale, so a page run in it shows no text that bypassed the translation layer."""
    if kind not in CONSENT_KINDS:
        raise ConsentTextError(f"unknown consent kind {kind!r}")
    code = normalise_language(language) or SOURCE_LANGUAGE
    if code == PSEUDO_LOCALE:
        english = _load(kind, SOURCE_LANGUAGE)
        title, body = pseudo(english.title), "\n".join(pseudo(line) for line in english.body.splitlines())
        return ConsentText(kind, PSEUDO_LOCALE, english.version, title, body, words_sha256(title, body))
    if not text_path(kind, code).exists():
        code = SOURCE_LANGUAGE
    return _load(kind, code)


def all_consent_texts() -> list[ConsentText]:
    """Every text file there is, by language then kind."""
    found: list[ConsentText] = []
    for directory in sorted(p for p in TEXTS_DIR.iterdir() if p.is_dir()):
        for kind in CONSENT_KINDS:
            if text_path(kind, directory.name).exists():
                found.append(_load(kind, directory.name))
    return found


def version_lines(texts: list[ConsentText] | None = None) -> list[str]:
    """The lines `VERSIONS` must hold: '<language>/<kind> <version> <sha256>'."""
    return [f"{t.language}/{t.kind} {t.version} {t.sha256}" for t in texts or all_consent_texts()]


def recorded_versions() -> dict[str, tuple[str, str]]:
    """`VERSIONS` as {'<language>/<kind>': (version, sha256)}."""
    entries: dict[str, tuple[str, str]] = {}
    for line in VERSIONS_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version, digest = line.split()
            entries[name] = (version, digest)
    return entries


def version_problems(
    texts: list[ConsentText] | None = None, recorded: dict[str, tuple[str, str]] | None = None
) -> list[str]:
    """What is wrong between the text files and `VERSIONS` (empty: nothing): a language without
    a kind, a text whose words changed under the same version, a version not listed."""
    texts = all_consent_texts() if texts is None else texts
    recorded = recorded_versions() if recorded is None else recorded
    problems: list[str] = []
    present = {(t.language, t.kind) for t in texts}
    for language in LANGUAGES:
        for kind in CONSENT_KINDS:
            if (language, kind) not in present:
                problems.append(f"{language}/{kind}: no consent text ({text_path(kind, language)})")
    for text in texts:
        name = f"{text.language}/{text.kind}"
        version, digest = recorded.get(name, ("", ""))
        if version == text.version and digest != text.sha256:
            problems.append(
                f"{name}: the words changed but the version is still {text.version}: give it a new version"
                f" and put '{name} <new version> <sha256>' in {VERSIONS_FILE.name}"
            )
        elif version != text.version:
            problems.append(
                f"{name}: version {text.version} is not in {VERSIONS_FILE.name}:"
                f" '{name} {text.version} {text.sha256}'"
            )
    return problems


class _Tx(Protocol):
    def execute(self, query: str, parameters: Any = ..., /) -> Any: ...


def record_consent(tx: _Tx, patient_id: str, case_id: str | None, answer: ConsentAnswer, at: datetime) -> str:
    """Insert one consent row (inside the caller's transaction); returns its id."""
    consent_id = str(uuid.uuid4())
    tx.execute(
        "INSERT INTO consents (id, patient_id, case_id, kind, version, granted, recorded_at, language,"
        " text_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            consent_id,
            patient_id,
            case_id,
            answer.kind,
            answer.version,
            answer.granted,
            to_db_time(at),
            answer.language,
            answer.text_sha256,
        ],
    )
    return consent_id


_RECORDED_SQL = (
    "SELECT id AS consent_id, kind, granted, version, language, recorded_at, case_id FROM consents"
)


class ConsentService:
    """Reading what was recorded: for a case (its patient and physicians) or for a patient."""

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit

    def for_case(self, principal: Principal, case_id: str) -> list[RecordedConsent]:
        """The case's consents and the patient's general ones (registration), oldest first."""
        cursor = self._db.cursor()
        owner = check_case_access(cursor, principal, case_id, self._audit)
        return fetch_all_as(
            cursor,
            RecordedConsent,
            _RECORDED_SQL
            + " WHERE patient_id = ? AND (case_id IS NULL OR case_id = ?) ORDER BY recorded_at, kind",
            [owner.patient_id, case_id],
        )

    def for_patient(self, principal: Principal, patient_id: str) -> list[RecordedConsent]:
        """Every consent of a patient: the patient themselves or an administrator (no clinical
        content: kinds, versions, languages and times only)."""
        if require_role(principal, PATIENT, ADMIN).role == PATIENT:
            require_patient_access(principal, patient_id)
        return fetch_all_as(
            self._db.cursor(),
            RecordedConsent,
            _RECORDED_SQL + " WHERE patient_id = ? ORDER BY recorded_at, kind",
            [patient_id],
        )
