"""Pose/scale normalisation and illumination handling before any measurement.

The face is warped by a similarity transform (roll, scale, shift; no shear, so skin texture is
not distorted) that puts the eye midpoint and the mouth centre at fixed positions of a square
canonical image. Eye-to-mouth distance sets the scale because, unlike the inter-pupil distance,
it barely shrinks when the head turns, so oblique views keep the same scale as the front view.

Illumination is anchored to something that is not skin; skin itself cannot be used (that would
erase real skin-tone differences, e.g. ITA between patients). Colour (white balance), best first:
a colour chart, the eye whites pooled over the case, this photo's own references: its eye white
(segmented by colour inside the eye openings, `eye_white_mask`),
teeth and a white or grey background, blended by how clearly each passes its usability
thresholds (so a retake that tips one over a threshold does not switch the colour); the report
names the one that weighs most. The measured image's exposure is set from the face's bright end
and never pushes the face into clipping. The exposure anchor -- a chart, the skin lightness the
consultation's photos anchored, or the lit part of this photo's own eye whites / teeth (a white
under the same light tells how bright skin really is) -- is recorded as a ratio to that exposure
and applied to every colour measure (metrics.anchor_exposure); it is what makes ITA measurable.
An eye white and teeth that both anchor are blended by pixels times a confidence that fades to 0
towards each reason to refuse one, so a retake that tips one over a threshold barely moves the
exposure; teeth count as white less their own yellow (TEETH_TINT).
Without one the report says skin tone is not measurable, and why each reference seen was refused.
Photos of one case share one white balance, pooled from all their references, so a blink in one
photo neither switches its method nor shifts its colour measures against the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.assessment.colour_chart import ChartCalibration

CANONICAL_SIZE = 512
# Close-ups show a few cm of skin: at 320 px their papules and spots come out about the size
# the filter bank's spot scales expect on a canonical face.
CLOSE_UP_SIZE = 320
# Canonical positions as fractions of the side: eye midpoint and mouth centre.
EYE_MID = (0.5, 200 / 512)
MOUTH_MID = (0.5, 350 / 512)

# MediaPipe Face Mesh indices (478-point model with irises).
RIGHT_EYE_CORNERS = (33, 133)  # patient's right eye: outer, inner (image left on a front view)
LEFT_EYE_CORNERS = (362, 263)
MOUTH_CORNERS = (61, 291)
LIP_MIDS = (13, 14)
RIGHT_EYE_CONTOUR = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE_CONTOUR = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

# Per eye: contour, inner (nose-side) corner, outer corner, iris (centre first).
EYES = ((RIGHT_EYE_CONTOUR, 133, 33, RIGHT_IRIS), (LEFT_EYE_CONTOUR, 362, 263, LEFT_IRIS))
IRIS_CIRCLE_SCALE = 1.15  # MediaPipe's iris radius times this covers the iris and its dark rim
# The eye white by colour (`eye_white_mask`), as fractions of the eye's corner-to-corner width:
EYE_WHITE_LID_MARGIN = 0.03  # kept clear of the lids and lashes
EYE_WHITE_CARUNCLE = 0.15  # the pink corner nearest the nose
EYE_WHITE_RING = 0.15  # width of the periocular skin ring around the opening
# A white pixel is brighter than the iris by this share of the way to the opening's typical
# neutral pixel (their median: glare on spectacles can set the bright end).
EYE_WHITE_BRIGHTNESS = 0.5
# Share of MediaPipe's iris radius that is surely iris (the circle over-covers narrowed eyes).
EYE_WHITE_IRIS_CORE = 0.8
MIN_SCLERA_PIXELS = 25
GAIN_LIMITS = (0.35, 3.0)
EXPOSURE_LIMITS = (0.4, 2.5)
# A usable eye white: max/min channel at most this (a warm or cool light tints it, within reason)
SCLERA_MAX_CHANNEL_RATIO = 2.2
# ...and clearly less coloured than the same photo's skin: skin red/blue over eye-white red/blue.
# The light's tint cancels in that ratio, so it tells sclera from lid skin under any light.
SCLERA_MIN_SKIN_CONTRAST = 1.3
# A photo's own eye white this far from the case's pooled one (max per-channel log ratio) was
# taken under another light. Frame-to-frame noise of one scene stays under 0.03; daylight vs
# warm indoor light differs by more than 0.3.
SHARED_WHITE_TOLERANCE = 0.1
FACE_TARGET_P95 = 0.75  # linear luminance the face's 95th percentile is brought to (no anchor)
# The exposure anchor (skin tone and every colour measure): the lit part of an eye white or of the
# teeth is brought to a fixed linear luminance, so the skin keeps its true lightness relative to a
# white under the same light. A reference pixel counts when it is clearly less coloured than the
# skin (skin red/blue over its red/blue: the light's tint cancels); its "white
# level" is the ANCHOR_PERCENTILE of those pixels' luminance -- the lit part, not the recessed,
# shaded rest of the opening (the median of a narrowed eye or a smile's teeth read the shade and
# gave up at normal distance), below the wet glints. The target was fitted on the "tune" half of
# the labelled real photos (`benchmarks/eval_skin_tone.py --fit --half tune`: least squares of
# the degrees outside each label's ITA range; one target for both, as either source has 7-8 photos
# there) and checked on the other half (tests/assessment/test_skin_tone.py). Refitted in 1.5.3
# with the eye white segmented by colour: best factor 1.04 (cost 237 against 244 at 0.54), within
# the fit's flat optimum, and at 0.56 two standard photos' redness and tone evenness sat on a band
# edge (tests/assessment/test_scores.py), so the target stays.
ANCHOR_TARGETS = {"sclera": 0.54, "teeth": 0.54}
ANCHOR_PIXEL_CONTRAST = 1.3
ANCHOR_PERCENTILE = 90.0
# The reference as a whole (the median colour of its brighter half) must be this much less
# coloured than the skin: teeth that look as coloured as the skin are lips, gums or shade.
ANCHOR_MIN_SKIN_CONTRAST = 1.3
ANCHOR_MAX_CLIPPED = 0.25  # share of a reference's pixels with a channel burnt out to white
# Lit part over median of the reference pixels above this: glare on glasses or a shadow across it.
ANCHOR_MAX_SPREAD = 2.5
# Eye white and teeth of one photo agree on the exposure within this factor; beyond it the darker
# one was in shade (shade only darkens a white; glare and clipping are refused on their own), so
# the brighter one anchors alone.
ANCHOR_MAX_DISAGREEMENT = 1.5
# An anchor that makes the skin lighter than this L* (lighter than any skin) was itself in shade.
# Judged on the small cheek / forehead patches (`_skin_colour`), which sit where a frontal light
# falls and read a few L* above the cheeks' median that ITA takes: at 80 a genuinely very light
# face (a child's, ITA 54 deg at L* 78) was refused as "shaded"; webcam-lit faces whose eye whites
# and teeth really were in shade read L* 90 and more (1.5.1, fitted on the tune half).
ANCHOR_MAX_SKIN_LIGHTNESS = 85.0
# The two eye whites' lit levels (ANCHOR_PERCENTILE of each) differ by at most this factor: beyond
# it one eye is in a brow's shade or a side light's, and which one shows the face's light is in
# doubt (an outdoor dark skin whose eyes differ by 1.49 read "intermediate"). Whites under an even
# light agree within 1.15; fitted on the tune half between 1.42 (a light skin at 60 deg yaw, in its
# category) and 1.49.
EYE_MAX_DISAGREEMENT = 1.45
# Retakes of one sitting move an eye white's measures across these thresholds (a JPEG re-encode
# turned a dark skin's eye white "uneven", its anchor switched from both whites to the teeth alone
# and its ITA from -51 to -17 deg; the retake benchmark's ITA band changes rose to 14-17 %). So each
# white that anchors gets a confidence, as the colour references do (CONFIDENCE_RAMPS): 0 at the
# refusal threshold, 1 a margin clear of it; the gains are blended by pixels times confidence, so a
# white that fades out near its threshold barely moves the exposure (`exposure_anchor`).
ANCHOR_RAMPS = {
    "skin_contrast": (ANCHOR_MIN_SKIN_CONTRAST, 1.6),  # the whole's skin contrast
    "spread": (ANCHOR_MAX_SPREAD, 1.8),  # lit part over median
    "clipped": (ANCHOR_MAX_CLIPPED, 0.1),  # share of burnt-out pixels
    "area": (1.0, 2.0),  # neutral pixels over the minimum
    "skin_lightness": (ANCHOR_MAX_SKIN_LIGHTNESS, 80.0),  # the L* it gives the skin patches
    "disagreement": (ANCHOR_MAX_DISAGREEMENT, 1.2),  # the darker white's gain over the brighter's
    "eyes": (EYE_MAX_DISAGREEMENT, 1.2),  # the brighter eye white's level over the darker's
}
ANCHOR_LABELS = {"sclera": "eye white", "teeth": "teeth"}
# Teeth are not white: enamel over yellowish dentine reflects more red and less blue than an eye
# white or a grey wall under the same light. Balanced as white they stripped that yellow from the
# skin too (b* down, ITA up: a medium skin read "very light"; a dark skin's ITA moved by 30 deg
# between a retake balanced on its teeth and one balanced on the wall). Their colour is divided by
# this tint before it balances a photo: linear RGB of teeth over an eye white or background of the
# same photo, the median over the tune half's photos with both (11 pairs; luminance 1;
# `benchmarks/eval_skin_tone.py --fit-tint`).
TEETH_TINT = (1.10, 0.985, 0.865)
# Why a reference that was seen could not anchor the exposure (the engine turns these into notes).
ANCHOR_REASONS = ("too_few", "coloured", "clipped", "uneven", "shaded", "disagree")
# The exposure may clip at most this share of the face's pixels that were not clipped already
# (specular glints of a talking face come and go; a tighter limit made the exposure twitch:
# at 1 % the retake benchmark's band changes rose, e.g. under-eye from 19 % to 25 %).
MAX_FACE_CLIP = 0.02
# Background: pixels this far from the face (face widths) and at most this coloured count as wall.
BACKGROUND_MAX_CHANNEL_RATIO = 1.6
BACKGROUND_MIN_SHARE = 0.1
# Wall pixels darker than this times the skin patches' luminance are left out: 0.05 absolute before,
# at the tune half's median skin luminance (0.31).
BACKGROUND_MIN_LUMINANCE = 0.16
# Retakes of one photo (re-encoded, shifted by a pixel, slightly smaller) move a reference's
# measures a little; a hard pass/fail on each threshold then switched the reference between
# captures (teeth in one, background in the next: a* moved by 5-13). So each reference gets a
# confidence that is 0 at the usability threshold above (nothing is usable that was not before)
# and rises linearly to 1 at the second value, a safety margin away from where retakes wobble;
# the photo's references are blended by confidence, so one that fades out fades out of the colour.
CONFIDENCE_RAMPS = {
    "channel_ratio": (SCLERA_MAX_CHANNEL_RATIO, 1.7),  # max/min channel: lower is more neutral
    "skin_contrast": (SCLERA_MIN_SKIN_CONTRAST, 1.7),
    "brightness": (0.8, 1.0),  # its luminance over the skin's
    "area": (1.0, 2.0),  # pixels over the minimum, both relative to the inter-eye distance
    "background_share": (BACKGROUND_MIN_SHARE, 0.2),
}
# A wall is lit differently from the face: it counts half as much as a reflector on the face.
BACKGROUND_PRIOR = 0.5
# Inter-eye distance (eye-corner midpoints) of a front face in the canonical layout: counts of
# eye-white / teeth pixels are taken relative to it, so they do not depend on resolution or pose.
CANONICAL_EYE_DISTANCE = 0.28 * CANONICAL_SIZE  # the median of the labelled front photos (128-162 px)
REFERENCE_LABELS = {
    "colour_chart": "colour chart in the photo",
    "case_sclera": "eye whites of this consultation's photos",
    "case_pooled": "this consultation's pooled white reference",
    "sclera": "this photo's eye white",
    "teeth": "this photo's teeth",
    "background": "the white/grey background",
    "exposure_only": "none",
    "off": "off",
}
INNER_MOUTH = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)


@dataclass
class CanonicalFace:
    image_bgr: np.ndarray  # canonical image after illumination handling, uint8
    raw_bgr: np.ndarray  # canonical image before illumination handling, uint8
    transform: np.ndarray  # 2x3 affine, source pixels -> canonical pixels
    points: np.ndarray | None  # landmarks in canonical pixels (N, 2 or 3), None for close-ups
    illumination: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.image_bgr.shape[0]


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    v = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055).astype(np.float32)


def relight(image_bgr: np.ndarray, gains_rgb: tuple[float, float, float]) -> np.ndarray:
    """The same scene under another light: per-channel gains on linear light (tests, evaluation)."""
    linear = srgb_to_linear(image_bgr[..., ::-1] / 255.0) * np.asarray(gains_rgb, np.float32)
    return (linear_to_srgb(linear) * 255.0 + 0.5).astype(np.uint8)[..., ::-1]


def _mean_point(points: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    return points[list(indices), :2].astype(np.float64).mean(axis=0)


def similarity_to_canonical(points: np.ndarray, size: int = CANONICAL_SIZE) -> np.ndarray:
    """2x3 similarity transform mapping the landmarks' eye/mouth anchors to the canonical layout."""
    eye_right = _mean_point(points, RIGHT_EYE_CORNERS)
    eye_left = _mean_point(points, LEFT_EYE_CORNERS)
    eye_mid = (eye_right + eye_left) / 2
    mouth_mid = (_mean_point(points, MOUTH_CORNERS) + _mean_point(points, LIP_MIDS)) / 2
    # Roll from the eye line (patient's right eye -> left eye points +x on a front view).
    eye_vector = eye_left - eye_right
    roll = np.arctan2(eye_vector[1], eye_vector[0])
    source_distance = float(np.linalg.norm(mouth_mid - eye_mid))
    target_distance = (MOUTH_MID[1] - EYE_MID[1]) * size
    scale = target_distance / max(source_distance, 1e-6)
    cos_r, sin_r = np.cos(-roll) * scale, np.sin(-roll) * scale
    rotation = np.array([[cos_r, -sin_r], [sin_r, cos_r]])
    target_eye = np.array([EYE_MID[0] * size, EYE_MID[1] * size])
    translation = target_eye - rotation @ eye_mid
    return np.hstack([rotation, translation[:, None]])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    out = np.array(points, dtype=np.float64, copy=True)
    xy = out[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    out[:, :2] = xy
    if out.shape[1] > 2:
        out[:, 2] *= float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    return out


def sclera_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels inside the eye openings but outside the irises' circles (canonical coordinates):
    the openings as a whole, when `eye_white_mask` finds no white in them."""
    mask = np.zeros(shape, np.uint8)
    for contour in (RIGHT_EYE_CONTOUR, LEFT_EYE_CONTOUR):
        polygon = np.round(points[list(contour), :2]).astype(np.int32)
        cv2.fillPoly(mask, [polygon], 1)
    if points.shape[0] >= 478:
        for iris in (RIGHT_IRIS, LEFT_IRIS):
            centre = points[iris[0], :2]
            radius = float(np.mean(np.linalg.norm(points[list(iris[1:]), :2] - centre, axis=1)))
            cv2.circle(
                mask,
                (int(round(centre[0])), int(round(centre[1]))),
                int(np.ceil(radius * IRIS_CIRCLE_SCALE)),
                0,
                -1,
            )
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))  # keep clear of lids and lashes
    return mask.astype(bool)


def eye_white_mask(linear_rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The eye whites segmented by colour inside the eye openings (canonical coordinates).

    The iris circle MediaPipe fits over-covers the white beside the iris of a narrowed or smiling
    eye, so `sclera_mask` kept mostly caruncle and lid there and a light skin's eye whites were
    refused as "as coloured as the skin". Here, per eye: the opening kept clear of the lids
    (EYE_WHITE_LID_MARGIN) and of the caruncle corner (EYE_WHITE_CARUNCLE of the opening nearest
    the nose); of that, the pixels clearly less coloured than the periocular skin around the
    opening (its red/blue over theirs: the light's tint cancels) and brighter than the iris (the
    darkest part of the opening, whose pupil centre and blue or grey iris would otherwise pass as
    neutral). Falls back to `sclera_mask` (to be judged, and refused, as before) when that leaves
    fewer than the minimum pixels or the landmarks have no irises.
    """
    shape = linear_rgb.shape[:2]
    least = min_reference_pixels(points)
    if points.shape[0] < 478:
        return sclera_mask(points, shape)
    lum = _luminance(linear_rgb)
    redness = (linear_rgb[..., 0] + 1e-4) / (linear_rgb[..., 2] + 1e-4)
    found = np.zeros(shape, bool)
    for contour, inner_index, outer_index, iris in EYES:
        outline = np.zeros(shape, np.uint8)
        cv2.fillPoly(outline, [np.round(points[list(contour), :2]).astype(np.int32)], 1)
        inner, outer = points[inner_index, :2], points[outer_index, :2]
        width = float(np.linalg.norm(outer - inner))
        if width < 4:
            continue
        margin = max(1, round(EYE_WHITE_LID_MARGIN * width))
        opening = cv2.erode(outline, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)).astype(bool)
        reach = max(3, round(EYE_WHITE_RING * width))
        ring = cv2.dilate(outline, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)).astype(bool)
        ring &= ~cv2.dilate(outline, np.ones((5, 5), np.uint8)).astype(bool)
        ys, xs = np.nonzero(opening)
        if len(ys) == 0 or not ring.any():
            continue
        along = (np.stack([xs, ys], axis=1) - inner) @ ((outer - inner) / width) / width
        opening[ys[along <= EYE_WHITE_CARUNCLE], xs[along <= EYE_WHITE_CARUNCLE]] = False
        if not opening.any():
            continue
        centre = points[iris[0], :2]
        radius = float(np.mean(np.linalg.norm(points[list(iris[1:]), :2] - centre, axis=1)))
        rows, cols = np.ogrid[: shape[0], : shape[1]]
        distance = np.sqrt((cols - centre[0]) ** 2 + (rows - centre[1]) ** 2)
        pupil = (distance <= 0.5 * radius) & outline.astype(bool)
        iris_level = float(np.median(lum[pupil])) if pupil.any() else float(np.min(lum[opening]))
        skin = np.median(linear_rgb[ring], axis=0).astype(np.float64)
        skin_redness = (skin[0] + 1e-4) / (skin[2] + 1e-4)
        neutral = opening & (skin_redness / redness >= ANCHOR_PIXEL_CONTRAST)
        if not neutral.any():
            continue
        # Judged against the neutral pixels' median, not their bright end, which glare on
        # spectacles can set (the white left beside glare then reads "uneven", as it should).
        typical = float(np.median(lum[neutral]))
        cut = iris_level + EYE_WHITE_BRIGHTNESS * (typical - iris_level)
        white = neutral & (lum > cut)
        # Inside the iris circle only what is as bright as the typical white beside it (a light
        # iris is darker than the white but passes the cut) and joins that white: catchlights on
        # the iris are bright and neutral too. The pupil's disk never counts. A narrowed eye may
        # show white only inside the circle: then beside its inner part (EYE_WHITE_IRIS_CORE).
        for scale in (IRIS_CIRCLE_SCALE, EYE_WHITE_IRIS_CORE):
            circle = distance <= scale * radius
            beside = white & ~circle
            if beside.any():
                break
        else:
            continue
        white &= ~pupil & (~circle | (lum >= float(np.median(lum[beside]))))
        _, labels = cv2.connectedComponents(white.astype(np.uint8), connectivity=8)
        joined = np.unique(labels[white & ~circle])
        white = np.isin(labels, joined[joined > 0])
        found |= white
    if found.sum() < least:
        return sclera_mask(points, shape)
    return found


