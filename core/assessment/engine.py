"""The AI pre-assessment engine: photo -> canonical face -> filter bank -> metrics, flags, report.

It MEASURES skin features in photos; it does not diagnose. Photos that failed the quality gate
are listed with the reason and not measured.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.assessment import canonical as canon
from core.assessment.colour_chart import ChartCalibration, find_colour_chart
from core.assessment.face import CLOSE_UP_REGION, detect_points, region_masks_canonical
from core.assessment.filterbank import load_filterbank
from core.assessment.metrics import (
    METRIC_SPECS,
    MapAnalysis,
    Spot,
    analyse_maps,
    exclude_non_skin,
    ita_category,
    ita_degrees,
    landmark_asymmetry,
    region_values,
    score_and_band,
)
from core.vocabulary import FLAG_DERMOSCOPY, FLAG_INFLAMMATION, FLAG_RETAKE, FlagCode

# 1.1.0: one white balance per case (pooled eye whites), exposure from the face, colour chart
# calibration, pose-invariant 3D symmetry.
ENGINE_VERSION = "1.1.0"
REPORT_SCHEMA = "clinic.assessment/1"
DISCLAIMER = (
    "Automated photo measurements to support the physician's review. They describe what the photos "
    "show (colour, lines, spots, texture) under the photo's own lighting and are not a diagnosis. "
    "Scores are relative measures, not clinically validated grades; the physician decides."
)
CLOSE_UP_VIEWS = {"close_up", "closeup", "close-up"}

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
LIGHTING_CHECK_WORDS = ("light", "expos", "bright", "dark", "colour", "color", "cast", "white", "shadow")

# Flag thresholds (canonical face ~2 px per mm)
LARGE_SPOT_PX = 110  # ~6 mm diameter
IRREGULAR_SOLIDITY = 0.7
VERY_DARK_CONTRAST = 22.0  # L* below the surrounding skin
INFLAMMATION_FLAG_COUNT = 20  # whole face: ~20 inflammatory lesions is where acne grading says "moderate"
INFLAMMATION_FLAG_COUNT_CLOSE_UP = 12  # a close-up shows only part of the face
INFLAMMATION_FLAG_AREA = 30.0
LOW_DETAIL_SCALE = (
    1.5  # canonical px per source px above which the face was blown up  # % red area in a region
)


@dataclass
class AssessmentOptions:
    canonical_size: int = canon.CANONICAL_SIZE
    white_balance: bool = True
    # Photos of one case share the white balance pooled from all their eye whites.
    shared_white_balance: bool = True
    # A ColorChecker Classic in the photo calibrates its colour (replaces the eye-white balance).
    colour_chart: bool = True
    threads: int = 1
    model_dir: Path | None = None
    run_registry: bool = True  # also run registered ONNX models
    registry_dir: Path | None = None
    evidence: bool = True  # keep evidence crops on flags


@dataclass
class Metric:
    region: str
    metric: str
    value: float
    unit: str
    score: float
    band: str
    reliability: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    source: str = "skin_filterbank"
    views: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "region": self.region,
            "metric": self.metric,
            "value": _round(self.value),
            "unit": self.unit,
            "score": _round(self.score),
            "band": self.band,
            "reliability": list(self.reliability),
            "details": self.details,
            "source": self.source,
            "views": list(self.views),
        }


@dataclass
class Flag:
    code: FlagCode
    title: str
    reason: str
    severity: str = "attention"  # attention | action
    region: str | None = None
    photo_id: str | None = None
    view: str | None = None
    evidence: list[np.ndarray] = field(default_factory=list)  # BGR crops

    def as_dict(self, with_images: bool = True) -> dict:
        data = {
            "code": self.code,
            "title": self.title,
            "reason": self.reason,
            "severity": self.severity,
            "region": self.region,
            "photo_id": self.photo_id,
            "view": self.view,
            "evidence_count": len(self.evidence),
        }
        if with_images:
            data["evidence_png_base64"] = [
                base64.b64encode(png_bytes(image)).decode("ascii") for image in self.evidence
            ]
        return data


@dataclass
class PhotoAssessment:
    photo_id: str | None
    view: str
    status: str  # assessed | not_assessed
    reason: str | None = None
    quality_verdict: str | None = None
    metrics: list[Metric] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    illumination: dict = field(default_factory=dict)
    regions_source: str | None = None
    spots: list[Spot] = field(default_factory=list)
    canonical_bgr: np.ndarray | None = None
    redness_excess: np.ndarray | None = None
    skin_mask: np.ndarray | None = None
    line_mask: np.ndarray | None = None
    region_masks: dict[str, np.ndarray] = field(default_factory=dict)
    model_outputs: dict[str, dict] = field(default_factory=dict)

    def metric(self, metric: str, region: str) -> Metric | None:
        return next((m for m in self.metrics if m.metric == metric and m.region == region), None)

    def as_dict(self) -> dict:
        return {
            "photo_id": self.photo_id,
            "view": self.view,
            "status": self.status,
            "reason": self.reason,
            "quality_verdict": self.quality_verdict,
            "illumination": self.illumination,
            "regions_source": self.regions_source,
            "metrics": [m.as_dict() for m in self.metrics],
            "spots": [s.as_dict() for s in self.spots],
            "flags": [f.as_dict(with_images=False) for f in self.flags],
        }


@dataclass
class CaseAssessment:
    photos: list[PhotoAssessment]
    metrics: list[Metric]
    flags: list[Flag]
    suggestions: list[dict]
    summary: str
    engine: dict
    models: list[dict]
    created_at: str
    disclaimer: str = DISCLAIMER

    def metric(self, metric: str, region: str) -> Metric | None:
        return next((m for m in self.metrics if m.metric == metric and m.region == region), None)

    def to_report(self, with_images: bool = True) -> dict:
        return {
            "schema": REPORT_SCHEMA,
            "created_at": self.created_at,
            "engine": self.engine,
            "models": self.models,
            "disclaimer": self.disclaimer,
            "summary": self.summary,
            "inputs": [
                {
                    "photo_id": p.photo_id,
                    "view": p.view,
                    "quality_verdict": p.quality_verdict,
                    "status": p.status,
                }
                for p in self.photos
            ],
            "not_assessed": [
                {"photo_id": p.photo_id, "view": p.view, "reason": p.reason}
                for p in self.photos
                if p.status != "assessed"
            ],
            "metrics": [m.as_dict() for m in self.metrics],
            "flags": [f.as_dict(with_images=with_images) for f in self.flags],
            "suggestions": self.suggestions,
            "photos": [p.as_dict() for p in self.photos],
        }


def _round(value: float) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), 3)


def png_bytes(image_bgr: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image_bgr)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buffer.tobytes()


# -- engine identity --------------------------------------------------------------------------
_ENGINE_FILES = ("engine.py", "metrics.py", "canonical.py", "face.py", "filterbank.py")


def engine_identity(options: AssessmentOptions | None = None) -> dict:
    """{version, sha256}: the sha256 covers the engine's code and the filter-bank file."""
    options = options or AssessmentOptions()
    bank = load_filterbank(options.model_dir, threads=options.threads)
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _ENGINE_FILES:
        digest.update((here / name).read_bytes())
    digest.update(bank.sha256.encode())
    return {
        "version": ENGINE_VERSION,
        "sha256": digest.hexdigest(),
        "filterbank": {"name": "skin_filterbank", "version": bank.version, "sha256": bank.sha256},
    }


