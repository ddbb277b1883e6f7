"""FHIR R4 (4.0.1) export of a case as a `collection` Bundle that another system can import.

Built as plain dicts (stable JSON, no model objects in the app). Design (docs/FHIR_EXPORT.md):
- every entry has a `urn:uuid:` fullUrl (uuid5 of the clinic's identifier base, the resource type
  and the internal id: the same case exported twice keeps its resource ids) and every reference
  is such a urn:uuid, so references resolve inside the bundle under the bundle rules;
- identifier systems are URIs: `<CLINIC_PUBLIC_URL>/fhir/sid/<kind>` when the clinic has a public
  address, else `urn:clinic-portal:sid:<kind>`;
- the remote consultation is a virtual Encounter, each in-person appointment an ambulatory
  Encounter with its Location; treatments are Procedures; physicians Practitioners; the AI
  engine a Device (name, version, sha256) that the AI DiagnosticReport's Observations name as
  `device` and a Provenance names as performing agent (R4's DiagnosticReport.performer cannot
  be a Device); the physician's report is a DiagnosticReport (LOINC 11488-4 Consult note, the
  PDF letter in `presentedForm`) and a Composition of the same code with the report's sections;
- Observation values are UCUM quantities (`%`, `deg`, `{...}` annotations for counts, indices
  and colour coordinates);
- photos travel as Media; their bytes only on request, with `size` and SHA-1 `hash`;
- the words people read (`text`, narratives, titles, notes) are in the export's language (the
  patient's unless asked otherwise), said by `Bundle.language`; codes stay as they are, and every
  coding keeps its code system's own (English) display: the official one of LOINC, SNOMED CT and
  HL7 terminology, which validators compare, and the clinic's own systems' likewise.

`validate_bundle` parses with the `fhir.resources.R4B` models as a structural check at export
time (R4B is 4.3.0; the resources used here have R4's shape). The tests validate against the
official R4 JSON Schema itself (tests/care/fhir_r4.py).
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from core.care.followup import TREATMENT_TYPES
from core.care.records import (
    AssessmentRecord,
    CaseExport,
    ClinicRecord,
    MetricRecord,
    PhotoRecord,
    ReportRecord,
)
from core.i18n import N_, Translator, translator
from core.vocabulary import VIEW_NAMES

_VIEW_NAMES: dict[str, str] = {str(view): name for view, name in VIEW_NAMES.items()}

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
BCP47 = "urn:ietf:bcp:47"
URI_IDENTIFIER = "urn:ietf:rfc:3986"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
MEDIA_TYPE = "http://terminology.hl7.org/CodeSystem/media-type"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
FALLBACK_SID_BASE = "urn:clinic-portal:sid"
ENGINE_NAME = "Clinic portal AI pre-assessment (image measurements)"
CONSULT_NOTE = {"system": LOINC, "code": "11488-4", "display": "Consult note"}
PATIENT_CONSENT = {"system": LOINC, "code": "59284-0", "display": "Patient Consent"}

# Patient data in every bundle: health data and face photos, for the treating team only.
RESTRICTED = {"system": V3_CONFIDENTIALITY, "code": "R", "display": "restricted"}

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9\-.]")
_ANNOTATION_UNSAFE = re.compile(r"[^!-z|~]")  # UCUM annotations: ASCII 33-126 without { and }

APPOINTMENT_STATUS = {
    "booked": "booked",
    "cancelled": "cancelled",
    "completed": "fulfilled",
    "no_show": "noshow",
}
APPOINTMENT_ENCOUNTER_STATUS = {
    "booked": "planned",
    "completed": "finished",
    "cancelled": "cancelled",
    "no_show": "cancelled",
}
CASE_ENCOUNTER_STATUS = {
    "submitted": "arrived",
    "in_review": "in-progress",
    "report_sent": "finished",
    "in_person_requested": "finished",
    "closed": "finished",
}

# The engine's units (core.assessment.metrics) as UCUM (code, human-readable unit). Dimensionless
# measures the engine defines itself become UCUM annotations ({...} = 1 with a label).
UCUM_UNITS: dict[str, tuple[str, str]] = {
    "deg": ("deg", "°"),
    "%": ("%", "%"),
    "% IOD": ("%{IOD}", "% of the inter-ocular distance"),
    "a*": ("{CIELAB_a*}", "CIELAB a*"),
    "L*": ("{CIELAB_L*}", "CIELAB L*"),
    "dE": ("{CIELAB_deltaE}", "CIELAB ΔE"),
    "MI": ("{index}", "melanin index"),
    "count": ("{count}", "count"),
    "/1000px": ("/10*3{px}", "per 1000 canonical pixels"),
    "probability": ("1", "probability"),
    "grade": ("{grade}", "grade"),
    "score": ("{score}", "score (0-100)"),
    "": ("1", "1"),
}

# SNOMED CT body structures for the face regions (core.vision.regions) and treatment areas.
# Laterality stays in the text ("left cheek"); regions without a fitting concept are text only.
BODY_STRUCTURES: dict[str, tuple[str, str]] = {
    "face": ("89545001", "Face structure"),
    "forehead": ("52795006", "Forehead structure"),
    "cheek": ("60819002", "Cheek structure"),
    "nose": ("45206002", "Nasal structure"),
    "lips": ("48477009", "Lip structure"),
    "lip": ("48477009", "Lip structure"),
    "chin": ("30291003", "Chin structure"),
}

# The physician's report sections: (title, LOINC section code or None).
REPORT_SECTIONS: dict[str, tuple[str, str | None]] = {
    "findings": (N_("Findings"), "29545-1"),
    "assessment": (N_("Assessment"), "51848-0"),
    "recommendations": (N_("Recommended treatments"), "18776-5"),
    "home_care": (N_("Home care"), "69730-0"),
    "in_person": (N_("In-person visit"), None),
    "follow_up": (N_("Follow-up"), None),
}

CONSENT_SCOPES = {
    "telemedicine": "treatment",
    "photo_storage": "patient-privacy",
    "anonymised_use": "research",
}
CONSENT_LABELS = {
    "telemedicine": N_("Consent to remote (telemedicine) consultation and treatment advice"),
    "photo_storage": N_("Consent to store photos in the patient record"),
    "anonymised_use": N_("Consent to use anonymised photos and measurements"),
}
# The words of the export people read (catalog entries; translated into the export's language).
VIRTUAL_ENCOUNTER = N_("Asynchronous teledermatology consultation (photos and questionnaire)")
VISIT_ENCOUNTER = N_("In-person visit at the clinic")
ENGINE_TYPE = N_("Image analysis software: measures skin features on photos, does not diagnose")
TREATMENT_CATEGORY = N_("Aesthetic dermatology treatment")
MEASUREMENT_NOTE = N_("Image measurement for the physician's review; not a diagnosis.")
AI_REPORT = N_("AI pre-assessment (image measurements)")
CONSULT_REPORT = N_("Teledermatology consultation report")


def fhir_id(raw: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) derived from an internal id."""
    cleaned = _ID_UNSAFE.sub("-", str(raw))[:64]
    return cleaned or uuid.uuid5(uuid.NAMESPACE_URL, str(raw)).hex


