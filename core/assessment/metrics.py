"""Metric maths on filter-bank maps and region masks (pure numpy/OpenCV, no I/O).

Every metric returns a raw value in a stated unit; `score_and_band` maps it to a 0-100 score
where higher always means "more of the finding" (ITA is the exception: it describes skin tone,
its band is the ITA category). The score ranges are heuristic and NOT clinically calibrated;
they make regions and visits comparable, which is what the portal needs from a measurement.

Score slopes follow each measure's spread across people, not a guess: for redness, tone evenness,
under-eye and symmetry, `low`/`high` were fitted by `benchmarks/eval_repeatability.py --fit-scores`
(one half of the labelled photos of ../shared/testdata, split by a hash of the file name; checked
on the other half): mild starts near the 75th percentile of people and each 25-point band is one
robust SD (1.4826 MAD) wide, so two retakes of one face (whose noise is a fraction of that SD)
seldom land in different bands. Redness was 10-25 a*: a 2 % change in a* moved the score by up to
14 points. The other measures keep their ranges: their population median is zero (counts, red
area, shine, line share), their fitted spread is close to the range already (texture), or the
fit's MAD misses their long tail (melanin, pores), which would mark a sixth of people "marked".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

BANDS = ("minimal", "mild", "moderate", "marked")
MAX_SPOT_ELONGATION = 2.5  # major/minor axis ratio above which a dark shape is a line, not a spot
RED_AREA_EXCESS = 8.0  # a* units above the patient's median skin that count as "markedly redder"


@dataclass(frozen=True)
class MetricSpec:
    unit: str
    low: float  # value that scores 0
    high: float  # value that scores 100
    description: str
    colour_dependent: bool = False
    detail_dependent: bool = False  # needs fine detail: less reliable when the face was upsampled


METRIC_SPECS: dict[str, MetricSpec] = {
    "ita": MetricSpec(
        "deg", 70.0, -40.0, "Individual typology angle from L*, b* (higher = lighter skin)", True
    ),
    "redness": MetricSpec("a*", 13.0, 50.5, "Mean CIELAB a* of the region", True),
    "red_area": MetricSpec(
        "%", 2.0, 35.0, "Share of skin >8 a* units redder than the patient's own median skin", True
    ),
    "inflammatory_spots": MetricSpec("count", 0.0, 15.0, "Small red raised-looking spots (a* peaks)", True),
    "melanin": MetricSpec("MI", 20.0, 100.0, "Mean melanin index 100*log10(1/R)", True),
    "brown_spots": MetricSpec("count", 0.0, 10.0, "Dark, non-red spots 1.5-12 mm", True),
    "tone_evenness": MetricSpec("dE", 3.15, 12.3, "Spread of low-passed L*, a* (higher = less even)", True),
    "wrinkles": MetricSpec(
        "%", 0.5, 10.0, "Share of the region covered by line-shaped valleys", detail_dependent=True
    ),
    "texture": MetricSpec("L*", 0.6, 3.0, "RMS fine-scale L* variation (roughness)", detail_dependent=True),
    "pores": MetricSpec(
        "/1000px", 2.0, 25.0, "Pore-sized dark blobs per 1000 canonical pixels", detail_dependent=True
    ),
    "shine": MetricSpec("%", 0.5, 12.0, "Share of specular highlight pixels", True),
    # The orbit shades every under-eye a few L* below the cheek: that much is normal and scores 0.
    "under_eye": MetricSpec("L*", 7.8, 29.4, "How much darker the under-eye is than the cheek below", True),
    "symmetry": MetricSpec(
        "% IOD", 5.45, 19.4, "Mean left/right landmark mismatch after mirroring (higher = less symmetric)"
    ),
}

ITA_CATEGORIES = (
    (55.0, "very light"),
    (41.0, "light"),
    (28.0, "intermediate"),
    (10.0, "tan"),
    (-30.0, "brown"),
)


def ita_category(ita: float) -> str:
    for threshold, name in ITA_CATEGORIES:
        if ita > threshold:
            return name
    return "dark"


def score_and_band(metric: str, value: float) -> tuple[float, str]:
    spec = METRIC_SPECS.get(metric)
    if spec is None or not math.isfinite(value):
        return float("nan"), "n/a"
    fraction = (value - spec.low) / (spec.high - spec.low)
    # The band comes from the score as reported (rounded), so a shown 25 is never "minimal".
    score = round(float(np.clip(fraction, 0.0, 1.0) * 100.0), 1)
    if metric == "ita":
        return score, ita_category(value)
    return score, BANDS[min(int(score // 25), 3)]


def ita_degrees(lightness: float, b_star: float) -> float:
    return float(math.degrees(math.atan2(lightness - 50.0, b_star)))


# The filter-bank maps whose values follow the light's exposure: CIELAB and the maps built on it
# linearly (spot-sized dark / red blobs) and the melanin index. Structure maps (lines, roughness,
# pores, shine) describe shape, not colour, and keep the face's own exposure.
EXPOSURE_SCALED_MAPS = ("blob_dark", "blob_red")


def anchor_exposure(maps: dict[str, np.ndarray], ratio: float) -> dict[str, np.ndarray]:
    """The colour maps as they read when the photo's linear light is scaled by `ratio`.

    One function for every colour measure (skin tone, redness, red area, melanin, brown and red
    spots, tone evenness, under-eye): the exposure anchor (a white that is not skin) sets how
    bright the skin really is, and this re-exposes the face-exposed maps to it, so a darker skin is
    not brightened into a lighter one (nor a lighter one darkened) before it is measured.
    Exact on CIELAB's cube-root branch (all skin): L* + 16 and a*, b* scale by ratio^(1/3);
    the melanin index 100*log10(1/R) drops by 100*log10(ratio); the erythema index (a ratio of
    two channels) does not change. Analytic, so nothing clips however bright the anchor says.
    """
    if ratio == 1.0:
        return maps
    cube = float(ratio) ** (1 / 3)
    out = dict(maps)
    lab = maps["lab"].astype(np.float32)
    luminance = np.where(lab[..., 0] > 8.0, ((lab[..., 0] + 16.0) / 116.0) ** 3, lab[..., 0] / 903.3)
    scaled = luminance * ratio
    lightness = np.where(scaled > 0.008856, 116.0 * np.cbrt(scaled) - 16.0, 903.3 * scaled)
    out["lab"] = np.stack([lightness, lab[..., 1] * cube, lab[..., 2] * cube], axis=-1).astype(np.float32)
    out["melanin"] = (maps["melanin"] - 100.0 * np.log10(ratio)).astype(np.float32)
    for name in EXPOSURE_SCALED_MAPS:
        if name in maps:
            out[name] = (maps[name] * cube).astype(np.float32)
    return out


def masked_blur(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian mean of `values` over `mask` only (normalised convolution): background from skin alone."""
    weight = mask.astype(np.float32)
    numerator = cv2.GaussianBlur(values.astype(np.float32) * weight, (0, 0), sigma)
    denominator = cv2.GaussianBlur(weight, (0, 0), sigma)
    return numerator / np.maximum(denominator, 1e-3)


