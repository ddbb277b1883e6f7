"""Agreement of the photo quality gate with a person's labels, on a held-out validation split.

Runs `core.vision.quality.check_photo` on ../shared/testdata/faces (labels in faces_labels.csv,
split in benchmarks/quality_gate_split.csv, rule in scripts/make_gate_degradations.py) and on
controlled degradations of the validation split's correct photos (label by construction), and
prints for each split:
- accept/reject confusion matrices (label ok/no x gate accepted/refused) for the front view
  (clinical_front_ok) and the oblique view of the labelled side (clinical_oblique_ok);
- the same per skin tone, with the false-reject rate on correct photos (FRR) and the
  false-accept rate on photos the label refuses (FAR);
- named main reason: the labelled main_problem vs the gate's first failing check;
- per check: how often it fails on photos whose labelled problem is its own (hits) and on
  correct photos (false rejects);
- turned heads accepted as a front, obliques accepted as the wrong side;
- with the degradations: per check, constructions of the split's OTHER fronts (refused for a
  problem of their own, otherwise well lit, natural colour, sharp): the check each aims at must
  fail, an accepted variation may add no failing check (`other_front_cases`).
The VALIDATION figures are the gate's accuracy; tuning figures show what thresholds were fit on.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eval_quality_gate.py [--verbose] [--no-degradations]
        [--misses] [--degrade tuning] [--tuning-only]

`--tuning-only` (with `--degrade tuning` implied) prints nothing of the validation split: what a
change may be fit on and looked at while it is made, so the held-out figures are read once, at
the end.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.paths import shared_testdata_dir  # noqa: E402
from core.vision.quality import QualityOptions, QualityResult, check_photo  # noqa: E402
from scripts.make_gate_degradations import (  # noqa: E402
    close_up_cases,
    degraded_cases,
    face_close_up_cases,
    other_front_cases,
    read_labels,
    read_split,
)

# Failing check -> the label vocabulary of `main_problem`.
CHECK_TO_REASON = {
    "one_face": "multiple_faces",
    "image_size": "low_resolution",
    "distance": "low_resolution",
    "face_size": "too_far",
    "yaw": "pose",
    "pitch": "pose",
    "roll": "pose",
    "exposure": "too_dark",
    "dynamic_range": "low_contrast",
    "compression": "compression",
    "backlight": "harsh_light",
    "lighting": "harsh_light",
    "shadows": "harsh_light",
    "colour": "colour_cast",
    "sharpness": "blur",
    "sunglasses": "occlusion",
    "hair_or_hand": "occlusion",
    "cheek_occlusion": "occlusion",
    "expression": "expression",
    "eyes_open": "expression",
}
REASONS_OF_CHECK: dict[str, set[str]] = defaultdict(set)
for _check, _reason in CHECK_TO_REASON.items():
    REASONS_OF_CHECK[_check].add(_reason)
REASONS_OF_CHECK["exposure"].add("too_bright")
REASONS_OF_CHECK["distance"].add("too_far")
REASONS_OF_CHECK["dynamic_range"].add("too_dark")


def reason_of(result: QualityResult) -> str:
    failing = result.failing
    if not failing:
        return "none"
    first = failing[0]
    face_size = result.check("face_size")
    if first.name == "distance" and face_size is not None and face_size.status == "fail":
        return "too_far"  # few pixels on the face because the face is small in the frame
    if first.name == "exposure" and "too bright" in first.instruction:
        return "too_bright"
    return CHECK_TO_REASON.get(first.name, first.name)


@dataclass
class Decision:
    name: str
    split: str  # tuning | validation | degraded
    view: str  # front | oblique
    tone: str
    expected_ok: bool
    expected_reason: str
    result: QualityResult
    # The label describes the photo in ITS view (yaw_bin). Asked as the other view (a front photo
    # as an oblique), turning the head is as right a first fix as the labelled main problem.
    other_view: bool = False

    def named(self, reason: str) -> bool:
        return reason == self.expected_reason or (self.other_view and reason == "pose")

    @property
    def accepted(self) -> bool:
        return self.result.verdict != "fail"


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} = {100 * hits / total:.0f}%" if total else "n/a"


def _interval(hits: int, total: int) -> str:
    """The Wilson score 95 % interval of a rate: how far a figure on a few dozen photos may be from
    the gate's rate on photos like them (issue 15's targets are read against it)."""
    if not total:
        return ""
    z, p = 1.96, hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return f"(95 % interval {100 * max(0.0, centre - half):.0f}-{100 * min(1.0, centre + half):.0f}%)"


def _matrix(decisions: list[Decision], interval: bool = False) -> str:
    tp = sum(d.expected_ok and d.accepted for d in decisions)
    fn = sum(d.expected_ok and not d.accepted for d in decisions)
    fp = sum(not d.expected_ok and d.accepted for d in decisions)
    tn = sum(not d.expected_ok and not d.accepted for d in decisions)
    agree = tp + tn
    return (
        f"agree {_rate(agree, len(decisions)):>14}   [label ok: accepted {tp}, refused {fn}]"
        f"  [label no: accepted {fp}, refused {tn}]   FRR {_rate(fn, tp + fn)}  FAR {_rate(fp, fp + tn)}"
        + (f"   {_interval(agree, len(decisions))}" if interval else "")
    )


def report(
    title: str,
    decisions: list[Decision],
    turned_as_front: list[str],
    wrong_side: list[str],
    misses: bool = False,
) -> None:
    print(f"\n==================== {title} ====================")
    for view in ("front", "oblique"):
        subset = [d for d in decisions if d.view == view]
        if not subset:
            continue
        print(f"{view:8} {_matrix(subset, interval=True)}")
        for tone in sorted({d.tone for d in subset}):
            print(f"  {tone:8} {_matrix([d for d in subset if d.tone == tone])}")
    correct = [d for d in decisions if d.expected_ok]
    print("false-reject rate on correct photos (all views) per skin tone:")
    for tone in sorted({d.tone for d in correct}):
        group = [d for d in correct if d.tone == tone]
        print(f"  {tone:8} {_rate(sum(not d.accepted for d in group), len(group))}")
    named = [d for d in decisions if not d.expected_ok and d.expected_reason not in ("none", "")]
    hits = sum(d.named(reason_of(d.result)) for d in named)
    # Both views of a photo are counted, so the interval is narrower than the photos warrant.
    print(
        f"named main reason (label names one, photo refused by the label): {_rate(hits, len(named))}"
        f"   {_interval(hits, len(named))}"
    )
    own = [d for d in named if not d.other_view]
    hits = sum(d.named(reason_of(d.result)) for d in own)
    print(f"  on the view the photo was taken for: {_rate(hits, len(own))}")
    hits = sum(reason_of(d.result) == d.expected_reason for d in named)
    print(
        f"  strict (the labelled main_problem only, also asked as the other view): {_rate(hits, len(named))}"
    )
    confusion: Counter[tuple[str, str]] = Counter((d.expected_reason, reason_of(d.result)) for d in decisions)
    print("reason confusion: label -> gate's first failing check")
    for label in sorted({label for label, _ in confusion}):
        counts = {got: n for (lab, got), n in confusion.items() if lab == label}
        detail = ", ".join(f"{k}:{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        print(f"  {label:15} {counts.get(label, 0)}/{sum(counts.values())}   [{detail}]")
    print(
        "per check: fails where the label names its problem (hits) / fails on correct photos (false rejects)"
    )
    names = sorted({c.name for d in decisions for c in d.result.checks})
    for name in names:
        own = [d for d in decisions if d.expected_reason in REASONS_OF_CHECK.get(name, set())]
        own_hits = sum((c := d.result.check(name)) is not None and c.status == "fail" for d in own)
        false = sum((c := d.result.check(name)) is not None and c.status == "fail" for d in correct)
        warned = sum((c := d.result.check(name)) is not None and c.status == "warn" for d in correct)
        print(
            f"  {name:16} hits {_rate(own_hits, len(own)):>13}   false rejects {false}/{len(correct)}"
            f"   warns on correct {warned}/{len(correct)}"
        )
    if misses:
        print("main-reason misses: photo, view, label -> gate (failing checks, severity)")
        for d in named:
            got = reason_of(d.result)
            if not d.named(got):
                detail = ", ".join(
                    f"{c.name}:{c.severity if c.severity is None else round(c.severity, 2)}"
                    for c in d.result.failing
                )
                print(f"  {d.name[:48]:48} {d.view:7} {d.expected_reason:>14} -> {got:14} [{detail}]")
    if turned_as_front is not None:
        print(f"turned heads accepted as a front: {len(turned_as_front)} {turned_as_front}")
        print(f"obliques/profiles accepted as the wrong side: {len(wrong_side)} {wrong_side}")


def report_close_ups(
    directory: Path,
    options: QualityOptions,
    verbose: bool,
    splits: tuple[str, ...] = ("tuning", "validation"),
) -> None:
    """Skin close-ups (../shared/testdata/skin, all light skin) as taken and degraded, per split
    of `splits` (the focus thresholds were fit on the tuning half), and close-ups of every tone cut
    from the split's correct front photos (`face_close_up_cases`): accept/refuse per skin tone."""
    for split in splits:
        print(
            f"\n==================== CLOSE-UPS, {split} half of the skin photos"
            f" + lower faces cut from the {split} split ===================="
        )
        kinds: dict[str, list[tuple[bool, bool, bool]]] = defaultdict(list)
        tones: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
        cases = list(close_up_cases(directory, split)) + list(face_close_up_cases(directory, split))
        for case in cases:
            result = check_photo(case.image, "close_up", options)
            accepted = result.verdict != "fail"
            named = not case.expected_ok and reason_of(result) == case.expected_reason
            if case.name.startswith("skin/"):
                kind = case.kind
            else:
                # A face photo's lower face is not close-up sharp: these judge the exposure test only.
                kind = f"cut face (exposure), {case.kind}"
                exposure = result.check("exposure")
                accepted = exposure is None or exposure.status != "fail"
                named = not case.expected_ok and not accepted
            kinds[kind].append((case.expected_ok, accepted, named))
            tones[case.skin_tone].append((case.expected_ok, accepted))
            if verbose:
                print(
                    f"  {case.name[:60]:60} {'ok' if case.expected_ok else 'no'}/{result.verdict:4} {_problems(result)}"
                )
        for kind, rows in kinds.items():
            right = sum(ok == accepted for ok, accepted, _ in rows)
            refused = [named for ok, _, named in rows if not ok]
            reason = f"reason {_rate(sum(refused), len(refused)):>12}" if refused else ""
            print(f"  {kind:40} decision {_rate(right, len(rows)):>12}   {reason}")
        print(
            "  per skin tone (skin photos: verdict; cut faces: exposure): FRR on correct, refused of degraded"
        )
        for tone, rows in sorted(tones.items()):
            correct = [accepted for ok, accepted in rows if ok]
            wrong = [accepted for ok, accepted in rows if not ok]
            print(
                f"    {tone:8} FRR {_rate(sum(not a for a in correct), len(correct)):>12}"
                f"   refused {_rate(sum(not a for a in wrong), len(wrong)):>12}"
            )


