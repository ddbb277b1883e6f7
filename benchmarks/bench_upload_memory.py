"""Peak memory of one large upload through the intake's cleaning (issue 12: a 49 MP photo cost
about 1 GB): `normalise_upload` + the decode the quality gate then does on the stored bytes.

Each measurement runs in a fresh child process and reports its peak resident memory (VmHWM in
/proc/self/status; `ru_maxrss` would carry the parent's peak across exec) above the level
reached after imports and reading the file;
Pillow's pixel buffers are plain malloc, which tracemalloc does not see, so RSS is what counts.
`--against-ref REF` also measures `core/consult/photos.py` as of that git ref (e.g. HEAD before
the change) for a before/after figure.

    .venv/bin/python benchmarks/bench_upload_memory.py --against-ref HEAD
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import importlib.util, json, sys, time
def hwm_kb():  # this process's peak resident memory (VmHWM: per address space, reset at exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
sys.path.insert(0, sys.argv[3])
spec = importlib.util.spec_from_file_location("photos_under_test", sys.argv[1])
photos = importlib.util.module_from_spec(spec); sys.modules[spec.name] = photos; spec.loader.exec_module(photos)
data = open(sys.argv[2], "rb").read()
import numpy, PIL.Image  # noqa: F401 - loaded before the baseline
base = hwm_kb()
start = time.process_time()
clean = photos.normalise_upload(data)
after_clean = hwm_kb()
pixels = photos.decode_to_bgr(clean.image_bytes)
peak = hwm_kb()
print(json.dumps({"width": clean.width, "height": clean.height, "clean_mb": (after_clean - base) / 1024,
                  "peak_mb": (peak - base) / 1024, "cpu_s": time.process_time() - start}))
"""


def make_photo(path: Path, fmt: str, width: int, height: int) -> None:  # noqa: D103
    import numpy as np
    from PIL import Image

    # Smooth gradients plus noise: compresses like a photo, not like a flat colour.
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 160], axis=-1)
    noise = rng.integers(0, 6 if fmt == "JPEG" else 2, size=(height, width, 1), dtype=np.uint8)
    image = Image.fromarray((base + noise).clip(0, 255).astype(np.uint8))
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 85} if fmt == "JPEG" else {"compress_level": 6}))
    path.write_bytes(out.getvalue())


def measure(module: Path, photo: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(module), str(photo), str(REPO)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if result.returncode != 0:
        raise SystemExit(f"measurement failed: {result.stderr.strip().splitlines()[-1]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against-ref", help="also measure core/consult/photos.py at this git ref")
    parser.add_argument("--megapixels", type=float, default=49.0)
    args = parser.parse_args()
    width = int((args.megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(args.megapixels * 1e6 / width)
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        modules = {"now": REPO / "core/consult/photos.py"}
        if args.against_ref:
            old = work_dir / "photos_ref.py"
            old.write_bytes(
                subprocess.run(
                    ["git", "show", f"{args.against_ref}:core/consult/photos.py"],
                    cwd=REPO,
                    capture_output=True,
                    check=True,
                ).stdout
            )
            modules = {args.against_ref: old, **modules}
        for fmt in ("JPEG", "PNG"):
            photo = work_dir / f"upload.{fmt.lower()}"
            make_photo(photo, fmt, width, height)
            size_mb = photo.stat().st_size / 1e6
            if size_mb > 25:  # the upload limit (MAX_UPLOAD_BYTES): not a case the intake decodes
                print(f"{fmt}: {size_mb:.0f} MB file is over the 25 MB upload limit; skipped")
                continue
            for label, module in modules.items():
                figures = measure(module, photo)
                print(
                    f"{fmt} {width}x{height} ({width * height / 1e6:.1f} MP, {size_mb:.1f} MB file) [{label}]:"
                    f" stored {figures['width']}x{figures['height']}, peak +{figures['peak_mb']:.0f} MB"
                    f" (cleaning +{figures['clean_mb']:.0f} MB), CPU {figures['cpu_s']:.2f} s"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