def _luminance(linear_rgb: np.ndarray) -> np.ndarray:
    return linear_rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


@dataclass(frozen=True)
class WhiteReference:
    """Colour of a neutral reflector under the photo's light: linear RGB scaled to luminance 1.

    `pixels` is how many pixels it rests on, its weight when a case pools its photos. `source`:
    sclera, teeth or background. `luminance` (linear, in its own photo) and `skin_contrast` tell
    whether it can also set the exposure; a pooled reference has neither (photos differ).
    """

    rgb: tuple[float, float, float]
    pixels: int
    source: str = "sclera"
    luminance: float | None = None
    skin_contrast: float = 0.0
    confidence: float = 1.0  # 0 (at the usability threshold) to 1 (a margin clear of it)

    def as_array(self) -> np.ndarray:
        return np.asarray(self.rgb, dtype=np.float32)


def ramp(value: float, zero: float, full: float) -> float:
    """0 at `zero`, 1 at `full` (either direction), linear in between."""
    return float(np.clip((value - zero) / (full - zero), 0.0, 1.0))


def _confidence(measures: dict[str, float]) -> float:
    """Product of the ramps of the measures given (names of CONFIDENCE_RAMPS)."""
    return float(np.prod([ramp(value, *CONFIDENCE_RAMPS[name]) for name, value in measures.items()]))