@dataclass
class Spot:
    kind: str  # "brown" | "red"
    region: str
    x: float
    y: float
    area_px: int
    contrast: float  # L* darker than surroundings (brown) or a* redder (red)
    solidity: float
    bbox: tuple[int, int, int, int]  # x, y, w, h in canonical pixels

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "region": self.region,
            "x": round(self.x, 1),
            "y": round(self.y, 1),
            "area_px": self.area_px,
            "contrast": round(self.contrast, 2),
            "solidity": round(self.solidity, 3),
            "bbox": list(self.bbox),
        }


@dataclass
class MapAnalysis:
    """Derived per-pixel quantities shared by several metrics (and the overlays)."""

    lightness: np.ndarray
    a_star: np.ndarray
    b_star: np.ndarray
    skin: np.ndarray
    baseline_l: float
    baseline_a: float
    redness_excess: np.ndarray  # smoothed a* minus baseline
    line_mask: np.ndarray
    spots: list[Spot] = field(default_factory=list)


def exclude_non_skin(
    masks: dict[str, np.ndarray], lab: np.ndarray, reference: list[str]
) -> dict[str, np.ndarray]:
    """Remove large patches far from the patient's skin colour (hair fringe, glasses, shadows).

    Only components above ~300 px go, so a small very dark spot stays measurable (and flaggable).
    """
    ref = [masks[name] for name in reference if name in masks and masks[name].sum() >= 80]
    if not ref:
        return masks
    pooled = np.logical_or.reduce(ref)
    median = np.median(lab[pooled], axis=0)
    # Much darker (hair, brows, frames, deep shadow) or clearly another hue (grey hair, fabric);
    # brighter-lit skin is still skin, so lightness counts only downwards.
    # Redder skin (lower hue angle, more chroma) must stay: it is a finding, not a foreign object.
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))
    skin_chroma = float(np.hypot(median[1], median[2]))
    skin_hue = float(np.degrees(np.arctan2(median[2], median[1])))
    far_mask = (
        (lab[..., 0] < median[0] - 30.0)
        | ((chroma < 0.45 * skin_chroma) & (lab[..., 0] < median[0] + 8.0))  # not highlights (shine)
        | (hue > skin_hue + 12.0)
        | (hue < skin_hue - 45.0)
    )
    far = cv2.morphologyEx(far_mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(far, connectivity=8)
    labels = np.asarray(labels, np.int32)  # CV_32S labels (OpenCV's stubs say only "a Mat")
    large = np.zeros(count, bool)
    large[1:] = stats[1:, cv2.CC_STAT_AREA] >= 300
    drop = cv2.dilate(large[labels].astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    return {name: (mask & ~drop) if name != "lips" else mask for name, mask in masks.items()}


def region_of_point(masks: dict[str, np.ndarray], x: float, y: float) -> str | None:
    xi, yi = int(round(x)), int(round(y))
    for name, mask in masks.items():
        if 0 <= yi < mask.shape[0] and 0 <= xi < mask.shape[1] and mask[yi, xi]:
            return name
    return None


def _components(
    binary: np.ndarray, min_area: int, max_area: int
) -> list[tuple[np.ndarray, tuple[int, int, int, int], float]]:
    """Connected components as (pixel mask within bbox, bbox, solidity)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    found = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < min_area or area > max_area:
            continue
        patch = labels[y : y + h, x : x + w] == label
        contours, _ = cv2.findContours(patch.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        hull_area = cv2.contourArea(cv2.convexHull(np.vstack(contours))) if contours else 0.0
        solidity = float(min(1.0, area / hull_area)) if hull_area > 0 else 1.0
        found.append((patch, (x, y, w, h), solidity))
    return found


def find_spots(
    kind: str,
    candidate: np.ndarray,
    contrast_map: np.ndarray,
    masks: dict[str, np.ndarray],
    min_area: int,
    max_area: int,
    on_lines: np.ndarray | None = None,
) -> list[Spot]:
    spots = []
    for patch, (x, y, w, h), solidity in _components(candidate, min_area, max_area):
        if on_lines is not None and on_lines[y : y + h, x : x + w][patch].mean() > 0.3:
            continue  # a dark stretch of a line (wrinkle, glasses frame), not a spot
        ys, xs = np.nonzero(patch)
        # Spots are roundish: thin elongated dark shapes are frames of glasses, folds and lashes.
        eigen = np.linalg.eigvalsh(np.cov(np.stack([xs, ys])) + np.eye(2) / 12.0)
        if math.sqrt(eigen[1] / eigen[0]) > MAX_SPOT_ELONGATION:
            continue
        cx, cy = float(xs.mean() + x), float(ys.mean() + y)
        region = region_of_point(masks, cx, cy)
        if region is None:
            continue
        contrast = float(contrast_map[y : y + h, x : x + w][patch].mean())
        spots.append(Spot(kind, region, cx, cy, int(patch.sum()), contrast, solidity, (x, y, w, h)))
    return spots


def elongated_line_mask(
    strength: np.ndarray, allowed: np.ndarray, threshold: float, min_length: float
) -> np.ndarray:
    """Pixels of line-shaped components (length >= min_length, elongation >= 3) of strength >= threshold."""
    # Hysteresis: a line is grown from strong seeds into weaker pixels along it.
    binary = (strength >= 0.6 * threshold) & allowed
    count, labels = cv2.connectedComponents(binary.astype(np.uint8), connectivity=8)
    labels = np.asarray(labels, np.int32)  # CV_32S labels (OpenCV's stubs say only "a Mat")
    seeded = np.zeros(count, bool)
    seeded[np.unique(labels[(strength >= threshold) & binary])] = True
    seeded[0] = False
    labels = np.where(seeded[labels], labels, 0)
    if count <= 1:
        return np.zeros_like(binary)
    ys, xs = np.nonzero(labels)
    lab = labels[ys, xs]
    n = np.maximum(np.bincount(lab, minlength=count).astype(np.float64), 1.0)
    mx = np.bincount(lab, xs, count) / n
    my = np.bincount(lab, ys, count) / n
    cxx = np.bincount(lab, xs * xs, count) / n - mx**2
    cyy = np.bincount(lab, ys * ys, count) / n - my**2
    cxy = np.bincount(lab, xs * ys, count) / n - mx * my
    half_trace = (cxx + cyy) / 2
    spread = np.sqrt(np.maximum(((cxx - cyy) / 2) ** 2 + cxy**2, 0))
    major = np.sqrt(np.maximum(half_trace + spread, 0)) + 0.29  # +1/sqrt(12): a pixel's own extent
    minor = np.sqrt(np.maximum(half_trace - spread, 0)) + 0.29
    length = 2 * math.sqrt(3) * major  # uniform bar of this spread
    keep = (length >= min_length) & (major / minor >= 3.0)
    keep[0] = False
    return keep[labels]


def analyse_maps(
    maps: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    ridge_threshold: float = 2.0,
    min_line_length: float = 12.0,
) -> MapAnalysis:
    lab = maps["lab"]
    lightness, a_star, b_star = lab[..., 0], lab[..., 1], lab[..., 2]
    skin_regions = [m for name, m in masks.items() if name != "lips"]
    skin = np.logical_or.reduce(skin_regions) if skin_regions else np.ones(lightness.shape, bool)
    # Exclude very dark / blown-out pixels (hair, nostrils, highlights) from the baseline.
    usable = skin & (lightness > 8) & (lightness < 98)
    if usable.sum() < 50:
        usable = skin
    baseline_l = float(np.median(lightness[usable])) if usable.any() else float("nan")
    baseline_a = float(np.median(a_star[usable])) if usable.any() else float("nan")
    eroded = cv2.erode(skin.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)

    background_l = masked_blur(lightness, usable, 10.0)
    background_a = masked_blur(a_star, usable, 10.0)
    darker = background_l - lightness
    redder = cv2.GaussianBlur(a_star, (0, 0), 1.0) - background_a

    masks_no_lips = {k: v for k, v in masks.items() if k != "lips"}
    # Exclusive classes: pigment is mainly darker, inflammation mainly redder (papules also darken).
    brown_like = redder < 0.5 * np.maximum(darker, 0) + 2.0
    brown_candidate = eroded & (darker >= 5.0) & (maps["blob_dark"] >= 1.0) & brown_like
    red_candidate = eroded & (redder >= 5.0) & (maps["blob_red"] >= 1.0) & ~brown_like
    line_mask = elongated_line_mask(maps["ridge"], eroded, ridge_threshold, min_line_length)
    # Long lines only (twice the wrinkle minimum) so a spot's own short valley does not veto it.
    long_lines = elongated_line_mask(maps["ridge"], eroded, ridge_threshold, 2 * min_line_length)
    near_lines = cv2.dilate(long_lines.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    spots = find_spots("brown", brown_candidate, darker, masks_no_lips, 6, 700, near_lines)
    spots += find_spots("red", red_candidate, redder, masks_no_lips, 6, 700)

    redness_excess = cv2.GaussianBlur(a_star, (0, 0), 2.0) - baseline_a
    return MapAnalysis(
        lightness, a_star, b_star, skin, baseline_l, baseline_a, redness_excess, line_mask, spots
    )


def local_maxima_count(values: np.ndarray, mask: np.ndarray, threshold: float) -> int:
    dilated = cv2.dilate(values, np.ones((3, 3), np.uint8))
    peaks = (values >= dilated) & (values >= threshold) & mask
    return int(peaks.sum())


def region_values(
    metric: str, region: str, mask: np.ndarray, maps: dict[str, np.ndarray], analysis: MapAnalysis
) -> tuple[float, dict] | None:
    """Raw value and details of one metric on one region; None when not measurable there."""
    area = int(mask.sum())
    if area < 80:
        return None
    lightness, a_star = analysis.lightness, analysis.a_star
    if metric == "ita":
        lm, bm = float(np.median(lightness[mask])), float(np.median(analysis.b_star[mask]))
        return ita_degrees(lm, bm), {"L": round(lm, 2), "b": round(bm, 2)}
    if metric == "redness":
        erythema = float(np.mean(maps["erythema"][mask]))
        return float(np.mean(a_star[mask])), {"erythema_index": round(erythema, 2)}
    if metric == "red_area":
        share = float(np.mean(analysis.redness_excess[mask] > RED_AREA_EXCESS) * 100)
        return share, {"baseline_a": round(analysis.baseline_a, 2)}
    if metric in {"inflammatory_spots", "brown_spots"}:
        kind = "red" if metric == "inflammatory_spots" else "brown"
        spots = [s for s in analysis.spots if s.kind == kind and s.region == region]
        details = {
            "area_share_pct": round(100 * sum(s.area_px for s in spots) / area, 3),
            "mean_contrast": round(float(np.mean([s.contrast for s in spots])), 2) if spots else 0.0,
        }
        return float(len(spots)), details
    if metric == "melanin":
        return float(np.mean(maps["melanin"][mask])), {}
    if metric == "tone_evenness":
        # Band-pass (3-20 px): blotchiness, not the light falling off across the face.
        low_l = (cv2.GaussianBlur(lightness, (0, 0), 3.0) - masked_blur(lightness, analysis.skin, 20.0))[mask]
        low_a = (cv2.GaussianBlur(a_star, (0, 0), 3.0) - masked_blur(a_star, analysis.skin, 20.0))[mask]
        spread = float(np.sqrt(np.var(low_l) + np.var(low_a)))
        return spread, {"L_sd": round(float(np.std(low_l)), 2), "a_sd": round(float(np.std(low_a)), 2)}
    if metric == "wrinkles":
        lines = analysis.line_mask & mask
        density = float(lines.sum() / area * 100)
        depth = float(np.mean(maps["ridge"][lines])) if lines.any() else 0.0
        return density, {"depth_proxy": round(depth, 2), "line_pixels": int(lines.sum())}
    if metric == "texture":
        return float(np.mean(maps["roughness"][mask])), {}
    if metric == "pores":
        count = local_maxima_count(maps["blob_dark_fine"], mask, 0.8)
        return count / area * 1000.0, {"count": count}
    if metric == "shine":
        return float(np.mean(maps["specular"][mask] > 0.5) * 100), {}
    raise KeyError(metric)


# Landmark pairs mirrored across the face midline (patient's right, patient's left).
SYMMETRY_PAIRS = (
    (33, 263), (133, 362), (159, 386), (145, 374), (70, 300), (105, 334), (107, 336), (46, 276),
    (61, 291), (40, 270), (91, 321), (129, 358), (98, 327), (48, 278), (50, 280), (205, 425),
    (234, 454), (93, 323), (132, 361), (58, 288), (172, 397), (136, 365), (150, 379), (149, 378),
    (176, 400), (148, 377),
)  # fmt: skip
MIDLINE = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 2, 0, 13, 14, 17, 18, 200, 199, 175, 152)


def rigid_align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`source` moved by the rotation + translation (Kabsch, no reflection) that best fits `target`."""
    source_centre, target_centre = source.mean(axis=0), target.mean(axis=0)
    u, _, vt = np.linalg.svd((source - source_centre).T @ (target - target_centre))
    correction = np.eye(source.shape[1])
    correction[-1, -1] = np.sign(np.linalg.det(u @ vt))
    rotation = u @ correction @ vt
    return (source - source_centre) @ rotation + target_centre


def landmark_asymmetry(points: np.ndarray) -> float:
    """Mean mismatch between the face and its own mirror image, % of the inter-ocular distance.

    The landmarks are mirrored (x negated, left/right pairs swapped) and rigidly fitted back onto
    the face in 3D when the landmarks carry depth. A turned or tilted head is then the same face
    in another pose and adds no asymmetry; a plain 2D mirror would read a small turn as a lopsided face.
    """
    dims = 3 if points.shape[1] >= 3 else 2
    p = points[:, :dims].astype(np.float64)
    right = [a for a, _ in SYMMETRY_PAIRS]
    left = [b for _, b in SYMMETRY_PAIRS]
    original = np.concatenate([p[right], p[left], p[list(MIDLINE)]])
    mirrored = np.concatenate([p[left], p[right], p[list(MIDLINE)]])
    mirrored[:, 0] *= -1
    fitted = rigid_align(mirrored, original)
    mismatch = np.linalg.norm(fitted - original, axis=1)[: 2 * len(SYMMETRY_PAIRS)]
    iod = float(np.linalg.norm(p[[33, 133]].mean(axis=0) - p[[362, 263]].mean(axis=0)))
    # The mirror fit splits each pair's mismatch between its two points; the sum per pair is
    # what the 2D mirror reported, so the scale (and the score bands) stay as they were.
    return float(mismatch.mean() * 2 / max(iod, 1e-6) * 100)
