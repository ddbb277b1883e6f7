"""`python -m core simulate PHOTO --treatment lips,redness --intensity 0.6 --out OUT.png`."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.commands import CommandError

CLI_TREATMENTS = ("skin", "redness", "pigment", "under-eye", "lines", "lips", "contour")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="AR treatment preview on a photo (output carries the simulation mark)",
        description="Simulate treatments on a face photo. The output is marked "
        "'SIMULATION - not a guaranteed result'.",
    )
    parser.add_argument("photo", type=Path, help="input photo (JPEG, PNG, ...)")
    parser.add_argument(
        "--treatment",
        required=True,
        help=f"comma-separated treatments: {', '.join(CLI_TREATMENTS)}",
    )
    parser.add_argument("--intensity", type=float, default=0.7, help="0..1 for every treatment (default 0.7)")
    parser.add_argument("--out", type=Path, required=True, help="output image path (.png or .jpg)")
    parser.set_defaults(handler=run_simulate)


def parse_treatments(spec: str, intensity: float) -> dict[str, float]:
    if not 0.0 <= intensity <= 1.0:
        raise CommandError(f"--intensity must be between 0 and 1, got {intensity}")
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        raise CommandError("--treatment needs at least one name")
    unknown = [
        name for name in names if name not in CLI_TREATMENTS and name.replace("_", "-") not in CLI_TREATMENTS
    ]
    if unknown:
        raise CommandError(
            f"unknown treatment(s) {', '.join(unknown)}; choose from {', '.join(CLI_TREATMENTS)}"
        )
    return {name.replace("-", "_"): intensity for name in names}


def run_simulate(args: argparse.Namespace) -> int:
    import cv2

    from core.ar.effects import simulate
    from core.vision.landmarks import detect_landmarks

    treatments = parse_treatments(args.treatment, args.intensity)
    if not args.photo.is_file():
        raise CommandError(f"{args.photo} does not exist")
    image = cv2.imread(str(args.photo), cv2.IMREAD_COLOR)
    if image is None:
        raise CommandError(f"{args.photo} is not an image OpenCV can read")
    face = detect_landmarks(image)
    if face is None:
        raise CommandError(f"no face found in {args.photo}; use a clear, front-facing photo", exit_code=2)
    result = simulate(image, face, treatments)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), result.image):
        raise CommandError(f"could not write {args.out} (use a .png or .jpg name)")
    changed = int(result.changed_mask.sum())
    print(
        f"wrote {args.out}: {', '.join(f'{k}={v:.2f}' for k, v in treatments.items())}; {changed} pixels changed"
    )
    return 0