def report_other_fronts(directory: Path, split: str, options: QualityOptions, misses: bool) -> None:
    """Check-level constructions on the split's other fronts (`other_front_cases`): per kind, how
    often the check it aims at fails (or, for an accepted variation, no check fails that did not
    fail on the photo as taken), per skin tone group, and with `misses` every case that did not."""
    print(
        f"\n==================== CHECKS on constructions of the {split} split's other fronts"
        " (refused photos, otherwise well lit, natural colour, sharp) ===================="
    )
    own: dict[str, set[str]] = {}
    kinds: dict[str, list[bool]] = defaultdict(list)
    tones: dict[str, list[bool]] = defaultdict(list)
    missed: list[str] = []
    for case in other_front_cases(directory, split):
        if case.source not in own:
            image = cv2.imread(str(directory / case.source))
            own[case.source] = {c.name for c in check_photo(image, "front", options).failing}
        result = check_photo(case.image, "front", options)
        failing = {c.name for c in result.failing}
        if case.targets is None:
            added = failing - own[case.source]
            right, detail = not added, f"added {sorted(added)}"
        else:
            right = bool(failing & case.targets)
            aimed = [result.check(name) for name in sorted(case.targets)]
            detail = ", ".join(f"{c.name}={c.status}:{_short(c.value)}" for c in aimed if c is not None)
        kinds[case.kind].append(right)
        tones[case.skin_tone].append(right)
        if not right:
            missed.append(f"  {case.name[:52]:52} {case.skin_tone:14} {detail}")
    if not kinds:
        print("  no such photo in this split")
        return
    for kind, rows in sorted(kinds.items()):
        print(f"  {kind:28} as built {_rate(sum(rows), len(rows)):>14}")
    print(
        "  per skin tone group: "
        + ", ".join(f"{t} {_rate(sum(r), len(r))}" for t, r in sorted(tones.items()))
    )
    total = [right for rows in kinds.values() for right in rows]
    print(f"  all: {_rate(sum(total), len(total))}   sources: {len(own)}")
    if misses and missed:
        print(
            "  not as built: case, tone group, the check aimed at (or the checks an accepted variation added)"
        )
        print("\n".join(missed))


