"""Hybrid-care operator commands: `export-fhir`, `export-patient-data`, `erase-patient`,
`physician-credentials`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from core.commands import CommandError, open_clinic
from core.private_files import write_private

if TYPE_CHECKING:
    from core.clinic import Clinic


def register(subparsers: argparse._SubParsersAction) -> None:
    fhir = subparsers.add_parser("export-fhir", help="write a case as a FHIR R4 Bundle (JSON)")
    fhir.add_argument("case", help="the case: its reference as people see it (C-YYMMDD-XXXX) or its id")
    fhir.add_argument(
        "--physician",
        help="e-mail of the physician on whose behalf it is exported (audited);"
        " default: the physician who wrote the case's report, else the one assigned to it",
    )
    fhir.add_argument("--output", "-o", help="file to write (default: stdout)")
    fhir.add_argument(
        "--with-photos",
        action="store_true",
        help="embed the photos (base64, with size and SHA-1 hash) in the Media resources",
    )
    fhir.set_defaults(handler=_export_fhir)

    creds = subparsers.add_parser(
        "physician-credentials",
        help="set what report letters and FHIR exports say about a physician (credentials, register number)",
    )
    creds.add_argument("email", help="the physician's log-in e-mail")
    creds.add_argument("--credentials", default="", help='e.g. "MD, dermatologist" (empty clears it)')
    creds.add_argument("--registration", default="", help="professional register number (empty clears it)")
    creds.set_defaults(handler=_physician_credentials)

    data = subparsers.add_parser(
        "export-patient-data", help="write everything stored about a patient as a zip"
    )
    data.add_argument("patient", help="the patient's e-mail or id")
    data.add_argument("output")
    data.set_defaults(handler=_export_patient_data)

    erase = subparsers.add_parser(
        "erase-patient", help="erase a patient's rows and photos (GDPR); audit kept"
    )
    erase.add_argument("patient", help="the patient's e-mail or id")
    erase.add_argument("--yes", action="store_true", help="confirm; without it nothing is erased")
    erase.set_defaults(handler=_erase_patient)


def _export_fhir(args: argparse.Namespace) -> int:
    from core.access import SYSTEM_PRINCIPAL, AccessDenied, NotFound

    clinic = open_clinic()
    try:
        case_id = _resolve(clinic, "case", args.case)
        if args.physician:
            row = clinic.db.fetchone(
                "SELECT id FROM users WHERE email = ? AND role = 'physician'",  # stored normalised
                [args.physician.strip().lower()],
            )
            if row is None:
                raise CommandError(f"no physician with e-mail {args.physician}")
        else:
            row = clinic.db.fetchone(
                "SELECT coalesce((SELECT physician_id FROM reports WHERE case_id = c.id), c.assigned_physician_id)"
                " FROM cases c WHERE c.id = ?",
                [case_id],
            )
            if row is None or row[0] is None:
                raise CommandError(
                    "nobody has worked on this case yet: name the physician with --physician EMAIL"
                )
        physician = clinic.auth.principal_for_user(SYSTEM_PRINCIPAL, row[0])
        try:
            bundle = clinic.exports.fhir_bundle(physician, case_id, include_photo_data=args.with_photos)
        except (AccessDenied, NotFound) as error:
            raise CommandError(str(error)) from error
        text = json.dumps(bundle, indent=2)
        if args.output:
            write_private(Path(args.output), text.encode("utf-8"))  # patient data: 0600
            print(f"wrote {len(bundle['entry'])} resources to {args.output}")
        else:
            print(text)
        return 0
    finally:
        clinic.close()


def _physician_credentials(args: argparse.Namespace) -> int:
    from core.access import SYSTEM_PRINCIPAL

    clinic = open_clinic()
    try:
        row = clinic.db.fetchone(
            "SELECT id FROM users WHERE email = ? AND role = 'physician'", [args.email.strip().lower()]
        )
        if row is None:
            raise CommandError(f"no physician with email {args.email}")
        clinic.exports.set_physician_credentials(
            SYSTEM_PRINCIPAL, row[0], args.credentials, args.registration
        )
        practitioner = clinic.exports.practitioner(row[0])
        print(
            f"{practitioner.name}: credentials {practitioner.credentials or '-'},"
            f" registration {practitioner.registration or '-'}"
        )
        return 0
    finally:
        clinic.close()


def _export_patient_data(args: argparse.Namespace) -> int:
    from core.access import SYSTEM_PRINCIPAL, NotFound

    clinic = open_clinic()
    try:
        try:
            blob = clinic.exports.patient_data_zip(
                SYSTEM_PRINCIPAL, _resolve(clinic, "patient", args.patient)
            )
        except NotFound as error:
            raise CommandError(str(error)) from error
        write_private(Path(args.output), blob)  # patient data: 0600
        print(f"wrote {len(blob):,} bytes to {args.output}")
        return 0
    finally:
        clinic.close()


def _erase_patient(args: argparse.Namespace) -> int:
    from core.access import SYSTEM_PRINCIPAL, NotFound

    if not args.yes:
        raise CommandError("erasure is permanent: add --yes to confirm")
    clinic = open_clinic()
    try:
        try:
            result = clinic.exports.erase_patient(SYSTEM_PRINCIPAL, _resolve(clinic, "patient", args.patient))
        except NotFound as error:
            raise CommandError(str(error)) from error
        print(
            f"erased patient {result.patient_id}: {sum(result.rows_deleted.values())} rows, {result.blobs_deleted} blobs"
        )
        for table, count in sorted(result.rows_deleted.items()):
            print(f"  {table}: {count}")
        return 0
    finally:
        clinic.close()


def _resolve(clinic: Clinic, kind: str, ref: str) -> str:
    """The id behind what the operator typed: a case's C-YYMMDD-XXXX or a patient's e-mail (or an id)."""
    from core.access import SYSTEM_PRINCIPAL, NotFound, ValidationError
    from core.directory import Directory

    directory = Directory(clinic.db, clinic.audit)
    try:
        if kind == "case":
            return directory.resolve_case(SYSTEM_PRINCIPAL, ref)
        return directory.resolve_patient(SYSTEM_PRINCIPAL, ref)
    except (NotFound, ValidationError) as error:
        raise CommandError(str(error)) from error