# -- quality helpers --------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def quality_verdict(quality: Any) -> str | None:
    verdict = _get(quality, "verdict")
    return None if verdict is None else str(getattr(verdict, "value", verdict)).lower()


def _quality_checks(quality: Any) -> list[tuple[str, str, str]]:
    """(name, status, message) of every check, tolerant of list/dict shapes."""
    checks = _get(quality, "checks") or []
    if isinstance(checks, dict):
        checks = [{"name": k, **(v if isinstance(v, dict) else {"status": v})} for k, v in checks.items()]
    out = []
    for check in checks:
        name = str(_get(check, "name") or _get(check, "id") or _get(check, "check") or "")
        status = _get(check, "status") or _get(check, "verdict") or _get(check, "result") or ""
        status = str(getattr(status, "value", status)).lower()
        message = str(_get(check, "message") or _get(check, "detail") or name)
        out.append((name, status, message))
    return out


def _failed_reason(quality: Any) -> str:
    failing = [msg for _, status, msg in _quality_checks(quality) if status == "fail"]
    return "; ".join(failing) if failing else "photo failed the quality check"


def _lighting_warned(quality: Any) -> bool:
    for name, status, message in _quality_checks(quality):
        if status in {"warn", "fail"}:
            text = f"{name} {message}".lower()
            if any(word in text for word in LIGHTING_CHECK_WORDS):
                return True
    return False


