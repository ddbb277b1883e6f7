"""FHIR bundle and report letter built from plain records."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pypdf import PdfReader

from core.care import pdf as letter
from core.care.fhir import (
    CONSULT_REPORT,
    MEASUREMENT_NOTE,
    SNOMED,
    UCUM,
    VIRTUAL_ENCOUNTER,
    body_site,
    build_case_bundle,
    fhir_id,
    ucum_quantity,
    validate_bundle,
)
from core.care.pdf import PdfMeasurement, PdfPhoto, ReportPdfInput, build_report_pdf, format_date
from core.care.records import (
    AppointmentRecord,
    AssessmentRecord,
    CaseExport,
    ClinicRecord,
    ConsentRecord,
    MetricRecord,
    PatientRecord,
    PhotoRecord,
    PractitionerRecord,
    ReportRecord,
    TreatmentRecord,
)
from core.i18n import LANGUAGES, translator
from tests.care import fhir_r4

NOW = datetime(2027, 3, 5, 10, 0, tzinfo=UTC)
SHA = "ab" * 32


def sample_export(with_pdf: bytes | None = b"%PDF-1.4 letter") -> CaseExport:
    return CaseExport(
        case_id="c-1",
        reference="C-0001",
        patient=PatientRecord("p_1", "Zoë Müller", "zoe@example.test", date(1990, 2, 3), "de"),
        concern="lines wrinkles",
        consents=[
            ConsentRecord("k0", "telemedicine", True, NOW, "2026-01", "de"),  # the German text
            ConsentRecord("k1", "photo_storage", True, NOW, "2026-01"),
            ConsentRecord("k2", "anonymised_use", False, NOW, "2026-01"),
        ],
        photos=[
            PhotoRecord("ph1", "front", NOW, image_bytes=b"\xff\xd8jpeg"),
            PhotoRecord("ph2", "left_oblique", NOW),
            PhotoRecord("ph3", "front", NOW + timedelta(days=20), "followup"),
        ],
        metrics=[
            MetricRecord(
                "m1", "redness", "cheek_left", 12.5, "a*", NOW, "ph1", 40.0, "mild", "run1", "front"
            ),
            MetricRecord(
                "m2", "wrinkles", "forehead", 3.1, "%", NOW, "ph1", 27.0, "moderate", "run1", "front"
            ),
            MetricRecord("m3", "ita", "forehead", 38.2, "deg", NOW, "ph1", 30.0, "intermediate", "run1"),
            MetricRecord("m4", "inflammatory_spots", "chin", 2, "count", NOW, "ph2", 13.3, "minimal", "run1"),
            MetricRecord("m5", "melanin", "glabella", 42.0, "MI", NOW, None, 27.5, "moderate", "run1"),
            MetricRecord("m6", "pores", "nose", 8.0, "/1000px", NOW, "ph1", 26.0, "moderate", "run1"),
            MetricRecord("m7", "symmetry", "face", 2.5, "% IOD", NOW, "ph1", 15.0, "minimal", "run1"),
            MetricRecord(
                "m8", "tone_evenness", "cheek_right", 2.2, "dE", NOW, "ph1", 15.0, "minimal", "run1"
            ),
            MetricRecord("m9", "texture", "cheek_right", 1.1, "L*", NOW, "ph1", 20.0, "minimal", "run1"),
            MetricRecord("m10", "lesion_grade", "face", 1.0, "grade", NOW, "ph1", None, "n/a", "run1"),
        ],
        reports=[
            ReportRecord(
                "r1",
                "physician",
                NOW,
                "",
                {"findings": "Rosacea, mild", "assessment": "Mild", "home_care": "SPF 50"},
                "Dr A",
                physician_id="doc1",
                pdf=with_pdf,
            ),
        ],
        appointments=[
            AppointmentRecord(
                "a1",
                NOW + timedelta(days=7),
                NOW + timedelta(days=7, minutes=30),
                "completed",
                "Check nodule",
                "Room 2",
                "Dr A",
                physician_id="doc1",
            )
        ],
        treatments=[
            TreatmentRecord(
                "t1",
                "botulinum_toxin",
                "forehead",
                "Toxin X",
                12.0,
                "U",
                (NOW + timedelta(days=7)).date(),
                None,
                "doc1",
            )
        ],
        assessments=[
            AssessmentRecord("run1", "done", NOW, "1.2.0", SHA, "Mild redness on the cheeks", ("ph1", "ph2"))
        ],
        practitioners=[PractitionerRecord("doc1", "Dr A", "MD, dermatologist", "BIG 1234")],
        clinic=ClinicRecord(
            "Kliniek Zoë", "Keizersgracht 1; 1015 AA Amsterdam", "+31 20 1234567", "info@k.example"
        ),
        submitted_at=NOW - timedelta(days=1),
        status="report_sent",
    )


def _resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _by_url(bundle: dict) -> dict[str, dict]:
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


# -- the round trip: export, R4 schema, references, UCUM ------------------------------------------


@pytest.mark.parametrize("with_photos", [False, True])
def test_bundle_round_trip_is_valid_r4_resolves_and_uses_ucum(with_photos: bool) -> None:
    bundle = build_case_bundle(sample_export(), include_photo_data=with_photos)
    assert fhir_r4.schema_errors(bundle) == []
    assert fhir_r4.spec_definition_errors(bundle) == []
    assert fhir_r4.unresolved_references(bundle) == []
    assert len(fhir_r4.observation_quantities(bundle)) == 19  # 10 values + 9 scores
    assert fhir_r4.invalid_ucum_units(bundle) == []
    validate_bundle(bundle)  # the app's own structural check agrees


def test_the_r4_checks_are_not_vacuous() -> None:
    bundle = build_case_bundle(sample_export())
    broken = copy.deepcopy(bundle)
    patient = _resources(broken, "Patient")[0]
    patient["birthDate"] = "3 Feb 1990"
    patient["nickname"] = "not an R4 element"
    errors = fhir_r4.schema_errors(broken)
    assert any("birthDate" in e for e in errors) and any("nickname" in e for e in errors)
    spec_broken = copy.deepcopy(broken)
    _resources(spec_broken, "Patient")[0]["birthDate"] = "not a date"  # FHIR.js parses "3 Feb 1990"
    spec_errors = fhir_r4.spec_definition_errors(spec_broken)
    assert any("birthDate" in e for e in spec_errors) and any("nickname" in e for e in spec_errors)
    observation = _resources(broken, "Observation")[0]
    observation["valueQuantity"]["code"] = "a*"
    observation["subject"] = {"reference": "Patient/p_1"}  # relative: resolves to nothing here
    assert fhir_r4.invalid_ucum_units(broken) == ["'a*': UnexpectedCharacters"]
    assert fhir_r4.unresolved_references(broken) == ["Patient/p_1"]
    with pytest.raises(ValueError, match="resolve to no entry"):
        validate_bundle(broken)


def test_every_engine_unit_is_ucum() -> None:
    from core.assessment.metrics import METRIC_SPECS

    parser = fhir_r4._ucum_parser()
    for spec in METRIC_SPECS.values():
        quantity = ucum_quantity(1.0, spec.unit)
        assert quantity["system"] == UCUM
        parser.parse(quantity["code"])  # raises when not UCUM
    assert ucum_quantity(1, "per fortnight")["code"] == "{per_fortnight}"  # unknown: an annotation


# -- what the bundle says ---------------------------------------------------------------------------


def test_full_urls_are_uuids_stable_across_exports_and_identifiers_have_uri_systems() -> None:
    first = build_case_bundle(sample_export())
    second = build_case_bundle(sample_export())
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    assert first["id"] != second["id"]  # each export is its own bundle
    for entry in first["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    systems = {
        identifier["system"]
        for entry in first["entry"]
        for identifier in (
            entry["resource"].get("identifier")
            if isinstance(entry["resource"].get("identifier"), list)
            else [entry["resource"].get("identifier")]
        )
        if identifier
    }
    assert systems and all(s.startswith("urn:clinic-portal:sid:") for s in systems)
    public = sample_export()
    public = CaseExport(
        **{**public.__dict__, "clinic": ClinicRecord("K", public_url="https://portal.example.org/")}
    )
    patient = _resources(build_case_bundle(public), "Patient")[0]
    assert patient["identifier"][0]["system"] == "https://portal.example.org/fhir/sid/patient"
    assert first["meta"]["security"][0]["code"] == "R"
    assert patient["meta"]["security"][0]["code"] == "R"


def test_resources_of_a_full_case() -> None:
    bundle = build_case_bundle(sample_export())
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "Patient"
    for kind, count in {
        "Organization": 1,
        "Practitioner": 1,
        "Device": 1,
        "Encounter": 2,
        "Location": 1,
        "Appointment": 1,
        "Consent": 3,
        "Media": 3,
        "Observation": 10,
        "DiagnosticReport": 2,
        "Provenance": 1,
        "Procedure": 1,
        "Composition": 1,
    }.items():
        assert kinds.count(kind) == count, kind
    urls = _by_url(bundle)
    virtual, visit = _resources(bundle, "Encounter")
    assert virtual["class"]["code"] == "VR" and virtual["status"] == "finished"
    assert visit["class"]["code"] == "AMB" and visit["status"] == "finished"
    assert urls[visit["location"][0]["location"]["reference"]]["name"] == "Room 2"
    assert urls[visit["appointment"][0]["reference"]]["status"] == "fulfilled"
    procedure = _resources(bundle, "Procedure")[0]
    assert procedure["code"]["coding"][0]["display"] == "Botulinum toxin"
    assert urls[procedure["encounter"]["reference"]] is visit  # treated at the visit
    assert urls[procedure["performer"][0]["actor"]["reference"]]["resourceType"] == "Practitioner"
    assert procedure["bodySite"][0]["coding"][0]["code"] == "52795006"
    practitioner = _resources(bundle, "Practitioner")[0]
    assert practitioner["qualification"][0]["code"]["text"] == "MD, dermatologist"
    assert practitioner["qualification"][0]["identifier"][0]["value"] == "BIG 1234"
    organization = _resources(bundle, "Organization")[0]
    assert organization["address"][0]["line"] == ["Keizersgracht 1", "1015 AA Amsterdam"]


def test_ai_report_names_its_device_observations_and_photos() -> None:
    bundle = build_case_bundle(sample_export())
    urls = _by_url(bundle)
    device = _resources(bundle, "Device")[0]
    assert device["version"][0]["value"] == "1.2.0" and device["version"][1]["value"] == SHA
    device_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is device)
    ai_report = next(r for r in _resources(bundle, "DiagnosticReport") if r["status"] == "preliminary")
    observations = _resources(bundle, "Observation")
    assert {urls[r["reference"]]["id"] for r in ai_report["result"]} == {o["id"] for o in observations}
    assert [m["comment"] for m in ai_report["media"]] == ["Front", "Left side"]
    assert "not a diagnosis" in ai_report["conclusion"]
    provenance = _resources(bundle, "Provenance")[0]
    assert provenance["agent"][0]["who"]["reference"] == device_url
    assert len(provenance["target"]) == 1 + len(observations)
    for observation in observations:
        assert observation["device"]["reference"] == device_url
        assert observation["category"][0]["coding"][0]["code"] == "imaging"
        assert observation["valueQuantity"]["system"] == UCUM
    redness = next(o for o in observations if o["code"]["coding"][0]["code"] == "redness")
    assert redness["bodySite"] == {
        "coding": [{"system": SNOMED, "code": "60819002", "display": "Cheek structure"}],
        "text": "left cheek",
    }
    assert redness["valueQuantity"]["code"] == "{CIELAB_a*}"
    assert redness["interpretation"][0]["text"] == "mild"
    assert urls[redness["derivedFrom"][0]["reference"]]["resourceType"] == "Media"
    glabella = next(o for o in observations if o["code"]["coding"][0]["code"] == "melanin")
    assert glabella["bodySite"] == {"text": "glabella"}  # no SNOMED concept used: text only


def test_physician_report_is_a_consult_note_with_sections_and_the_pdf() -> None:
    bundle = build_case_bundle(sample_export(with_pdf=b"%PDF-1.4 the letter"))
    report = next(r for r in _resources(bundle, "DiagnosticReport") if r["status"] == "final")
    assert report["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "11488-4",
        "display": "Consult note",
    }
    form = report["presentedForm"][0]
    assert form["contentType"] == "application/pdf" and form["language"] == "de"
    assert base64.b64decode(form["data"]) == b"%PDF-1.4 the letter"
    assert form["size"] == len(b"%PDF-1.4 the letter")
    assert form["hash"] == base64.b64encode(hashlib.sha1(b"%PDF-1.4 the letter").digest()).decode()
    composition = _resources(bundle, "Composition")[0]
    assert composition["type"]["coding"][0]["code"] == "11488-4"
    # The patient reads German: the section titles are German, their LOINC codes unchanged.
    german = translator("de")
    assert [s["title"] for s in composition["section"]] == [
        german(h) for h in ("Findings", "Assessment", "Home care")
    ]
    assert composition["section"][0]["code"]["coding"][0]["code"] == "29545-1"
    assert "Rosacea, mild" in composition["section"][0]["text"]["div"]
    assert composition["attester"][0]["mode"] == "legal"


def test_consents_declined_is_active_with_deny() -> None:
    consents = {
        c["identifier"][0]["value"]: c for c in _resources(build_case_bundle(sample_export()), "Consent")
    }
    assert {c["status"] for c in consents.values()} == {"active"}
    assert consents["k0"]["scope"]["coding"][0]["code"] == "treatment"  # telemedicine
    assert consents["k0"]["provision"]["type"] == "permit"
    assert consents["k2"]["provision"]["type"] == "deny"  # anonymised use declined
    assert "2026-01" in consents["k1"]["policyRule"]["text"]  # the version, in the patient's words


def test_a_consent_says_the_language_of_the_text_the_patient_answered() -> None:
    consents = {
        c["identifier"][0]["value"]: c for c in _resources(build_case_bundle(sample_export()), "Consent")
    }
    assert consents["k0"]["language"] == "de"  # Resource.language: the German consent text
    assert consents["k1"]["language"] == "en"  # recorded before consent texts had languages: English
    assert fhir_r4.schema_errors(build_case_bundle(sample_export())) == []  # language is an R4 element


def test_photos_embedded_only_on_request_with_size_and_hash() -> None:
    without = _resources(build_case_bundle(sample_export()), "Media")
    assert all(set(m["content"]) <= {"contentType", "title", "creation"} for m in without)
    embedded = _resources(build_case_bundle(sample_export(), include_photo_data=True), "Media")[0]["content"]
    assert base64.b64decode(embedded["data"]) == b"\xff\xd8jpeg"
    assert embedded["size"] == 6
    assert embedded["hash"] == base64.b64encode(hashlib.sha1(b"\xff\xd8jpeg").digest()).decode()


def test_body_sites_and_fhir_ids() -> None:
    assert body_site("cheek_right")["text"] == "right cheek"
    assert body_site("lips")["coding"][0]["code"] == "48477009"
    assert body_site("crows_feet_left") == {"text": "left crows feet"}
    assert fhir_id("photo_1/x y") == "photo-1-x-y"
    assert len(fhir_id("x" * 200)) == 64


# -- the letter -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "March 5, 2027"),
        ("de", "5. März 2027"),
        ("fr", "5 mars 2027"),
        ("nl", "5 maart 2027"),
        ("es", "5 de marzo de 2027"),
        ("tr", "5 Mart 2027"),
        ("pt", "5 de março de 2027"),  # Babel's CLDR data: any language it knows
        ("xx", "March 5, 2027"),
    ],
)
def test_date_format_per_language(language: str, expected: str) -> None:
    assert format_date(date(2027, 3, 5), language) == expected


# The letter's words as a translator would give them (the catalogs in locales/ are filled by
# their owner; these tests use their own small catalogs, so they test the letter, not the
# state of the catalogs).
LETTER_CATALOGS: dict[str, dict[str, str]] = {
    "fr": {
        letter.TITLE: "Compte rendu de consultation",
        letter.SECTION_HEADINGS["findings"]: "Constatations",
        letter.IN_PERSON: "Consultation en présentiel conseillée",
        letter.SIGNED: "Signé électroniquement le {date}",
        letter.PHOTO_ALT: "Photo du visage, {view}, {date}",
        letter.MEASUREMENTS: "Mesures d'image (pré-évaluation par IA)",
        letter.MEASUREMENTS_NOTE_ENGINE: "Mesures de vos photos par un logiciel qui a aidé le médecin. Ce sont "
        "des mesures, pas des diagnostics : seule l'évaluation du médecin ci-dessus fait foi. (logiciel {version})",
        letter.PAGE: "Page {n} sur {nb}",
        letter.DISCLAIMER: "Ce compte rendu repose sur des photos et les informations que vous avez fournies "
        "lors d'une consultation à distance.",
        "front": "face",  # the card's words for views and bands
        "left side": "côté gauche",
        "mild": "léger",
    },
    "de": {
        letter.TITLE: "Konsultationsbericht",
        letter.SECTION_HEADINGS["findings"]: "Befund",
        letter.SIGNED: "Elektronisch unterzeichnet am {date}",
        letter.DRAFT: "ENTWURF: noch nicht unterzeichnet oder versandt",
        letter.PAGE: "Seite {n} von {nb}",
    },
    "tr": {letter.TITLE: "Konsültasyon raporu", letter.PAGE: "Sayfa {n} / {nb}"},
}


@pytest.fixture
def letter_catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """LETTER_CATALOGS as the translation layer's catalogs, for the length of a test."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    import core.i18n

    for language, messages in LETTER_CATALOGS.items():
        catalog = Catalog(locale=language, domain=core.i18n.DOMAIN)
        for msgid, msgstr in messages.items():
            catalog.add(msgid, msgstr)
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with (folder / f"{core.i18n.DOMAIN}.po").open("wb") as handle:
            write_po(handle, catalog)
    monkeypatch.setattr(core.i18n, "LOCALES_DIR", tmp_path)
    core.i18n.reload_catalogs()
    yield
    monkeypatch.undo()
    core.i18n.reload_catalogs()


