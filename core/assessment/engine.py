"""The AI pre-assessment pipeline: photo -> canonical face -> filter bank -> metrics, flags, report.

It MEASURES skin features in photos; it does not diagnose. Photos that failed the quality gate
are listed with the gate's instructions and not measured. The results and their JSON live in
`report`, flags/suggestions/summary in `findings`, the overlay pictures in `overlays`.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from core.assessment import canonical as canon
from core.assessment.colour_chart import ChartCalibration, find_colour_chart
from core.assessment.filterbank import load_filterbank
from core.assessment.findings import (
    NO_ANCHOR_NOTE,
    NO_COLOUR_ANCHOR_NOTE,
    NOT_BALANCED_NOTE,
    NOT_SKIN_COLOUR_NOTE,
    UNUSABLE_ANCHOR_NOTE,
    UNUSABLE_NOTES,
    photo_flags,
    retake_flag,
    suggestions,
    summary,
)
from core.assessment.metrics import (
    METRIC_SPECS,
    MapAnalysis,
    analyse_maps,
    anchor_exposure,
    exclude_non_skin,
    ita_category,
    ita_degrees,
    landmark_asymmetry,
    region_values,
    score_and_band,
)
from core.assessment.report import (
    CLOSE_UP_REGION,
    CaseAssessment,
    Metric,
    PhotoAssessment,
    is_close_up,
    is_front,
    rounded,
)
from core.models import MODEL_FILES
from core.paths import REPO_ROOT
from core.vision.landmarks import Landmarks, detect_landmarks, points_px
from core.vision.quality import QualityResult
from core.vision.regions import region_masks

# 1.1.0: one white balance per case (pooled eye whites), exposure from the face, colour chart
# calibration, pose-invariant 3D symmetry.
# 1.2.0: light anchored to what is not skin (chart, eye white, teeth; background and the case's
# pooled white for colour), exposure never clips the face, ITA only with an exposure anchor,
# redness scored only on corrected colour, under-eye against the orbit's normal shading, counts
# merged as whole numbers, no mirrored border in the canonical face.
# 1.3.0: score slopes fitted to each measure's spread across people (redness, tone evenness,
# under-eye, symmetry: metrics.METRIC_SPECS) so a retake keeps its band.
# 1.4.0: a photo's eye white, teeth and background blended by confidence (margins past each
# usability threshold) instead of the first usable one, so a retake does not switch references.
# 1.5.0: the exposure anchor found on far more photos (the lit part of eye whites and teeth, with
# reasons when one is unusable; the case's pooled anchor for every photo of one light) and
# inherited by every colour measure (metrics.anchor_exposure), not by ITA alone.
# 1.5.1: skin tone measured on more photos of light skin: the lit eye white / teeth that anchor the
# exposure also white-balance a photo whose blended references all failed; of an eye white and
# teeth that disagree the brighter anchors (the darker is in shade); the lightest skin accepted
# rises from L* 80 to 85 (canonical.ANCHOR_MAX_SKIN_LIGHTNESS).
# 1.5.2: the eye white and teeth that anchor the exposure blended by pixels times a confidence that
# fades towards each refusal (a retake no longer switches the anchor's level); teeth balance the
# light less their own yellow (canonical.TEETH_TINT); a wall too dark for a colour judged against
# the skin, not absolutely; the anchor's sources recorded as a list
# (illumination.skin_tone_anchor_sources) beside its label.
# 1.5.3: the eye white segmented by colour inside the eye opening (canonical.eye_white_mask: less
# coloured than the periocular skin, brighter than the iris, clear of lids and caruncle) instead of
# the opening less MediaPipe's iris circle, which over-covered the white of narrowed eyes; two eye
# whites lit differently (canonical.EYE_MAX_DISAGREEMENT) are "uneven"; ANCHOR_TARGETS refitted on
# the tune half and kept (0.54).
ENGINE_VERSION = "1.5.3"

WRINKLE_REGIONS = (
    "forehead", "glabella", "crows_feet_left", "crows_feet_right", "under_eye_left", "under_eye_right",
    "nasolabial_left", "nasolabial_right", "perioral",
)  # fmt: skip
SKIN_REGIONS = (
    "forehead", "glabella", "crows_feet_left", "crows_feet_right", "under_eye_left", "under_eye_right",
    "cheek_left", "cheek_right", "nose", "nasolabial_left", "nasolabial_right", "perioral", "chin",
)  # fmt: skip
METRIC_REGIONS: dict[str, tuple[str, ...]] = {
    "ita": ("forehead", "cheek_left", "cheek_right"),
    "redness": SKIN_REGIONS,
    "red_area": SKIN_REGIONS,
    "inflammatory_spots": SKIN_REGIONS,
    "melanin": SKIN_REGIONS,
    "brown_spots": SKIN_REGIONS,
    "tone_evenness": ("forehead", "cheek_left", "cheek_right", "chin"),
    "wrinkles": WRINKLE_REGIONS,
    "texture": ("cheek_left", "cheek_right", "nose"),
    "pores": ("cheek_left", "cheek_right", "nose"),
    "shine": ("forehead", "nose", "chin"),
}
CLOSE_UP_METRICS = (
    "ita", "redness", "red_area", "inflammatory_spots", "melanin", "brown_spots", "tone_evenness",
    "wrinkles", "texture", "pores", "shine",
)  # fmt: skip
# The quality gate's checks of light and colour: one that warned (or failed) makes the colour
# measures (redness, pigment, ITA) less reliable.
LIGHTING_CHECKS = frozenset({"exposure", "backlight", "lighting", "shadows", "colour"})
LOW_DETAIL_SCALE = 1.5  # canonical px per source px above which the face was blown up
REGIONS_SOURCE = "core.vision.regions"  # reported with every face photo's metrics


@dataclass(frozen=True)
class AssessmentOptions:
    canonical_size: int = canon.CANONICAL_SIZE
    white_balance: bool = True
    # Photos of one case share the white balance pooled from all their eye whites.
    shared_white_balance: bool = True
    # A ColorChecker Classic in the photo calibrates its colour (replaces the eye-white balance).
    colour_chart: bool = True
    # Colour measures read at the exposure a white that is not skin sets (chart, eye white, teeth,
    # the case's pooled anchor). Off (research option): at the face's own exposure, no skin tone.
    exposure_anchor: bool = True
    threads: int = 1
    model_dir: Path | None = None
    run_registry: bool = True  # also run registered ONNX models
    registry_dir: Path | None = None
    evidence: bool = True  # keep evidence crops on flags


@dataclass(frozen=True)
class PhotoInput:
    image_bgr: np.ndarray
    view: str = "front"
    photo_id: str | None = None
    landmarks: Landmarks | None = None  # detected when None (face views)
    quality: QualityResult | None = None  # the gate's result; a failed photo is not measured


# -- engine identity --------------------------------------------------------------------------
_SOURCE_PACKAGES = (REPO_ROOT / "core" / "assessment", REPO_ROOT / "core" / "vision")
_FILTERBANK_BUILDER = REPO_ROOT / "scripts" / "build_filterbank.py"


def engine_source_files() -> tuple[Path, ...]:
    """Every source file that can change a measured number: all code of the assessment and vision
    packages (landmarks, regions, quality gate, warp, colour, metrics) and the filter bank's builder.
    Derived from the folders, so a new module is covered without anyone listing it."""
    files = [path for package in _SOURCE_PACKAGES for path in package.rglob("*.py")]
    return tuple(sorted({*files, _FILTERBANK_BUILDER}))


@functools.cache
def _source_digest() -> str:
    """sha256 over the engine's source files (path and content) and the pinned model files."""
    digest = hashlib.sha256()
    for path in engine_source_files():
        name, data = path.relative_to(REPO_ROOT).as_posix().encode(), path.read_bytes()
        digest.update(f"{len(name)}:{len(data)}:".encode() + name + data)
    for spec in sorted(MODEL_FILES.values(), key=lambda spec: spec.name):
        digest.update(f"model:{spec.name}:{spec.sha256}".encode())
    return digest.hexdigest()


