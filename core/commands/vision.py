"""`python -m core photo-check PATH --view front --json`: run the photo quality gate on a file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

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


def read_image_bgr(path: Path) -> np.ndarray:
    """Decode a photo file to BGR (upright, like an upload); CommandError when it is not an image."""
    import cv2

    if not path.is_file():
        raise CommandError(f"{path} does not exist or is not a file")
    data = path.read_bytes()
    try:
        # Same cleaning as a patient's upload: HEIC support, EXIF rotation, size limits.
        from core.consult.photos import UploadRejected, normalise_upload

        cleaned = normalise_upload(data, path.name)
        data = cleaned.image_bytes
    except UploadRejected as error:
        raise CommandError(f"cannot read {path}: {error}") from error
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise CommandError(f"cannot read {path}: not a decodable image")
    return image


def run_photo_check(args: argparse.Namespace) -> int:
    from core.vision.quality import check_photo, normalise_view

    try:
        view = normalise_view(args.view)
    except ValueError as error:
        raise CommandError(str(error)) from error
    image = read_image_bgr(args.path)
    result = check_photo(image, view)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
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
    return 0
