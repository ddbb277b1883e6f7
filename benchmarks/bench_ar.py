"""AR pipeline speed per 640x480 frame on the real face video, and consults per machine.

Per frame, one thread: landmarks (MediaPipe VIDEO mode) + One Euro smoothing + all effects +
the simulation mark. Prints median / p95 / fps for landmarks, effects and the whole pipeline,
the cost of each treatment alone, then measures N parallel pipelines (processes) and estimates
how many simultaneous consults the machine sustains at >= 25 fps, adding the VP8 decode+encode
cost measured for streamlit-webrtc (~30 % of a core per 30 fps stream; see CODEC_CORE_SHARE_30FPS).

    OMP_NUM_THREADS=1 python benchmarks/bench_ar.py [--frames 150] [--parallel 2]

`--visibility` instead prints how visible each treatment is at intensity 0.5 and 1 on the
astronaut and the clinical front photos of ../shared/testdata: the mean CIE76 colour
difference inside its region and outside it, and for the lips how far each vermilion border
moved out (`lip_border_shift`, also used by tests/ar/test_effects.py).
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
# (VP8 decode + encode), share of one core, measured on a 2-core machine of the kind CI uses.
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
    from core.ar.smoothing import OneEuroFilter
    from core.vision.landmarks import FaceLandmarker, points_px

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
            points = smoother(points_px(faces[0], with_z=True, dtype=np.float64), ts_ms / 1000).astype(
                np.float32
            )
            image, _ = apply_treatments(frame, faces[0].with_points(points), treatments)
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


def run_per_treatment(frames: list[np.ndarray], treatments: dict[str, float]) -> dict[str, list[float]]:
    """Effects only (no landmarks, no mark), each treatment alone, on every 3rd frame: which
    treatment the per-frame budget goes to."""
    from core.ar.effects import apply_treatments
    from core.vision.landmarks import detect_landmarks

    cv2.setNumThreads(1)
    faces = [(frame, detect_landmarks(frame)) for frame in frames[::3]]
    faces = [(frame, landmarks) for frame, landmarks in faces if landmarks is not None]
    timings: dict[str, list[float]] = {}
    for name, intensity in treatments.items():
        timings[name] = []
        for frame, landmarks in faces:
            start = time.perf_counter()
            apply_treatments(frame, landmarks, {name: intensity})
            timings[name].append((time.perf_counter() - start) * 1000)
    return timings


def _worker(args: tuple[list[np.ndarray], dict[str, float]]) -> tuple[float, int]:
    frames, treatments = args
    start = time.perf_counter()
    run_pipeline(frames, treatments)
    return time.perf_counter() - start, len(frames)


def summarise(name: str, values: list[float], warm_up: int = 10) -> str:
    array = np.asarray(values[warm_up:] if len(values) > 2 * warm_up else values)
    return (
        f"{name:<10} median {np.median(array):6.2f} ms   p95 {np.percentile(array, 95):6.2f} ms   "
        f"min {np.min(array):6.2f} ms"
    )


# --- how visible each treatment is -----------------------------------------------------------------


def _lab(image_bgr: np.ndarray) -> np.ndarray:
    """Float CIE Lab (L* 0..100) of a BGR uint8 image: no 8-bit quantisation."""
    return cv2.cvtColor(image_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)


def delta_e(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per-pixel CIE76 colour difference of two BGR uint8 images."""
    return np.linalg.norm(_lab(after) - _lab(before), axis=2)


def lip_border_shift(before: np.ndarray, after: np.ndarray, landmarks: object) -> tuple[float, float]:
    """How far the upper and lower vermilion border moved out at the mouth's centre, as a share
    of each lip's height there (landmarks of `before`).

    Found by matching image content, not landmarks (the face-mesh model pulls a mouth toward
    an average one, so re-detected landmarks under-report a change): the colour profile across
    the border before is slid along the same line after; the best match is the border's shift.
    """
    points = np.asarray(getattr(landmarks, "points", landmarks))[:, :2].astype(np.float32)
    lab_before, lab_after = _lab(before), _lab(after)
    step = 0.25  # px between profile samples
    shares = []
    for inner, outer in ((13, 0), (14, 17)):  # centre of the mouth line -> centre of the border
        start = points[inner]
        height = float(np.linalg.norm(points[outer] - start))
        direction = (points[outer] - start) / height
        along_mouth = np.array([direction[1], -direction[0]], np.float32)
        distance = np.arange(0.0, 3.0 * height, step, dtype=np.float32)[None, :]
        offset = np.arange(-3, 4, dtype=np.float32)[:, None]  # 7 parallel lines, averaged
        map_x = start[0] + distance * direction[0] + offset * along_mouth[0]
        map_y = start[1] + distance * direction[1] + offset * along_mouth[1]
        profile_before = cv2.remap(lab_before, map_x, map_y, cv2.INTER_LINEAR).mean(axis=0)
        profile_after = cv2.remap(lab_after, map_x, map_y, cv2.INTER_LINEAR).mean(axis=0)
        border, half = int(height / step), max(2, int(0.35 * height / step))
        window = profile_before[border - half : border + half]
        costs = {
            shift: float(((profile_after[border - half + shift : border + half + shift] - window) ** 2).sum())
            for shift in range(int(-0.2 * height / step), int(1.0 * height / step))
        }
        shares.append(min(costs, key=costs.__getitem__) * step / height)
    return shares[0], shares[1]