def engine_identity(options: AssessmentOptions | None = None) -> dict:
    """{version, sha256, filterbank}: the sha256 covers the engine's code (`engine_source_files`),
    the landmark/detector model files and the filter-bank file."""
    options = options or AssessmentOptions()
    bank = load_filterbank(options.model_dir, threads=options.threads)
    digest = hashlib.sha256(f"{_source_digest()}:{bank.sha256}".encode())
    return {
        "version": ENGINE_VERSION,
        "sha256": digest.hexdigest(),
        "filterbank": {"name": "skin_filterbank", "version": bank.version, "sha256": bank.sha256},
    }


# -- the quality gate's result ----------------------------------------------------------------
def _failed_reason(quality: QualityResult) -> str:
    """The patient-facing instructions of the failing checks (what a retake must fix)."""
    instructions = dict.fromkeys(check.instruction for check in quality.failing if check.instruction)
    return "; ".join(instructions) if instructions else "photo failed the quality check"


def _lighting_warned(quality: QualityResult | None) -> bool:
    return quality is not None and any(
        check.name in LIGHTING_CHECKS and check.status in {"warn", "fail"} for check in quality.checks
    )


# -- per-photo assessment ---------------------------------------------------------------------
def assess_photo(
    image_bgr: np.ndarray,
    view: str = "front",
    landmarks: Landmarks | None = None,
    quality: QualityResult | None = None,
    options: AssessmentOptions | None = None,
    photo_id: str | None = None,
    white_reference: canon.WhiteReference | None = None,
    chart: ChartCalibration | None = None,
    case_skin_luminance: float | None = None,
) -> PhotoAssessment:
    """Measure one photo. `landmarks`: the face in this photo; detected when None.

    `white_reference`: the case's pooled eye-white colour (`assess_case` passes it).
    `case_skin_luminance`: the skin lightness the case's other photos anchored (`assess_case`
    passes it); it anchors the exposure of a photo without an eye white or teeth of its own.
    `chart`: a colour calibration already found in this photo; when None and
    `options.colour_chart` is on, the photo is searched for a chart.
    """
    options = options or AssessmentOptions()
    verdict = None if quality is None else quality.verdict
    if quality is not None and verdict == "fail":
        reason = _failed_reason(quality)
        return PhotoAssessment(
            photo_id,
            view,
            "not_assessed",
            reason,
            verdict,
            flags=[retake_flag(view, photo_id, f"{view} photo not assessed: {reason}")],
        )

    close_up = is_close_up(view)
    points: np.ndarray | None = None
    if not close_up:
        if landmarks is None:
            landmarks = detect_landmarks(image_bgr)
        if landmarks is None:
            return PhotoAssessment(
                photo_id,
                view,
                "not_assessed",
                "no face found in the photo",
                verdict,
                flags=[retake_flag(view, photo_id, f"{view} photo: no face found")],
            )
        points = points_px(landmarks, with_z=True, dtype=np.float64)

    if chart is None:
        chart = _find_chart(image_bgr, options)
    face = canon.canonicalise(
        image_bgr,
        points,
        options.canonical_size,
        options.white_balance,
        white_reference,
        chart,
        case_skin_luminance,
    )
    rgb01 = face.image_bgr[..., ::-1].astype(np.float32) / 255.0
    bank = load_filterbank(options.model_dir, threads=options.threads)
    # Every colour measure reads the skin at the anchor's exposure (one function for all of them).
    anchored = options.white_balance and options.exposure_anchor
    maps = anchor_exposure(bank.run(rgb01), colour_exposure(face.illumination, anchored))

    if close_up:
        masks = {CLOSE_UP_REGION: _close_up_mask(face.image_bgr, chart, face.transform)}
        regions_source = "whole frame (close-up)"
    else:
        assert face.points is not None  # canonicalise keeps the landmarks it was given
        inside = _inside_photo(image_bgr.shape[:2], face.transform, face.image_bgr.shape[:2])
        masks = {
            name: mask & inside for name, mask in region_masks(face.points, face.image_bgr.shape[:2]).items()
        }
        masks = _drop_hidden_side(masks)
        masks = exclude_non_skin(masks, maps["lab"], ["cheek_left", "cheek_right"])
        regions_source = REGIONS_SOURCE
    analysis = analyse_maps(maps, masks)

    assessment = PhotoAssessment(
        photo_id,
        view,
        "assessed",
        quality_verdict=verdict,
        illumination=face.illumination,
        regions_source=regions_source,
        spots=analysis.spots,
        canonical_bgr=face.image_bgr,
        redness_excess=analysis.redness_excess,
        skin_mask=analysis.skin,
        line_mask=analysis.line_mask,
        region_masks=masks,
    )
    notes = _reliability_notes(view, quality, face.illumination, close_up)
    assessment.metrics = _measure(masks, maps, analysis, notes, close_up)
    _apply_light_anchors(assessment.metrics, face.illumination, options.white_balance, anchored)
    if face.points is not None and not close_up and is_front(view):
        value = landmark_asymmetry(face.points)
        score, band = score_and_band("symmetry", value)
        assessment.metrics.append(
            Metric("face", "symmetry", value, "% IOD", score, band, list(notes.get("geometry", [])))
        )
    if options.run_registry:
        _run_registry(assessment, rgb01, masks, options)
    assessment.flags = photo_flags(assessment, options.evidence)
    for metric in assessment.metrics:
        metric.views = [view]
    return assessment


