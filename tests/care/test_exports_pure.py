"""FHIR bundle and report PDF built from plain records."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import cv2
import numpy as np
import pytest
from pypdf import PdfReader

from core.care.fhir import build_case_bundle, fhir_id, validate_bundle
from core.care.pdf import ReportPdfInput, build_report_pdf, format_date
from core.care.records import (
    AppointmentRecord,
    CaseExport,
    ConsentRecord,
    MetricRecord,
    PatientRecord,
    PhotoRecord,
    ReportRecord,
)

NOW = datetime(2027, 3, 5, 10, 0, tzinfo=UTC)


def sample_export() -> CaseExport:
    return CaseExport(
        case_id="c-1",
        reference="C-0001",
        patient=PatientRecord("p_1", "Zoë Müller", "zoe@example.test", date(1990, 2, 3), "de"),
        consents=[
            ConsentRecord("k1", "photo_storage", True, NOW),
            ConsentRecord("k2", "anonymised_use", False, NOW),
        ],
        photos=[
            PhotoRecord("ph1", "front", NOW, image_bytes=b"\xff\xd8jpeg"),
            PhotoRecord("ph2", "front", NOW, "followup"),
        ],
        metrics=[
            MetricRecord("m1", "redness", "left_cheek", 12.5, "a*", NOW, "ph1", 40.0, "mild"),
            MetricRecord("m2", "wrinkle_density", "forehead", 0.12, None, NOW, "ph1"),
        ],
        reports=[
            ReportRecord("ai1", "pre_assessment", NOW, "Mild redness on the cheeks"),
            ReportRecord("r1", "physician", NOW, "", {"Findings": "Rosacea", "Assessment": "Mild"}, "Dr A"),
        ],
        appointments=[
            AppointmentRecord(
                "a1", NOW, NOW + timedelta(minutes=30), "booked", "Check nodule", "Room 2", "Dr A"
            )
        ],
    )


def test_bundle_validates_against_r4_models_and_holds_every_resource() -> None:
    bundle = build_case_bundle(sample_export(), include_photo_data=True)
    parsed = validate_bundle(bundle)
    kinds = [entry.resource.__resource_type__ for entry in parsed.entry]
    assert kinds.count("Patient") == 1
    assert kinds.count("Consent") == 2
    assert kinds.count("Media") == 2
    assert kinds.count("Observation") == 2
    assert kinds.count("DiagnosticReport") == 2
    assert kinds.count("Appointment") == 1
    media = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Media")
    assert media["content"]["data"]  # base64 photo embedded on request
    report = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"]
    assert {r["status"] for r in report} == {"preliminary", "final"}
    assert "Rosacea" in report[1]["conclusion"]


def test_bundle_without_photo_data_and_invalid_bundle_is_refused() -> None:
    bundle = build_case_bundle(sample_export())
    assert all("data" not in e["resource"].get("content", {}) for e in bundle["entry"])
    bundle["entry"][0]["resource"]["birthDate"] = "not a date"
    with pytest.raises(ValueError):
        validate_bundle(bundle)


def test_fhir_ids_are_safe() -> None:
    assert fhir_id("photo_1/x y") == "photo-1-x-y"
    assert len(fhir_id("x" * 200)) == 64


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "March 5, 2027"),
        ("de", "5. März 2027"),
        ("fr", "5 mars 2027"),
        ("nl", "5 maart 2027"),
        ("es", "5 de marzo de 2027"),
        ("pt", "March 5, 2027"),
    ],
)
def test_date_format_per_language(language: str, expected: str) -> None:
    assert format_date(date(2027, 3, 5), language) == expected


def test_pdf_opens_and_holds_the_report_text() -> None:
    photo = cv2.imencode(".jpg", np.full((120, 100, 3), 150, np.uint8))[1].tobytes()
    pdf_bytes = build_report_pdf(
        ReportPdfInput(
            clinic_name="Kliniek Zoë",
            patient_name="Zoë Müller",
            case_reference="C-0001",
            physician_name="Dr Ñúñez",
            issued_on=date(2027, 3, 5),
            language="fr",
            sections={"Constat": "Rougeur légère des joues", "Recommandations": "Crème à l'azélaïque"},
            in_person_reason="Contrôler le nodule",
            photos=[("front", photo)],
        )
    )
    reader = PdfReader(io.BytesIO(pdf_bytes))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        "Kliniek Zoë",
        "Zoë Müller",
        "5 mars 2027",
        "Rougeur légère des joues",
        "Contrôler le nodule",
    ):
        assert expected in text
    assert "remote consultation" in text.replace("  ", " ")  # the disclaimer