def eye_distance(points: np.ndarray) -> float:
    """Distance between the two eyes' corner midpoints (pixels of the points' image)."""
    return float(
        np.linalg.norm(_mean_point(points, LEFT_EYE_CORNERS) - _mean_point(points, RIGHT_EYE_CORNERS))
    )


def min_reference_pixels(points: np.ndarray | None) -> float:
    """MIN_SCLERA_PIXELS at the canonical inter-eye distance, scaled by this face's (squared)."""
    if points is None:
        return float(MIN_SCLERA_PIXELS)
    return MIN_SCLERA_PIXELS * (eye_distance(points) / CANONICAL_EYE_DISTANCE) ** 2


def sclera_reference(
    linear_rgb: np.ndarray,
    sclera: np.ndarray | None,
    skin_rgb: np.ndarray | None = None,
    min_pixels: float = MIN_SCLERA_PIXELS,
) -> tuple[WhiteReference | None, dict]:
    """The eye white's colour, or None when the eye opening does not show usable sclera.

    Used only when it looks like sclera (far less coloured than the skin, not darker than it);
    narrowed or shaded eyes otherwise hand lid skin in as "white", which would repaint the face.
    """
    return neutral_reference(linear_rgb, sclera, skin_rgb, "sclera", min_pixels=min_pixels)


