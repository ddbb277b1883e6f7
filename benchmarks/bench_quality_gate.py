"""Latency of the photo quality gate on one thread: a 12 MP photo and 640x480 live frames.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_quality_gate.py [--repeats 15] [--compare REV]
        [--live-only] [--profile 25]

12 MP: the astronaut face (or a real front photo from ../shared) upscaled to 4000x3000, full
`check_photo` (YuNet + MediaPipe IMAGE mode + every check). Live: frames of
../shared/testdata/video/face_closeup_pexels_640x480.mp4 (the astronaut when absent) through a
VIDEO-mode landmarker and the live fast path (YuNet every 10th frame at 320 px). Targets:
<= 100 ms per 12 MP photo, <= 20 ms per live frame. Prints median and p95. `--profile N` also
prints the N functions with the most own time over the live frames (cProfile, the gate only: the
landmarks are taken first), to see where a live frame's milliseconds go.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import atexit  # noqa: E402
import importlib  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.paths import shared_testdata_dir  # noqa: E402
from core.vision.landmarks import FaceLandmarker  # noqa: E402
from core.vision.quality import QualityOptions, check_photo  # noqa: E402


def _stats(samples_ms: list[float], cpu_ms: list[float] | None = None) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    text = f"median {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   (n={len(ordered)})"
    if cpu_ms:
        # Process CPU time (all threads, MediaPipe's included): robust when the machine is busy.
        cpu = sorted(cpu_ms)
        cpu_p95 = cpu[min(len(cpu) - 1, int(round(0.95 * (len(cpu) - 1))))]
        text += f"   cpu median {statistics.median(cpu):6.1f} ms p95 {cpu_p95:6.1f} ms"
    return text


def _astronaut_face() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(np.ascontiguousarray(data.astronaut()[0:300, 90:340]), cv2.COLOR_RGB2BGR)


def _gate_at(revision: str) -> Callable[..., Any]:
    """`check_photo` of the gate as committed at `revision` (the package core/vision/quality/, or
    the one module core/vision/quality.py of older revisions), loaded under another name in this
    process (same models), to time the previous and the current gate alternately under the same
    load. Its own modules are renamed; what it imports from elsewhere is today's."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout

    name = "quality_at_" + re.sub(r"\W", "_", revision)
    directory = Path(tempfile.mkdtemp(prefix="gate_at_"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    files = git("ls-tree", "--name-only", revision, "core/vision/quality/").split()
    if files:
        (directory / name).mkdir()
        for path in files:
            text = git("show", f"{revision}:{path}").replace("core.vision.quality", name)
            (directory / name / Path(path).name).write_text(text)
    else:
        (directory / f"{name}.py").write_text(git("show", f"{revision}:core/vision/quality.py"))
    sys.path.insert(0, str(directory))
    return importlib.import_module(name).check_photo


def bench_photo(repeats: int, compare: str | None) -> None:
    sources = {"astronaut": _astronaut_face()}
    real = shared_testdata_dir() / "faces" / "frontal_goodlight_older_male_02.jpg"
    photo = cv2.imread(str(real)) if real.is_file() else None
    if photo is not None:
        sources["real front photo"] = photo
    gates: dict[str, Callable[..., Any]] = {"current": check_photo}
    if compare:
        gates = {compare: _gate_at(compare), "current": check_photo}
    for name, image in sources.items():
        big = cv2.resize(image, (4000, 3000), interpolation=cv2.INTER_CUBIC)
        samples: dict[str, list[float]] = {gate: [] for gate in gates}
        cpu: dict[str, list[float]] = {gate: [] for gate in gates}
        verdicts: dict[str, str] = {}
        for gate in gates.values():
            gate(big, "front")  # warm-up: model loading is not part of the latency
        for _ in range(repeats):
            for label, gate in gates.items():  # alternate: both see the same load
                start, start_cpu = time.perf_counter(), time.process_time()
                verdicts[label] = gate(big, "front").verdict
                samples[label].append((time.perf_counter() - start) * 1000)
                cpu[label].append((time.process_time() - start_cpu) * 1000)
        for label in gates:
            print(
                f"12 MP photo ({name}, {label} gate, verdict {verdicts[label]}): "
                f"{_stats(samples[label], cpu[label])}   target <= 100 ms"
            )


def _video_frames(limit: int) -> list[np.ndarray]:
    path = shared_testdata_dir() / "video" / "face_closeup_pexels_640x480.mp4"
    frames: list[np.ndarray] = []
    if path.is_file():
        capture = cv2.VideoCapture(str(path))
        while len(frames) < limit:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
    if not frames:
        face = cv2.resize(_astronaut_face(), (400, 480))
        frame = np.full((480, 640, 3), 180, np.uint8)
        frame[:, 120:520] = face
        frames = [frame] * limit
    return frames


def bench_live(frame_count: int, compare: str | None) -> None:
    frames = _video_frames(frame_count)
    options = QualityOptions.live()
    total, gate_only, total_cpu = [], [], []
    old_gate = _gate_at(compare) if compare else None
    gate_cpu, old_only, old_cpu = [], [], []
    with FaceLandmarker(mode="video") as landmarker:
        for index, frame in enumerate(frames):
            start, start_cpu = time.perf_counter(), time.process_time()
            faces = landmarker.detect_video(frame, index * 33)
            middle, middle_cpu = time.perf_counter(), time.process_time()
            landmarks = faces[0] if faces else None
            detect = None if index % 10 == 0 else []
            check_photo(frame, "front", options, landmarks=landmarks, faces=detect)
            end, end_cpu = time.perf_counter(), time.process_time()
            if index >= 5:  # skip warm-up frames
                total.append((end - start) * 1000)
                total_cpu.append((end_cpu - start_cpu) * 1000)
                gate_only.append((end - middle) * 1000)
                gate_cpu.append((end_cpu - middle_cpu) * 1000)
            if old_gate is not None:
                old_start, old_start_cpu = time.perf_counter(), time.process_time()
                old_gate(frame, "front", options, landmarks=landmarks, faces=detect)
                if index >= 5:
                    old_only.append((time.perf_counter() - old_start) * 1000)
                    old_cpu.append((time.process_time() - old_start_cpu) * 1000)
    print(f"live 640x480 frame, landmarks + gate: {_stats(total, total_cpu)}   target <= 20 ms")
    print(f"live 640x480 frame, gate only (current): {_stats(gate_only, gate_cpu)}")
    if old_gate is not None:
        print(f"live 640x480 frame, gate only ({compare}):  {_stats(old_only, old_cpu)}")


def profile_live(frame_count: int, top: int) -> None:
    """cProfile of `check_photo` alone over the live frames (landmarks detected beforehand)."""
    import cProfile
    import pstats

    frames = _video_frames(frame_count)
    options = QualityOptions.live()
    with FaceLandmarker(mode="video") as landmarker:
        found = [landmarker.detect_video(frame, index * 33) for index, frame in enumerate(frames)]
    profiler = cProfile.Profile()
    profiler.enable()
    for index, (frame, faces) in enumerate(zip(frames, found, strict=True)):
        check_photo(
            frame,
            "front",
            options,
            landmarks=faces[0] if faces else None,
            faces=None if index % 10 == 0 else [],
        )
    profiler.disable()
    print(f"live 640x480 frame, gate only: own time of the top {top} functions over {len(frames)} frames")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="12 MP runs per source")
    parser.add_argument("--frames", type=int, default=120, help="live frames")
    parser.add_argument(
        "--compare", metavar="REV", help="also time the gate committed at this git revision, alternating"
    )
    parser.add_argument("--live-only", action="store_true", help="time the live frames only")
    parser.add_argument(
        "--profile", type=int, metavar="N", help="then profile the live gate: top N functions"
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} cv2 threads={cv2.getNumThreads()}")
    if not args.live_only:
        bench_photo(args.repeats, args.compare)
    bench_live(args.frames, args.compare)
    if args.profile:
        profile_live(args.frames, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
