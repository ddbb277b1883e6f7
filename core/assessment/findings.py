"""What the measurements point the physician to: flags, review suggestions and the summary line.

Flags recommend an in-person step (dermoscopy, treating inflammation first) or a retake; they
never name a diagnosis.
"""

from __future__ import annotations

import math
import re

import cv2
import numpy as np

from core.assessment.metrics import Spot
from core.assessment.report import CLOSE_UP_REGION, Flag, Metric, PhotoAssessment, is_close_up
from core.i18n import N_, Translator, translator
from core.vocabulary import FLAG_DERMOSCOPY, FLAG_INFLAMMATION, FLAG_RETAKE

ENGLISH = translator("en")  # the stored report's words; a reader's translator shows them translated

# Flag thresholds (canonical face ~2 px per mm)
LARGE_SPOT_PX = 110  # ~6 mm diameter
IRREGULAR_SOLIDITY = 0.7
VERY_DARK_CONTRAST = 22.0  # L* below the surrounding skin
INFLAMMATION_FLAG_COUNT = 20  # whole face: ~20 inflammatory lesions is where acne grading says "moderate"
INFLAMMATION_FLAG_COUNT_CLOSE_UP = 12  # a close-up shows only part of the face
INFLAMMATION_FLAG_AREA = 30.0  # % red area in a region


# The titles flags are stored with (the card shows them translated: `flag_title`).
FLAG_TITLES: dict[str, str] = {
    FLAG_RETAKE: N_("Retake the photo"),
    FLAG_DERMOSCOPY: N_("In-person dermoscopy recommended"),
    FLAG_INFLAMMATION: N_("Treat active inflammation first"),
}


def retake_flag(view: str, photo_id: str | None, reason: str) -> Flag:
    return Flag(FLAG_RETAKE, FLAG_TITLES[FLAG_RETAKE], reason, "action", photo_id=photo_id, view=view)


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
            mm = f"{2 * math.sqrt(spot.area_px / math.pi) / 2:.0f}"
            reasons.append(ENGLISH.gettext(_SPOT_LARGE, px=spot.area_px, mm=mm))
        if spot.solidity < IRREGULAR_SOLIDITY and spot.area_px >= 30:
            reasons.append(ENGLISH.gettext(_SPOT_IRREGULAR, solidity=f"{spot.solidity:.2f}"))
        if spot.contrast >= VERY_DARK_CONTRAST:
            reasons.append(ENGLISH.gettext(_SPOT_DARK, contrast=f"{spot.contrast:.0f}"))
        if reasons:
            flags.append(
                Flag(
                    FLAG_DERMOSCOPY,
                    FLAG_TITLES[FLAG_DERMOSCOPY],
                    ENGLISH.gettext(
                        _SPOT_REASON, region=spot.region.replace("_", " "), reasons=", ".join(reasons)
                    ),
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
                FLAG_TITLES[FLAG_INFLAMMATION],
                ENGLISH.gettext(_INFLAMMATION_REASON, count=len(red), percent=f"{red_area:.0f}%"),
                "action",
                None,
                assessment.photo_id,
                assessment.view,
                [_crop(image, s) for s in worst] if image is not None else [],
            )
        )
    return flags


# A flag's reason is stored in English; `flag_reason` reads its parts back from these same
# sentences and says it again in the reader's language.
_SPOT_LARGE = N_("large ({px} px, about {mm} mm across)")
_SPOT_IRREGULAR = N_("irregular outline (solidity {solidity})")
_SPOT_DARK = N_("very dark ({contrast} L* below surrounding skin)")
_SPOT_REASON = N_("Pigmented spot on {region}: {reasons}")
_INFLAMMATION_REASON = N_("{count} inflammatory-looking red spots, up to {percent} of a region markedly red")