def neutral_reference(
    linear_rgb: np.ndarray,
    area: np.ndarray | None,
    skin_rgb: np.ndarray | None,
    source: str,
    upper_percentile: float = 100.0,
    min_pixels: float = MIN_SCLERA_PIXELS,
) -> tuple[WhiteReference | None, dict]:
    """A near-neutral reflector (eye white, teeth) inside `area`, or None when it does not look
    like one. `upper_percentile` drops the brightest pixels (wet specular glints on teeth).
    `min_pixels`: the fewest it may rest on (see `min_reference_pixels`)."""
    prefix = "sclera" if source == "sclera" else source
    stats: dict = {f"{prefix}_pixels": 0}
    if area is None or not area.any():
        return None, stats
    pixels = linear_rgb[area]
    lum = _luminance(pixels)
    chroma = pixels.max(axis=1) - pixels.min(axis=1)
    # The brightest, least coloured half of the opening is the white, not lid, lip or lash.
    keep = (
        (lum >= np.percentile(lum, 50))
        & (lum <= np.percentile(lum, upper_percentile))
        & (chroma <= np.percentile(chroma, 60))
    )
    stats[f"{prefix}_pixels"] = int(keep.sum())
    if keep.sum() < min_pixels:
        return None, stats
    candidate = np.maximum(np.median(pixels[keep], axis=0), 1e-4)
    neutral_ratio = float(candidate.max() / candidate.min())
    candidate_luminance = float(_luminance(candidate[None])[0])
    stats[f"{prefix}_channel_ratio"] = round(neutral_ratio, 3)
    usable = neutral_ratio <= SCLERA_MAX_CHANNEL_RATIO
    measures = {"channel_ratio": neutral_ratio, "area": float(keep.sum()) / max(min_pixels, 1e-6)}
    contrast = 0.0
    if skin_rgb is not None:
        skin = np.maximum(np.asarray(skin_rgb, np.float64), 1e-4)
        contrast = float((skin[0] / skin[2]) / (candidate[0] / candidate[2]))
        stats[f"{prefix}_skin_contrast"] = round(contrast, 3)
        brightness = candidate_luminance / max(float(_luminance(skin[None].astype(np.float32))[0]), 1e-6)
        stats[f"{prefix}_brightness"] = round(brightness, 3)
        bright_enough = brightness >= CONFIDENCE_RAMPS["brightness"][0]
        usable = usable and bright_enough and contrast >= SCLERA_MIN_SKIN_CONTRAST
        measures.update(skin_contrast=contrast, brightness=brightness)
    confidence = _confidence(measures)
    stats[f"{prefix}_confidence"] = round(confidence, 3)
    if not usable or confidence <= 0.0:
        return None, stats
    reference = WhiteReference(
        _rgb(_as_white(candidate, source)), int(keep.sum()), source, candidate_luminance, contrast, confidence
    )
    return reference, stats


def _as_white(colour: np.ndarray, source: str) -> np.ndarray:
    """The light's colour from a reflector's (linear RGB), scaled to luminance 1: the teeth's own
    tint (TEETH_TINT) taken out; eye whites and walls are taken as white."""
    light = np.asarray(colour, np.float64) / (np.asarray(TEETH_TINT) if source == "teeth" else 1.0)
    return light / max(float(_luminance(light[None].astype(np.float32))[0]), 1e-6)


def teeth_mask(points: np.ndarray, shape: tuple[int, int], source_scale: float = 1.0) -> np.ndarray:
    """Inside the inner lip contour (canonical coordinates): teeth when the mouth shows them.

    Kept one photo pixel (`source_scale` canonical pixels, at least one) clear of the lips: a
    JPEG's halved colour resolution bleeds lip red that far into the teeth, and on an enlarged
    small face a fixed canonical margin covered less than that, so a re-encoded retake lost them.
    """
    mask = np.zeros(shape, np.uint8)
    if points.shape[0] > max(INNER_MOUTH):
        cv2.fillPoly(mask, [np.round(points[list(INNER_MOUTH), :2]).astype(np.int32)], 1)
    reach = max(1, round(source_scale))
    return cv2.erode(mask, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)).astype(bool)