def _jpeg(shade: int) -> bytes:
    return cv2.imencode(".jpg", np.full((120, 100, 3), shade, np.uint8))[1].tobytes()


def letter_input(language: str = "fr", **changes) -> ReportPdfInput:
    data = ReportPdfInput(
        clinic_name="Kliniek Zoë",
        patient_name="Zoë Müller",
        case_reference="C-0001",
        physician_name="Dr Ñúñez",
        issued_on=date(2027, 3, 5),
        language=language,
        sections={"findings": "Rougeur légère des joues", "recommendations": "Crème à l'azélaïque"},
        in_person_reason="Contrôler le nodule",
        photos=[
            PdfPhoto("front", _jpeg(150), date(2027, 3, 4)),
            PdfPhoto("left_oblique", _jpeg(120), date(2027, 3, 4)),
        ],
        patient_birth_date=date(1990, 2, 3),
        consultation_date=date(2027, 3, 4),
        physician_credentials="MD, dermatologue",
        physician_registration="RPPS 1234",
        clinic_address_lines=("1 rue de la Paix", "75002 Paris"),
        clinic_phone="+33 1 23 45 67 89",
        clinic_email="contact@clinique.example",
        measurements=(PdfMeasurement("Redness", "left cheek", "14.2 CIELAB a*", "mild"),),
        engine_version="1.2.0",
    )
    return ReportPdfInput(**{**data.__dict__, **changes})


