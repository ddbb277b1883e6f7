"""Agreement of the photo quality gate with a person's labels on real photos.

Runs `core.vision.quality.check_photo` on ../shared/testdata/faces (labels in faces_labels.csv)
and prints: front-view accept/reject agreement (clinical_front_ok vs verdict != "fail"), oblique
agreement (clinical_oblique_ok, view = the labelled side), wrong-side rejection, per-reason
confusion (main_problem vs the first failing check), pose-bin accuracy, and all of it split by
skin tone.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eval_quality_gate.py [--verbose]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.paths import shared_testdata_dir  # noqa: E402
from core.vision.quality import QualityOptions, QualityResult, check_photo  # noqa: E402

# First failing check -> the label vocabulary of `main_problem`.
CHECK_TO_REASON = {
    "one_face": "multiple_faces",
    "image_size": "low_resolution",
    "distance": "low_resolution",
    "face_size": "too_far",
    "yaw": "pose",
    "pitch": "pose",
    "roll": "pose",
    "exposure": "too_dark",
    "backlight": "harsh_light",
    "lighting": "harsh_light",
    "shadows": "harsh_light",
    "colour": "colour_cast",
    "sharpness": "blur",
    "sunglasses": "occlusion",
    "hair_or_hand": "occlusion",
    "expression": "expression",
    "eyes_open": "expression",
}


def reason_of(result: QualityResult) -> str:
    failing = result.failing
    if not failing:
        return "none"
    first = failing[0]
    face_size = result.check("face_size")
    if first.name == "distance" and face_size is not None and face_size.status != "pass":
        return "too_far"  # few pixels on the face because the face is small in the frame
    return CHECK_TO_REASON.get(first.name, first.name)


def pose_bin(result: QualityResult, options: QualityOptions) -> tuple[str, str]:
    if result.pose is None:
        return "unknown", "none"
    yaw = result.pose.yaw
    magnitude = abs(yaw)
    if magnitude <= options.front_yaw_warn:
        return "frontal", "none"
    side = "left" if yaw > 0 else "right"  # the side of the image the nose points to
    return ("profile" if magnitude >= options.profile_yaw_min_warn else "oblique"), side


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every photo's checks")
    args = parser.parse_args()
    directory = shared_testdata_dir()
    labels_path = directory / "faces_labels.csv"
    if not labels_path.is_file():
        print(f"no labelled photos at {labels_path}")
        return 1
    rows = list(csv.DictReader(labels_path.open(newline="")))
    options = QualityOptions()
    cv2.setNumThreads(1)

    front_agree: dict[str, list[bool]] = defaultdict(list)
    oblique_agree: dict[str, list[bool]] = defaultdict(list)
    oblique_disagreements: list[str] = []
    turned_as_front: list[str] = []
    wrong_side_passed: list[str] = []
    confusion: Counter[tuple[str, str]] = Counter()
    pose_hits: list[bool] = []
    print(f"{'file':42} {'label':6} {'front':5} {'pose':>18} {'first problem / checks'}")
    for row in rows:
        image = cv2.imread(str(directory / row["file"]))
        tone = row["skin_tone"]
        front = check_photo(image, "front", options)
        expected_front = row["clinical_front_ok"] == "yes"
        accepted = front.verdict != "fail"
        front_agree["all"].append(accepted == expected_front)
        front_agree[tone].append(accepted == expected_front)
        if row["yaw_bin"] != "frontal" and accepted:
            turned_as_front.append(row["file"])
        confusion[(row["main_problem"], reason_of(front))] += 1

        side = row["yaw_side"] if row["yaw_side"] in ("left", "right") else "left"
        oblique = check_photo(image, f"{side}_oblique", options)
        expected_oblique = row["clinical_oblique_ok"] == "yes"
        oblique_agree["all"].append((oblique.verdict != "fail") == expected_oblique)
        oblique_agree[tone].append((oblique.verdict != "fail") == expected_oblique)
        if (oblique.verdict != "fail") != expected_oblique:
            first = oblique.first_problem
            oblique_disagreements.append(
                f"{row['file']} ({side}_oblique, label {'ok' if expected_oblique else 'no'}, "
                f"gate {oblique.verdict}{': ' + first.name if first else ''})"
            )
        if row["yaw_bin"] in ("oblique", "profile") and row["yaw_side"] in ("left", "right"):
            other = "right" if row["yaw_side"] == "left" else "left"
            swapped = check_photo(image, f"{other}_{row['yaw_bin']}", options)
            if swapped.verdict != "fail":
                wrong_side_passed.append(row["file"])

        predicted_bin, predicted_side = pose_bin(front, options)
        if row["n_faces"] == "1":
            pose_hits.append(predicted_bin == row["yaw_bin"] and predicted_side == row["yaw_side"])
        pose_text = front.pose and f"{front.pose.yaw:5.1f} {front.pose.pitch:5.1f} {front.pose.roll:5.1f}"
        mark = "" if accepted == expected_front else "  <-- disagree"
        problems = (
            ", ".join(
                f"{c.name}={c.status}:{c.value if not isinstance(c.value, float) else round(c.value, 2)}"
                for c in front.failing + front.warnings
            )
            if args.verbose
            else reason_of(front)
        )
        print(
            f"{row['file'][6:48]:42} {('ok' if expected_front else 'no'):6} {front.verdict:5} "
            f"{str(pose_text):>18} {row['main_problem']:>14} -> {problems}{mark}"
        )

    def rate(values: list[bool]) -> str:
        return f"{sum(values)}/{len(values)} = {100 * sum(values) / max(len(values), 1):.0f}%"

    print("\n== Summary ==")
    print(f"front accept/reject agreement: {rate(front_agree['all'])}")
    print(f"oblique agreement (labelled side): {rate(oblique_agree['all'])}")
    for line in oblique_disagreements:
        print(f"   oblique disagreement: {line}")
    print(f"turned (oblique/profile) photos accepted as a front: {len(turned_as_front)} {turned_as_front}")
    print(f"oblique/profile accepted as the WRONG side: {len(wrong_side_passed)} {wrong_side_passed}")
    print(f"pose bin + side accuracy (single-face photos): {rate(pose_hits)}")
    print("\n== By skin tone (front agreement / oblique agreement) ==")
    for tone in sorted(key for key in front_agree if key != "all"):
        print(f"{tone:8} front {rate(front_agree[tone]):>14}   oblique {rate(oblique_agree[tone]):>14}")
    print("\n== Per-reason confusion: labelled main_problem -> first failing check (front view) ==")
    reasons = sorted({label for label, _ in confusion})
    for label in reasons:
        row_counts = {predicted: count for (lab, predicted), count in confusion.items() if lab == label}
        total = sum(row_counts.values())
        hits = row_counts.get(label, 0)
        detail = ", ".join(f"{k}:{v}" for k, v in sorted(row_counts.items(), key=lambda kv: -kv[1]))
        print(f"{label:15} {hits}/{total} matched   [{detail}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