# -- per-photo assessment ---------------------------------------------------------------------
def assess_photo(
    image_bgr: np.ndarray,
    view: str = "front",
    landmarks: Any = None,
    quality: Any = None,
    options: AssessmentOptions | None = None,
    photo_id: str | None = None,
    white_reference: canon.WhiteReference | None = None,
    chart: ChartCalibration | None = None,
) -> PhotoAssessment:
    """Measure one photo. `landmarks`: a FaceLandmarks (or an (N, 2|3) point array); detected when None.

    `white_reference`: the case's pooled eye-white colour (`assess_case` passes it).
    `chart`: a colour calibration already found in this photo; when None and
    `options.colour_chart` is on, the photo is searched for a chart.
    """
    options = options or AssessmentOptions()
    verdict = quality_verdict(quality)
    if verdict == "fail":
        assessment = PhotoAssessment(photo_id, view, "not_assessed", _failed_reason(quality), verdict)
        assessment.flags.append(
            Flag(
                FLAG_RETAKE,
                "Retake the photo",
                f"{view} photo not assessed: {assessment.reason}",
                "action",
                photo_id=photo_id,
                view=view,
            )
        )
        return assessment

    close_up = view.lower() in CLOSE_UP_VIEWS
    points: np.ndarray | None = None
    landmark_object = None
    if not close_up:
        if landmarks is None:
            points, landmark_object = detect_points(image_bgr)
        else:
            points = _landmark_points(landmarks)
            landmark_object = None if isinstance(landmarks, np.ndarray) else landmarks
        if points is None:
            assessment = PhotoAssessment(
                photo_id, view, "not_assessed", "no face found in the photo", verdict
            )
            assessment.flags.append(
                Flag(
                    FLAG_RETAKE,
                    "Retake the photo",
                    f"{view} photo: no face found",
                    "action",
                    photo_id=photo_id,
                    view=view,
                )
            )
            return assessment

    if chart is None:
        chart = _find_chart(image_bgr, options)
    face = canon.canonicalise(
        image_bgr, points, options.canonical_size, options.white_balance, white_reference, chart
    )
    rgb01 = face.image_bgr[..., ::-1].astype(np.float32) / 255.0
    bank = load_filterbank(options.model_dir, threads=options.threads)
    maps = bank.run(rgb01)

    if close_up:
        masks = {CLOSE_UP_REGION: _close_up_mask(face.image_bgr, chart, face.transform)}
        regions_source = "whole frame (close-up)"
    else:
        masks, regions_source = region_masks_canonical(landmark_object, face.points, face.image_bgr.shape[:2])
        masks = _drop_hidden_side(masks)
        masks = exclude_non_skin(masks, maps["lab"], ["cheek_left", "cheek_right"])
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
    notes = _reliability_notes(view, quality, face.illumination, close_up, regions_source)
    assessment.metrics = _measure(masks, maps, analysis, notes, close_up)
    if face.points is not None and not close_up and _is_front(view):
        value = landmark_asymmetry(face.points)
        score, band = score_and_band("symmetry", value)
        assessment.metrics.append(
            Metric("face", "symmetry", value, "% IOD", score, band, list(notes.get("geometry", [])))
        )
    if options.run_registry:
        _run_registry(assessment, rgb01, masks, options)
    assessment.flags = _photo_flags(assessment, analysis, options)
    for metric in assessment.metrics:
        metric.views = [view]
    return assessment


def _is_front(view: str) -> bool:
    lowered = view.lower()
    return not any(word in lowered for word in ("left", "right", "profile", "oblique"))


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