def _text(pdf_bytes: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_bytes)).pages)


def test_letter_holds_letterhead_identifiers_sections_signature_and_measurements(
    letter_catalogs: None,
) -> None:
    pdf_bytes = build_report_pdf(letter_input())
    text = _text(pdf_bytes)
    pages = len(PdfReader(io.BytesIO(pdf_bytes)).pages)
    for expected in (
        "Kliniek Zoë",
        "1 rue de la Paix",
        "contact@clinique.example",
        "Compte rendu de consultation",
        "Zoë Müller",
        "3 février 1990",  # date of birth: the second identifier
        "C-0001",
        "5 mars 2027",
        "Dr Ñúñez, MD, dermatologue",
        "Constatations",  # the section heading in the patient's language
        "Rougeur légère des joues",
        "Consultation en présentiel conseillée",
        "Contrôler le nodule",
        "Signé électroniquement le 5 mars 2027",
        "RPPS 1234",
        "Face",  # photo captions: view and date
        "Côté gauche",
        "4 mars 2027",
        "Mesures d'image",
        "pas des diagnostics",
        "léger",  # the band, localised
        f"Page 1 sur {pages}",
        "consultation à distance",  # the disclaimer
    ):
        assert expected in text, expected


def test_letter_headings_follow_the_language_and_a_draft_is_marked(letter_catalogs: None) -> None:
    german = _text(build_report_pdf(letter_input("de", sections={"findings": "Rötung"}, signed=False)))
    assert "Befund" in german and "Konsultationsbericht" in german and "Seite 1 von" in german
    assert "ENTWURF" in german and "Elektronisch unterzeichnet" not in german
    english = _text(build_report_pdf(letter_input("pt-BR", sections={"Custom heading": "Text"})))
    assert "Consultation report" in english and "Custom heading" in english  # unknown language: English
    assert "March" in english  # and its dates in English too, not half Portuguese
    turkish = _text(build_report_pdf(letter_input("tr")))
    assert "Konsültasyon raporu" in turkish and "Sayfa 1 / " in turkish and "Mart" in turkish