def identifier_base(clinic: ClinicRecord) -> str:
    return f"{clinic.public_url.rstrip('/')}/fhir/sid" if clinic.public_url else FALLBACK_SID_BASE


def identifier_system(base: str, kind: str) -> str:
    return f"{base}/{kind}" if base.startswith(("http://", "https://")) else f"{base}:{kind}"


def ucum_quantity(value: float, unit: str | None) -> dict[str, Any]:
    """A valueQuantity with UCUM system and code; unknown units become a UCUM annotation."""
    raw = (unit or "").strip()
    code, label = UCUM_UNITS.get(raw) or (f"{{{_ANNOTATION_UNSAFE.sub('_', raw)}}}", raw)
    return {"value": round(float(value), 6), "unit": label, "system": UCUM, "code": code}


def body_site(region: str) -> dict[str, Any]:
    """'cheek_left' -> SNOMED Cheek structure, text 'left cheek'; unknown regions as text only."""
    parts = region.strip().lower().replace("-", "_").replace(" ", "_").split("_")
    side = parts.pop() if len(parts) > 1 and parts[-1] in ("left", "right") else None
    name = "_".join(parts)
    text = " ".join(([side] if side else []) + name.split("_"))
    structure = BODY_STRUCTURES.get(name)
    if structure is None:
        return {"text": text}
    return {"coding": [{"system": SNOMED, "code": structure[0], "display": structure[1]}], "text": text}