def _pattern(message: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", message)
    return re.compile(
        "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)) + "$"
    )


def flag_reason(flag: dict, t: Translator = ENGLISH) -> str:
    """The stored (English) reason of a flag in `t`'s language."""
    reason = str(flag.get("reason") or "")
    match = _pattern(_SPOT_REASON).match(reason)
    if match:
        said = []
        for piece in match.group("reasons").split(", "):
            for message in (_SPOT_LARGE, _SPOT_IRREGULAR, _SPOT_DARK):
                part = _pattern(message).match(piece)
                if part:
                    said.append(t.gettext(message, **part.groupdict()))
                    break
            else:
                said.append(t.gettext(piece))
        region = match.group("region").replace(" ", "_")
        return t.gettext(_SPOT_REASON, region=region_words(region, t), reasons=", ".join(said))
    match = _pattern(_INFLAMMATION_REASON).match(reason)
    if match:
        return t.gettext(_INFLAMMATION_REASON, **match.groupdict())
    return t.gettext(reason)


def suggestion_words(suggestion: dict, t: Translator = ENGLISH) -> tuple[str, str]:
    """A stored suggestion's (text, reason) in `t`'s language."""
    text, reason = str(suggestion.get("text") or ""), str(suggestion.get("reason") or "")
    match = _pattern(_SUGGESTION_REASON).match(reason)
    if match:
        label = match.group("label")
        reason = t.gettext(
            _SUGGESTION_REASON,
            label=t.gettext(_SUGGESTION_LABELS.get(label, label)),
            score=match.group("score"),
            band=band_words(match.group("band"), t),
            region=region_words(match.group("region").replace(" ", "_"), t),
        )
    else:
        reason = t.gettext(reason)
    return t.gettext(text), reason


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
    ("wrinkles", 50, N_("Review lines at rest and in motion in the live consult"), "lines"),
    ("redness", 50, N_("Ask about flushing, triggers and skincare irritation"), "redness"),
    ("brown_spots", 50, N_("Discuss sun protection and pigment history"), "pigment spots"),
    ("shine", 50, N_("Ask about oiliness and current skincare"), "shine"),
    ("texture", 60, N_("Look at skin texture closely in good light"), "texture"),
    ("under_eye", 50, N_("Review the under-eye area (shadow vs pigment) in person"), "under-eye darkness"),
)
_SUGGESTION_REASON = N_("{label} scored {score} ({band}) on {region}")
_SUGGESTION_LABELS: dict[str, str] = {
    "lines": N_("lines"),
    "redness": N_("redness"),
    "pigment spots": N_("pigment spots"),
    "shine": N_("shine"),
    "texture": N_("texture"),
    "under-eye darkness": N_("under-eye darkness"),
}
# The other suggestions' fixed words (stored in English; the card shows them translated).
SUGGESTION_WORDS: tuple[str, ...] = (
    N_("Plan anti-inflammatory treatment before aesthetic procedures"),
    N_("active inflammatory lesions measured"),
    N_("Book an in-person visit with dermoscopy"),
    N_("a pigmented spot met a size/shape/darkness criterion"),
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
                    "reason": ENGLISH.gettext(
                        _SUGGESTION_REASON,
                        label=label,
                        score=f"{top.score:.0f}",
                        band=top.band,
                        region=top.region.replace("_", " "),
                    ),
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
        parts.append(f"Skin tone not measurable ({skin_tone_missing(ita.reliability)}).")
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
    "redness": N_("Redness"),
    "red_area": N_("Red area"),
    "inflammatory_spots": N_("Inflamed spots"),
    "melanin": N_("Pigment"),
    "brown_spots": N_("Brown spots"),
    "tone_evenness": N_("Uneven tone"),
    "wrinkles": N_("Lines"),
    "texture": N_("Roughness"),
    "pores": N_("Visible pores"),
    "shine": N_("Shine"),
    "under_eye": N_("Under-eye darkness"),
    "symmetry": N_("Asymmetry"),
    "ita": N_("Skin tone"),
}
INDEX_MEANING = {
    "redness": N_("0 = no redder than normal skin, 100 = markedly red"),
    "melanin": N_("0 = little pigment, 100 = heavily pigmented"),
    "tone_evenness": N_("0 = even, 100 = blotchy"),
    "texture": N_("0 = smooth, 100 = rough"),
    "pores": N_("0 = few, 100 = many visible pores"),
    "under_eye": N_("0 = normal shading, 100 = much darker than the cheek"),
    "symmetry": N_("0 = symmetric, 100 = clearly asymmetric"),
}
# Bands (metrics.BANDS) and skin-tone categories (metrics.ITA_CATEGORIES) as people read them.
BAND_WORDS: dict[str, str] = {
    "minimal": N_("minimal"),
    "mild": N_("mild"),
    "moderate": N_("moderate"),
    "marked": N_("marked"),
    "very light": N_("very light"),
    "light": N_("light"),
    "intermediate": N_("intermediate"),
    "tan": N_("tan"),
    "brown": N_("brown"),
    "dark": N_("dark"),
    "n/a": N_("n/a"),
}
# The regions the engine measures (engine.METRIC_REGIONS), named for a reader.
REGION_NAMES: dict[str, str] = {
    "face": N_("whole face"),
    CLOSE_UP_REGION: N_("close-up area"),
    "forehead": N_("forehead"),
    "glabella": N_("glabella"),
    "crows_feet_left": N_("left crow's feet"),
    "crows_feet_right": N_("right crow's feet"),
    "under_eye_left": N_("left under eye"),
    "under_eye_right": N_("right under eye"),
    "cheek_left": N_("left cheek"),
    "cheek_right": N_("right cheek"),
    "nose": N_("nose"),
    "nasolabial_left": N_("left nasolabial"),
    "nasolabial_right": N_("right nasolabial"),
    "perioral": N_("perioral"),
    "chin": N_("chin"),
}
# Skin tone and the exposure anchor (engine._apply_light_anchors, engine.skin_tone_notes): what
# was found in the photo and why it could not be used, in words a physician reads.
NO_COLOUR_ANCHOR_NOTE = N_(
    "no exposure anchor: colour measures follow the face's own brightness (compare within this face)"
)
NO_ANCHOR_NOTE = N_("skin tone not measurable: no colour chart, eye white or teeth to set the exposure")
UNUSABLE_ANCHOR_NOTE = N_("skin tone not measurable: the eye whites or teeth seen could not set the exposure")
NOT_SKIN_COLOUR_NOTE = N_(
    "skin tone not measurable: after colour correction the skin is not yellowish, as skin always is"
)
NOT_BALANCED_NOTE = N_(
    "skin tone not measurable: colour not white-balanced, so skin yellowness is partly the lamp's"
)
# (reference, reason: canonical.ANCHOR_REASONS) -> the note.
UNUSABLE_NOTES = {
    ("sclera", "too_few"): N_(
        "eye whites: too little visible (eyes narrowed, closed or too small in the photo)"
    ),
    ("sclera", "coloured"): N_(
        "eye whites: not clearly whiter than the skin (lid, shadow or coloured light)"
    ),
    ("sclera", "clipped"): N_("eye whites: overexposed (burnt out to white), their brightness unknown"),
    ("sclera", "uneven"): N_("eye whites: unevenly lit (glare on glasses or a shadow across the eye)"),
    ("sclera", "shaded"): N_("eye whites: in shadow, darker than any skin allows"),
    ("sclera", "disagree"): N_("eye whites: disagree with the teeth on the brightness (one is in shadow)"),
    ("teeth", "too_few"): N_("teeth: too little visible between the lips"),
    ("teeth", "coloured"): N_("teeth: not clearly whiter than the skin (lips, gums or shadow)"),
    ("teeth", "clipped"): N_("teeth: overexposed (burnt out to white), their brightness unknown"),
    ("teeth", "uneven"): N_("teeth: unevenly lit (part in shadow, part in glare)"),
    ("teeth", "shaded"): N_("teeth: in shadow, darker than any skin allows"),
    ("teeth", "disagree"): N_("teeth: disagree with the eye whites on the brightness (one is in shadow)"),
}
SKIN_TONE_NOTES = (
    NO_ANCHOR_NOTE, UNUSABLE_ANCHOR_NOTE, NOT_SKIN_COLOUR_NOTE, NOT_BALANCED_NOTE, *UNUSABLE_NOTES.values()
)  # fmt: skip
# The engine's reliability notes (engine._reliability_notes, SKIN_TONE_NOTES), for the catalog.
RELIABILITY_NOTES: tuple[str, ...] = (
    N_("lighting warned: colour measures (redness, pigment, ITA) less reliable"),
    N_("photo passed the quality check with warnings"),
    N_("no neutral reference (eye white, teeth, background): colour not white-balanced"),
    N_("close-up: no neutral reference, colour not white-balanced"),
    N_("close-up without face landmarks: whole frame measured as one region, scale unknown"),
    N_("uneven light between the face sides: left/right comparisons less reliable"),
    N_("no quality check supplied"),
    N_("oblique view: far-side regions not measured"),
    N_("low resolution face (upsampled): fine lines, texture and pores less reliable"),
    NO_COLOUR_ANCHOR_NOTE,
    *SKIN_TONE_NOTES,
    N_("measured on one view"),
)
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