def background_reference(
    image_bgr: np.ndarray, points: np.ndarray, skin_rgb: np.ndarray | None
) -> WhiteReference | None:
    """A white or grey wall around the head (source photo), for the colour only: it is lit
    differently from the face, so it never sets the exposure."""
    if skin_rgb is None:
        return None
    height, width = image_bgr.shape[:2]
    factor = min(1.0, 400.0 / max(height, width))
    small = cv2.resize(image_bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    xy = np.round(points[:, :2] * factor).astype(np.int32)
    x, y, w, h = cv2.boundingRect(xy)
    face = np.zeros(small.shape[:2], np.uint8)
    cv2.fillConvexPoly(face, cv2.convexHull(xy), 1)
    reach = max(3, int(w * 0.5)) | 1
    near_head = cv2.dilate(face, np.ones((reach, reach), np.uint8)).astype(bool)
    box = np.zeros(small.shape[:2], bool)
    box[max(0, y - h) : max(0, y + h), max(0, x - w) : max(0, x + 2 * w)] = True
    pixels = srgb_to_linear(small[..., ::-1] / 255.0)[box & ~near_head]
    if len(pixels) < 200:
        return None
    ratio = (pixels.max(axis=1) + 1e-4) / (pixels.min(axis=1) + 1e-4)
    # Too dark to tell a colour: judged against the skin's lightness, not an absolute level, so a
    # darker exposure of the same scene keeps the same wall (at 0.6x a wall dropped out of the
    # colour while the teeth stayed, and the skin's ITA moved by 3 deg).
    dark = BACKGROUND_MIN_LUMINANCE * float(_luminance(np.asarray(skin_rgb, np.float32)[None])[0])
    keep = (ratio <= BACKGROUND_MAX_CHANNEL_RATIO) & (_luminance(pixels) > dark) & (pixels.max(axis=1) < 0.99)
    if keep.mean() < BACKGROUND_MIN_SHARE:
        return None
    candidate = np.maximum(np.median(pixels[keep], axis=0), 1e-4)
    skin = np.maximum(np.asarray(skin_rgb, np.float64), 1e-4)
    contrast = float((skin[0] / skin[2]) / (candidate[0] / candidate[2]))
    if contrast < SCLERA_MIN_SKIN_CONTRAST:
        return None
    confidence = _confidence({"skin_contrast": contrast, "background_share": float(keep.mean())})
    if confidence <= 0.0:
        return None
    normalised = candidate / max(float(_luminance(candidate[None].astype(np.float32))[0]), 1e-6)
    return WhiteReference(_rgb(normalised), int(keep.sum()), "background", None, contrast, confidence)


def blend_references(references: Sequence[WhiteReference | None]) -> WhiteReference | None:
    """One photo's references blended by confidence (a background at BACKGROUND_PRIOR): a
    weighted geometric mean of their colours, named after the one that weighs most.

    Continuous in the references' measures: a reference near its threshold weighs near nothing,
    so a retake that tips it over changes the colour by little instead of switching references.
    """
    usable = [r for r in references if r is not None and r.confidence > 0.0]
    if not usable:
        return None
    weights = np.array(
        [r.confidence * (BACKGROUND_PRIOR if r.source == "background" else 1.0) for r in usable]
    )
    logs = np.log(np.maximum(np.array([r.rgb for r in usable], dtype=np.float64), 1e-6))
    rgb = np.exp((weights[:, None] * logs).sum(axis=0) / weights.sum())
    rgb /= float(_luminance(rgb[None].astype(np.float32))[0])
    main = usable[int(np.argmax(weights))]
    return WhiteReference(
        _rgb(rgb),
        int(sum(r.pixels for r in usable)),
        main.source,
        main.luminance,
        main.skin_contrast,
        float(min(1.0, np.max([r.confidence for r in usable]))),
    )


def _rgb(values: np.ndarray) -> tuple[float, float, float]:
    red, green, blue = (float(v) for v in values)
    return red, green, blue


def pool_white_references(references: Sequence[WhiteReference | None]) -> WhiteReference | None:
    """One reference for photos taken in one session: the pixel-weighted median per channel.

    A median, not a mean, so one photo with a half-closed eye cannot pull the whole case.
    """
    usable = [r for r in references if r is not None]
    if not usable:
        return None
    # One kind of reference for the whole case, the best one any photo offers: eye whites over
    # teeth over a background (a blink's teeth then check against, not mix into, the eye whites).
    rank = {"sclera": 0, "teeth": 1, "background": 2}
    best = min(rank.get(r.source, 3) for r in usable)
    usable = [r for r in usable if rank.get(r.source, 3) == best]
    values = np.array([r.rgb for r in usable], dtype=np.float64)
    weights = np.array([r.pixels for r in usable], dtype=np.float64)
    pooled = []
    for channel in range(3):
        order = np.argsort(values[:, channel])
        cumulative = np.cumsum(weights[order])
        index = order[int(np.searchsorted(cumulative, cumulative[-1] / 2))]
        pooled.append(values[index, channel])
    rgb = np.array(pooled)
    rgb /= float(_luminance(rgb[None].astype(np.float32))[0])
    sources = {r.source for r in usable}
    return WhiteReference(_rgb(rgb), int(weights.sum()), sources.pop() if len(sources) == 1 else "pooled")


def white_difference(first: WhiteReference, second: WhiteReference) -> float:
    """Largest per-channel chromaticity difference as a fraction (0.1 = one channel 10% off)."""
    ratio = first.as_array() / np.maximum(second.as_array(), 1e-6)
    return float(np.max(np.abs(np.log(ratio))))


def estimate_illumination(
    linear_rgb: np.ndarray,
    sclera: np.ndarray | None,
    exposure_pixels: np.ndarray | None = None,
    skin_rgb: np.ndarray | None = None,
    shared_reference: WhiteReference | None = None,
    teeth: np.ndarray | None = None,
    background: WhiteReference | None = None,
    calibrated: bool = False,
    min_pixels: float = MIN_SCLERA_PIXELS,
    case_skin_luminance: float | None = None,
) -> dict:
    """Per-channel gains that make the neutral reference neutral and set the exposure.

    `shared_reference` is the case's pooled white: photos of one session share one white
    balance, so a blink or a squint in one photo does not change its colour measures. A photo
    whose own reference disagrees with it was taken under another light and keeps its own.
    `calibrated`: the colour chart already corrected colour and exposure (gains only guard clipping).
    `skin_tone_anchor` in the result names what set the exposure; None means the exposure came
    from the face itself, so absolute lightness (ITA) is not measurable on this photo.
    The photo's own eye white, teeth and background are blended by confidence (`blend_references`).
    `min_pixels`: the fewest pixels an eye white or the teeth may rest on (`min_reference_pixels`).
    `case_skin_luminance`: the skin lightness the consultation's other photos anchored, used when
    this photo has no anchor of its own (`exposure_anchor`).
    """
    own, stats = sclera_reference(linear_rgb, sclera, skin_rgb, min_pixels)
    tooth = None
    if teeth is not None:
        tooth, teeth_stats = neutral_reference(
            linear_rgb, teeth, skin_rgb, "teeth", upper_percentile=90.0, min_pixels=min_pixels
        )
        stats.update(teeth_stats)
    if background is not None:
        stats["background_confidence"] = round(background.confidence, 3)
    own_colour = blend_references([own, tooth, background])
    levels: list[WhiteLevel] = []
    if not calibrated:
        levels = _own_white_levels(linear_rgb, sclera, teeth, skin_rgb, min_pixels, stats)
    reference: WhiteReference | None = None
    stats["method"] = "exposure_only"
    if calibrated:
        stats["method"] = "colour_chart"
    elif shared_reference is not None:
        difference = None if own_colour is None else white_difference(own_colour, shared_reference)
        if difference is not None and own_colour is not None:
            stats[f"own_{own_colour.source}_difference"] = round(difference, 3)
        if difference is None or difference <= SHARED_WHITE_TOLERANCE:
            reference = shared_reference
            stats["method"] = "case_sclera" if shared_reference.source == "sclera" else "case_pooled"
            stats["case_reference_pixels"] = shared_reference.pixels
        else:
            reference = own_colour
            stats["method"] = own_colour.source if own_colour is not None else "exposure_only"
            stats["case_reference_rejected"] = "this photo's light differs from the case's other photos"
    elif own_colour is not None:
        reference = own_colour
        stats["method"] = own_colour.source
    if reference is None and not calibrated:
        # Nothing blended passed, but the lit part of an eye white or the teeth did: it is white.
        probe: dict = {}
        exposure_anchor(levels, skin_luminance(skin_rgb), probe)
        reference = anchor_white(levels, probe["anchor_unusable"])
        if reference is not None:
            stats["method"] = reference.source
            stats["white_from_anchor"] = True
    stats["white_reference"] = REFERENCE_LABELS.get(stats["method"], stats["method"])
    if reference is None:
        # No grey-world fallback: the face is mostly skin, and balancing it to grey would erase
        # the very skin-tone differences (ITA) the report measures.
        colour_gains = np.ones(3, np.float32)
    else:
        colour_gains = (1.0 / np.maximum(reference.as_array(), 1e-4)).astype(np.float32)
        stats["reference_rgb_linear"] = [round(float(v), 4) for v in reference.rgb]
        stats["reference_confidence"] = round(reference.confidence, 3)

    pixels = (exposure_pixels if exposure_pixels is not None else linear_rgb).reshape(-1, 3)
    lum95 = float(np.percentile(_luminance(pixels), 95))
    stats["face_p95_luminance"] = round(lum95, 4)
    if calibrated:
        anchor, anchor_gain = "colour chart", 1.0
        stats["skin_tone_anchor_sources"] = ["colour_chart"]
    else:
        # A photo taken under another light than the case's keeps its own anchor, as its colour.
        case_skin = None if "case_reference_rejected" in stats else case_skin_luminance
        anchor, anchor_gain = exposure_anchor(levels, skin_luminance(skin_rgb), stats, case_skin)
    # The measurement image keeps the face's own exposure (steady from photo to photo, and never
    # clipped); the anchor's exposure, as a ratio to it, is applied to the colour measures
    # afterwards on their CIELAB values (metrics.anchor_exposure), where nothing can clip.
    exposure_gain = (
        1.0 if calibrated else float(np.clip(FACE_TARGET_P95 / max(lum95, 1e-4), *EXPOSURE_LIMITS))
    )
    # Never clip the face: the gain stops where more than MAX_FACE_CLIP of the face's pixels that
    # were not clipped already would reach white (clipped skin has no colour left to measure).
    fresh = pixels.max(axis=1) < 0.995
    if fresh.sum() >= 20:
        brightest = float(
            np.percentile((pixels[fresh] * colour_gains).max(axis=1), 100 * (1 - MAX_FACE_CLIP))
        )
        clip_limit = 0.98 / max(brightest, 1e-4)
        stats["clip_limit_gain"] = round(clip_limit, 3)
        exposure_gain = min(exposure_gain, clip_limit)
    if anchor is not None and anchor_gain is not None:
        stats["anchor_exposure_ratio"] = round(anchor_gain / exposure_gain, 4)
    stats["skin_tone_anchor"] = anchor
    gains = np.clip(colour_gains * exposure_gain, *GAIN_LIMITS).astype(np.float32)
    stats["colour_gains"] = [round(float(v), 3) for v in colour_gains]
    stats["exposure_gain"] = round(float(exposure_gain), 3)
    stats["applied_gains"] = [round(float(v), 3) for v in gains]
    stats["colour_cast"] = round(float(np.max(colour_gains) / np.min(colour_gains) - 1.0), 3)
    return {"gains": gains, **stats}


@dataclass(frozen=True)
class WhiteLevel:
    """How bright a neutral reflector (eye white, teeth) is in its photo: the linear luminance of
    its lit part (`ANCHOR_PERCENTILE` of its reference pixels, before any gain)."""

    source: str  # sclera | teeth
    level: float
    pixels: int
    # Colour of its lit neutral pixels (linear RGB scaled to luminance 1): the photo's white
    # balance when no blended reference passed (`anchor_white`).
    rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # 0 at a refusal threshold of `white_level`, 1 a margin clear of all of them (ANCHOR_RAMPS).
    confidence: float = 1.0


def _anchor_confidence(measures: dict[str, float]) -> float:
    """Product of the ramps of the measures given (names of ANCHOR_RAMPS)."""
    return float(np.prod([ramp(value, *ANCHOR_RAMPS[name]) for name, value in measures.items()]))


def _eye_disagreement(lum: np.ndarray, neutral: np.ndarray, area: np.ndarray, min_pixels: float) -> float:
    """The brighter eye white's lit level over the darker's (1 when only one eye shows enough
    white). The canonical layout puts the eyes either side of its vertical midline."""
    columns = np.nonzero(area)[1]
    levels = []
    for side in (columns < area.shape[1] // 2, columns >= area.shape[1] // 2):
        mine = neutral & side
        if mine.sum() >= min_pixels / 2:
            levels.append(float(np.percentile(lum[mine], ANCHOR_PERCENTILE)))
    if len(levels) < 2:
        return 1.0
    return max(levels) / max(min(levels), 1e-6)


def white_level(
    linear_rgb: np.ndarray,
    area: np.ndarray | None,
    skin_rgb: np.ndarray | None,
    source: str,
    min_pixels: float = MIN_SCLERA_PIXELS,
) -> tuple[WhiteLevel | None, str | None]:
    """(the reference's white level, None) or (None, why it cannot anchor the exposure); the
    reason is None when nothing of the reference is in the photo (eyes shut, mouth closed)."""
    if area is None or skin_rgb is None or int(area.sum()) < min_pixels:
        return None, None
    pixels = linear_rgb[area].astype(np.float64)
    lum = _luminance(pixels.astype(np.float32)).astype(np.float64)
    skin = np.maximum(np.asarray(skin_rgb, np.float64), 1e-4)
    contrast = (skin[0] / skin[2]) / ((pixels[:, 0] + 1e-4) / (pixels[:, 2] + 1e-4))
    bright_half = lum >= np.percentile(lum, 50)
    whole = np.maximum(np.median(pixels[bright_half], axis=0), 1e-4)
    whole_contrast = float((skin[0] / skin[2]) / (whole[0] / whole[2]))
    if whole_contrast < ANCHOR_MIN_SKIN_CONTRAST:
        return None, "coloured"
    # Clipped pixels stay in: the percentile below them is still exact (burnt-out glints and a
    # brighter exposure clip the top of the white first), and one clipped channel (the teeth's
    # red) costs their luminance about 1 %; a white with more than ANCHOR_MAX_CLIPPED of its
    # pixels clipped has no level left to read.
    neutral = contrast >= ANCHOR_PIXEL_CONTRAST
    if neutral.sum() < min_pixels:
        return None, "too_few"
    level = float(np.percentile(lum[neutral], ANCHOR_PERCENTILE))
    clipped = float(np.mean(pixels[neutral].max(axis=1) >= 0.98))
    if clipped > ANCHOR_MAX_CLIPPED:
        return None, "clipped"
    spread = level / max(float(np.median(lum[neutral])), 1e-6)
    if spread > ANCHOR_MAX_SPREAD:
        return None, "uneven"
    eyes = _eye_disagreement(lum, neutral, area, min_pixels) if source == "sclera" else 1.0
    if eyes > EYE_MAX_DISAGREEMENT:
        return None, "uneven"
    lit = neutral & (lum >= np.percentile(lum[neutral], 50))
    colour = _as_white(np.maximum(np.median(pixels[lit], axis=0), 1e-4), source)
    confidence = _anchor_confidence(
        {
            "skin_contrast": whole_contrast,
            "spread": spread,
            "clipped": clipped,
            "area": float(neutral.sum()) / max(min_pixels, 1e-6),
            "eyes": eyes,
        }
    )
    return WhiteLevel(source, level, int(neutral.sum()), _rgb(colour), confidence), None


def anchor_white(levels: Sequence[WhiteLevel], unusable: dict[str, str]) -> WhiteReference | None:
    """The colour of the eye whites / teeth that anchor the exposure (`levels` less those
    `exposure_anchor` refused), weighted as they anchor (pixels times confidence): the white
    balance of a photo whose blended references (`neutral_reference`) all failed. Those judge the
    opening's whole brighter half and want it at least 0.8 times as bright as the skin, which a
    very light skin outshines at normal distance while the lit part of its eye whites is plainly
    white; without this the photo kept its camera's colour and got no skin tone though its
    exposure was anchored. Half the confidence of a reference that passed on its own.
    """
    usable = [found for found in levels if found.source not in unusable]
    if not usable:
        return None
    weights = np.array([found.pixels * max(found.confidence, 1e-3) for found in usable], dtype=np.float64)
    logs = np.log(np.maximum(np.array([found.rgb for found in usable], dtype=np.float64), 1e-6))
    rgb = np.exp((weights[:, None] * logs).sum(axis=0) / weights.sum())
    rgb /= float(_luminance(rgb[None].astype(np.float32))[0])
    main = usable[int(np.argmax(weights))]
    pixels = int(sum(found.pixels for found in usable))
    return WhiteReference(_rgb(rgb), pixels, main.source, main.level, confidence=0.5)


def _lightness(luminance: float) -> float:
    """CIELAB L* of a linear luminance (white = 1)."""
    return 116.0 * luminance ** (1 / 3) - 16.0 if luminance > 0.008856 else 903.3 * luminance


def exposure_anchor(
    levels: Sequence[WhiteLevel],
    skin_luminance: float | None,
    stats: dict,
    case_skin_luminance: float | None = None,
) -> tuple[str | None, float | None]:
    """(what sets the exposure, its gain on this photo's linear light).

    With `case_skin_luminance` (the skin lightness the photos of one consultation anchored,
    pooled: same person, same session) the photo takes that: like the shared white balance, one
    anchor for the case, so a smile that shows the teeth in one photo and not the next does not
    move the colour measures between them. Otherwise its own eye white and teeth (`white_level`).
    A reference that would make the skin lighter than any skin was in shade; of an eye white and
    teeth that disagree the darker was in shade and the brighter anchors. The rest are blended
    by weight (pixels times confidence, which falls to 0 towards each of those refusals too), a
    geometric mean of their gains, so a white near a threshold moves the exposure by little
    whether a retake keeps it or not. Why each one failed goes to `stats["anchor_unusable"]`
    ({source: reason}) for the report's words; the sources that anchor, most weight first, to
    `stats["skin_tone_anchor_sources"]` (source keys: sclera, teeth, consultation).
    """
    unusable: dict[str, str] = stats.setdefault("anchor_unusable", {})
    stats["skin_tone_anchor_sources"] = []
    if case_skin_luminance is not None and skin_luminance:
        stats["skin_tone_anchor_sources"] = ["consultation"]
        return "consultation", case_skin_luminance / skin_luminance
    gains: dict[str, float] = {}
    weights: dict[str, float] = {}
    for found in levels:
        gain = ANCHOR_TARGETS[found.source] / max(found.level, 1e-4)
        stats[f"{found.source}_white_level"] = round(found.level, 4)
        confidence = found.confidence
        if skin_luminance is not None:
            lightness = _lightness(gain * skin_luminance)
            stats[f"{found.source}_skin_lightness"] = round(lightness, 1)
            if lightness > ANCHOR_MAX_SKIN_LIGHTNESS:
                unusable[found.source] = "shaded"
                continue
            confidence *= _anchor_confidence({"skin_lightness": lightness})
        gains[found.source] = gain
        weights[found.source] = found.pixels * confidence
    if len(gains) > 1:
        # The darker white (the larger gain) was in shade: refused beyond the limit, fading
        # out towards it.
        darker = max(gains, key=lambda source: gains[source])
        disagreement = gains[darker] / min(gains.values())
        if disagreement > ANCHOR_MAX_DISAGREEMENT:
            unusable[darker] = "shaded"
            gains.pop(darker)
            weights.pop(darker)
        else:
            weights[darker] *= _anchor_confidence({"disagreement": disagreement})
    for source, weight in weights.items():
        stats[f"{source}_anchor_weight"] = round(weight, 1)
    # A white at a threshold (weight 0) still anchors when it is all there is; beside another
    # it no longer counts.
    used = [source for source in gains if weights[source] > 0.0] or list(gains)
    if not used:
        return None, None
    total = sum(weights[source] for source in used)
    share = {source: weights[source] / total if total > 0 else 1.0 / len(used) for source in used}
    gain = float(np.exp(sum(share[source] * np.log(gains[source]) for source in used)))
    stats["skin_tone_anchor_sources"] = sorted(used, key=lambda source: -share[source])
    label = " and ".join(ANCHOR_LABELS[source] for source in ANCHOR_LABELS if source in used)
    return label, gain


def _own_white_levels(
    linear_rgb: np.ndarray,
    sclera: np.ndarray | None,
    teeth: np.ndarray | None,
    skin_rgb: np.ndarray | None,
    min_pixels: float,
    stats: dict,
) -> list[WhiteLevel]:
    levels: list[WhiteLevel] = []
    unusable: dict[str, str] = stats.setdefault("anchor_unusable", {})
    for source, area in (("sclera", sclera), ("teeth", teeth)):
        found, reason = white_level(linear_rgb, area, skin_rgb, source, min_pixels)
        if found is not None:
            levels.append(found)
        elif reason is not None:
            unusable[source] = reason
    return levels


def skin_luminance(skin_rgb: np.ndarray | None) -> float | None:
    if skin_rgb is None:
        return None
    return float(_luminance(np.asarray(skin_rgb, np.float32)[None])[0])


def _warp_to_canonical(
    image_bgr: np.ndarray, points: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(canonical image, 2x3 transform, canonical landmarks, source scale)."""
    matrix = similarity_to_canonical(points, size)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    source, warp = image_bgr, matrix
    if scale < 0.7:
        # Shrinking: area-average the photo down to about 1.4x the canonical scale first (a warp
        # alone would alias; blurring a 12 MP photo at full size costs far more than this).
        factor = scale * 1.4
        source = cv2.resize(image_bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        warp = matrix.copy()
        warp[:, :2] /= factor  # maps the shrunk photo's pixels; `matrix` keeps mapping the original
    # Outside the photo stays black: a mirrored border showed a second, reflected face on oblique
    # views and handed reflected skin to the measurements.
    raw = cv2.warpAffine(source, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return raw, matrix, transform_points(points, matrix), scale


@dataclass(frozen=True)
class PhotoReferences:
    """What one photo offers its consultation before anything is measured: its white reference
    (for the shared white balance) and the skin lightness its own anchor sets (linear luminance
    of the skin patches at the anchored exposure; None without an eye white or teeth to anchor)."""

    white: WhiteReference | None
    anchored_skin_luminance: float | None


def photo_light_references(
    image_bgr: np.ndarray, points: np.ndarray, size: int = CANONICAL_SIZE
) -> PhotoReferences:
    """The photo's own references, found as `estimate_illumination` finds them, for pooling over a
    consultation before measuring (`pool_white_references`, `pool_skin_luminance`)."""
    raw, _, canonical_points, scale = _warp_to_canonical(image_bgr, points, size)
    linear = srgb_to_linear(raw[..., ::-1] / 255.0)
    skin = _skin_colour(linear, canonical_points)
    min_pixels = min_reference_pixels(canonical_points)
    sclera_area = eye_white_mask(linear, canonical_points)
    teeth = teeth_mask(canonical_points, raw.shape[:2], scale)
    sclera, _ = sclera_reference(linear, sclera_area, skin, min_pixels)
    tooth, _ = neutral_reference(linear, teeth, skin, "teeth", upper_percentile=90.0, min_pixels=min_pixels)
    white = blend_references([sclera, tooth, background_reference(image_bgr, points, skin)])
    stats: dict = {}
    levels = _own_white_levels(linear, sclera_area, teeth, skin, min_pixels, stats)
    own_skin = skin_luminance(skin)
    anchor, gain = exposure_anchor(levels, own_skin, stats)
    white = white or anchor_white(levels, stats["anchor_unusable"])
    anchored = None if anchor is None or gain is None or own_skin is None else gain * own_skin
    return PhotoReferences(white, anchored)


def photo_white_reference(
    image_bgr: np.ndarray, points: np.ndarray, size: int = CANONICAL_SIZE
) -> WhiteReference | None:
    """The photo's own white reference (eye white, teeth and background blended by confidence,
    as `estimate_illumination` does), for pooling over a case before measuring."""
    return photo_light_references(image_bgr, points, size).white


def pool_skin_luminance(values: Sequence[float | None]) -> float | None:
    """The consultation's anchored skin lightness: the median over the photos that anchored it."""
    found = [v for v in values if v is not None]
    return float(np.median(found)) if found else None


def canonicalise(
    image_bgr: np.ndarray,
    points: np.ndarray | None,
    size: int = CANONICAL_SIZE,
    white_balance: bool = True,
    shared_reference: WhiteReference | None = None,
    chart: ChartCalibration | None = None,
    case_skin_luminance: float | None = None,
) -> CanonicalFace:
    """Warp to the canonical layout and normalise illumination.

    `shared_reference`: the case's pooled eye-white colour (see `pool_white_references`).
    `chart`: a colour calibration from a chart in the photo; it replaces the eye-white balance
    (faces and close-ups); on faces the exposure is still set from the face, as on every photo.
    `case_skin_luminance`: the consultation's anchored skin lightness (`pool_skin_luminance`), the
    exposure anchor of a photo that has none of its own.

    Without landmarks (close-up of skin) the whole frame is resized to `size` on its long side
    and only measured, not colour-corrected: a frame full of skin has no neutral reference.
    """
    if points is None:
        height, width = image_bgr.shape[:2]
        factor = CLOSE_UP_SIZE / max(height, width)
        matrix = np.array([[factor, 0, 0], [0, factor, 0]], dtype=np.float64)
        new_size = (max(1, round(width * factor)), max(1, round(height * factor)))
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        raw = cv2.resize(image_bgr, new_size, interpolation=interpolation)
        linear = srgb_to_linear(raw[..., ::-1] / 255.0)
        if white_balance and chart is not None:
            illumination = {"method": "colour_chart", **chart.summary()}
            image = chart.correct(raw)
        else:
            illumination = {"method": "none (close-up: no neutral reference)", "sclera_pixels": 0}
            image = raw.copy()
        illumination.update(_light_stats(linear, None))
        return CanonicalFace(image, raw, matrix, None, illumination)

    raw, matrix, canonical_points, scale = _warp_to_canonical(image_bgr, points, size)
    linear = srgb_to_linear(raw[..., ::-1] / 255.0)
    illumination: dict = {"source_scale": round(scale, 3)}
    if white_balance:
        # The face area: exposure falls back to its bright end, and clipping is judged on it.
        hull = cv2.convexHull(np.round(canonical_points[:, :2]).astype(np.int32))
        face_area = np.zeros(raw.shape[:2], np.uint8)
        cv2.fillConvexPoly(face_area, hull, 1)
        face_area = face_area.astype(bool)
        if chart is not None:
            # The chart fixes colour and exposure (absolute): gains only guard against clipping.
            source = srgb_to_linear(chart.correct(raw)[..., ::-1] / 255.0)
            estimate = estimate_illumination(source, None, source[face_area], calibrated=True)
            estimate.update({"method": "colour_chart", **chart.summary()})
        else:
            source = linear
            skin = _skin_colour(linear, canonical_points)
            estimate = estimate_illumination(
                linear,
                eye_white_mask(linear, canonical_points),
                linear[face_area],
                skin,
                shared_reference,
                teeth_mask(canonical_points, raw.shape[:2], scale),
                background_reference(image_bgr, points, skin),
                min_pixels=min_reference_pixels(canonical_points),
                case_skin_luminance=case_skin_luminance,
            )
        gains = estimate.pop("gains")
        illumination.update(estimate)
        corrected = source * gains[None, None, :]
        balanced = (linear_to_srgb(corrected) * 255.0 + 0.5).astype(np.uint8)[..., ::-1]
        illumination.update(_light_stats(linear, canonical_points))
        # Clipping is judged on the face, where it destroys measurements (a white wall may clip).
        illumination["clipped_share_before"] = round(
            float((source[face_area].max(axis=1) >= 0.995).mean()), 4
        )
        illumination["clipped_share_after"] = round(
            float((corrected[face_area].max(axis=1) >= 1.0).mean()), 4
        )
        return CanonicalFace(np.ascontiguousarray(balanced), raw, matrix, canonical_points, illumination)
    illumination["method"] = "off"
    illumination.update(_light_stats(linear, canonical_points))
    return CanonicalFace(np.ascontiguousarray(raw.copy()), raw, matrix, canonical_points, illumination)


def _skin_colour(linear: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """Median linear RGB of small cheek and forehead patches (where skin surely is)."""
    values = []
    for index in (50, 280, 151):
        x, y = np.round(points[index, :2]).astype(int)
        patch = linear[max(y - 6, 0) : y + 6, max(x - 6, 0) : x + 6]
        if patch.size:
            values.append(patch.reshape(-1, 3))
    return np.median(np.concatenate(values), axis=0) if values else None


def _light_stats(linear: np.ndarray, points: np.ndarray | None) -> dict:
    """Recorded, not corrected: mean luminance, clipping and the left/right light balance."""
    lum = _luminance(linear)
    stats = {
        "mean_luminance_before": round(float(lum.mean()), 4),
        "clipped_share_before": round(float((linear.max(axis=2) >= 0.995).mean()), 4),
    }
    if points is not None and points.shape[0] >= 468:
        # Cheek patches under each eye: a strong difference means directional light.
        def patch_mean(index: int) -> float:
            x, y = np.round(points[index, :2]).astype(int)
            h, w = lum.shape
            y0, y1, x0, x1 = max(y - 8, 0), min(y + 8, h), max(x - 8, 0), min(x + 8, w)
            return float(lum[y0:y1, x0:x1].mean()) if y1 > y0 and x1 > x0 else float("nan")

        right, left = patch_mean(50), patch_mean(280)  # cheek points under each eye
        if np.isfinite(right) and np.isfinite(left) and max(right, left) > 0:
            stats["cheek_light_ratio"] = round(min(right, left) / max(right, left), 3)
    return stats
