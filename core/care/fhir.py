"""FHIR R4 export of a case as a `collection` Bundle.

Built as plain dicts (stable JSON, no model objects in the app) and validated with the
`fhir.resources.R4B` models: fhir.resources 8.x defaults to R5, where `Media` no longer exists;
R4B keeps R4's resource shapes for everything exported here.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from core.care.records import CaseExport

SYSTEM_BASE = "urn:clinic-portal"
LOINC = "http://loinc.org"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9\-.]")

APPOINTMENT_STATUS = {
    "booked": "booked",
    "cancelled": "cancelled",
    "completed": "fulfilled",
    "no_show": "noshow",
}


def fhir_id(raw: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) derived from an internal id."""
    cleaned = _ID_UNSAFE.sub("-", str(raw))[:64]
    return cleaned or uuid.uuid5(uuid.NAMESPACE_URL, str(raw)).hex


def _instant(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _drop_none(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if value not in (None, [], {}, "")}


def build_case_bundle(export: CaseExport, include_photo_data: bool = False) -> dict[str, Any]:
    """Patient, Consent, Media, Observation, DiagnosticReport and Appointment resources of one case."""
    patient_ref = f"Patient/{fhir_id(export.patient.patient_id)}"
    case_identifier = {"system": f"{SYSTEM_BASE}/case", "value": export.reference}
    resources: list[dict[str, Any]] = []

    patient = export.patient
    resources.append(
        _drop_none(
            {
                "resourceType": "Patient",
                "id": fhir_id(patient.patient_id),
                "identifier": [{"system": f"{SYSTEM_BASE}/patient", "value": patient.patient_id}],
                "name": [{"text": patient.name}],
                "telecom": [{"system": "email", "value": patient.email}] if patient.email else None,
                "birthDate": _instant(patient.date_of_birth),
                "communication": [
                    {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": patient.language}]}}
                ],
            }
        )
    )
    for consent in export.consents:
        resources.append(
            _drop_none(
                {
                    "resourceType": "Consent",
                    "id": fhir_id(f"consent-{consent.consent_id}"),
                    "status": "active" if consent.granted else "rejected",
                    "scope": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                "code": "patient-privacy",
                            }
                        ]
                    },
                    "category": [
                        {
                            "coding": [{"system": f"{SYSTEM_BASE}/consent-kind", "code": consent.kind}],
                            "text": consent.kind,
                        }
                    ],
                    "patient": {"reference": patient_ref},
                    "dateTime": _instant(consent.recorded_at),
                    "policyRule": {"text": f"{consent.kind}: {'granted' if consent.granted else 'refused'}"},
                }
            )
        )
    for photo in export.photos:
        content: dict[str, Any] = {
            "contentType": photo.content_type,
            "title": f"{photo.view} ({photo.source})",
        }
        if include_photo_data and photo.image_bytes:
            content["data"] = base64.b64encode(photo.image_bytes).decode("ascii")
        resources.append(
            _drop_none(
                {
                    "resourceType": "Media",
                    "id": fhir_id(f"photo-{photo.photo_id}"),
                    "identifier": [case_identifier],
                    "status": "completed",
                    "type": {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image"}
                        ]
                    },
                    "view": {"text": photo.view},
                    "subject": {"reference": patient_ref},
                    "createdDateTime": _instant(photo.taken_at),
                    "content": content,
                }
            )
        )
    for metric in export.metrics:
        value: dict[str, Any] = {"value": float(metric.value)}
        if metric.unit:
            value.update(unit=metric.unit)
        interpretation = [{"text": metric.band}] if metric.band else None
        resources.append(
            _drop_none(
                {
                    "resourceType": "Observation",
                    "id": fhir_id(f"metric-{metric.metric_id}"),
                    "identifier": [case_identifier],
                    "status": "preliminary",  # machine measurements, not a physician's finding
                    "code": {
                        "coding": [{"system": f"{SYSTEM_BASE}/metric", "code": metric.metric}],
                        "text": metric.metric,
                    },
                    "bodySite": {"text": metric.region},
                    "subject": {"reference": patient_ref},
                    "effectiveDateTime": _instant(metric.measured_at),
                    "valueQuantity": value,
                    "interpretation": interpretation,
                    "derivedFrom": [{"reference": f"Media/{fhir_id(f'photo-{metric.photo_id}')}"}]
                    if metric.photo_id
                    else None,
                }
            )
        )
    for report in export.reports:
        conclusion = report.summary or "\n\n".join(
            f"{heading}: {text}" for heading, text in report.sections.items() if text
        )
        resources.append(
            _drop_none(
                {
                    "resourceType": "DiagnosticReport",
                    "id": fhir_id(f"report-{report.report_id}"),
                    "identifier": [case_identifier],
                    "status": "final" if report.kind == "physician" else "preliminary",
                    "code": {
                        "coding": [{"system": f"{SYSTEM_BASE}/report-kind", "code": report.kind}],
                        "text": report.kind.replace("_", " "),
                    },
                    "subject": {"reference": patient_ref},
                    "issued": _instant(report.issued_at),
                    "conclusion": conclusion,
                    "performer": [{"display": report.author}] if report.author else None,
                }
            )
        )
    for appointment in export.appointments:
        resources.append(
            _drop_none(
                {
                    "resourceType": "Appointment",
                    "id": fhir_id(f"appointment-{appointment.appointment_id}"),
                    "identifier": [case_identifier],
                    "status": APPOINTMENT_STATUS.get(appointment.status, "proposed"),
                    "description": appointment.reason,
                    "start": _instant(appointment.start_utc),
                    "end": _instant(appointment.end_utc),
                    "comment": f"Location: {appointment.location}",
                    "participant": [
                        {"actor": {"reference": patient_ref}, "status": "accepted"},
                        *(
                            [{"actor": {"display": appointment.physician_name}, "status": "accepted"}]
                            if appointment.physician_name
                            else []
                        ),
                    ],
                }
            )
        )
    return {
        "resourceType": "Bundle",
        "id": fhir_id(f"case-{export.case_id}"),
        "type": "collection",
        "timestamp": _instant(datetime.now(UTC)),
        "identifier": case_identifier,
        "entry": [
            {"fullUrl": f"{SYSTEM_BASE}/{resource['resourceType']}/{resource['id']}", "resource": resource}
            for resource in resources
        ],
    }


def validate_bundle(bundle: dict[str, Any]) -> Any:
    """Parse the bundle with the R4B models; raises pydantic's ValidationError when it is not valid."""
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle)