def _reliability_notes(
    view: str, quality: Any, illumination: dict, close_up: bool, regions_source: str
) -> dict[str, list[str]]:
    colour: list[str] = []
    geometry: list[str] = []
    general: list[str] = []
    if _lighting_warned(quality):
        colour.append("lighting warned: colour measures (redness, pigment, ITA) less reliable")
    if quality_verdict(quality) == "warn" and not colour:
        general.append("photo passed the quality check with warnings")
    method = str(illumination.get("method", ""))
    if method == "exposure_only":
        colour.append("no usable eye white: colour not white-balanced, only the exposure set (from the face)")
    if close_up and method != "colour_chart":
        colour.append("close-up: no neutral reference, colour not white-balanced")
        general.append("close-up without face landmarks: whole frame measured as one region, scale unknown")
    ratio = illumination.get("cheek_light_ratio")
    if ratio is not None and ratio < 0.75:
        general.append("uneven light between the face sides: left/right comparisons less reliable")
    if quality is None:
        general.append("no quality check supplied")
    if not _is_front(view):
        geometry.append("oblique view: far-side regions not measured")
    if regions_source == "template":
        general.append("regions from the template (vision regions unavailable)")
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
        difference = float(np.median(analysis.lightness[cheek]) - np.median(analysis.lightness[under]))
        score, band = score_and_band("under_eye", difference)
        out.append(Metric(f"under_eye_{side}", "under_eye", difference, "L*", score, band, list(reliability)))
    return out


def _crop(image_bgr: np.ndarray, spot: Spot, pad: int = 16) -> np.ndarray:
    x, y, w, h = spot.bbox
    height, width = image_bgr.shape[:2]
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    x1, y1 = min(x + w + pad, width), min(y + h + pad, height)
    crop = image_bgr[y0:y1, x0:x1].copy()
    centre = (int(round(spot.x - x0)), int(round(spot.y - y0)))
    radius = int(max(w, h) / 2 + 4)
    cv2.circle(crop, centre, radius, (0, 255, 255), 1, cv2.LINE_AA)
    return cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)


def _photo_flags(
    assessment: PhotoAssessment, analysis: MapAnalysis, options: AssessmentOptions
) -> list[Flag]:
    flags: list[Flag] = []
    image = assessment.canonical_bgr
    for spot in analysis.spots:
        if spot.kind != "brown":
            continue
        reasons = []
        if spot.area_px >= LARGE_SPOT_PX:
            reasons.append(
                f"large ({spot.area_px} px, about {2 * math.sqrt(spot.area_px / math.pi) / 2:.0f} mm across)"
            )
        if spot.solidity < IRREGULAR_SOLIDITY and spot.area_px >= 30:
            reasons.append(f"irregular outline (solidity {spot.solidity:.2f})")
        if spot.contrast >= VERY_DARK_CONTRAST:
            reasons.append(f"very dark ({spot.contrast:.0f} L* below surrounding skin)")
        if reasons:
            flags.append(
                Flag(
                    FLAG_DERMOSCOPY,
                    "In-person dermoscopy recommended",
                    f"Pigmented spot on {spot.region.replace('_', ' ')}: " + ", ".join(reasons),
                    "action",
                    spot.region,
                    assessment.photo_id,
                    assessment.view,
                    [_crop(image, spot)] if options.evidence and image is not None else [],
                )
            )
    red = [s for s in analysis.spots if s.kind == "red"]
    red_area = max((m.value for m in assessment.metrics if m.metric == "red_area"), default=0.0)
    limit = (
        INFLAMMATION_FLAG_COUNT_CLOSE_UP
        if assessment.view.lower() in CLOSE_UP_VIEWS
        else INFLAMMATION_FLAG_COUNT
    )
    if len(red) >= limit or (red_area >= INFLAMMATION_FLAG_AREA and len(red) >= 5):
        worst = sorted(red, key=lambda s: -s.contrast)[:3]
        flags.append(
            Flag(
                FLAG_INFLAMMATION,
                "Treat active inflammation first",
                f"{len(red)} inflammatory-looking red spots, up to {red_area:.0f}% of a region markedly red",
                "action",
                None,
                assessment.photo_id,
                assessment.view,
                [_crop(image, s) for s in worst] if options.evidence and image is not None else [],
            )
        )
    return flags


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
@dataclass
class PhotoInput:
    image_bgr: np.ndarray
    view: str = "front"
    photo_id: str | None = None
    landmarks: Any = None
    quality: Any = None


