"""Same-person check (SFace, core/vision/identity.py) on ../shared/testdata: threshold and rates.

People, not photos, are split (a person's frames and photos all fall on one side):
- genuine pairs: two frames (at least `--gap` frames apart) of the same face video, and two
  photos of one person where MANIFEST.csv says so (faces/_01 and _42 are the same portrait at
  two sizes; faces/_47 is a frame of the selfie video's source clip);
- impostor pairs: every pair of two different people's embeddings within the split (group
  photos count by their largest face, as the portal does).
Tuning split: the Pexels close-up video and every other remaining person (sorted by file name);
held-out split: the selfie video (+ faces/_47), the two-size portrait and the rest.

The threshold is chosen on the tuning split only: the lowest value (0.01 steps) at which every
tuning impostor pair is refused, and never below OpenCV Zoo's published SFace threshold 0.363
(LFW, genuine pairs taken on different days), because this data's genuine pairs all come from
one session and say nothing about a patient photographed months apart. Both splits then
report genuine-accept and impostor-refuse rates with their counts, and the speed per embedding
(YuNet detection + alignment + SFace, one thread).

    OMP_NUM_THREADS=1 python benchmarks/eval_same_person.py [--step 5] [--gap 15]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from core.paths import shared_testdata_dir  # noqa: E402
from core.vision.detector import detect_faces  # noqa: E402
from core.vision.identity import FaceEmbedding, IdentityOptions, face_embedding  # noqa: E402

OPENCV_ZOO_THRESHOLD = 0.363
VIDEOS = {
    "video/face_closeup_pexels_640x480.mp4": "pexels",
    "video/face_selfie_glasses_360x640.mp4": "selfie",
}
# Photos of a person seen elsewhere in the data (MANIFEST.csv's source paths say so).
SAME_PERSON = {
    "faces/webcam_selfie_glasses_47.jpg": "selfie",
    "faces/frontal_goodlight_medium_dark_skin_01.jpg": "portrait_01_42",
    "faces/lowres_frontal_42.jpg": "portrait_01_42",
}
HELD_OUT_FIXED = {"selfie", "portrait_01_42"}
TUNING_FIXED = {"pexels"}


@dataclass(frozen=True)
class Sample:
    name: str
    person: str
    frame: int | None  # video frame index (None: a photo)
    embedding: FaceEmbedding


@dataclass(frozen=True)
class Rates:
    genuine: int
    genuine_accepted: int
    impostor: int
    impostor_refused: int

    def line(self, label: str) -> str:
        ga = self.genuine_accepted / self.genuine if self.genuine else math.nan
        ir = self.impostor_refused / self.impostor if self.impostor else math.nan
        return (
            f"{label:<9} genuine accepted {self.genuine_accepted}/{self.genuine} ({ga:.2%})   "
            f"impostor refused {self.impostor_refused}/{self.impostor} ({ir:.2%})"
        )


def load_samples(root: Path, step: int, timings: list[float]) -> list[Sample]:
    samples: list[Sample] = []
    for path in sorted((root / "faces").glob("*")):
        image = cv2.imread(str(path))
        if image is None:
            continue
        start = time.perf_counter()
        embedding = face_embedding(image)
        timings.append(time.perf_counter() - start)
        name = f"faces/{path.name}"
        if embedding is not None:
            samples.append(Sample(name, SAME_PERSON.get(name, name), None, embedding))
    for video, person in VIDEOS.items():
        capture = cv2.VideoCapture(str(root / video))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                embedding = face_embedding(frame)
                if embedding is not None:
                    samples.append(Sample(video, person, index, embedding))
            index += 1
        capture.release()
    return samples


def split_people(samples: list[Sample]) -> tuple[set[str], set[str]]:
    rest = sorted({s.person for s in samples} - HELD_OUT_FIXED - TUNING_FIXED)
    return TUNING_FIXED | set(rest[0::2]), HELD_OUT_FIXED | set(rest[1::2])


def pairs(samples: list[Sample], gap: int) -> tuple[list[float], list[float]]:
    """(genuine scores, impostor scores) over all pairs of the samples."""
    genuine: list[float] = []
    impostor: list[float] = []
    for a, b in itertools.combinations(samples, 2):
        score = float(np.dot(a.embedding.vector, b.embedding.vector))
        if a.person != b.person:
            impostor.append(score)
        elif a.frame is None or b.frame is None or a.name != b.name or abs(a.frame - b.frame) >= gap:
            genuine.append(score)
    return genuine, impostor


def rates(genuine: list[float], impostor: list[float], threshold: float) -> Rates:
    """Counts under `compare_faces`'s rule (same person when the cosine reaches the threshold)."""
    return Rates(
        len(genuine),
        sum(score >= threshold for score in genuine),
        len(impostor),
        sum(score < threshold for score in impostor),
    )