_METRIC_LABELS: dict[str, str] = {
    "ita": N_("ITA° (individual typology angle)"),
    "red_area": N_("Red area"),
    "under_eye": N_("Under-eye darkness"),
}


def metric_label(metric: str, t: Translator | None = None) -> str:
    label = _METRIC_LABELS.get(metric)
    if label is None:
        return metric.replace("_", " ").capitalize()
    return t(label) if t is not None else label


def _view_name(view: str, t: Translator) -> str:
    name = _VIEW_NAMES.get(view)
    return t(name) if name else view.replace("_", " ")


def _instant(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return value.isoformat()


def _drop_none(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if value not in (None, [], {}, "")}


def _attachment(
    content_type: str,
    data: bytes | None,
    title: str,
    creation: datetime | date | None,
    language: str | None = None,
) -> dict[str, Any]:
    attachment: dict[str, Any] = {"contentType": content_type, "language": language, "title": title}
    if data:
        attachment["data"] = base64.b64encode(data).decode("ascii")
        attachment["size"] = len(data)
        # R4: Attachment.hash is the base64 SHA-1 of the data.
        attachment["hash"] = base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")
    attachment["creation"] = _instant(creation)
    return _drop_none(attachment)


def _narrative(text: str) -> dict[str, str]:
    paragraphs = "".join(f"<p>{html.escape(part)}</p>" for part in text.split("\n") if part.strip())
    return {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{paragraphs or "<p/>"}</div>',
    }


class _Bundle:
    """Entries with urn:uuid fullUrls derived from (clinic, type, internal id)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.entries: list[dict[str, Any]] = []

    def uuid(self, kind: str, key: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.base}/{kind}/{key}"))

    def ref(self, kind: str, key: str, display: str | None = None) -> dict[str, str]:
        reference = {"reference": f"urn:uuid:{self.uuid(kind, key)}"}
        if display:
            reference["display"] = display
        return reference

    def sid(self, kind: str) -> str:
        return identifier_system(self.base, kind)

    def add(self, kind: str, key: str, resource: dict[str, Any], sensitive: bool = True) -> None:
        resource_id = self.uuid(kind, key)
        body: dict[str, Any] = {"resourceType": kind, "id": resource_id}
        if sensitive:
            body["meta"] = {"security": [RESTRICTED]}
        body.update(_drop_none(resource))
        self.entries.append({"fullUrl": f"urn:uuid:{resource_id}", "resource": body})


def build_case_bundle(
    export: CaseExport, include_photo_data: bool = False, language: str | None = None
) -> dict[str, Any]:
    """The case as an R4 collection Bundle (see the module docstring for the resources); what
    people read in `language` (default: the patient's)."""
    t = translator(language or export.patient.language)
    clinic = export.clinic
    b = _Bundle(identifier_base(clinic))
    patient = export.patient
    patient_ref = b.ref("Patient", patient.patient_id)
    org_ref = b.ref("Organization", "clinic", clinic.name)
    practitioners = {p.physician_id: p for p in export.practitioners}

    def practitioner_ref(physician_id: str | None, fallback_name: str | None = None) -> dict[str, str] | None:
        if physician_id and physician_id in practitioners:
            return b.ref("Practitioner", physician_id, practitioners[physician_id].name)
        return {"display": fallback_name} if fallback_name else None

    # -- who ------------------------------------------------------------------------------------
    b.add(
        "Patient",
        patient.patient_id,
        {
            "identifier": [{"use": "usual", "system": b.sid("patient"), "value": patient.patient_id}],
            "name": [{"use": "official", "text": patient.name}],
            "telecom": [{"system": "email", "value": patient.email}] if patient.email else None,
            "gender": patient.sex if patient.sex in ("male", "female", "other", "unknown") else None,
            "birthDate": _instant(patient.date_of_birth),
            "communication": [
                {"language": {"coding": [{"system": BCP47, "code": patient.language}]}, "preferred": True}
            ],
            "managingOrganization": org_ref,
        },
    )
    telecom = [
        *([{"system": "phone", "value": clinic.phone, "use": "work"}] if clinic.phone else []),
        *([{"system": "email", "value": clinic.email, "use": "work"}] if clinic.email else []),
        *([{"system": "url", "value": clinic.public_url, "use": "work"}] if clinic.public_url else []),
    ]
    address = (
        [{"use": "work", "text": ", ".join(clinic.address_lines), "line": clinic.address_lines}]
        if clinic.address_lines
        else None
    )
    b.add(
        "Organization",
        "clinic",
        {"active": True, "name": clinic.name, "telecom": telecom, "address": address},
        sensitive=False,
    )
    for practitioner in export.practitioners:
        qualification = None
        if practitioner.credentials or practitioner.registration:
            qualification = [
                _drop_none(
                    {
                        "code": {"text": practitioner.credentials or "Registered physician"},
                        "identifier": [
                            {"system": b.sid("practitioner-registration"), "value": practitioner.registration}
                        ]
                        if practitioner.registration
                        else None,
                        "issuer": org_ref if not practitioner.registration else None,
                    }
                )
            ]
        b.add(
            "Practitioner",
            practitioner.physician_id,
            {
                "identifier": [{"system": b.sid("practitioner"), "value": practitioner.physician_id}],
                "active": True,
                "name": [{"text": practitioner.name}],
                "qualification": qualification,
            },
            sensitive=False,
        )
    engines: dict[tuple[str, str], str] = {}  # (version, sha256) -> device key
    for run in export.assessments:
        version, sha = run.engine_version or "unknown", run.engine_sha256 or "unknown"
        if (version, sha) in engines:
            continue
        key = engines[(version, sha)] = f"{version}-{sha}"
        b.add(
            "Device",
            key,
            {
                "identifier": [{"system": b.sid("ai-engine-sha256"), "value": sha}],
                "status": "active",
                "deviceName": [{"name": ENGINE_NAME, "type": "user-friendly-name"}],
                "type": {"text": t(ENGINE_TYPE)},
                "version": [
                    {"type": {"text": "engine version"}, "value": version},
                    {"type": {"text": "sha256 of engine code, models and filter bank"}, "value": sha},
                ],
                "owner": org_ref,
            },
            sensitive=False,
        )

    # -- where and when: the remote consultation and the in-person visits -------------------------
    physician_report = next((r for r in export.reports if r.kind == "physician"), None)
    consult_physician = practitioner_ref(physician_report.physician_id if physician_report else None)
    encounter_ref = b.ref("Encounter", f"case-{export.case_id}")
    status = CASE_ENCOUNTER_STATUS.get(export.status or "", "finished" if physician_report else "in-progress")
    b.add(
        "Encounter",
        f"case-{export.case_id}",
        {
            "identifier": [{"system": b.sid("case"), "value": export.reference}],
            "status": status,
            "class": {"system": V3_ACT_CODE, "code": "VR", "display": "virtual"},
            "type": [{"text": t(VIRTUAL_ENCOUNTER)}],
            "subject": patient_ref,
            "participant": [{"individual": consult_physician}] if consult_physician else None,
            "period": _drop_none(
                {
                    "start": _instant(export.submitted_at),
                    "end": _instant(physician_report.issued_at)
                    if physician_report and status == "finished"
                    else None,
                }
            ),
            "reasonCode": [{"text": export.concern}] if export.concern else None,
            "serviceProvider": org_ref,
        },
    )
    locations: set[str] = set()
    for appointment in export.appointments:
        if appointment.location not in locations:
            locations.add(appointment.location)
            b.add(
                "Location",
                f"{clinic.name}/{appointment.location}",
                {
                    "status": "active",
                    "name": appointment.location,
                    "mode": "instance",
                    "telecom": [t for t in telecom if t["system"] == "phone"],
                    "address": address[0] if address else None,
                    "managingOrganization": org_ref,
                },
                sensitive=False,
            )
    visit_by_day: dict[date, str] = {}
    for appointment in export.appointments:
        location_ref = b.ref("Location", f"{clinic.name}/{appointment.location}", appointment.location)
        physician = practitioner_ref(appointment.physician_id, appointment.physician_name)
        b.add(
            "Appointment",
            appointment.appointment_id,
            {
                "identifier": [{"system": b.sid("appointment"), "value": appointment.appointment_id}],
                "status": APPOINTMENT_STATUS.get(appointment.status, "proposed"),
                "description": appointment.reason,
                "start": _instant(appointment.start_utc),
                "end": _instant(appointment.end_utc),
                "minutesDuration": max(
                    1, int((appointment.end_utc - appointment.start_utc).total_seconds() // 60)
                ),
                "participant": [
                    {"actor": patient_ref, "status": "accepted"},
                    *([{"actor": physician, "status": "accepted"}] if physician else []),
                    {"actor": location_ref, "status": "accepted"},
                ],
            },
        )
        encounter_status = APPOINTMENT_ENCOUNTER_STATUS.get(appointment.status, "planned")
        b.add(
            "Encounter",
            f"appointment-{appointment.appointment_id}",
            {
                "identifier": [{"system": b.sid("appointment"), "value": appointment.appointment_id}],
                "status": encounter_status,
                "class": {"system": V3_ACT_CODE, "code": "AMB", "display": "ambulatory"},
                "type": [{"text": t(VISIT_ENCOUNTER)}],
                "subject": patient_ref,
                "participant": [{"individual": physician}] if physician else None,
                "appointment": [b.ref("Appointment", appointment.appointment_id)],
                "period": {"start": _instant(appointment.start_utc), "end": _instant(appointment.end_utc)},
                "reasonCode": [{"text": appointment.reason}] if appointment.reason else None,
                "location": [
                    {
                        "location": location_ref,
                        "status": "completed" if encounter_status == "finished" else "planned",
                    }
                ],
                "serviceProvider": org_ref,
            },
        )
        if appointment.status != "cancelled":
            visit_by_day.setdefault(appointment.start_utc.date(), appointment.appointment_id)

    # -- consent ----------------------------------------------------------------------------------
    for consent in export.consents:
        label = (
            t(CONSENT_LABELS[consent.kind])
            if consent.kind in CONSENT_LABELS
            else consent.kind.replace("_", " ")
        )
        policy = (
            t(N_("{label}, consent text version {version}"), label=label, version=consent.version)
            if consent.version
            else label
        )
        b.add(
            "Consent",
            consent.consent_id,
            {
                # The language of the consent text the patient answered (Resource.language);
                # rows recorded before texts had languages answered the English text.
                "language": consent.language or "en",
                "identifier": [{"system": b.sid("consent"), "value": consent.consent_id}],
                # A refusal is a recorded, active decision: an active Consent that denies.
                "status": "active",
                "scope": {
                    "coding": [
                        {"system": CONSENT_SCOPE, "code": CONSENT_SCOPES.get(consent.kind, "patient-privacy")}
                    ]
                },
                "category": [
                    {"coding": [PATIENT_CONSENT]},
                    {"coding": [{"system": b.sid("consent-kind"), "code": consent.kind}], "text": label},
                ],
                "patient": patient_ref,
                "dateTime": _instant(consent.recorded_at),
                "performer": [patient_ref],
                "organization": [org_ref],
                "policyRule": {
                    "coding": [{"system": V3_ACT_CODE, "code": "OPTIN", "display": "opt-in"}],
                    "text": policy,
                },
                "provision": {"type": "permit" if consent.granted else "deny"},
            },
        )

    # -- photos -----------------------------------------------------------------------------------
    photo_ids = {photo.photo_id for photo in export.photos}
    for photo in export.photos:
        b.add("Media", photo.photo_id, _media(b, photo, patient_ref, encounter_ref, include_photo_data, t))

    # -- the AI pre-assessment: Device-made Observations in a DiagnosticReport ------------------------
    by_run: dict[str | None, list[MetricRecord]] = {}
    runs = {run.assessment_id: run for run in export.assessments}
    for metric in export.metrics:
        if math.isfinite(metric.value):
            by_run.setdefault(metric.assessment_id if metric.assessment_id in runs else None, []).append(
                metric
            )
    for run_id, metrics in by_run.items():
        run = runs.get(run_id) if run_id else None
        device_ref = (
            b.ref("Device", engines[(run.engine_version or "unknown", run.engine_sha256 or "unknown")])
            if run
            else None
        )
        for metric in metrics:
            b.add(
                "Observation",
                metric.metric_id,
                _observation(
                    b, metric, patient_ref, encounter_ref, device_ref, metric.photo_id in photo_ids, t
                ),
            )
        if run is not None:
            _add_ai_report(b, run, metrics, export.photos, patient_ref, encounter_ref, org_ref, device_ref, t)

    # -- treatments ----------------------------------------------------------------------------------
    for treatment in export.treatments:
        english = TREATMENT_TYPES.get(treatment.treatment_type, treatment.treatment_type.replace("_", " "))
        label = t(english)  # the text; the coding keeps the code system's (English) display
        visit = visit_by_day.get(treatment.treated_on)
        notes = [
            *(
                [
                    {
                        "text": t(
                            N_("Amount: {amount}"),
                            amount=f"{t.number(treatment.amount)} {treatment.unit or ''}".rstrip(),
                        )
                    }
                ]
                if treatment.amount is not None
                else []
            ),
            *([{"text": treatment.notes}] if treatment.notes else []),
        ]
        performer = practitioner_ref(treatment.physician_id)
        b.add(
            "Procedure",
            treatment.treatment_id,
            {
                "identifier": [{"system": b.sid("treatment"), "value": treatment.treatment_id}],
                "status": "completed",
                "category": {"text": t(TREATMENT_CATEGORY)},
                "code": {
                    "coding": [
                        {
                            "system": b.sid("treatment-type"),
                            "code": treatment.treatment_type,
                            "display": english,
                        }
                    ],
                    "text": f"{label} ({treatment.product})" if treatment.product else label,
                },
                "subject": patient_ref,
                "encounter": b.ref("Encounter", f"appointment-{visit}") if visit else encounter_ref,
                "performedDateTime": _instant(treatment.treated_on),
                "performer": [{"actor": performer}] if performer else None,
                "location": b.ref("Location", f"{clinic.name}/{_appointment_location(export, visit)}")
                if visit
                else None,
                "bodySite": [body_site(treatment.area)],
                "note": notes,
                "usedCode": [{"text": treatment.product}] if treatment.product else None,
            },
        )

    # -- the physician's report ----------------------------------------------------------------------
    for report in export.reports:
        if report.kind != "physician":
            continue
        _add_physician_report(
            b,
            report,
            export,
            patient_ref,
            encounter_ref,
            org_ref,
            practitioner_ref(report.physician_id, report.author),
            t,
        )

    bundle_id = str(uuid.uuid4())
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {"security": [RESTRICTED]},
        "identifier": {"system": URI_IDENTIFIER, "value": f"urn:uuid:{bundle_id}"},
        "type": "collection",
        "timestamp": _instant(datetime.now(UTC)),
        "language": t.html_lang,  # the language of its words (text, narratives, the clinic's displays)
        "entry": b.entries,
    }


def _appointment_location(export: CaseExport, appointment_id: str) -> str:
    return next(a.location for a in export.appointments if a.appointment_id == appointment_id)


def _media(
    b: _Bundle, photo: PhotoRecord, patient_ref: dict, encounter_ref: dict, include_data: bool, t: Translator
) -> dict[str, Any]:
    view_name = _view_name(photo.view, t)
    display = _VIEW_NAMES.get(photo.view, photo.view.replace("_", " "))  # the code system's own words
    return {
        "identifier": [{"system": b.sid("photo"), "value": photo.photo_id}],
        "status": "completed",
        "type": {"coding": [{"system": MEDIA_TYPE, "code": "image", "display": "Image"}]},
        "view": {
            "coding": [{"system": b.sid("photo-view"), "code": photo.view, "display": display}],
            "text": view_name,
        },
        "subject": patient_ref,
        "encounter": encounter_ref,
        "createdDateTime": _instant(photo.taken_at),
        "bodySite": body_site("face") if photo.view != "close_up" else None,
        "content": _attachment(
            photo.content_type,
            photo.image_bytes if include_data else None,
            f"{view_name} ({photo.source})",
            photo.taken_at,
        ),
    }


def _observation(
    b: _Bundle,
    metric: MetricRecord,
    patient_ref: dict,
    encounter_ref: dict,
    device_ref: dict | None,
    has_photo: bool,
    t: Translator,
) -> dict[str, Any]:
    label = metric_label(metric.metric, t)
    components = None
    if metric.score is not None and math.isfinite(metric.score):
        components = [
            {
                "code": {
                    "coding": [{"system": b.sid("skin-metric-score"), "code": metric.metric}],
                    "text": t(N_("{label} score (0-100)"), label=label),
                },
                "valueQuantity": ucum_quantity(metric.score, "score"),
            }
        ]
    return {
        "identifier": [{"system": b.sid("measurement"), "value": metric.metric_id}],
        "status": "preliminary",  # machine measurements, not a physician's finding
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "imaging", "display": "Imaging"}]}],
        "code": {
            "coding": [
                {
                    "system": b.sid("skin-metric"),
                    "code": metric.metric,
                    "display": metric_label(metric.metric),
                }
            ],
            "text": label,
        },
        "subject": patient_ref,
        "encounter": encounter_ref,
        "effectiveDateTime": _instant(metric.measured_at),
        "device": device_ref,
        "bodySite": body_site(metric.region),
        "valueQuantity": ucum_quantity(metric.value, metric.unit),
        "interpretation": [
            {"coding": [{"system": b.sid("measurement-band"), "code": metric.band}], "text": metric.band}
        ]
        if metric.band and metric.band != "n/a"
        else None,
        "note": [{"text": t(MEASUREMENT_NOTE)}],
        "derivedFrom": [b.ref("Media", metric.photo_id)] if has_photo and metric.photo_id else None,
        "component": components,
    }