def region_words(region: str, t: Translator = ENGLISH) -> str:
    if region in REGION_NAMES:
        return t.gettext(REGION_NAMES[region])
    words = region.replace("_", " ")
    for side in ("left", "right"):
        if words.endswith(f" {side}"):
            words = f"{side} {words[: -len(side) - 1]}"
    return words.replace("crows feet", "crow's feet")


def measure_name(metric: str, t: Translator = ENGLISH) -> str:
    return t.gettext(PLAIN_NAMES[metric]) if metric in PLAIN_NAMES else metric.replace("_", " ")


def band_words(band: str | None, t: Translator = ENGLISH) -> str:
    return t.gettext(BAND_WORDS[band]) if band in BAND_WORDS else str(band or "")


def plain_value(metric: dict, t: Translator = ENGLISH) -> str:
    """The value in units people read: degrees, percent of area, whole counts, 0-100 indices."""
    name, value, score = metric.get("metric", ""), metric.get("value"), metric.get("score")
    if name == "ita":
        if value is None:
            return t.gettext("not measurable")
        return t.gettext(
            "ITA {degrees}° ({band})", degrees=t.number(value, 0), band=band_words(metric.get("band"), t)
        )
    if value is None:
        return t.gettext("n/a")
    if name in {"inflammatory_spots", "brown_spots"}:
        count = int(round(value))
        return t.ngettext("{n} spot", "{n} spots", count)
    if name in {"red_area", "wrinkles", "shine"}:
        return t.gettext("{percent} of the area", percent=t.percent(value / 100, 1))
    if score is None:
        return (
            t.gettext("measured, not scored (colour not corrected)")
            if name == "redness"
            else t.gettext("n/a")
        )
    return t.gettext("{score}/100", score=t.number(score, 0))