def choose_threshold(impostor: list[float]) -> float:
    lowest_refusing_all = math.floor(max(impostor) * 100 + 1) / 100 if impostor else 0.0
    return round(max(lowest_refusing_all, OPENCV_ZOO_THRESHOLD), 3)


def speed(root: Path, repeats: int = 30) -> list[tuple[str, float, float, float]]:
    """(photo, median ms, p95 ms, median ms of the detection step alone) per embedding."""
    out = []
    for name in ("faces/frontal_goodlight_older_male_02.jpg", "faces/small_face_stage_44.jpg"):
        image = cv2.imread(str(root / name))
        if image is None:
            continue
        face_embedding(image)  # warm up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            face_embedding(image)
            times.append(time.perf_counter() - start)
        detect = []
        for _ in range(repeats):
            start = time.perf_counter()
            detect_faces(image)
            detect.append(time.perf_counter() - start)
        label = f"{name} {image.shape[1]}x{image.shape[0]}"
        out.append(
            (
                label,
                float(np.median(times)) * 1000,
                float(np.percentile(times, 95)) * 1000,
                float(np.median(detect)) * 1000,
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--step", type=int, default=5, help="use every n-th video frame")
    parser.add_argument("--gap", type=int, default=15, help="frames between a genuine video pair")
    args = parser.parse_args()
    root = shared_testdata_dir()
    if not (root / "faces_labels.csv").is_file():
        print(f"no test data at {root}")
        return 1
    timings: list[float] = []
    samples = load_samples(root, args.step, timings)
    tuning_people, held_out_people = split_people(samples)
    tuning = [s for s in samples if s.person in tuning_people]
    held_out = [s for s in samples if s.person in held_out_people]
    tuning_genuine, tuning_impostor = pairs(tuning, args.gap)
    held_genuine, held_impostor = pairs(held_out, args.gap)
    threshold = choose_threshold(tuning_impostor)
    print(f"embeddings: {len(samples)} ({sum(s.frame is None for s in samples)} photos, rest video frames)")
    print(f"people: tuning {len(tuning_people)}, held-out {len(held_out_people)}")
    print(
        f"tuning impostor max {max(tuning_impostor):.3f}; genuine min {min(tuning_genuine):.3f}; "
        f"chosen threshold {threshold} (IdentityOptions default {IdentityOptions().threshold})"
    )
    all_genuine, all_impostor = pairs(samples, args.gap)  # adds the pairs across the two splits
    for label, genuine, impostor in (
        ("tuning", tuning_genuine, tuning_impostor),
        ("held-out", held_genuine, held_impostor),
        ("all", all_genuine, all_impostor),
    ):
        print(rates(genuine, impostor, threshold).line(label))
        print(
            f"{'':<9} genuine score min/median {min(genuine):.3f}/{np.median(genuine):.3f}   "
            f"impostor score median/max {np.median(impostor):.3f}/{max(impostor):.3f}"
        )
    print(
        f"speed per embedding over {len(timings)} test photos: median {np.median(timings) * 1000:.1f} ms, "
        f"p95 {np.percentile(timings, 95) * 1000:.1f} ms"
    )
    for label, median, p95, detect in speed(root):
        print(
            f"  {label}: median {median:.1f} ms, p95 {p95:.1f} ms (YuNet detection alone: median {detect:.1f} ms)"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(load average while measuring: {load:.1f} on {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