def test_letter_metadata_hold_no_personal_data_and_photos_have_alt_text(letter_catalogs: None) -> None:
    reader = PdfReader(io.BytesIO(build_report_pdf(letter_input())))
    metadata = {key: str(value) for key, value in (reader.metadata or {}).items()}
    assert metadata.get("/Title") == "Compte rendu de consultation"
    for value in metadata.values():
        for personal in ("Zoë", "Müller", "C-0001", "Ñúñez", "1990"):
            assert personal not in value
    root: Any = reader.trailer["/Root"]
    assert root["/Lang"] == "fr"
    assert root["/MarkInfo"]["/Marked"]
    alts: list[str] = []

    def walk(node: Any) -> None:
        node = node.get_object()
        if "/Alt" in node:
            alts.append(str(node["/Alt"]))
        kids = node.get("/K")
        for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
            if hasattr(kid, "get_object") and hasattr(kid.get_object(), "get"):
                walk(kid)

    walk(root["/StructTreeRoot"])
    assert alts == ["Photo du visage, Face, 4 mars 2027", "Photo du visage, Côté gauche, 4 mars 2027"]


def test_the_letter_shows_measurements_in_words_people_read() -> None:
    from core.care.exports import pdf_measurements
    from core.care.records import MetricRecord

    at = datetime(2027, 3, 4, tzinfo=UTC)
    rows = pdf_measurements(
        [
            MetricRecord("m1", "redness", "cheek_left", 16.3, "a*", at, score=38.0, band="mild"),
            MetricRecord("m2", "texture", "forehead", 1.2, "L*", at, score=12.0, band="minimal"),
            MetricRecord("m3", "wrinkles", "forehead", 4.8, "%", at, score=30.0, band="mild"),
            MetricRecord("m4", "brown_spots", "cheek_right", 3.0, "count", at, score=20.0, band="minimal"),
        ]
    )
    shown = {row.measurement: row.value for row in rows}
    assert shown == {
        "Redness": "38/100",
        "Lines": "4.8% of the area",
        "Brown spots": "3 spots",
        "Roughness": "12/100",
    }
    assert not any(raw in " ".join(shown.values()) for raw in ("a*", "L*", "CIELAB", "count"))


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_letters_measurements_say_the_cards_words_in_every_letter_language(language: str) -> None:
    """Measure, region, value and band in the patient's language, in the same words as the
    assessment card (the catalogs already hold the card's words for every language)."""
    from core.assessment.findings import band_words, measure_name, plain_value, region_words
    from core.care.exports import pdf_measurements

    at = datetime(2027, 3, 4, tzinfo=UTC)
    metrics = [
        MetricRecord("m1", "redness", "cheek_left", 16.3, "a*", at, score=38.0, band="mild"),
        MetricRecord("m3", "wrinkles", "forehead", 4.8, "%", at, score=30.0, band="mild"),
        MetricRecord("m4", "brown_spots", "cheek_right", 3.0, "count", at, score=20.0, band="minimal"),
    ]
    t = translator(language)
    rows = pdf_measurements(metrics, t)
    card = [
        (
            measure_name(m.metric, t),
            region_words(m.region, t),
            plain_value({"metric": m.metric, "value": m.value, "score": m.score, "band": m.band}, t),
        )
        for m in metrics
    ]
    assert sorted((row.measurement, row.region, row.value) for row in rows) == sorted(card)
    english = {(row.measurement, row.region) for row in pdf_measurements(metrics)}
    if language != "en":
        assert not {(row.measurement, row.region) for row in rows} & english  # nothing left in English
    html = letter.letter_html(
        ReportPdfInput(
            clinic_name="Clinic",
            patient_name="Zoë Müller",
            case_reference="C-0001",
            physician_name="Dr Ñúñez",
            issued_on=date(2027, 3, 5),
            language=language,
            sections={},
            measurements=rows,
        )
    )
    table = html[html.index("<tbody>", html.index('class="measurements"')) :]
    for row in rows:
        for word in (row.measurement, row.region, row.value, band_words(row.band, t)):
            assert f">{escape(word)}</td>" in table, word