def assess_case(
    photos: Sequence[PhotoInput | PhotoAssessment], options: AssessmentOptions | None = None
) -> CaseAssessment:
    """Assess every photo (or take finished PhotoAssessments) and merge into one case report."""
    options = options or AssessmentOptions()
    inputs = [_with_landmarks(item) if isinstance(item, PhotoInput) else item for item in photos]
    shared = _case_white_reference(inputs, options)
    assessed: list[PhotoAssessment] = []
    for item in inputs:
        if isinstance(item, PhotoAssessment):
            assessed.append(item)
        else:
            assessed.append(
                assess_photo(
                    item.image_bgr, item.view, item.landmarks, item.quality, options, item.photo_id, shared
                )
            )
    merged = _merge_metrics([p for p in assessed if p.status == "assessed"])
    flags = [flag for p in assessed for flag in p.flags]
    models = _model_list(assessed, options)
    suggestions = _suggestions(merged, flags)
    summary = _summary(assessed, merged, flags)
    return CaseAssessment(
        assessed,
        merged,
        flags,
        suggestions,
        summary,
        engine_identity(options),
        models,
        datetime.now(UTC).isoformat(),
    )


def _landmark_points(landmarks: Any) -> np.ndarray:
    """The (N, 2|3) point array of a FaceLandmarks or of a point array."""
    points = landmarks if isinstance(landmarks, np.ndarray) else landmarks.points
    return np.asarray(points, dtype=np.float64)


def _with_landmarks(item: PhotoInput) -> PhotoInput:
    """Detect landmarks once, up front: the case's white balance needs every photo's eyes."""
    if item.landmarks is not None or item.view.lower() in CLOSE_UP_VIEWS:
        return item
    if quality_verdict(item.quality) == "fail":
        return item
    _, found = detect_points(item.image_bgr)
    return replace(item, landmarks=found) if found is not None else item


def _case_white_reference(
    inputs: Sequence[PhotoInput | PhotoAssessment], options: AssessmentOptions
) -> canon.WhiteReference | None:
    """The eye-white colour pooled over the case's face photos that the quality gate let through."""
    if not (options.white_balance and options.shared_white_balance):
        return None
    references = []
    for item in inputs:
        if not isinstance(item, PhotoInput) or item.landmarks is None:
            continue
        if quality_verdict(item.quality) == "fail":
            continue
        references.append(
            canon.photo_white_reference(
                item.image_bgr, _landmark_points(item.landmarks), options.canonical_size
            )
        )
    return canon.pool_white_references(references)


def _merge_metrics(photos: list[PhotoAssessment]) -> list[Metric]:
    groups: dict[tuple[str, str], list[tuple[PhotoAssessment, Metric]]] = {}
    for photo in photos:
        for metric in photo.metrics:
            groups.setdefault((metric.region, metric.metric), []).append((photo, metric))
    merged: list[Metric] = []
    for (region, name), entries in groups.items():
        values = [m.value for _, m in entries if math.isfinite(m.value)]
        if not values:
            continue
        # The same skin seen from several views: average, keep each view's value in details.
        value = float(np.mean(values))
        first = entries[0][1]
        if first.source == "skin_filterbank":
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
            details["per_view"] = {p.view: _round(m.value) for p, m in entries}
        merged.append(
            Metric(region, name, value, first.unit, score, band, reliability, details, first.source, views)
        )
    order = {name: i for i, name in enumerate(METRIC_SPECS)}
    merged.sort(key=lambda m: (order.get(m.metric, 99), m.metric, m.region))
    return merged


def _model_list(photos: list[PhotoAssessment], options: AssessmentOptions) -> list[dict]:
    identity = engine_identity(options)["filterbank"]
    models = [{**identity, "intended_use": "image measurements for the pre-assessment metrics"}]
    if options.run_registry:
        from core.assessment.registry import load_registry

        for model in load_registry(options.registry_dir):
            models.append(model.describe())
    return models