def _short(value: object) -> object:
    return round(value, 2) if isinstance(value, float) else value


def _problems(result: QualityResult) -> str:
    return ", ".join(f"{c.name}={c.status}:{_short(c.value)}" for c in result.failing + result.warnings)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every photo's checks")
    parser.add_argument("--no-degradations", action="store_true", help="real photos only")
    parser.add_argument(
        "--misses", action="store_true", help="list every photo whose main reason the gate did not name"
    )
    parser.add_argument(
        "--degrade",
        choices=["validation", "tuning"],
        default="validation",
        help="split whose correct photos are degraded (tuning: to fit thresholds; validation: the accuracy)",
    )
    parser.add_argument(
        "--tuning-only",
        action="store_true",
        help="print the tuning split and its constructions only (while fitting: the validation split stays unread)",
    )
    args = parser.parse_args()
    if args.tuning_only:
        args.degrade = "tuning"
    directory = shared_testdata_dir()
    if not (directory / "faces_labels.csv").is_file():
        print(f"no labelled photos at {directory}")
        return 1
    rows = read_labels(directory)
    split = read_split()
    options = QualityOptions()
    cv2.setNumThreads(1)

    decisions: dict[str, list[Decision]] = defaultdict(list)
    turned: dict[str, list[str]] = defaultdict(list)
    wrong: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        part = split[row["file"]]
        if args.tuning_only and part != "tuning":
            continue  # not even computed: `--verbose` would print it
        image = cv2.imread(str(directory / row["file"]))
        if image is None:
            raise FileNotFoundError(directory / row["file"])
        tone = row["skin_tone"]
        front = check_photo(image, "front", options)
        expected_front = row["clinical_front_ok"] == "yes"
        front_reason = row["main_problem"] if not expected_front else "none"
        if not expected_front and row["main_problem"] == "none":
            front_reason = "pose"  # a correct oblique refused as a front
        decisions[part].append(
            Decision(
                row["file"],
                part,
                "front",
                tone,
                expected_front,
                front_reason,
                front,
                row["yaw_bin"] != "frontal",
            )
        )
        if row["yaw_bin"] != "frontal" and front.verdict != "fail":
            turned[part].append(row["file"])
        side = row["yaw_side"] if row["yaw_side"] in ("left", "right") else "left"
        oblique = check_photo(image, f"{side}_oblique", options)
        expected_oblique = row["clinical_oblique_ok"] == "yes"
        oblique_reason = row["main_problem"] if not expected_oblique else "none"
        if not expected_oblique and row["main_problem"] == "none":
            oblique_reason = "pose"  # a correct front refused as an oblique
        decisions[part].append(
            Decision(
                row["file"],
                part,
                "oblique",
                tone,
                expected_oblique,
                oblique_reason,
                oblique,
                row["yaw_bin"] == "frontal",
            )
        )
        if row["yaw_bin"] in ("oblique", "profile") and row["yaw_side"] in ("left", "right"):
            other = "right" if row["yaw_side"] == "left" else "left"
            if check_photo(image, f"{other}_{row['yaw_bin']}", options).verdict != "fail":
                wrong[part].append(row["file"])
        if args.verbose:
            mark = "" if (front.verdict != "fail") == expected_front else "  <-- disagree"
            mark_o = "" if (oblique.verdict != "fail") == expected_oblique else "  <-- oblique disagree"
            pose = front.pose and f"{front.pose.yaw:5.1f} {front.pose.pitch:5.1f} {front.pose.roll:5.1f}"
            print(
                f"{part[:3]} {row['file'][6:46]:40} {tone:7} front {'ok' if expected_front else 'no'}/"
                f"{front.verdict:4} {side[0]}-obl {'ok' if expected_oblique else 'no'}/{oblique.verdict:4} "
                f"{str(pose):>17} {row['main_problem']:>14} -> {_problems(front)}{mark}{mark_o}"
            )

    degraded: list[Decision] = []
    if not args.no_degradations:
        for case in degraded_cases(directory, args.degrade):
            result = check_photo(case.image, case.view, options)
            view = "front" if case.view == "front" else "oblique"
            decision = Decision(
                case.name, "degraded", view, case.skin_tone, case.expected_ok, case.expected_reason, result
            )
            degraded.append(decision)
            if args.verbose:
                mark = "" if decision.accepted == case.expected_ok else "  <-- disagree"
                print(
                    f"deg {case.name[:52]:52} {case.view:13} {'ok' if case.expected_ok else 'no'}/"
                    f"{result.verdict:4} {case.expected_reason:>14} -> {reason_of(result):14} "
                    f"{_problems(result)}{mark}"
                )

    report(
        "TUNING split (thresholds were fit on these)",
        decisions["tuning"],
        turned["tuning"],
        wrong["tuning"],
        args.misses,
    )
    if not args.tuning_only:
        report(
            "VALIDATION split (held out: the gate's accuracy)",
            decisions["validation"],
            turned["validation"],
            wrong["validation"],
            args.misses,
        )
    if degraded:
        report(f"DEGRADED {args.degrade} photos (label by construction)", degraded, [], [], args.misses)
        print("per degradation: accepted/refused as expected, main reason named")
        kinds: dict[str, list[Decision]] = defaultdict(list)
        for d in degraded:
            kinds[d.name.split("/", 1)[1]].append(d)
        for kind, group in sorted(kinds.items()):
            right = sum(d.accepted == d.expected_ok for d in group)
            named = sum(d.named(reason_of(d.result)) for d in group if not d.expected_ok)
            refused = sum(not d.expected_ok for d in group)
            print(f"  {kind:22} decision {_rate(right, len(group)):>12}   reason {_rate(named, refused):>12}")
        report_close_ups(
            directory, options, args.verbose, ("tuning",) if args.tuning_only else ("tuning", "validation")
        )
        report_other_fronts(directory, args.degrade, options, args.misses)
        combined = decisions[args.degrade] + degraded
        report(
            f"{args.degrade.upper()} + DEGRADED together", combined, turned[args.degrade], wrong[args.degrade]
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
