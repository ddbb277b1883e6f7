"""`python -m core photo-check PATH --view front --json`: run the photo quality gate on a file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.commands import CommandError

CLI_VIEWS = ("front", "left-oblique", "right-oblique", "left-profile", "right-profile", "close-up")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "photo-check",
        help="check a face photo against the clinical photo standard (pose, light, focus, ...)",
        description="Run the photo quality gate. Views: " + ", ".join(CLI_VIEWS) + " (dash or underscore).",
    )
    parser.add_argument("path", type=Path, help="photo file (JPEG, PNG, HEIC)")
    parser.add_argument("--view", default="front", help="expected view (default front)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.set_defaults(handler=run_photo_check)


def run_photo_check(args: argparse.Namespace) -> int:
    """Exit 0 when the photo meets the standard (pass or warn), 1 when it fails, 2 on usage errors."""
    from core.consult.photos import UploadRejected, intake_photo
    from core.vocabulary import normalise_view

    try:
        view = normalise_view(args.view)
    except ValueError as error:
        raise CommandError(str(error), exit_code=2) from error
    if not args.path.is_file():
        raise CommandError(f"{args.path} does not exist or is not a file", exit_code=2)
    try:
        # The same intake as a patient's upload: cleaning, size limits, then the gate.
        photo = intake_photo(args.path.read_bytes(), view, filename=args.path.name)
    except UploadRejected as error:
        # Not usable at all (unreadable, too small, too large): a FAIL with the reason, not a crash.
        if args.json:
            reason = str(error)
            check = {
                "name": "file",
                "status": "fail",
                "value": None,
                "threshold": None,
                "instruction": reason,
            }
            print(
                json.dumps(
                    {"verdict": "fail", "view": view, "checks": [check], "instructions": [reason]}, indent=2
                )
            )
        else:
            print(f"{args.path}: FAIL ({view})\n  cannot read {args.path}: {error}", file=sys.stderr)
        return 1
    result = photo.quality
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0 if photo.usable else 1
    print(f"{args.path}: {result.verdict.upper()} ({view})")
    if result.pose:
        pose = result.pose
        print(f"  pose: yaw {pose.yaw:+.1f}  pitch {pose.pitch:+.1f}  roll {pose.roll:+.1f} degrees")
    print(f"  faces found: {len(result.faces)}")
    for check in result.checks:
        value = f"{check.value:.2f}" if isinstance(check.value, float) else check.value
        line = f"  [{check.status:4}] {check.name}: {value}"
        if check.instruction and check.status != "pass":
            line += f"  -> {check.instruction}"
        print(line)
    return 0 if photo.usable else 1
