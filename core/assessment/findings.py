"""What the measurements point the physician to: flags, review suggestions and the summary line.

Flags recommend an in-person step (dermoscopy, treating inflammation first) or a retake; they
never name a diagnosis.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.assessment.metrics import Spot
from core.assessment.report import CLOSE_UP_REGION, Flag, Metric, PhotoAssessment, is_close_up
from core.vocabulary import FLAG_DERMOSCOPY, FLAG_INFLAMMATION, FLAG_RETAKE

# Flag thresholds (canonical face ~2 px per mm)
LARGE_SPOT_PX = 110  # ~6 mm diameter
IRREGULAR_SOLIDITY = 0.7
VERY_DARK_CONTRAST = 22.0  # L* below the surrounding skin
INFLAMMATION_FLAG_COUNT = 20  # whole face: ~20 inflammatory lesions is where acne grading says "moderate"
INFLAMMATION_FLAG_COUNT_CLOSE_UP = 12  # a close-up shows only part of the face
INFLAMMATION_FLAG_AREA = 30.0  # % red area in a region


def retake_flag(view: str, photo_id: str | None, reason: str) -> Flag:
    return Flag(FLAG_RETAKE, "Retake the photo", reason, "action", photo_id=photo_id, view=view)


def photo_flags(assessment: PhotoAssessment, evidence: bool) -> list[Flag]:
    """Dermoscopy for a pigmented spot that is large, irregular or very dark; inflammation first
    for many red spots. `evidence`: attach circled crops of the spots."""
    flags: list[Flag] = []
    image = assessment.canonical_bgr if evidence else None
    for spot in assessment.spots:
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
                    [_crop(image, spot)] if image is not None else [],
                )
            )
    red = [s for s in assessment.spots if s.kind == "red"]
    red_area = max((m.value for m in assessment.metrics if m.metric == "red_area"), default=0.0)
    limit = INFLAMMATION_FLAG_COUNT_CLOSE_UP if is_close_up(assessment.view) else INFLAMMATION_FLAG_COUNT
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
                [_crop(image, s) for s in worst] if image is not None else [],
            )
        )
    return flags


def _crop(image_bgr: np.ndarray, spot: Spot, pad: int = 16) -> np.ndarray:
    """The spot circled in yellow, enlarged 3x (nearest neighbour: the pixels as measured)."""
    x, y, w, h = spot.bbox
    height, width = image_bgr.shape[:2]
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    x1, y1 = min(x + w + pad, width), min(y + h + pad, height)
    crop = image_bgr[y0:y1, x0:x1].copy()
    centre = (int(round(spot.x - x0)), int(round(spot.y - y0)))
    radius = int(max(w, h) / 2 + 4)
    cv2.circle(crop, centre, radius, (0, 255, 255), 1, cv2.LINE_AA)
    return cv2.resize(crop, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)


# (metric, score threshold, what to review, label in the reason)
_SUGGESTION_RULES = (
    ("wrinkles", 50, "Review lines at rest and in motion in the live consult", "lines"),
    ("redness", 50, "Ask about flushing, triggers and skincare irritation", "redness"),
    ("brown_spots", 50, "Discuss sun protection and pigment history", "pigment spots"),
    ("shine", 50, "Ask about oiliness and current skincare", "shine"),
    ("texture", 60, "Look at skin texture closely in good light", "texture"),
    ("under_eye", 50, "Review the under-eye area (shadow vs pigment) in person", "under-eye darkness"),
)


def suggestions(metrics: list[Metric], flags: list[Flag]) -> list[dict]:
    out: list[dict] = []

    def worst(metric: str) -> Metric | None:
        candidates = [m for m in metrics if m.metric == metric and math.isfinite(m.score)]
        return max(candidates, key=lambda m: m.score) if candidates else None

    for metric, threshold, text, label in _SUGGESTION_RULES:
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


def summary(photos: list[PhotoAssessment], metrics: list[Metric], flags: list[Flag]) -> str:
    done = [p for p in photos if p.status == "assessed"]
    skipped = [p for p in photos if p.status != "assessed"]
    parts = [f"{len(done)} of {len(photos)} photos measured ({', '.join(p.view for p in done) or 'none'})."]
    if skipped:
        parts.append("Not measured: " + "; ".join(f"{p.view} ({p.reason})" for p in skipped) + ".")
    ita = next((m for m in metrics if m.metric == "ita" and m.region in {"face", CLOSE_UP_REGION}), None)
    if ita is not None and math.isfinite(ita.value):
        parts.append(f"Skin tone ITA {ita.value:.0f}° ({ita.band}).")
    elif ita is not None:
        parts.append("Skin tone not measurable (no colour chart, eye white or teeth to anchor the light).")
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


# -- the card's one-screen summary (works on the stored report's metric dicts) -----------------
# What each measure means to a reader, and how its value is shown. Measures whose raw unit means
# nothing outside the lab are shown as their 0-100 index.
PLAIN_NAMES = {
    "redness": "Redness",
    "red_area": "Red area",
    "inflammatory_spots": "Inflamed spots",
    "melanin": "Pigment",
    "brown_spots": "Brown spots",
    "tone_evenness": "Uneven tone",
    "wrinkles": "Lines",
    "texture": "Roughness",
    "pores": "Visible pores",
    "shine": "Shine",
    "under_eye": "Under-eye darkness",
    "symmetry": "Asymmetry",
    "ita": "Skin tone",
}
INDEX_MEANING = {
    "redness": "0 = no redder than normal skin, 100 = markedly red",
    "melanin": "0 = little pigment, 100 = heavily pigmented",
    "tone_evenness": "0 = even, 100 = blotchy",
    "texture": "0 = smooth, 100 = rough",
    "pores": "0 = few, 100 = many visible pores",
    "under_eye": "0 = normal shading, 100 = much darker than the cheek",
    "symmetry": "0 = symmetric, 100 = clearly asymmetric",
}
# The patient's concern (intake code) -> the measures that answer it.
CONCERN_MEASURES = {
    "lines_wrinkles": ("wrinkles", "texture"),
    "pigmentation_melasma": ("brown_spots", "melanin", "tone_evenness"),
    "acne_scars": ("inflammatory_spots", "texture", "pores", "red_area"),
    "redness_rosacea": ("redness", "red_area", "inflammatory_spots"),
    "volume_loss": ("under_eye", "symmetry", "wrinkles"),
    "skin_quality_texture": ("texture", "pores", "tone_evenness", "shine"),
}
MIN_FINDINGS, MAX_FINDINGS = 3, 6


def region_words(region: str) -> str:
    words = region.replace("_", " ")
    for side in ("left", "right"):
        if words.endswith(f" {side}"):
            words = f"{side} {words[: -len(side) - 1]}"
    return words.replace("crows feet", "crow's feet")


def plain_value(metric: dict) -> str:
    """The value in units people read: degrees, percent of area, whole counts, 0-100 indices."""
    name, value, score = metric.get("metric", ""), metric.get("value"), metric.get("score")
    if name == "ita":
        if value is None:
            return "not measurable"
        return f"ITA {value:.0f}° ({metric.get('band')})"
    if value is None:
        return "n/a"
    if name in {"inflammatory_spots", "brown_spots"}:
        count = int(round(value))
        return f"{count} spot" + ("" if count == 1 else "s")
    if name in {"red_area", "wrinkles", "shine"}:
        return f"{value:.1f}% of the area"
    if score is None:
        return "measured, not scored (colour not corrected)" if name == "redness" else "n/a"
    return f"{score:.0f}/100"


def _other_side(region: str) -> str | None:
    for this, other in (("_left", "_right"), ("_right", "_left")):
        if region.endswith(this):
            return region[: -len(this)] + other
    return None


def _comparison(metric: dict, same: list[dict]) -> tuple[str, float]:
    """A plain comparison with the patient's own other regions, and how far it stands out (0-1)."""
    score = float(metric["score"])
    partner = _other_side(metric["region"])
    twin = next((m for m in same if m["region"] == partner), None)
    if twin is not None and twin.get("score") is not None:
        gap = score - float(twin["score"])
        if abs(gap) >= 15:
            word = "higher" if gap > 0 else "lower"
            return f"{word} than the {region_words(partner or '')}", abs(gap) / 100
    others = [float(m["score"]) for m in same if m is not metric and m.get("score") is not None]
    if len(others) >= 3:
        gap = score - float(np.median(others))
        if gap >= 15:
            return "higher than the rest of the face", gap / 100
        if gap <= -15:
            return "lower than the rest of the face", 0.0
    return "", 0.0