def _add_ai_report(
    b: _Bundle,
    run: AssessmentRecord,
    metrics: list[MetricRecord],
    photos: list[PhotoRecord],
    patient_ref: dict,
    encounter_ref: dict,
    org_ref: dict,
    device_ref: dict | None,
    t: Translator,
) -> None:
    used = set(run.photo_ids) | {m.photo_id for m in metrics if m.photo_id}
    media = [
        {"comment": _view_name(p.view, t), "link": b.ref("Media", p.photo_id)}
        for p in photos
        if p.photo_id in used
    ]
    report_status = {"done": "preliminary", "failed": "cancelled"}.get(run.status or "", "registered")
    conclusion = " ".join(
        part
        for part in (
            run.summary.strip(),
            "Image measurements as decision support for the physician; not a diagnosis.",
        )
        if part
    )
    observation_refs = [b.ref("Observation", m.metric_id) for m in metrics]
    b.add(
        "DiagnosticReport",
        f"assessment-{run.assessment_id}",
        {
            "identifier": [{"system": b.sid("assessment"), "value": run.assessment_id}],
            "status": report_status,
            "category": [
                {"coding": [{"system": DIAGNOSTIC_SERVICE, "code": "IMG", "display": "Diagnostic Imaging"}]}
            ],
            "code": {
                "coding": [
                    {
                        "system": b.sid("report-kind"),
                        "code": "ai-pre-assessment",
                        "display": "AI pre-assessment",
                    }
                ],
                "text": t(AI_REPORT),
            },
            "subject": patient_ref,
            "encounter": encounter_ref,
            "effectiveDateTime": _instant(run.issued_at),
            "issued": _instant(run.issued_at),
            "performer": [org_ref],
            "result": observation_refs,
            "media": media,
            "conclusion": conclusion,
        },
    )
    if device_ref is None:
        return
    b.add(
        "Provenance",
        f"assessment-{run.assessment_id}",
        {
            "target": [b.ref("DiagnosticReport", f"assessment-{run.assessment_id}"), *observation_refs],
            "recorded": _instant(run.issued_at or datetime.now(UTC)),
            "agent": [
                {
                    "type": {
                        "coding": [{"system": PROVENANCE_AGENT, "code": "performer", "display": "Performer"}]
                    },
                    "who": device_ref,
                    "onBehalfOf": org_ref,
                }
            ],
            "entity": [{"role": "source", "what": m["link"]} for m in media],
        },
    )