def _inside_photo(source_shape: tuple[int, ...], transform: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Canonical pixels that come from the photo: beyond its edge there is no skin to measure."""
    ones = np.ones(source_shape[:2], np.uint8)
    inside = cv2.warpAffine(ones, transform, (shape[1], shape[0]), flags=cv2.INTER_NEAREST)
    return cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)


def _close_up_mask(
    image_bgr: np.ndarray, chart: ChartCalibration | None = None, transform: np.ndarray | None = None
) -> np.ndarray:
    """Whole frame minus letterbox bars, near-black/blown pixels and a colour chart, if any."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    usable = (grey > 25) & (grey < 250)
    usable = cv2.morphologyEx(usable.astype(np.uint8), cv2.MORPH_OPEN, np.ones((9, 9), np.uint8)).astype(bool)
    usable = usable if usable.mean() > 0.2 else np.ones(grey.shape, bool)
    if chart is not None and transform is not None:
        corners = chart.box @ transform[:, :2].T + transform[:, 2]
        outline = np.zeros(grey.shape, np.uint8)
        cv2.fillConvexPoly(outline, np.round(corners).astype(np.int32), 1)
        # The chart's frame and shadow reach a little beyond the detected patch corners.
        usable &= ~cv2.dilate(outline, np.ones((15, 15), np.uint8)).astype(bool)
    return usable


def _find_chart(image_bgr: np.ndarray, options: AssessmentOptions) -> ChartCalibration | None:
    if not (options.colour_chart and options.white_balance):
        return None
    return find_colour_chart(image_bgr)


def _drop_hidden_side(masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """On turned heads the far side is foreshortened: drop a side region under half its partner's area."""
    kept = dict(masks)
    for name in masks:
        if name.endswith("_left"):
            partner = name[: -len("_left")] + "_right"
            if partner in masks:
                left, right = int(masks[name].sum()), int(masks[partner].sum())
                if left < 0.5 * right:
                    kept.pop(name, None)
                elif right < 0.5 * left:
                    kept.pop(partner, None)
    return kept


SKIN_TONE_NOT_MEASURABLE = "not measurable"
COLOUR_NOT_CORRECTED = "not scored"


def colour_exposure(illumination: dict, light_handling: bool = True) -> float:
    """The exposure every colour measure is read at, as a ratio to the measured (face-exposed)
    image: the anchor's (chart, eye white, teeth, the consultation's other photos) when there is
    one, else 1 (the face's own brightness: colour compares within this face only)."""
    if not light_handling or not illumination.get("skin_tone_anchor"):
        return 1.0
    return float(illumination.get("anchor_exposure_ratio", 1.0))


def _apply_light_anchors(
    metrics: list[Metric], illumination: dict, light_handling: bool, anchored: bool = True
) -> None:
    """ITA needs an exposure anchor that is not skin and corrected colour; a redness score needs
    corrected colour.

    Without an anchor the exposure came from the face itself, which sets every skin to the same
    brightness: an ITA (and its category) would describe the camera, not the skin. Without a white
    balance b* is partly the lamp's. Uncorrected colour reads a warm lamp as red skin, so redness
    keeps its value but gets no score or band. The anchor itself was applied to the colour maps
    before measuring (`colour_exposure`), so every colour measure shares it.
    With light handling switched off (research option) the raw numbers stand as they are.
    """
    if not light_handling:
        return
    anchor = illumination.get("skin_tone_anchor") if anchored else None
    corrected = illumination.get("method") not in {"exposure_only", "none (close-up: no neutral reference)"}
    for metric in metrics:
        # Skin is always yellowish (b* > 0): a zero or negative b* means the colour correction
        # (or a screen's blue light) made it something skin never is.
        skin_coloured = float(metric.details.get("b", 1.0)) > 0.0
        if metric.metric == "ita" and anchor and corrected and skin_coloured:
            metric.details = {**metric.details, "anchor": anchor}
        elif metric.metric == "ita":
            metric.details = {**metric.details, "measured_ita": rounded(metric.value)}
            metric.value, metric.score, metric.band = float("nan"), float("nan"), SKIN_TONE_NOT_MEASURABLE
            notes = skin_tone_notes(illumination, bool(anchor), corrected)
            metric.reliability = [*metric.reliability, *notes]
        elif metric.metric == "redness" and not corrected:
            metric.score, metric.band = float("nan"), COLOUR_NOT_CORRECTED


def skin_tone_notes(illumination: dict, anchored: bool, corrected: bool = True) -> list[str]:
    """Why skin tone is not measurable on a photo: what was found and why it could not be used
    (`anchored`: the exposure had an anchor, so the colour was what failed)."""
    unusable = illumination.get("anchor_unusable") or {}
    if anchored:
        return [NOT_BALANCED_NOTE if not corrected else NOT_SKIN_COLOUR_NOTE]
    notes = [UNUSABLE_NOTES[(source, reason)] for source, reason in sorted(unusable.items())]
    return [UNUSABLE_ANCHOR_NOTE, *notes] if notes else [NO_ANCHOR_NOTE]


def _reliability_notes(
    view: str, quality: QualityResult | None, illumination: dict, close_up: bool
) -> dict[str, list[str]]:
    colour: list[str] = []
    geometry: list[str] = []
    general: list[str] = []
    if _lighting_warned(quality):
        colour.append("lighting warned: colour measures (redness, pigment, ITA) less reliable")
    if quality is not None and quality.verdict == "warn" and not colour:
        general.append("photo passed the quality check with warnings")
    method = str(illumination.get("method", ""))
    if method not in {"", "off"} and not close_up and not illumination.get("skin_tone_anchor"):
        colour.append(NO_COLOUR_ANCHOR_NOTE)
    if method == "exposure_only":
        colour.append("no neutral reference (eye white, teeth, background): colour not white-balanced")
    if close_up and method != "colour_chart":
        colour.append("close-up: no neutral reference, colour not white-balanced")
        general.append("close-up without face landmarks: whole frame measured as one region, scale unknown")
    ratio = illumination.get("cheek_light_ratio")
    if ratio is not None and ratio < 0.75:
        general.append("uneven light between the face sides: left/right comparisons less reliable")
    if quality is None:
        general.append("no quality check supplied")
    if not is_front(view):
        geometry.append("oblique view: far-side regions not measured")
    detail: list[str] = []
    if float(illumination.get("source_scale", 1.0)) > LOW_DETAIL_SCALE:
        detail.append("low resolution face (upsampled): fine lines, texture and pores less reliable")
    return {"colour": colour, "geometry": geometry, "general": general, "detail": detail}


def _measure(
    masks: dict[str, np.ndarray],
    maps: dict[str, np.ndarray],
    analysis: MapAnalysis,
    notes: dict[str, list[str]],
    close_up: bool,
) -> list[Metric]:
    metrics: list[Metric] = []
    plan: Iterable[tuple[str, tuple[str, ...]]]
    plan = ((m, (CLOSE_UP_REGION,)) for m in CLOSE_UP_METRICS) if close_up else METRIC_REGIONS.items()
    for metric, regions in plan:
        spec = METRIC_SPECS[metric]
        reliability = list(notes["general"]) + list(notes["geometry"])
        if spec.colour_dependent:
            reliability += notes["colour"]
        if spec.detail_dependent:
            reliability += notes["detail"]
        for region in regions:
            mask = masks.get(region)
            if mask is None:
                continue
            measured = region_values(metric, region, mask, maps, analysis)
            if measured is None:
                continue
            value, details = measured
            score, band = score_and_band(metric, value)
            metrics.append(Metric(region, metric, value, spec.unit, score, band, list(reliability), details))
    if not close_up:
        metrics.extend(_face_level(masks, analysis, notes))
    return metrics


def _face_level(
    masks: dict[str, np.ndarray], analysis: MapAnalysis, notes: dict[str, list[str]]
) -> list[Metric]:
    out: list[Metric] = []
    reliability = list(notes["general"]) + notes["colour"]
    # ITA of the patient: cheeks + forehead pooled.
    pooled = [masks[r] for r in ("forehead", "cheek_left", "cheek_right") if r in masks]
    if pooled:
        skin = np.logical_or.reduce(pooled)
        if skin.sum() >= 80:
            lm, bm = float(np.median(analysis.lightness[skin])), float(np.median(analysis.b_star[skin]))
            ita = ita_degrees(lm, bm)
            score, band = score_and_band("ita", ita)
            out.append(
                Metric(
                    "face",
                    "ita",
                    ita,
                    "deg",
                    score,
                    band,
                    list(reliability),
                    {"L": round(lm, 2), "b": round(bm, 2)},
                )
            )
    # Under-eye: how much darker than the cheek on the same side.
    for side in ("left", "right"):
        under, cheek = masks.get(f"under_eye_{side}"), masks.get(f"cheek_{side}")
        if under is None or cheek is None or under.sum() < 40 or cheek.sum() < 40:
            continue
        # The 60th percentile: lash line and lid crease are a dark minority of the strip below the
        # eye, not the under-eye skin; they made a normal under-eye read as a dark circle.
        difference = float(
            np.median(analysis.lightness[cheek]) - np.percentile(analysis.lightness[under], 60)
        )
        score, band = score_and_band("under_eye", difference)
        out.append(Metric(f"under_eye_{side}", "under_eye", difference, "L*", score, band, list(reliability)))
    return out


def _run_registry(
    assessment: PhotoAssessment, rgb01: np.ndarray, masks: dict[str, np.ndarray], options: AssessmentOptions
) -> None:
    from core.assessment.registry import load_registry

    for model in load_registry(options.registry_dir):
        outputs = model.run(rgb01)
        assessment.model_outputs[model.name] = {"version": model.version, "sha256": model.sha256}
        for output_name, value in outputs.items():
            metric_name = f"{model.name}.{output_name}"
            unit = model.output_unit(output_name)
            if value.ndim >= 2 and value.shape[-2:] == rgb01.shape[:2]:
                plane = value.reshape(value.shape[-2:])
                for region, mask in masks.items():
                    if mask.sum() >= 80:
                        assessment.metrics.append(
                            Metric(
                                region,
                                metric_name,
                                float(plane[mask].mean()),
                                unit,
                                float("nan"),
                                "n/a",
                                [],
                                {},
                                model.name,
                            )
                        )
            else:
                for index, number in enumerate(np.ravel(value)[:16]):
                    label = metric_name if value.size == 1 else f"{metric_name}[{index}]"
                    assessment.metrics.append(
                        Metric("face", label, float(number), unit, float("nan"), "n/a", [], {}, model.name)
                    )


# -- case merge -------------------------------------------------------------------------------
def assess_case(
    photos: Sequence[PhotoInput | PhotoAssessment], options: AssessmentOptions | None = None
) -> CaseAssessment:
    """Assess every photo (or take finished PhotoAssessments) and merge into one case report."""
    options = options or AssessmentOptions()
    inputs = [_with_landmarks(item) if isinstance(item, PhotoInput) else item for item in photos]
    shared, skin_luminance = _case_references(inputs, options)
    assessed: list[PhotoAssessment] = []
    for item in inputs:
        if isinstance(item, PhotoAssessment):
            assessed.append(item)
        else:
            assessed.append(
                assess_photo(
                    item.image_bgr,
                    item.view,
                    item.landmarks,
                    item.quality,
                    options,
                    item.photo_id,
                    shared,
                    case_skin_luminance=skin_luminance,
                )
            )
    merged = _merge_metrics([p for p in assessed if p.status == "assessed"])
    flags = [flag for p in assessed for flag in p.flags]
    return CaseAssessment(
        assessed,
        merged,
        flags,
        suggestions(merged, flags),
        summary(assessed, merged, flags),
        engine_identity(options),
        _model_list(options),
        datetime.now(UTC).isoformat(),
    )


def _failed(item: PhotoInput) -> bool:
    return item.quality is not None and item.quality.verdict == "fail"


def _with_landmarks(item: PhotoInput) -> PhotoInput:
    """Detect landmarks once, up front: the case's white balance needs every photo's eyes."""
    if item.landmarks is not None or is_close_up(item.view) or _failed(item):
        return item
    found = detect_landmarks(item.image_bgr)
    return replace(item, landmarks=found) if found is not None else item


def _case_references(
    inputs: Sequence[PhotoInput | PhotoAssessment], options: AssessmentOptions
) -> tuple[canon.WhiteReference | None, float | None]:
    """Pooled over the case's face photos that the quality gate let through: the eye-white colour
    (one white balance) and the skin lightness their own anchors set (the exposure anchor of a
    photo that has no eye white or teeth to anchor it)."""
    if not (options.white_balance and options.shared_white_balance):
        return None, None
    found = [
        canon.photo_light_references(
            item.image_bgr, points_px(item.landmarks, with_z=True, dtype=np.float64), options.canonical_size
        )
        for item in inputs
        if isinstance(item, PhotoInput) and item.landmarks is not None and not _failed(item)
    ]
    return (
        canon.pool_white_references([r.white for r in found]),
        canon.pool_skin_luminance([r.anchored_skin_luminance for r in found]),
    )


def _merge_metrics(photos: list[PhotoAssessment]) -> list[Metric]:
    groups: dict[tuple[str, str], list[tuple[PhotoAssessment, Metric]]] = {}
    for photo in photos:
        for metric in photo.metrics:
            groups.setdefault((metric.region, metric.metric), []).append((photo, metric))
    merged: list[Metric] = []
    for (region, name), entries in groups.items():
        values = [m.value for _, m in entries if math.isfinite(m.value)]
        if not values:
            if name == "ita":  # keep saying so: the card reads "not measurable", not nothing
                first = entries[0][1]
                merged.append(
                    Metric(region, name, float("nan"), first.unit, float("nan"), SKIN_TONE_NOT_MEASURABLE,
                           sorted({n for _, m in entries for n in m.reliability}), {}, first.source,
                           [p.view for p, _ in entries])
                )  # fmt: skip
            continue
        entries = [(p, m) for p, m in entries if math.isfinite(m.value)]
        # The same skin seen from several views: average, keep each view's value in details.
        value = float(np.mean(values))
        first = entries[0][1]
        if first.unit == "count":
            value = float(round(value))  # a spot is there or not: whole spots, never "0.5"
        if any(m.band == COLOUR_NOT_CORRECTED for _, m in entries):
            score, band = float("nan"), COLOUR_NOT_CORRECTED
        elif first.source == "skin_filterbank":
            score, band = score_and_band(name, value)
        else:
            score, band = float("nan"), "n/a"
        reliability = sorted({note for _, m in entries for note in m.reliability})
        views = [p.view for p, _ in entries]
        if len(entries) == 1 and len(photos) > 1:
            reliability.append("measured on one view")
        if name == "ita":
            band = ita_category(value)
        details = dict(first.details)
        if len(entries) > 1:
            details["per_view"] = {p.view: rounded(m.value) for p, m in entries}
        merged.append(
            Metric(region, name, value, first.unit, score, band, reliability, details, first.source, views)
        )
    order = {name: i for i, name in enumerate(METRIC_SPECS)}
    merged.sort(key=lambda m: (order.get(m.metric, 99), m.metric, m.region))
    return merged


def _model_list(options: AssessmentOptions) -> list[dict]:
    identity = engine_identity(options)["filterbank"]
    models = [{**identity, "intended_use": "image measurements for the pre-assessment metrics"}]
    if options.run_registry:
        from core.assessment.registry import load_registry

        for model in load_registry(options.registry_dir):
            models.append(model.describe())
    return models