def key_findings(metrics: list[dict], concerns: list[str] | None = None) -> list[dict]:
    """The 3-6 findings that matter for this patient, ranked by how far each sits from the
    reference range (its 0-100 score) and from the patient's own other regions, measures that
    answer the patient's concern first. Each: metric, region, text, band, comparison, value."""
    wanted = {m for concern in concerns or [] for m in CONCERN_MEASURES.get(concern, ())}
    scored = [
        m
        for m in metrics
        if m.get("score") is not None and m.get("metric") in PLAIN_NAMES and m.get("metric") != "ita"
    ]
    ranked = []
    for metric in scored:
        same = [m for m in scored if m["metric"] == metric["metric"]]
        comparison, stands_out = _comparison(metric, same)
        weight = float(metric["score"]) / 100 + stands_out + (0.35 if metric["metric"] in wanted else 0.0)
        ranked.append((weight, metric, comparison))
    ranked.sort(key=lambda item: -item[0])
    chosen: list[dict] = []
    per_measure: dict[str, int] = {}
    for weight, metric, comparison in ranked:
        notable = float(metric["score"]) >= 25 or comparison.startswith("higher")
        if len(chosen) >= MAX_FINDINGS or (len(chosen) >= MIN_FINDINGS and not notable):
            break
        if per_measure.get(metric["metric"], 0) >= 2:
            continue  # two regions of one measure say it; the rest is in the per-region detail
        per_measure[metric["metric"]] = per_measure.get(metric["metric"], 0) + 1
        name = PLAIN_NAMES[metric["metric"]]
        chosen.append(
            {
                "metric": metric["metric"],
                "region": metric["region"],
                "text": f"{name}, {region_words(metric['region'])}: {plain_value(metric)}",
                "band": metric.get("band", "n/a"),
                "comparison": comparison,
                "concern": metric["metric"] in wanted,
                "weight": round(weight, 3),
            }
        )
    return chosen


def case_reliability(report: dict) -> list[str]:
    """The reliability caveat once for the whole case: what limits it and what that means here."""
    notes = sorted({note for m in report.get("metrics", []) for note in m.get("reliability", [])})
    out: list[str] = []
    colour = [n for n in notes if "colour" in n or "lighting" in n or "neutral reference" in n]
    if colour:
        out.append(
            "Colour (redness, pigment, skin tone): "
            + "; ".join(colour)
            + ". Compare regions within this face rather than with other patients."
        )
    if any("skin tone not measurable" in n for n in notes):
        out.append("Skin tone: no neutral reference in the photos, so no skin-tone category is given.")
    detail = [n for n in notes if "low resolution" in n]
    if detail:
        out.append(
            "Fine detail (lines, roughness, pores): the face was small in the photo; read these as rough."
        )
    if any("oblique view" in n for n in notes):
        out.append("Side views: each shows only the near side; the far side comes from the other photos.")
    if any("uneven light" in n for n in notes):
        out.append("Light differed between the face sides: treat left/right differences with caution.")
    if any("measured on one view" in n for n in notes):
        out.append("Some regions were seen in one photo only.")
    return out
