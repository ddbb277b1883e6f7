"""Archive search/timeline/chart data, FHIR and PDF exports, the data download and erasure."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import date, time, timedelta

import pytest
from pypdf import PdfReader

from core.access import AccessDenied
from core.assessment.findings import VIEW_WORDS
from core.care.archive import ArchiveFilter
from core.care.fhir import validate_bundle
from core.care.followup import PlannedCheckIn
from core.care.records import TreatmentInput
from core.i18n import translator, upper_first
from tests.care import fhir_r4
from tests.care.conftest import _settle
from tests.photo_factory import checked_photo


def _full_case(world) -> str:
    care = world.clinic.care
    case_id = world.submit_case()
    world.report_case(case_id)
    care.appointments.book_local(
        world.physician, case_id, date.today() + timedelta(days=7), time(11), 30, "Toxin session"
    )
    plan = [PlannedCheckIn(date.today(), "Check-in", ("front",))]
    _, (checkin,) = care.treatments.record_treatment(
        world.physician,
        case_id,
        TreatmentInput("botulinum_toxin", "forehead", date.today(), amount=12, unit="U"),
        plan,
    )
    care.checkins.submit_checkin(
        world.patient, checkin.checkin_id, {"front": checked_photo("front", world.photo_bytes)}
    )
    return case_id


def test_search_filters(care_world) -> None:
    world = care_world
    archive = world.clinic.archive
    case_id = _full_case(world)
    other_case = world.submit_case(world.other_patient)
    everything = archive.search_cases(world.physician, ArchiveFilter())
    assert {c.case_id for c in everything} == {case_id, other_case}
    by_name = archive.search_cases(world.physician, ArchiveFilter(patient_text="müll"))
    assert [c.case_id for c in by_name] == [case_id]
    assert by_name[0].photo_count == 4 and by_name[0].treatments == ["botulinum_toxin"]
    assert [
        c.case_id for c in archive.search_cases(world.physician, ArchiveFilter(patient_text="SAM@example"))
    ] == [other_case]
    assert [
        c.case_id
        for c in archive.search_cases(world.physician, ArchiveFilter(treatment_type="botulinum_toxin"))
    ] == [case_id]
    assert [c.case_id for c in archive.search_cases(world.physician, ArchiveFilter(status="submitted"))] == [
        other_case
    ]
    assert len(archive.search_cases(world.physician, ArchiveFilter(concern="lines_wrinkles"))) == 2
    assert (
        archive.search_cases(world.physician, ArchiveFilter(date_to=date.today() - timedelta(days=1))) == []
    )
    with pytest.raises(AccessDenied):
        archive.search_cases(world.patient, ArchiveFilter())


def test_timeline_is_ordered_and_complete(care_world) -> None:
    world = care_world
    case_id = _full_case(world)
    events = world.clinic.archive.patient_timeline(world.physician, world.patient.patient_id)
    kinds = {e.kind for e in events}
    assert {"case", "photo", "report", "treatment", "appointment", "checkin"} <= kinds
    assert all(e.case_id == case_id for e in events)
    stamps = [e.at.replace(tzinfo=None) for e in events]
    assert stamps == sorted(stamps)
    with pytest.raises(AccessDenied):
        world.clinic.archive.patient_timeline(world.other_patient, world.patient.patient_id)


def test_metric_series_and_treatment_marks(care_world) -> None:
    world = care_world
    _full_case(world)
    data = world.clinic.archive.metric_series(world.patient, world.patient.patient_id)
    assert [label for _, label in data.treatments] == ["botulinum_toxin (forehead)"]
    assert all(point.value == point.value for point in data.points)  # no NaN
    photos = world.clinic.archive.patient_photos(world.physician, world.patient.patient_id, "front")
    assert [p.source for p in photos][-1] == "followup"


def test_fhir_bundle_of_a_real_case_is_valid_r4_and_self_contained(care_world) -> None:
    world = care_world
    case_id = _full_case(world)
    _settle(world.clinic)  # the AI pre-assessment's Observations are part of the export
    world.clinic.exports.set_physician_credentials(
        world.admin, world.physician.user_id, "MD, dermatologist", "BIG 1"
    )
    bundle = world.clinic.exports.fhir_bundle(world.physician, case_id, include_photo_data=True)
    assert fhir_r4.schema_errors(bundle) == []
    assert fhir_r4.unresolved_references(bundle) == []
    assert fhir_r4.invalid_ucum_units(bundle) == []
    parsed = validate_bundle(bundle)
    kinds = [e.resource.__resource_type__ for e in parsed.entry]
    assert kinds[0] == "Patient" and kinds.count("Media") == 4
    for kind in (
        "Appointment",
        "Consent",
        "Procedure",
        "Practitioner",
        "Location",
        "Composition",
        "Organization",
    ):
        assert kind in kinds, kind
    assert kinds.count("Encounter") == 2  # the remote consultation and the booked visit
    resources = [e["resource"] for e in bundle["entry"]]
    practitioner = next(r for r in resources if r["resourceType"] == "Practitioner")
    assert practitioner["qualification"][0]["code"]["text"] == "MD, dermatologist"
    report = next(
        r
        for r in resources
        if r["resourceType"] == "DiagnosticReport" and r["code"]["coding"][0]["code"] == "11488-4"
    )
    letter = base64.b64decode(report["presentedForm"][0]["data"])
    assert letter.startswith(b"%PDF") and "Dynamic forehead lines" in _pdf_text(letter)
    consents = [r for r in resources if r["resourceType"] == "Consent"]
    assert {c["scope"]["coding"][0]["code"] for c in consents} >= {"treatment"}  # telemedicine
    if world.clinic.db.fetchone(
        "SELECT count(*) FROM assessments WHERE case_id = ? AND status = 'done'", [case_id]
    )[0]:
        assert "Device" in kinds and "Provenance" in kinds and kinds.count("Observation") > 0
    assert "care.fhir_export" in world.clinic.audit.actions()
    with pytest.raises(AccessDenied):
        world.clinic.exports.fhir_bundle(world.other_patient, case_id)


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_report_pdf_for_the_patient(care_world) -> None:
    world = care_world
    case_id = world.submit_case()
    world.report_case(case_id)
    _settle(world.clinic)
    photo_id = world.clinic.care.treatments.baseline_photos(world.patient, case_id)["front"]
    with pytest.raises(AccessDenied):
        world.clinic.exports.set_physician_credentials(world.physician, world.physician.user_id, "MD", None)
    world.clinic.exports.set_physician_credentials(
        world.admin, world.physician.user_id, "Dermatologin", "BIG 7"
    )
    pdf = world.clinic.exports.report_pdf(world.patient, case_id, [photo_id])
    text = _pdf_text(pdf)
    assert "Dynamic forehead lines" in text and "Zoë Müller" in text
    assert "1. Mai 1988" in text  # the date of birth, German patient
    assert date.today().strftime("%Y") in text and "Konsultationsbericht" in text
    assert "Dr Ada Lovelace, Dermatologin" in text and "Reg.-Nr. BIG 7" in text
    german = translator("de")
    signed = german.gettext("Electronically signed on {date}").split("{date}")[0].strip()
    assert "Seite 1 von" in text and signed.startswith("Elektronisch") and signed in text
    front = upper_first(german.gettext(VIEW_WORDS["front"]))
    assert front != "Front" and front in text  # the photo's view under it, in the card's words
    assert "care.report_pdf_export" in world.clinic.audit.actions()
    assert "care.physician_credentials" in world.clinic.audit.actions()
    with pytest.raises(AccessDenied):
        world.clinic.exports.report_pdf(world.other_patient, case_id)


def test_data_download_holds_rows_and_decrypted_photos_without_secrets(care_world) -> None:
    world = care_world
    case_id = _full_case(world)
    other_case = world.submit_case(world.other_patient)
    _settle(world.clinic)  # the pre-assessment's images of the photos are the patient's data too
    blob = world.clinic.exports.patient_data_zip(world.patient)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        data = json.loads(archive.read("data.json"))
        photo_names = [n for n in archive.namelist() if n.startswith("photos/")]
        first_photo = archive.read(photo_names[0])
        image_names = [n for n in archive.namelist() if n.startswith("assessments/")]
        first_image = archive.read(image_names[0]) if image_names else b""
    tables = data["tables"]
    assert tables["patients"][0]["name"] == "Zoë Müller"
    assert {row["id"] for row in tables["cases"]} == {case_id}
    assert other_case not in json.dumps(tables)
    assert "password_hash" not in json.dumps(tables)
    assert len(photo_names) == 4 and first_photo[:2] == b"\xff\xd8"  # JPEG, decrypted
    owned = world.clinic.db.fetchall(
        "SELECT blob_id FROM assessment_blobs WHERE patient_id = ?", [world.patient.patient_id]
    )
    assert owned and len(image_names) == len(owned)  # every image the engine made of the photos
    assert first_image[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb")  # decrypted
    with pytest.raises(AccessDenied):
        world.clinic.exports.patient_data_zip(None)  # type: ignore[arg-type]
    assert "care_treatments" in tables and "care_appointments" in tables
    assert "care.patient_data_export" in world.clinic.audit.actions()
    with pytest.raises(AccessDenied):
        world.clinic.exports.patient_data_zip(world.other_patient, world.patient.patient_id)
    with pytest.raises(AccessDenied):
        world.clinic.exports.patient_data_zip(world.physician, world.patient.patient_id)


def test_erasure_leaves_nothing_of_the_patient_and_audit_still_verifies(care_world) -> None:
    world = care_world
    clinic = world.clinic
    case_id = _full_case(world)
    other_case = world.submit_case(world.other_patient)
    patient_id, user_id = world.patient.patient_id, world.patient.user_id
    _settle(clinic)  # the pre-assessment's overlay images are the patient's blobs too
    blob_ids = [
        r[0]
        for r in clinic.db.fetchall(
            "SELECT blob_id FROM photos WHERE patient_id = ?"
            " UNION ALL SELECT blob_id FROM assessment_blobs WHERE patient_id = ?",
            [patient_id, patient_id],
        )
    ]
    assert blob_ids and all(clinic.blobs.exists(b) for b in blob_ids)
    with pytest.raises(AccessDenied):
        clinic.exports.erase_patient(world.physician, patient_id)
    result = clinic.exports.erase_patient(world.admin, patient_id)
    assert result.blobs_deleted == len(blob_ids) and result.rows_deleted["photos"] == 4
    assert not any(clinic.blobs.exists(b) for b in blob_ids)
    # No row anywhere (outside the audit log) mentions the patient, their user or their case.
    needles = [patient_id, user_id, case_id, "Zoë", "zoe@example.test"]
    tables = [
        r[0]
        for r in clinic.db.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'clinic' AND table_type = 'BASE TABLE'"
        )
    ]
    for table in tables:
        if table == "audit_log":
            continue
        dump = json.dumps(clinic.db.fetchall(f"SELECT * FROM {table}"), default=str)
        for needle in needles:
            assert needle not in dump, f"{needle} left in {table}"
    # The audit log names nobody (ids only) and its hash chain is intact.
    audit_dump = json.dumps(clinic.db.fetchall("SELECT * FROM audit_log"), default=str)
    assert "Zoë" not in audit_dump and "zoe@example.test" not in audit_dump
    assert clinic.audit.verify().ok
    # The other patient is untouched.
    assert clinic.cases.get_case(world.physician, other_case).patient_name == "Sam Other"


def test_cli_exports_and_erases(care_world, tmp_path, capsys) -> None:
    from core.__main__ import main

    world = care_world
    case_id = _full_case(world)
    patient_id = world.patient.patient_id
    reference = world.clinic.cases.get_case(world.physician, case_id).reference
    email = world.patient.email
    world.clinic.close()  # the CLI opens the clinic itself (one handle per database file)
    assert (
        main(["physician-credentials", "doc@example.test", "--credentials", "MD", "--registration", "R1"])
        == 0
    )
    assert "credentials MD, registration R1" in capsys.readouterr().out
    assert main(["physician-credentials", "nobody@example.test", "--credentials", "MD"]) == 1
    out = tmp_path / "bundle.json"
    assert main(["export-fhir", case_id, "--physician", "doc@example.test", "-o", str(out)]) == 0
    bundle = json.loads(out.read_text())
    validate_bundle(bundle)
    assert fhir_r4.unresolved_references(bundle) == []
    practitioner = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Practitioner"
    )
    assert practitioner["qualification"][0]["code"]["text"] == "MD"
    # What people see works too: the case's reference (any case), and the report's author by default.
    by_reference = tmp_path / "by_reference.json"
    assert main(["export-fhir", reference.lower(), "-o", str(by_reference)]) == 0
    assert json.loads(by_reference.read_text())["entry"] and "wrote" in capsys.readouterr().out
    assert main(["export-fhir", "C-000000-ZZZZ"]) == 1
    assert "no case" in capsys.readouterr().err

    assert main(["export-patient-data", email.upper(), str(tmp_path / "data.zip")]) == 0
    assert zipfile.is_zipfile(tmp_path / "data.zip")
    assert main(["erase-patient", patient_id]) == 1  # needs --yes
    assert main(["erase-patient", email, "--yes"]) == 0
    assert "erased patient" in capsys.readouterr().out
    assert main(["erase-patient", patient_id, "--yes"]) == 1  # gone


def test_search_by_assessment_flag(care_world) -> None:
    world = care_world
    clinic = world.clinic
    flagged = world.submit_case()
    plain = world.submit_case(world.other_patient)
    _settle(clinic)  # the pre-assessment worker may be writing its own rows
    clinic.db.execute(
        "INSERT INTO assessments (id, case_id, patient_id, status, report_json, created_at)"
        " VALUES ('flag-test', ?, ?, 'done', ?, now()::TIMESTAMP)",
        [flagged, world.patient.patient_id, json.dumps({"flags": [{"code": "suspicious_lesion_xq"}]})],
    )
    found = clinic.archive.search_cases(world.physician, ArchiveFilter(flag="suspicious_lesion_xq"))
    assert [c.case_id for c in found] == [flagged]
    assert plain not in {c.case_id for c in found}