def _other_side(region: str) -> str | None:
    for this, other in (("_left", "_right"), ("_right", "_left")):
        if region.endswith(this):
            return region[: -len(this)] + other
    return None


def _comparison(metric: dict, same: list[dict], t: Translator = ENGLISH) -> tuple[str, float, bool]:
    """A plain comparison with the patient's own other regions, how far it stands out (0-1), and
    whether it stands out upwards."""
    score = float(metric["score"])
    partner = _other_side(metric["region"])
    twin = next((m for m in same if m["region"] == partner), None)
    if twin is not None and twin.get("score") is not None:
        gap = score - float(twin["score"])
        if abs(gap) >= 15:
            other = region_words(partner or "", t)
            if gap > 0:
                return t.gettext("higher than the {region}", region=other), abs(gap) / 100, True
            return t.gettext("lower than the {region}", region=other), abs(gap) / 100, False
    others = [float(m["score"]) for m in same if m is not metric and m.get("score") is not None]
    if len(others) >= 3:
        gap = score - float(np.median(others))
        if gap >= 15:
            return t.gettext("higher than the rest of the face"), gap / 100, True
        if gap <= -15:
            return t.gettext("lower than the rest of the face"), 0.0, False
    return "", 0.0, False


def key_findings(
    metrics: list[dict], concerns: list[str] | None = None, t: Translator = ENGLISH
) -> list[dict]:
    """The 3-6 findings that matter for this patient, ranked by how far each sits from the
    reference range (its 0-100 score) and from the patient's own other regions, measures that
    answer the patient's concern first. Each: metric, region, text, band, comparison, value
    (the words in `t`'s language)."""
    wanted = {m for concern in concerns or [] for m in CONCERN_MEASURES.get(concern, ())}
    scored = [
        m
        for m in metrics
        if m.get("score") is not None and m.get("metric") in PLAIN_NAMES and m.get("metric") != "ita"
    ]
    ranked = []
    for metric in scored:
        same = [m for m in scored if m["metric"] == metric["metric"]]
        comparison, stands_out, higher = _comparison(metric, same, t)
        weight = float(metric["score"]) / 100 + stands_out + (0.35 if metric["metric"] in wanted else 0.0)
        ranked.append((weight, metric, comparison, higher))
    ranked.sort(key=lambda item: -item[0])
    chosen: list[dict] = []
    per_measure: dict[str, int] = {}
    for weight, metric, comparison, _higher in ranked:
        # A finding in the minimal band is not key, however it compares with the other regions.
        notable = float(metric["score"]) >= 25
        if len(chosen) >= MAX_FINDINGS or (len(chosen) >= MIN_FINDINGS and not notable):
            break
        if per_measure.get(metric["metric"], 0) >= 2:
            continue  # two regions of one measure say it; the rest is in the per-region detail
        per_measure[metric["metric"]] = per_measure.get(metric["metric"], 0) + 1
        chosen.append(
            {
                "metric": metric["metric"],
                "region": metric["region"],
                "text": t.gettext(
                    "{measure}, {region}: {value}",
                    measure=measure_name(metric["metric"], t),
                    region=region_words(metric["region"], t),
                    value=plain_value(metric, t),
                ),
                "band": metric.get("band", "n/a"),
                "comparison": comparison,
                "concern": metric["metric"] in wanted,
                "weight": round(weight, 3),
            }
        )
    return chosen


