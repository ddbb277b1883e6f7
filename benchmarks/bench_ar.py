"""AR pipeline speed per 640x480 frame on the real face video, and consults per machine.

Per frame, one thread: landmarks (MediaPipe VIDEO mode) + One Euro smoothing + all effects +
the simulation mark. Prints median / p95 / fps for landmarks, effects and the whole pipeline,
then measures N parallel pipelines (processes) and estimates how many simultaneous consults
the machine sustains at >= 25 fps, adding the VP8 decode+encode cost measured for
streamlit-webrtc (~30 % of a core per 30 fps stream, ../shared/research/webrtc.md).

    OMP_NUM_THREADS=1 python benchmarks/bench_ar.py [--frames 150] [--parallel 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from core.paths import shared_testdata_dir  # noqa: E402

VIDEO = "video/face_closeup_pexels_640x480.mp4"
TARGET_FPS = 25.0
# Server CPU for one 30 fps 640x480 stream through streamlit-webrtc with a trivial callback
# (VP8 decode + encode), share of one core, measured in ../shared/research/webrtc.md.
CODEC_CORE_SHARE_30FPS = 0.30


def load_frames(count: int) -> list[np.ndarray]:
    path = shared_testdata_dir() / VIDEO
    if not path.is_file():
        sys.exit(f"{path} is absent: the benchmark needs ../shared/testdata")
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            if not frames:
                sys.exit("cannot decode the benchmark video")
            continue
        if frame.shape[:2] != (480, 640):
            frame = cv2.resize(frame, (640, 480))
        frames.append(frame)
    return frames


def run_pipeline(frames: list[np.ndarray], treatments: dict[str, float]) -> dict[str, list[float]]:
    from core.ar.effects import apply_treatments, watermark
    from core.ar.live import with_points
    from core.ar.smoothing import OneEuroFilter
    from core.vision.landmarks import FaceLandmarker

    cv2.setNumThreads(1)
    landmarker = FaceLandmarker(mode="video")
    smoother = OneEuroFilter()
    timings: dict[str, list[float]] = {"landmarks": [], "effects": [], "total": []}
    faces_found = 0
    for index, frame in enumerate(frames):
        ts_ms = int(index * 1000 / 30)
        start = time.perf_counter()
        faces = landmarker.detect_video(frame, ts_ms)
        after_landmarks = time.perf_counter()
        if faces:
            faces_found += 1
            points = smoother(np.asarray(faces[0].points, dtype=np.float64), ts_ms / 1000).astype(np.float32)
            image, _ = apply_treatments(frame, with_points(faces[0], points), treatments)
            watermark(image)
        else:
            smoother.reset()
        end = time.perf_counter()
        timings["landmarks"].append((after_landmarks - start) * 1000)
        timings["effects"].append((end - after_landmarks) * 1000)
        timings["total"].append((end - start) * 1000)
    close = getattr(landmarker, "close", None)
    if callable(close):
        close()
    timings["faces"] = [float(faces_found)]
    return timings


def _worker(args: tuple[list[np.ndarray], dict[str, float]]) -> tuple[float, int]:
    frames, treatments = args
    start = time.perf_counter()
    run_pipeline(frames, treatments)
    return time.perf_counter() - start, len(frames)


def summarise(name: str, values: list[float]) -> str:
    array = np.asarray(values[10:] if len(values) > 20 else values)  # skip warm-up frames
    return (
        f"{name:<10} median {np.median(array):6.2f} ms   p95 {np.percentile(array, 95):6.2f} ms   "
        f"min {np.min(array):6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--parallel", type=int, default=2, help="pipelines measured side by side (processes)")
    args = parser.parse_args()

    from core.ar.effects import TREATMENTS

    frames = load_frames(args.frames)
    all_effects = {name: 0.7 for name in TREATMENTS}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"AR pipeline, {len(frames)} frames 640x480 of {VIDEO}, one thread, all {len(all_effects)} effects "
        f"(load average {load:.1f} on {os.cpu_count()} cores: other work inflates median/p95; min is the "
        "uncontended cost)"
    )
    timings = run_pipeline(frames, all_effects)
    print(f"face found on {int(timings['faces'][0])}/{len(frames)} frames")
    for name in ("landmarks", "effects", "total"):
        print(summarise(name, timings[name]))
    total = np.asarray(timings["total"][10:])
    print(
        f"throughput {1000 / np.median(total):.1f} fps (median), {1000 / np.percentile(total, 95):.1f} fps (p95)"
    )

    # Capacity estimate: per consult at 25 fps, AR on one stream + VP8 for the relayed streams.
    ar_share = float(np.median(total)) * TARGET_FPS / 1000.0
    codec_share = CODEC_CORE_SHARE_30FPS * TARGET_FPS / 30.0 * 2  # patient in, physician out (+ back)
    cores = os.cpu_count() or 1
    per_consult = ar_share + codec_share
    print(
        f"per consult at {TARGET_FPS:.0f} fps: AR {ar_share:.2f} core + VP8 relay ~{codec_share:.2f} core = "
        f"{per_consult:.2f} core -> about {int(cores / per_consult)} simultaneous consults on {cores} cores (estimate)"
    )

    if args.parallel > 1:
        chunk = frames[: max(60, len(frames) // 2)]
        context = mp.get_context("spawn")
        with context.Pool(args.parallel) as pool:
            start = time.perf_counter()
            results = pool.map(_worker, [(chunk, all_effects)] * args.parallel)
            wall = time.perf_counter() - start
        per_stream_fps = [count / seconds for seconds, count in results]
        print(
            f"{args.parallel} pipelines in parallel: per stream {min(per_stream_fps):.1f}-{max(per_stream_fps):.1f} fps "
            f"(AR only, no codec), wall {wall:.1f} s"
        )


if __name__ == "__main__":
    main()
