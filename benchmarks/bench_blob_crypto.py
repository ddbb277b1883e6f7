"""Blob store throughput: AES-256-GCM envelope encryption of photo-sized payloads.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_blob_crypto.py [--mb 4] [--runs 30]

Measures in-memory seal/open (pure crypto) and put/get through the file system (temp file,
fsync, rename, directory fsync) in a temp dir. Prints median and p95 latency and MB/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.blobstore import BlobStore  # noqa: E402


def measure(name: str, function: Callable[[], object], runs: int, megabytes: float) -> None:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    ordered = sorted(samples)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    print(
        f"{name:<34} median {median * 1000:7.2f} ms ({megabytes / median:7.0f} MB/s)"
        f"   p95 {p95 * 1000:7.2f} ms ({megabytes / p95:7.0f} MB/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0, help="payload size in MB (a phone photo is ~2-6 MB)")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    payload = os.urandom(int(args.mb * 1_000_000))
    with tempfile.TemporaryDirectory(prefix="bench-blobs-") as work:
        store = BlobStore(Path(work), os.urandom(32))
        sealed = store.seal("benchmarkblob000001", payload)
        measure(
            f"seal (encrypt, {args.mb:g} MB, memory)",
            lambda: store.seal("benchmarkblob000001", payload),
            args.runs,
            args.mb,
        )
        measure(
            "open (decrypt+verify, memory)",
            lambda: store.open("benchmarkblob000001", sealed),
            args.runs,
            args.mb,
        )
        ids: list[str] = []
        measure("put (encrypt + fsync + rename)", lambda: ids.append(store.put(payload)), args.runs, args.mb)
        cycle = iter(ids * 2)
        measure("get (read + decrypt + verify)", lambda: store.get(next(cycle)), args.runs, args.mb)
        assert store.get(ids[0]) == payload


if __name__ == "__main__":
    main()