def skin_tone_missing(reliability: list[str], t: Translator = ENGLISH) -> str:
    """Why a skin tone (ITA) is not measurable, from its metric's notes, as a short clause: what
    was found and could not be used, rather than "no eye white" when the teeth were there."""
    if UNUSABLE_ANCHOR_NOTE in reliability:
        return t.gettext("the eye whites or teeth seen could not set the exposure")
    if NOT_BALANCED_NOTE in reliability:
        return t.gettext("the colour could not be white-balanced")
    if NOT_SKIN_COLOUR_NOTE in reliability:
        return t.gettext("after colour correction the skin is not a skin colour")
    return t.gettext("no colour chart, eye white or teeth to anchor the light")


def case_reliability(report: dict, t: Translator = ENGLISH) -> list[str]:
    """The reliability caveat once for the whole case: what limits it and what that means here."""
    notes = sorted({note for m in report.get("metrics", []) for note in m.get("reliability", [])})
    out: list[str] = []
    skin_tone = [n for n in notes if n in SKIN_TONE_NOTES]
    colour = [
        n
        for n in notes
        if n not in SKIN_TONE_NOTES and ("colour" in n or "lighting" in n or "neutral reference" in n)
    ]
    if colour:
        out.append(
            t.gettext(
                "Colour (redness, pigment, skin tone): {notes}. Compare regions within this face rather than"
                " with other patients.",
                notes="; ".join(t.gettext(note) for note in colour),
            )
        )
    found = [n for n in skin_tone if n in UNUSABLE_NOTES.values()]
    if found:
        out.append(
            t.gettext(
                "Skin tone: no category is given. Seen in the photos but not usable to set the exposure: {found}.",
                found="; ".join(t.gettext(note) for note in found),
            )
        )
    elif skin_tone:
        out.append(
            t.gettext(
                "Skin tone: no category is given ({reason}).",
                reason="; ".join(t.gettext(note) for note in skin_tone),
            )
        )
    detail = [n for n in notes if "low resolution" in n]
    if detail:
        out.append(
            t.gettext(
                "Fine detail (lines, roughness, pores): the face was small in the photo; read these as rough."
            )
        )
    if any("oblique view" in n for n in notes):
        out.append(
            t.gettext("Side views: each shows only the near side; the far side comes from the other photos.")
        )
    if any("uneven light" in n for n in notes):
        out.append(
            t.gettext("Light differed between the face sides: treat left/right differences with caution.")
        )
    if any("measured on one view" in n for n in notes):
        out.append(t.gettext("Some regions were seen in one photo only."))
    return out


