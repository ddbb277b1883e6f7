"""`assess PATH [--view front] [--json]`: run the AI pre-assessment on one photo file (no database).

`reassess [--all] [--case ID]`: run the current engine on stored cases, so progress charts compare
numbers of one engine version.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.commands import CommandError, open_clinic


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("assess", help="measure one photo with the AI pre-assessment engine")
    parser.add_argument("path", type=Path, help="image file (JPEG/PNG/HEIC)")
    parser.add_argument(
        "--view", default="front", help="front | left_oblique | right_oblique | close_up (default: front)"
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--no-quality", action="store_true", help="skip the photo quality gate")
    parser.add_argument("--overlays", type=Path, default=None, help="write redness/spots/lines overlays here")
    parser.set_defaults(handler=_assess)

    again = subparsers.add_parser(
        "reassess", help="run the current assessment engine on stored cases (after an engine update)"
    )
    again.add_argument("--all", action="store_true", help="every case with photos, not only outdated ones")
    again.add_argument("--case", action="append", default=[], help="only this case id (repeatable)")
    again.set_defaults(handler=_reassess)


def _assess(args: argparse.Namespace) -> int:
    import cv2

    from core.assessment.engine import PhotoInput, assess_case
    from core.assessment.filterbank import FilterBankError
    from core.consult.photos import UploadRejected, decode_to_bgr, intake_photo
    from core.vocabulary import normalise_view

    try:
        view = normalise_view(args.view)  # 'close-up' and 'close_up' are one view
    except ValueError as error:
        raise CommandError(str(error), exit_code=2) from error
    if not args.path.is_file():
        raise CommandError(f"{args.path} does not exist", exit_code=2)
    try:
        # The patients' intake: the same limits (size, pixels, formats) and the same cleaning.
        photo = intake_photo(args.path.read_bytes(), view, filename=args.path.name)
    except UploadRejected as error:
        raise CommandError(f"cannot use {args.path}: {error}") from error
    image = decode_to_bgr(photo.image_bytes)
    # A close-up has no face for the gate to judge; the engine measures it as skin only.
    quality = None if args.no_quality or view == "close_up" else photo.quality
    try:
        case = assess_case([PhotoInput(image, view, args.path.name, None, quality)])
    except FilterBankError as error:
        raise CommandError(str(error)) from error
    report = case.to_report(with_images=False)
    if args.overlays:
        from core.assessment.overlays import OVERLAYS

        args.overlays.mkdir(parents=True, exist_ok=True)
        for photo in case.photos:
            if photo.status == "assessed":
                for kind, render in OVERLAYS.items():
                    cv2.imwrite(str(args.overlays / f"{args.path.stem}_{kind}.png"), render(photo))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(report["summary"])
    print(f"engine {report['engine']['version']} sha256 {report['engine']['sha256'][:16]}…")
    for flag in report["flags"]:
        print(f"FLAG {flag['title']}: {flag['reason']}")
    for metric in report["metrics"]:
        value = "n/a" if metric["value"] is None else f"{metric['value']:.2f}"
        print(
            f"  {metric['metric']:<20} {metric['region']:<18} {value:>8} {metric['unit']:<8} {metric['band']}"
        )
    return 0


def _reassess(args: argparse.Namespace) -> int:
    import time

    from core.access import SYSTEM_PRINCIPAL
    from core.assessment.engine import ENGINE_VERSION

    clinic = open_clinic()
    try:
        service = clinic.assessments
        if args.case:
            known = set(service.cases_to_reassess(SYSTEM_PRINCIPAL, everything=True))
            missing = [case_id for case_id in args.case if case_id not in known]
            if missing:
                raise CommandError(f"no case with photos: {', '.join(missing)}")
            case_ids = list(args.case)
        else:
            case_ids = service.cases_to_reassess(SYSTEM_PRINCIPAL, everything=args.all)
        if not case_ids:
            print(f"every case is already assessed with engine {ENGINE_VERSION}")
            return 0
        print(f"assessing {len(case_ids)} case(s) with engine {ENGINE_VERSION} ...", flush=True)
        failed = 0
        started = time.monotonic()
        for number, case_id in enumerate(case_ids, 1):
            # One run per visit (the baseline submission and each check-in), each on its own.
            records = service.reassess(SYSTEM_PRINCIPAL, case_id)
            bad = [r for r in records if r.status != "done"]
            failed += bool(bad)
            detail = "; ".join(f"{r.status}: {r.error}" for r in bad) or "done"
            print(f"[{number}/{len(case_ids)}] {case_id} {detail}", flush=True)
        print(f"done in {time.monotonic() - started:.1f} s; {failed} failed")
        return 1 if failed else 0
    finally:
        clinic.close()
