"""Consent texts per language, each with its own version (core/consent.py): every language has
every text, a changed text needs a new version, and what a patient accepted is recorded with the
kind, that language's version, the language, the words' sha256 and the time."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from core.access import AccessDenied, ValidationError
from core.clinic import Clinic
from core.consent import (
    all_consent_texts,
    consent_text,
    parse_text,
    recorded_versions,
    text_path,
    version_problems,
)
from core.i18n import LANGUAGES, PSEUDO_CLOSE, PSEUDO_OPEN
from core.vocabulary import CONSENT_KINDS, ConsentKind

from .conftest import PASSWORD, Accounts, required_photos, valid_intake


def test_every_language_has_every_consent_text_with_a_listed_version() -> None:
    texts = all_consent_texts()
    assert {(t.language, t.kind) for t in texts} == {
        (lang, kind) for lang in LANGUAGES for kind in CONSENT_KINDS
    }
    assert version_problems() == []
    for text in texts:
        assert text.title and text.body and text.version
    # Translations, not copies: the other languages' words differ from the English ones.
    for kind in CONSENT_KINDS:
        english = consent_text(kind, "en")
        for language in LANGUAGES:
            if language != "en":
                translated = consent_text(kind, language)
                assert translated.language == language and translated.body != english.body


def test_changing_a_text_without_a_new_version_is_caught() -> None:
    original = consent_text("photo_storage", "de")
    source = text_path("photo_storage", "de").read_text(encoding="utf-8")
    edited = parse_text("photo_storage", "de", source.replace("verschlüsselt", "sicher", 1))
    others = [t for t in all_consent_texts() if (t.language, t.kind) != ("de", "photo_storage")]
    problems = version_problems([*others, edited])
    assert len(problems) == 1 and "de/photo_storage" in problems[0] and "new version" in problems[0]
    # Bumped, and listed: fine. The other languages keep their versions.
    bumped = dataclasses.replace(edited, version="2026-03")
    recorded = {**recorded_versions(), "de/photo_storage": ("2026-03", bumped.sha256)}
    assert version_problems([*others, bumped], recorded) == []
    assert consent_text("photo_storage", "fr").version == recorded["fr/photo_storage"][0]
    assert original.version == recorded_versions()["de/photo_storage"][0]
    # A language without one of the texts is named.
    missing = [t for t in all_consent_texts() if (t.language, t.kind) != ("tr", "anonymised_use")]
    assert any(p.startswith("tr/anonymised_use: no consent text") for p in version_problems(missing))


def test_text_lookup_falls_back_to_english_and_pseudo_locale_is_marked() -> None:
    assert consent_text("telemedicine", "de-CH").language == "de"
    assert consent_text("telemedicine", "ja").language == "en"
    assert consent_text("telemedicine", None).language == "en"
    pseudo = consent_text("telemedicine", "en_XA")
    assert pseudo.title.startswith(PSEUDO_OPEN) and pseudo.title.endswith(PSEUDO_CLOSE)
    assert all(line.startswith(PSEUDO_OPEN) for line in pseudo.body.splitlines() if line)


def _consents(clinic: Clinic, patient_id: str) -> list[tuple]:
    return clinic.db.fetchall(
        "SELECT kind, version, language, text_sha256, granted, case_id, recorded_at FROM consents"
        " WHERE patient_id = ? ORDER BY recorded_at, kind",
        [patient_id],
    )


def test_registration_records_the_telemedicine_text_in_the_patients_language(clinic: Clinic) -> None:
    german = consent_text("telemedicine", "de")
    principal = clinic.auth.register_patient(
        "greta@example.test",
        PASSWORD,
        "Greta Gruber",
        date(1979, 2, 3),
        "de",
        "Europe/Berlin",
        accepted_telemedicine_consent=True,
        consent_version=german.version,
    )
    assert principal.patient_id
    [(kind, version, language, sha, granted, case_id, recorded_at)] = _consents(clinic, principal.patient_id)
    assert (kind, version, language, sha, granted, case_id) == (
        "telemedicine",
        german.version,
        "de",
        german.sha256,
        True,
        None,
    )
    assert recorded_at is not None


def test_a_consent_version_the_page_showed_that_changed_meanwhile_is_refused(clinic: Clinic) -> None:
    with pytest.raises(ValidationError) as refused:
        clinic.auth.register_patient(
            "otto@example.test",
            PASSWORD,
            "Otto Old",
            date(1970, 1, 1),
            "nl",
            "Europe/Amsterdam",
            accepted_telemedicine_consent=True,
            consent_version="1999-01",
        )
    assert "telemedicine_consent" in refused.value.errors
    assert clinic.db.scalar("SELECT count(*) FROM patients") == 0


def test_the_intake_records_each_consent_in_the_language_shown(clinic: Clinic, accounts: Accounts) -> None:
    intake = valid_intake(consent_anonymised_use=False, consent_language="ar")
    case_id = clinic.cases.submit_case(accounts.patient_a, intake, required_photos())
    patient_id = accounts.patient_a.patient_id
    assert patient_id
    rows = {row[0]: row for row in _consents(clinic, patient_id) if row[5] == case_id}
    answers: tuple[tuple[ConsentKind, bool], ...] = (("photo_storage", True), ("anonymised_use", False))
    for kind, granted in answers:
        text = consent_text(kind, "ar")
        assert rows[kind][1:6] == (text.version, "ar", text.sha256, granted, case_id)
    # The physician reads them, with the registration's (the test clock gives all one time).
    seen = clinic.consents.for_case(accounts.physician, case_id)
    assert {(c.kind, c.language, c.version, c.granted) for c in seen} == {
        ("telemedicine", "en", consent_text("telemedicine", "en").version, True),
        ("anonymised_use", "ar", consent_text("anonymised_use", "ar").version, False),
        ("photo_storage", "ar", consent_text("photo_storage", "ar").version, True),
    }
    with pytest.raises(AccessDenied):
        clinic.consents.for_case(accounts.patient_b, case_id)
    with pytest.raises(AccessDenied):
        clinic.consents.for_case(accounts.admin, case_id)  # admins read no clinical content
    # An administrator sees which texts a patient accepted (kinds, versions, languages, times).
    assert len(clinic.consents.for_patient(accounts.admin, patient_id)) == 3
    with pytest.raises(AccessDenied):
        clinic.consents.for_patient(accounts.patient_b, patient_id)


def test_rows_from_before_read_as_the_english_texts(clinic: Clinic, accounts: Accounts) -> None:
    case_id = clinic.cases.submit_case(accounts.patient_a, valid_intake(), required_photos())
    clinic.db.execute("UPDATE consents SET language = NULL, text_sha256 = NULL")
    seen = clinic.consents.for_case(accounts.physician, case_id)
    assert seen and all(c.language is None and c.text_language == "en" for c in seen)