def summary_words(report: dict, t: Translator) -> str:
    """`summary`'s line again, from the stored report's parts, in `t`'s language (the stored
    summary is English)."""
    photos = report.get("photos", [])
    done = [p for p in photos if p.get("status") == "assessed"]
    skipped = [p for p in photos if p.get("status") != "assessed"]
    views = t.join([_view_words(p.get("view"), t) for p in done]) or t.gettext("none")
    parts = [
        t.ngettext(
            "{done} of {n} photo measured ({views}).",
            "{done} of {n} photos measured ({views}).",
            len(photos),
            done=t.number(len(done)),
            views=views,
        )
    ]
    if skipped:
        parts.append(
            t.gettext(
                "Not measured: {photos}.",
                photos="; ".join(
                    t.gettext(
                        "{view} ({reason})",
                        view=_view_words(p.get("view"), t),
                        reason=t.gettext(p.get("reason") or ""),
                    )
                    for p in skipped
                ),
            )
        )
    metrics = report.get("metrics", [])
    ita = next(
        (m for m in metrics if m.get("metric") == "ita" and m.get("region") in {"face", CLOSE_UP_REGION}),
        None,
    )
    if ita is not None and ita.get("value") is not None and math.isfinite(float(ita["value"])):
        parts.append(t.gettext("Skin tone {value}.", value=plain_value(ita, t)))
    elif ita is not None:
        parts.append(
            t.gettext(
                "Skin tone not measurable ({reason}).",
                reason=skin_tone_missing(ita.get("reliability", []), t),
            )
        )
    notable = sorted(
        (
            m
            for m in metrics
            if m.get("metric") != "ita"
            and m.get("source") == "skin_filterbank"
            and m.get("score") is not None
            and float(m["score"]) >= 50
        ),
        key=lambda m: -float(m["score"]),
    )[:4]
    if notable:
        parts.append(
            t.gettext(
                "Most marked: {measures}.",
                measures=", ".join(
                    t.gettext(
                        "{measure} {region} ({band})",
                        measure=measure_name(m["metric"], t),
                        region=region_words(m["region"], t),
                        band=band_words(m.get("band"), t),
                    )
                    for m in notable
                ),
            )
        )
    else:
        parts.append(t.gettext("No measure reached the moderate band."))
    titles = sorted({flag_title(f, t) for f in report.get("flags", [])})
    if titles:
        parts.append(t.gettext("Flags: {flags}.", flags="; ".join(titles)))
    return " ".join(parts)


# Views as the card names them (vocabulary.VIEW_NAMES, lower case inside a sentence).
VIEW_WORDS: dict[str, str] = {
    "front": N_("front"),
    "left_oblique": N_("left side"),
    "right_oblique": N_("right side"),
    "left_profile": N_("left profile"),
    "right_profile": N_("right profile"),
    "close_up": N_("close-up"),
}


def _view_words(view: str | None, t: Translator) -> str:
    return t.gettext(VIEW_WORDS[view]) if view in VIEW_WORDS else str(view or "")


def view_words(view: str | None, t: Translator = ENGLISH) -> str:
    return _view_words(view, t)


def flag_title(flag: dict, t: Translator = ENGLISH) -> str:
    code, title = flag.get("code"), str(flag.get("title") or "")
    return t.gettext(FLAG_TITLES[code]) if code in FLAG_TITLES else t.gettext(title)