def _suggestions(metrics: list[Metric], flags: list[Flag]) -> list[dict]:
    out: list[dict] = []

    def worst(metric: str) -> Metric | None:
        candidates = [m for m in metrics if m.metric == metric and math.isfinite(m.score)]
        return max(candidates, key=lambda m: m.score) if candidates else None

    rules = (
        ("wrinkles", 50, "Review lines at rest and in motion in the live consult", "lines"),
        ("redness", 50, "Ask about flushing, triggers and skincare irritation", "redness"),
        ("brown_spots", 50, "Discuss sun protection and pigment history", "pigment spots"),
        ("shine", 50, "Ask about oiliness and current skincare", "shine"),
        ("texture", 60, "Look at skin texture closely in good light", "texture"),
        ("under_eye", 50, "Review the under-eye area (shadow vs pigment) in person", "under-eye darkness"),
    )
    for metric, threshold, text, label in rules:
        top = worst(metric)
        if top is not None and top.score >= threshold:
            out.append(
                {
                    "text": text,
                    "reason": f"{label} scored {top.score:.0f} ({top.band}) on {top.region.replace('_', ' ')}",
                }
            )
    if any(f.code == FLAG_INFLAMMATION for f in flags):
        out.append(
            {
                "text": "Plan anti-inflammatory treatment before aesthetic procedures",
                "reason": "active inflammatory lesions measured",
            }
        )
    if any(f.code == FLAG_DERMOSCOPY for f in flags):
        out.append(
            {
                "text": "Book an in-person visit with dermoscopy",
                "reason": "a pigmented spot met a size/shape/darkness criterion",
            }
        )
    return out


def _summary(photos: list[PhotoAssessment], metrics: list[Metric], flags: list[Flag]) -> str:
    done = [p for p in photos if p.status == "assessed"]
    skipped = [p for p in photos if p.status != "assessed"]
    parts = [f"{len(done)} of {len(photos)} photos measured ({', '.join(p.view for p in done) or 'none'})."]
    if skipped:
        parts.append("Not measured: " + "; ".join(f"{p.view} ({p.reason})" for p in skipped) + ".")
    ita = next((m for m in metrics if m.metric == "ita" and m.region in {"face", CLOSE_UP_REGION}), None)
    if ita is not None:
        parts.append(f"Skin tone ITA {ita.value:.0f}° ({ita.band}).")
    notable = sorted(
        (
            m
            for m in metrics
            if m.metric != "ita"
            and m.source == "skin_filterbank"
            and math.isfinite(m.score)
            and m.score >= 50
        ),
        key=lambda m: -m.score,
    )[:4]
    if notable:
        parts.append(
            "Most marked: "
            + ", ".join(
                f"{m.metric.replace('_', ' ')} {m.region.replace('_', ' ')} ({m.band})" for m in notable
            )
            + "."
        )
    else:
        parts.append("No measure reached the moderate band.")
    codes = sorted({f.title for f in flags})
    if codes:
        parts.append("Flags: " + "; ".join(codes) + ".")
    return " ".join(parts)


# -- overlays ---------------------------------------------------------------------------------
def redness_overlay(assessment: PhotoAssessment, strength: float = 0.6) -> np.ndarray:
    """Heat map of redness above the patient's own baseline, on the canonical photo (BGR)."""
    base = _overlay_base(assessment)
    if assessment.redness_excess is None:
        return base
    excess = np.clip(assessment.redness_excess / 15.0, 0, 1)
    heat = cv2.applyColorMap((excess * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = (excess * strength)[..., None] * (
        assessment.skin_mask[..., None] if assessment.skin_mask is not None else 1
    )
    return (base * (1 - alpha) + heat * alpha).astype(np.uint8)


def spots_overlay(assessment: PhotoAssessment) -> np.ndarray:
    """Brown spots ringed in yellow, inflammatory spots in magenta (BGR)."""
    image = _overlay_base(assessment).copy()
    for spot in assessment.spots:
        colour = (0, 220, 255) if spot.kind == "brown" else (255, 0, 255)
        radius = int(max(spot.bbox[2], spot.bbox[3]) / 2 + 3)
        cv2.circle(image, (int(round(spot.x)), int(round(spot.y))), radius, colour, 1, cv2.LINE_AA)
    return image


def lines_overlay(assessment: PhotoAssessment) -> np.ndarray:
    """Detected wrinkle lines painted in cyan (BGR)."""
    image = _overlay_base(assessment).copy()
    if assessment.line_mask is not None:
        image[assessment.line_mask] = (255, 255, 0)
    return image


def _overlay_base(assessment: PhotoAssessment) -> np.ndarray:
    if assessment.canonical_bgr is None:
        return np.zeros((canon.CANONICAL_SIZE, canon.CANONICAL_SIZE, 3), np.uint8)
    return assessment.canonical_bgr


OVERLAYS = {"redness": redness_overlay, "spots": spots_overlay, "lines": lines_overlay}
