"""Who and what is in the clinic: `list-patients`, `list-cases` (by the references people see:
a case's `C-YYMMDD-XXXX`, a patient's e-mail)."""

from __future__ import annotations

import argparse
import json

from core.commands import CommandError, open_clinic


def register(subparsers: argparse._SubParsersAction) -> None:
    patients = subparsers.add_parser("list-patients", help="patients by name or e-mail (all without TEXT)")
    patients.add_argument("text", nargs="?", default="", help="part of a name or e-mail")
    patients.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    patients.set_defaults(handler=_list_patients)

    cases = subparsers.add_parser("list-cases", help="cases with their references, newest first")
    cases.add_argument("--patient", help="only this patient's cases: e-mail or patient id")
    cases.add_argument("--case", help="only this case: reference (C-YYMMDD-XXXX) or id")
    cases.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    cases.set_defaults(handler=_list_cases)


def _directory(clinic):
    from core.directory import Directory

    return Directory(clinic.db, clinic.audit)


def _list_patients(args: argparse.Namespace) -> int:
    from core.access import SYSTEM_PRINCIPAL, ValidationError

    clinic = open_clinic()
    try:
        rows = _directory(clinic).patients(SYSTEM_PRINCIPAL, args.text)
    except ValidationError as error:
        raise CommandError(str(error)) from error
    finally:
        clinic.close()
    if args.json:
        print(
            json.dumps(
                [
                    {"patient_id": r.patient_id, "name": r.name, "email": r.email, "cases": r.cases}
                    for r in rows
                ]
            )
        )
        return 0
    for row in rows:
        print(f"{row.patient_id}\t{row.email or '-'}\t{row.cases} case(s)\t{row.name}")
    print(f"{len(rows)} patient(s)")
    return 0


def _list_cases(args: argparse.Namespace) -> int:
    from core.access import SYSTEM_PRINCIPAL, NotFound, ValidationError

    clinic = open_clinic()
    try:
        rows = _directory(clinic).cases(SYSTEM_PRINCIPAL, args.patient, args.case)
    except (ValidationError, NotFound) as error:
        raise CommandError(str(error)) from error
    finally:
        clinic.close()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "case_id": r.case_id,
                        "reference": r.reference,
                        "status": r.status,
                        "created_at": r.created_at.isoformat(),
                        "patient_id": r.patient_id,
                        "patient_email": r.patient_email,
                    }
                    for r in rows
                ]
            )
        )
        return 0
    for row in rows:
        print(
            f"{row.reference}\t{row.case_id}\t{row.status}\t{row.created_at:%Y-%m-%d}\t{row.patient_email or '-'}"
        )
    print(f"{len(rows)} case(s)")
    return 0