def test_the_words_people_read_are_in_the_exports_language_and_published_codes_keep_their_display() -> None:
    """Bundle.language names the language of the words (the patient's, German here, or the one
    asked for); codes stay; LOINC / HL7 displays stay official English (validators compare them)."""
    german, english = translator("de"), translator("en")
    bundle = build_case_bundle(sample_export())
    assert bundle["language"] == "de"
    visit = next(e for e in _resources(bundle, "Encounter") if e["class"]["code"] == "VR")
    assert visit["type"][0]["text"] == german(VIRTUAL_ENCOUNTER) != english(VIRTUAL_ENCOUNTER)
    assert visit["class"]["display"] == "virtual"  # HL7 v3 ActCode's own display
    report = next(
        r for r in _resources(bundle, "DiagnosticReport") if r["code"]["coding"][0]["code"] == "11488-4"
    )
    assert report["code"]["coding"][0]["display"] == "Consult note"
    assert report["code"]["text"] == german(CONSULT_REPORT) != english(CONSULT_REPORT)
    observation = _resources(bundle, "Observation")[0]
    assert observation["note"][0]["text"] == german(MEASUREMENT_NOTE)
    assert observation["category"][0]["coding"][0]["display"] == "Imaging"
    asked = build_case_bundle(sample_export(), language="fr")
    assert asked["language"] == "fr"
    assert fhir_r4.schema_errors(bundle) == [] and fhir_r4.spec_definition_errors(bundle) == []