def _add_physician_report(
    b: _Bundle,
    report: ReportRecord,
    export: CaseExport,
    patient_ref: dict,
    encounter_ref: dict,
    org_ref: dict,
    author: dict | None,
    t: Translator,
) -> None:
    sections = [(key, text.strip()) for key, text in report.sections.items() if text and text.strip()]
    conclusion = report.summary or "\n\n".join(
        t(N_("{heading}: {text}"), heading=t(REPORT_SECTIONS.get(key, (key, None))[0]), text=text)
        for key, text in sections
    )
    title = t(N_("Consultation report {reference}"), reference=export.reference)
    media = [
        {"comment": _view_name(p.view, t), "link": b.ref("Media", p.photo_id)}
        for p in export.photos
        if p.source != "followup"
    ]
    b.add(
        "DiagnosticReport",
        f"report-{report.report_id}",
        {
            "identifier": [{"system": b.sid("report"), "value": report.report_id}],
            "status": report.status,
            "code": {"coding": [CONSULT_NOTE], "text": t(CONSULT_REPORT)},
            "subject": patient_ref,
            "encounter": encounter_ref,
            "effectiveDateTime": _instant(export.submitted_at),
            "issued": _instant(report.issued_at),
            "performer": [author] if author else None,
            "resultsInterpreter": [author] if author else None,
            "media": media,
            "conclusion": conclusion,
            "presentedForm": [
                _attachment("application/pdf", report.pdf, title, report.issued_at, export.patient.language)
            ]
            if report.pdf
            else None,
        },
    )
    composition_sections = []
    for key, text in sections:
        heading, loinc = REPORT_SECTIONS.get(key, (key, None))
        heading = t(heading)
        composition_sections.append(
            _drop_none(
                {
                    "title": heading,
                    "code": {"coding": [{"system": LOINC, "code": loinc}], "text": heading}
                    if loinc
                    else {"text": heading},
                    "text": _narrative(text),
                }
            )
        )
    final = report.status == "final"
    b.add(
        "Composition",
        f"report-{report.report_id}",
        {
            "identifier": {"system": b.sid("report"), "value": report.report_id},
            "status": "final" if final else "preliminary",
            "type": {"coding": [CONSULT_NOTE], "text": t(CONSULT_REPORT)},
            "subject": patient_ref,
            "encounter": encounter_ref,
            "date": _instant(report.issued_at or datetime.now(UTC)),
            "author": [author] if author else [org_ref],
            "title": title,
            "confidentiality": "R",
            "attester": [{"mode": "legal", "time": _instant(report.issued_at), "party": author}]
            if final and author and "reference" in author
            else None,
            "custodian": org_ref,
            "section": composition_sections,
        },
    )


def bundle_references(bundle: dict[str, Any]) -> list[str]:
    """Every `reference` string anywhere in the bundle's resources."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for entry in bundle.get("entry", []):
        walk(entry.get("resource"))
    return found


def validate_bundle(bundle: dict[str, Any]) -> Any:
    """Parse with the R4B models (structural check); raises pydantic's ValidationError when invalid.

    Also refuses a reference that does not resolve to an entry of the bundle."""
    from fhir.resources.R4B.bundle import Bundle

    full_urls = {entry.get("fullUrl") for entry in bundle.get("entry", [])}
    dangling = sorted({ref for ref in bundle_references(bundle) if ref not in full_urls})
    if dangling:
        raise ValueError(f"references that resolve to no entry of the bundle: {', '.join(dangling[:5])}")
    return Bundle.model_validate(bundle)
