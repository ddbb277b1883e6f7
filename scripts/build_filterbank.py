"""Build the skin-analysis ONNX filter bank deterministically into data/models/ (run by `make setup`).

Usage: python scripts/build_filterbank.py [--out DIR] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.assessment.filterbank import FILTERBANK_NAME, FILTERBANK_VERSION, filterbank_bytes, write_filterbank  # noqa: E402
from core.paths import model_dir  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="model directory (default: data/models)")
    parser.add_argument(
        "--check", action="store_true", help="only verify the existing file, exit 1 when stale"
    )
    args = parser.parse_args(argv)
    directory = args.out or model_dir()
    expected = hashlib.sha256(filterbank_bytes()).hexdigest()
    path = directory / FILTERBANK_NAME
    if args.check:
        ok = path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == expected
        print(f"{'ok' if ok else 'STALE'} {path} v{FILTERBANK_VERSION} sha256 {expected}")
        return 0 if ok else 1
    written = write_filterbank(directory)
    print(f"ok {written} v{FILTERBANK_VERSION} sha256 {expected}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