def beyond_region(region: np.ndarray, treatment: str, face_width: float) -> np.ndarray:
    """bool: pixels farther from a treatment's region than its changes may reach. Feathers
    straddle an outline by a few pixels; the lips push the skin about a lip height out."""
    rows = np.nonzero(region.any(axis=1))[0]
    band = float(rows.max() - rows.min()) if treatment == "lips" else 0.04 * face_width
    size = 2 * int(round(band)) + 1
    return cv2.dilate(region.astype(np.uint8), np.ones((size, size), np.uint8)) == 0


def visibility_photos() -> list[tuple[str, np.ndarray]]:
    """The astronaut (as tests/conftest.py's face_photo_bgr), the clinical front photos and the
    open-mouth photo of ../shared/testdata."""
    import csv

    from skimage import data

    crop = cv2.cvtColor(np.ascontiguousarray(data.astronaut())[0:300, 90:340], cv2.COLOR_RGB2BGR)
    photos = [("astronaut", cv2.resize(crop, (820, 984), interpolation=cv2.INTER_CUBIC))]
    testdata = shared_testdata_dir()
    if not (testdata / "faces_labels.csv").is_file():
        print(f"{testdata} is absent: the astronaut only")
        return photos
    with (testdata / "faces_labels.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["clinical_front_ok"] == "yes" or "openmouth" in row["file"]:
                image = cv2.imread(str(testdata / row["file"]), cv2.IMREAD_COLOR)
                if image is not None:
                    photos.append((Path(row["file"]).stem, image))
    return photos


def report_visibility() -> None:
    from core.ar.effects import TREATMENT_REGIONS, TREATMENTS, apply_treatments
    from core.vision.landmarks import detect_landmarks, points_px
    from core.vision.regions import region_masks, skin_mask

    print(
        "mean CIE76 dE inside the treatment's region / outside it (beyond a feather band); lips: border shift"
    )
    print(
        f"{'photo':<36} {'treatment':<10} {'dE in 0.5':>9} {'1.0':>6} {'out 0.5':>8} {'1.0':>6}  lips upper/lower 0.5 | 1.0"
    )
    for photo, image in visibility_photos():
        landmarks = detect_landmarks(image)
        if landmarks is None:
            print(f"{photo:<36} no face found")
            continue
        points = points_px(landmarks)
        face_width = float(np.linalg.norm(points[234] - points[454]))
        masks = region_masks(landmarks, image.shape[:2])
        masks["skin"] = skin_mask(landmarks, image.shape[:2])
        face_box = np.zeros(image.shape[:2], bool)
        (x0, y0), (x1, y1) = np.maximum(points.min(axis=0), 0).astype(int), points.max(axis=0).astype(int)
        face_box[y0:y1, x0:x1] = True
        for name in TREATMENTS:
            region = np.logical_or.reduce([masks[part] for part in TREATMENT_REGIONS[name]])
            outside = face_box & beyond_region(region, name, face_width)
            inside, beyond, lips = [], [], []
            for intensity in (0.5, 1.0):
                out, _ = apply_treatments(image, landmarks, {name: intensity})
                change = delta_e(image, out)
                inside.append(float(change[region].mean()))
                beyond.append(float(change[outside].mean()))
                if name == "lips":
                    upper, lower = lip_border_shift(image, out, landmarks)
                    lips.append(f"{upper:+.0%}/{lower:+.0%}")
            print(
                f"{photo[:36]:<36} {name:<10} {inside[0]:9.2f} {inside[1]:6.2f} {beyond[0]:8.3f} {beyond[1]:6.3f}"
                + (f"  {lips[0]} | {lips[1]}" if lips else "")
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--parallel", type=int, default=2, help="pipelines measured side by side (processes)")
    parser.add_argument("--visibility", action="store_true", help="how visible each treatment is, not speed")
    args = parser.parse_args()
    if args.visibility:
        report_visibility()
        return

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

    print("each treatment alone at 0.7, effects only (landmarks given):")
    for name, values in run_per_treatment(frames, all_effects).items():
        print("  " + summarise(name, values, warm_up=2))

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
