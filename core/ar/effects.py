"""AR treatment previews: each effect changes only its anatomical region, with feathered edges.

Everything works on the face's bounding-box crop, with region masks rasterised at a reduced
resolution and feathered there, so that all effects together stay within a video frame budget
(~10 ms on one core at 640x480 beside ~10 ms of landmark tracking; see benchmarks/bench_ar.py).

Treatments (intensity 0..1 each; several combine in a fixed, anatomically sensible order):
- `skin`      resurfacing: frequency separation on an edge-preserving (bilateral) base, the
              texture layer (pores, fine roughness) attenuated on the skin mask.
- `redness`   IPL: the a* (red-green) excess over the face's own normal tone is reduced (Lab).
- `pigment`   spots / uneven tone: local L* and b* pulled toward the regional smooth base.
- `under_eye` tear-trough brightening: L* lifted toward the cheek level, a dark cast reduced.
- `lines`     forehead, glabella and crow's-feet lines: dark ridges filled toward the local base
              (grey-level closing = the brighter surrounding skin).
- `lips`      filler: each lip grows away from the mouth line by a share of its own height
              (smooth displacement, tapered toward the mouth corners, relaxed over a bounded
              band of skin); the vermilion border moves out but stays sharp (no flat scaling),
              the teeth do not move; plus a touch more colour in the vermilion.
- `contour`   optional soft cheekbone highlight / jawline definition.

`simulate()` returns the image with the simulation mark (`watermark()`), the only place that
draws it; `apply_treatments()` is the unmarked composition used by `simulate()` and by tests.
"""

from __future__ import annotations

import collections
import functools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.vision.landmarks import Landmarks, points_px
from core.vision.regions import INNER_LIP_MIDDLE, MOUTH_CORNERS, region_polygons, skin_mask

TREATMENTS: tuple[str, ...] = ("skin", "redness", "pigment", "under_eye", "lines", "lips", "contour")
TREATMENT_LABELS: dict[str, str] = {
    "skin": "Skin resurfacing (texture, pores)",
    "redness": "Redness (IPL)",
    "pigment": "Pigment / uneven tone",
    "under_eye": "Under-eye brightening",
    "lines": "Lines (forehead, glabella, crow's feet)",
    "lips": "Lip filler",
    "contour": "Contour (cheekbones, jaw)",
}
WATERMARK_TEXT = "SIMULATION - not a guaranteed result"

# Which regions (from core.vision.regions) each treatment may touch. SKIN is the whole facial
# skin (`skin_mask`: face oval minus eyes, brows, lips and nostrils).
SKIN: tuple[str, ...] = ("skin",)
LINE_REGIONS: tuple[str, ...] = ("forehead", "glabella", "crows_feet_left", "crows_feet_right")
UNDER_EYE_REGIONS: tuple[str, ...] = ("under_eye_left", "under_eye_right")
CHEEK_REGIONS: tuple[str, ...] = ("cheek_left", "cheek_right")
# The region each treatment is for: its changes stay inside, up to a feathered edge (the lips
# warp also pushes the skin next to the lips a little).
TREATMENT_REGIONS: dict[str, tuple[str, ...]] = {
    "skin": SKIN,
    "redness": SKIN,
    "pigment": SKIN,
    "under_eye": UNDER_EYE_REGIONS,
    "lines": LINE_REGIONS,
    "lips": ("lips",),
    "contour": CHEEK_REGIONS,
}

# Strength at intensity 1, in L* units at the core of the region's mask. Chosen so each effect
# is clearly visible on real front photos (mean CIE76 dE >= 3 inside its region) and about half
# that at intensity 0.5; see tests/ar/test_effects.py.
UNDER_EYE_BRIGHTENING = 8.0  # on top of lifting the shadow to the cheek level
CONTOUR_HIGHLIGHT = 9.0

# MediaPipe Face Mesh lip landmarks (FACEMESH_LIPS).
LIP_CORNER_LEFT, LIP_CORNER_RIGHT = MOUTH_CORNERS
LIP_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIP_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIP_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIP_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
FACE_LEFT_EDGE, FACE_RIGHT_EDGE = 234, 454  # cheek contour at eye level: face width
# The skin beyond a grown lip takes up the displacement over this many lip heights.
LIP_FALLOFF = 1.5
# Extra saturation of the vermilion at intensity 1 (a subtle touch: filler is mainly volume).
LIP_CHROMA_GAIN = 0.15
# The lip warp field is computed at about this many samples per half mouth width.
LIP_FIELD_SAMPLES = 32


@dataclass(frozen=True)
class SimulationOptions:
    crop_margin: float = (
        0.04  # share of the face size added around the landmark bounding box (all masks lie inside it)
    )
    mask_working_size: int = 128  # masks are rasterised with this many pixels across the face
    feather: float = 0.018  # feather sigma as a share of the face width
    lips_growth: float = 0.4  # each lip's extra height at the centre at intensity 1 (share of its height)


@dataclass
class SimulationResult:
    image: np.ndarray  # BGR uint8, watermarked
    changed_mask: np.ndarray  # bool (H, W): pixels any effect may have changed
    applied: dict[str, float] = field(default_factory=dict)


class NoFaceError(ValueError):
    """The image has no detectable face, so no treatment can be placed."""


class FaceContext:
    """One face in one image: the working crop, its geometry and lazily built feathered masks.

    Geometry only (the image's size, never its pixels), so one context serves every frame of
    the same size with the same landmarks (`_face_context`).
    """

    def __init__(
        self, image_shape: tuple[int, ...], landmarks: Landmarks, options: SimulationOptions
    ) -> None:
        self.options = options
        self.points_full = points_px(landmarks)
        height, width = image_shape[:2]
        x_min, y_min = self.points_full.min(axis=0)
        x_max, y_max = self.points_full.max(axis=0)
        margin = options.crop_margin * max(x_max - x_min, y_max - y_min)
        self.x0 = int(max(0, math.floor(x_min - margin)))
        self.y0 = int(max(0, math.floor(y_min - margin)))
        self.x1 = int(min(width, math.ceil(x_max + margin)))
        self.y1 = int(min(height, math.ceil(y_max + margin)))
        if self.x1 - self.x0 < 16 or self.y1 - self.y0 < 16:
            raise NoFaceError("face is too small or outside the image")
        self.crop_shape = (self.y1 - self.y0, self.x1 - self.x0)
        self.points = self.points_full - np.array([self.x0, self.y0], dtype=np.float32)
        self.face_width = float(
            max(
                np.linalg.norm(self.points[FACE_LEFT_EDGE] - self.points[FACE_RIGHT_EDGE]),
                x_max - x_min,
                16.0,
            )
        )
        self._landmarks = landmarks
        self._polygons: dict[str, np.ndarray] | None = None
        self._masks: dict[tuple[str, ...], np.ndarray] = {}
        self._boxes: dict[tuple[str, ...], tuple[slice, slice]] = {}
        self._skin_small: np.ndarray | None = None
        # Masks are drawn at `scale` of the crop, then blurred and resized: cheap feathering.
        self.mask_scale = min(1.0, options.mask_working_size / self.face_width)

    @property
    def polygons(self) -> dict[str, np.ndarray]:
        if self._polygons is None:
            offset = np.array([self.x0, self.y0], dtype=np.float32)
            self._polygons = {name: poly - offset for name, poly in region_polygons(self._landmarks).items()}
        return self._polygons

    def mask(self, regions: tuple[str, ...], feather_scale: float = 1.0) -> np.ndarray:
        """Feathered union of `regions`, float32 0..1 at crop size (cached)."""
        key = (*regions, f"f{feather_scale}")
        cached = self._masks.get(key)
        if cached is not None:
            return cached
        scale = self.mask_scale
        small_h = max(4, round(self.crop_shape[0] * scale))
        small_w = max(4, round(self.crop_shape[1] * scale))
        if regions == SKIN:
            small = self._small_skin((small_h, small_w)).copy()
            drawn = True
        else:
            small = np.zeros((small_h, small_w), dtype=np.uint8)
            polygons = [
                np.round(self.polygons[name] * scale).astype(np.int32)
                for name in regions
                if name in self.polygons
            ]
            drawn = bool(polygons)
            if polygons:
                cv2.fillPoly(small, polygons, 255)
                if regions != ("lips",):  # region outlines are hulls: keep eyes, brows, lips, nostrils out
                    small = cv2.bitwise_and(small, self._small_skin(small.shape))
        sigma = max(0.6, self.options.feather * feather_scale * self.face_width * scale)
        if drawn:
            # Thin regions (under-eye) get a narrower feather so they keep a solid core.
            half_thickness = float(cv2.distanceTransform(small, cv2.DIST_L2, 3).max())
            sigma = max(0.6, min(sigma, 0.4 * half_thickness))
        # Erode by ~1 sigma first: the feather then sits mostly inside the region outline
        # (16 % at the outline, ~2 % one sigma outside).
        erode = int(round(sigma))
        if erode > 0:
            small = cv2.erode(small, _ellipse_kernel(2 * erode + 1))
        blurred = cv2.GaussianBlur(small.astype(np.float32) * (1.0 / 255.0), (0, 0), sigma)
        # A thin region (the under-eye strips) never reaches 1 after erosion and blur; scale its
        # peak to 1 so an effect at full intensity is at full strength in the region's core
        # (the feather keeps its shape; large regions already peak at 1 and are unchanged).
        peak = float(blurred.max())
        if 0.0 < peak < 1.0:
            blurred *= 1.0 / peak
        mask = cv2.resize(blurred, (self.crop_shape[1], self.crop_shape[0]), interpolation=cv2.INTER_LINEAR)
        mask[mask < 0.02] = 0.0  # exact zero outside: untouched pixels stay bit-identical
        self._masks[key] = mask
        # Bounding box of the non-zero part, so local effects touch only that window.
        x, y, w, h = cv2.boundingRect((blurred >= 0.02).astype(np.uint8))
        if w == 0 or h == 0:
            self._boxes[key] = (slice(0, 0), slice(0, 0))
        else:
            inv = 1.0 / scale
            y0, x0 = max(0, int((y - 1) * inv)), max(0, int((x - 1) * inv))
            y1 = min(self.crop_shape[0], int(math.ceil((y + h + 1) * inv)))
            x1 = min(self.crop_shape[1], int(math.ceil((x + w + 1) * inv)))
            self._boxes[key] = (slice(y0, y1), slice(x0, x1))
        return mask

    def _small_skin(self, shape: tuple[int, int]) -> np.ndarray:
        """uint8 0/255 skin (face oval minus eyes, brows, lips, nostrils) at mask resolution."""
        if self._skin_small is None or self._skin_small.shape != shape:
            self._skin_small = skin_mask(self.points * self.mask_scale, shape).astype(np.uint8) * 255
        return self._skin_small

    def box(self, regions: tuple[str, ...], feather_scale: float = 1.0) -> tuple[slice, slice]:
        """(rows, cols) window holding every non-zero pixel of `mask(regions, feather_scale)`."""
        self.mask(regions, feather_scale)
        return self._boxes[(*regions, f"f{feather_scale}")]


_CONTEXT_CACHE_SIZE = 8  # a few live rooms, each with one current face
# Only video-sized faces are kept: a context holds a float32 mask per region set at crop size
# (~0.5 MB each for a 640x480 frame's face), and a full-resolution photo's would be ~100x that.
_CONTEXT_CACHE_MAX_CROP_PIXELS = 400_000
_contexts: collections.OrderedDict[tuple, FaceContext] = collections.OrderedDict()
_contexts_lock = threading.Lock()


def _face_context(
    image_shape: tuple[int, ...], landmarks: Landmarks, options: SimulationOptions
) -> FaceContext:
    """The FaceContext for these exact points, image size and options, reused while they recur.

    A live view composes every camera frame but gets new landmarks on only some of them (the
    landmark rate is capped), and a slider change re-simulates the same photo: the region masks
    are then rebuilt for nothing. Keyed on the points' bytes, so an array changed in place is a
    new key, never a stale mask.
    """
    points = np.ascontiguousarray(points_px(landmarks))
    key = (points.tobytes(), points.shape, tuple(image_shape[:2]), options)
    with _contexts_lock:
        context = _contexts.get(key)
        if context is not None:
            _contexts.move_to_end(key)
            return context
    context = FaceContext(image_shape, landmarks, options)
    if context.crop_shape[0] * context.crop_shape[1] > _CONTEXT_CACHE_MAX_CROP_PIXELS:
        return context
    with _contexts_lock:
        _contexts[key] = context
        while len(_contexts) > _CONTEXT_CACHE_SIZE:
            _contexts.popitem(last=False)
    return context


@functools.lru_cache(maxsize=64)
def _ellipse_kernel(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def _odd(value: float) -> int:
    size = max(3, int(round(value)))
    return size if size % 2 else size + 1


def _masked_blur(channels: np.ndarray, mask: np.ndarray, sigma: float, scale: float) -> np.ndarray:
    """Normalised-convolution blur of (H, W, C) `channels` over `mask` (no bleed from hair/background).

    Done at `scale` resolution: the base is smooth anyway, and this keeps large sigmas cheap.
    """
    height, width = mask.shape
    small_size = (max(4, round(width * scale)), max(4, round(height * scale)))
    weight = cv2.resize(mask, small_size, interpolation=cv2.INTER_AREA) + 1e-4
    values = cv2.resize(channels * mask[..., None], small_size, interpolation=cv2.INTER_AREA)
    small_sigma = max(0.8, sigma * scale)
    blurred_weight = cv2.GaussianBlur(weight, (0, 0), small_sigma)
    base = np.divide(cv2.GaussianBlur(values, (0, 0), small_sigma), blurred_weight[..., None])
    return cv2.resize(base, (width, height), interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)


# --- effects on the crop -------------------------------------------------------------------------
# BGR effects take/return float32 BGR 0..255; Lab effects modify a float32 Lab image in place.


def _effect_skin(bgr: np.ndarray, ctx: FaceContext, intensity: float) -> np.ndarray:
    mask = ctx.mask(SKIN)
    half = cv2.resize(bgr, (bgr.shape[1] // 2, bgr.shape[0] // 2), interpolation=cv2.INTER_AREA)
    space_sigma = max(1.5, ctx.face_width * 0.012)
    base_half = cv2.bilateralFilter(half, d=5, sigmaColor=22.0, sigmaSpace=space_sigma)
    base = cv2.resize(base_half, (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_LINEAR)
    # Frequency separation: texture = image - edge-preserving base; keep 15 % of it at full
    # intensity so the skin does not turn to plastic.
    weight = (0.85 * intensity) * mask
    return cv2.blendLinear(bgr, base, 1.0 - weight, weight)  # one pass: bgr*(1-w) + base*w


def _effect_redness(lab: list[np.ndarray], ctx: FaceContext, intensity: float) -> None:
    rows, cols = ctx.box(SKIN)
    mask = ctx.mask(SKIN)[rows, cols]
    a_star = lab[1][rows, cols]
    selected = a_star[::2, ::2][mask[::2, ::2] > 0.5]  # every 4th pixel is plenty for a median
    if not selected.size:
        return
    # Only the excess over the face's own typical tone is treated, so the face keeps its
    # colour (a global a* cut would turn it grey).
    normal_a = float(np.median(selected))
    a_star -= (0.85 * intensity) * mask * np.maximum(a_star - normal_a, 0.0)


def _effect_pigment(lab: list[np.ndarray], ctx: FaceContext, intensity: float) -> None:
    rows, cols = ctx.box(SKIN)
    mask = ctx.mask(SKIN)[rows, cols]
    lightness, yellow = lab[0][rows, cols], lab[2][rows, cols]
    if lightness.size == 0:
        return
    # Regional smooth base of L* and b* (normalised convolution at the mask resolution).
    base = _masked_blur(cv2.merge([lightness, yellow]), mask, ctx.face_width * 0.05, ctx.mask_scale)
    darker = np.maximum(base[..., 0] - lightness, 0.0)
    # Spots are shallow; much darker structures (nostrils, brow hairs, the lid crease) are
    # anatomy, not pigment: the correction fades out between 15 and 25 L* units.
    weight = (0.8 * intensity) * mask * np.clip((25.0 - darker) * 0.1, 0.0, 1.0)
    lightness += weight * darker  # darker spots up to the base
    yellow -= weight * np.maximum(yellow - base[..., 1], 0.0)  # browner spots toward the base


def _effect_under_eye(lab: list[np.ndarray], ctx: FaceContext, intensity: float) -> None:
    rows, cols = ctx.box(UNDER_EYE_REGIONS, 1.4)
    mask = ctx.mask(UNDER_EYE_REGIONS, feather_scale=1.4)[rows, cols]
    if mask.size == 0:
        return
    cheeks = ctx.mask(CHEEK_REGIONS)[::2, ::2] > 0.5
    reference = [
        float(plane[::2, ::2][cheeks].mean()) if cheeks.any() else float(plane[rows, cols].mean())
        for plane in lab
    ]
    lightness = lab[0][rows, cols]
    local_l = cv2.GaussianBlur(lightness, (0, 0), max(1.0, ctx.face_width * 0.02))
    # Lift the shadow toward the cheek level, plus a general brightening (clearly
    # visible at full intensity even where the under-eye is no darker than the cheeks).
    lift = np.maximum(reference[0] - local_l, 0.0) + UNDER_EYE_BRIGHTENING
    lightness += intensity * mask * lift
    for channel in (1, 2):  # a dark (bluish/brownish) cast toward the cheek colour
        plane = lab[channel][rows, cols]
        plane += (0.5 * intensity) * mask * (reference[channel] - plane)


def _effect_lines(lab: list[np.ndarray], ctx: FaceContext, intensity: float) -> None:
    rows, cols = ctx.box(LINE_REGIONS)
    mask = ctx.mask(LINE_REGIONS)[rows, cols]
    lightness = lab[0][rows, cols]
    if lightness.size == 0:
        return
    # Grey-level closing fills dark ridges narrower than the kernel with the surrounding skin.
    kernel = _ellipse_kernel(_odd(ctx.face_width * 0.035))
    closed = cv2.morphologyEx(lightness, cv2.MORPH_CLOSE, kernel)
    closed = cv2.GaussianBlur(closed, (0, 0), max(0.8, ctx.face_width * 0.006))
    depth = np.maximum(closed - lightness, 0.0)
    # Deep, sharp dark structures (brow hairs, lashes) are not wrinkles: fade out above 35 L*.
    lightness += (0.95 * intensity) * mask * depth * np.clip((45.0 - depth) * 0.1, 0.0, 1.0)


def _effect_contour(lab: list[np.ndarray], ctx: FaceContext, intensity: float) -> None:
    # A soft highlight on the upper cheeks (cheekbones): lightness only, never a colour change.
    rows, cols = ctx.box(CHEEK_REGIONS, 2.0)
    highlight = ctx.mask(CHEEK_REGIONS, feather_scale=2.0)[rows, cols]
    lab[0][rows, cols] += (CONTOUR_HIGHLIGHT * intensity) * highlight


def _lip_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mouth centre and unit axes (u along the mouth, v toward the chin)."""
    left, right = points[LIP_CORNER_LEFT], points[LIP_CORNER_RIGHT]
    axis_u = right - left
    norm = float(np.linalg.norm(axis_u)) or 1.0
    axis_u = axis_u / norm
    axis_v = np.array([-axis_u[1], axis_u[0]], dtype=np.float32)
    if axis_v[1] < 0:  # v must point down the face (toward the chin)
        axis_v = -axis_v
    upper, lower = INNER_LIP_MIDDLE
    centre = (points[upper] + points[lower]) * 0.5
    return centre.astype(np.float32), axis_u.astype(np.float32), axis_v


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, 3x^2 - 2x^3 between: C1, zero slope at both ends, slope <= 1.5."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _lip_profiles(
    points: np.ndarray, centre: np.ndarray, axis_u: np.ndarray, axis_v: np.ndarray, u_grid: np.ndarray
) -> np.ndarray:
    """(4, len(u_grid)): v of the upper and lower inner contour, upper and lower lip thickness."""

    def contour_v(indices: tuple[int, ...]) -> np.ndarray:
        rel = points[list(indices)] - centre
        u, v = rel @ axis_u, rel @ axis_v
        order = np.argsort(u)
        return np.interp(u_grid, u[order], v[order]).astype(np.float32)  # edge values beyond the ends

    inner_upper = contour_v(LIP_INNER_UPPER)
    inner_lower = np.maximum(contour_v(LIP_INNER_LOWER), inner_upper)
    thickness = np.stack([inner_upper - contour_v(LIP_OUTER_UPPER), contour_v(LIP_OUTER_LOWER) - inner_lower])
    # Smoothed along the mouth: the landmark polygon's kinks would otherwise show up as kinks
    # in how far the border moves (the border itself is moved, never redrawn, so its shape stays).
    half_width = float(u_grid[-1])
    thickness = cv2.GaussianBlur(
        thickness, (0, 1), sigmaX=max(1.0, 0.06 * half_width), borderType=cv2.BORDER_REPLICATE
    )
    # A lip always shows some vermilion to grow from, even when a smile hides most of it.
    return np.vstack([inner_upper, inner_lower, np.maximum(thickness, 0.04 * half_width)])


def _lip_fields(
    rel_x: np.ndarray,
    rel_y: np.ndarray,
    axis_u: np.ndarray,
    axis_v: np.ndarray,
    u_grid: np.ndarray,
    table: np.ndarray,
) -> np.ndarray:
    """(h, w, 2) float32 at the given offsets from the mouth centre: the shift along v toward
    where each output pixel samples the source, and the 0..1 weight of the (moved) vermilion.

    `table` holds, sampled on `u_grid`: the upper and lower inner contour (v), the upper and
    lower lip thickness, the upper and lower growth (pixels) and the corner taper (0..1); see
    `_effect_lips` for the displacement profile.
    """
    u = rel_x * axis_u[0] + rel_y * axis_u[1]
    v = rel_x * axis_v[0] + rel_y * axis_v[1]
    # Linear interpolation of every profile at each point's u in one gather (zero growth
    # beyond the corners, where the taper is zero). All float32: float64 doubles the cost.
    position = np.clip((u - u_grid[0]) * np.float32(1.0 / (u_grid[1] - u_grid[0])), 0.0, len(u_grid) - 1.001)
    index = position.astype(np.int32)
    frac = position - index.astype(np.float32)
    at_point = table[:, index] * (1.0 - frac) + table[:, index + 1] * frac  # (7, h, w)
    fields = np.zeros((*v.shape, 2), dtype=np.float32)
    for side, outward in ((0, -1.0), (1, 1.0)):
        lip_inner, lip_thickness, lip_growth = at_point[side], at_point[2 + side], at_point[4 + side]
        distance = np.maximum(outward * (v - lip_inner), 0.0)
        border = lip_thickness + lip_growth
        phi = _smoothstep(distance / border) - _smoothstep(
            (distance - border) / (LIP_FALLOFF * lip_thickness)
        )
        lip_shift = lip_growth * phi
        fields[..., 0] -= outward * lip_shift  # the source lies nearer the mouth line
        # Where the source pixel lies inside the vermilion; zero at its border, at the mouth
        # line and at the corners, so the colour touch never tints the skin or the teeth.
        source = (distance - lip_shift) / lip_thickness
        fields[..., 1] += _smoothstep(source / 0.3) * (1.0 - _smoothstep((source - 0.7) / 0.3))
    fields[..., 1] *= at_point[6]
    return fields


def _effect_lips(bgr: np.ndarray, ctx: FaceContext, intensity: float) -> tuple[np.ndarray, np.ndarray]:
    """Returns the warped crop and the footprint (bool) of the displacement.

    Each lip grows away from its inner contour (the mouth line, or the opening when the mouth
    is open), column by column along the mouth axis. With T the lip's local thickness and
    k * T the growth there, the output pixel at distance d outside the inner contour samples
    the source at d - k * T * phi(d): phi rises smoothly from 0 at the inner contour to 1 at
    the new vermilion border (1 + k) * T, then falls back to 0 over LIP_FALLOFF * T of skin.
    So the border lands exactly (1 + k) * T out; the map is monotone (the source distance
    grows with d as long as k < 2), so nothing folds or tears; its slope is 1 at the border,
    so the border stays as sharp as in the photo; the mouth line, teeth and opening do not
    move; and the skin beyond is compressed over a bounded band, not smeared to the chin.
    k tapers to zero at the mouth corners, so the lips get fuller, not wider.
    """
    points = ctx.points
    footprint = np.zeros(bgr.shape[:2], dtype=bool)
    half_width = float(np.linalg.norm(points[LIP_CORNER_RIGHT] - points[LIP_CORNER_LEFT])) / 2.0
    if half_width < 2.0:
        return bgr, footprint
    centre, axis_u, axis_v = _lip_frame(points)
    # Profiles along the mouth on a one-pixel grid, looked up per field sample below.
    u_grid = np.linspace(-half_width, half_width, int(math.ceil(2.0 * half_width)) + 1, dtype=np.float32)
    profiles = _lip_profiles(points, centre, axis_u, axis_v, u_grid)
    inner, thickness = profiles[:2], profiles[2:]
    taper = np.clip(1.0 - (u_grid / half_width) ** 2, 0.0, 1.0) ** 1.5  # zero slope at the corners
    growth = (ctx.options.lips_growth * intensity) * taper * thickness  # border shift, pixels
    reach = growth + (1.0 + LIP_FALLOFF) * thickness  # beyond this distance nothing moves

    # Region of interest: the rectangle (in u, v) that holds everything that moves.
    top, bottom = float((inner[0] - reach[0]).min()), float((inner[1] + reach[1]).max())
    corners_uv = np.array(
        [[-half_width, top], [half_width, top], [-half_width, bottom], [half_width, bottom]], dtype=np.float32
    )
    corners_xy = centre + corners_uv[:, :1] * axis_u + corners_uv[:, 1:] * axis_v
    height, width = bgr.shape[:2]
    rx0 = int(max(0, math.floor(corners_xy[:, 0].min())))
    rx1 = int(min(width, math.ceil(corners_xy[:, 0].max()) + 1))
    ry0 = int(max(0, math.floor(corners_xy[:, 1].min())))
    ry1 = int(min(height, math.ceil(corners_xy[:, 1].max()) + 1))
    if rx1 - rx0 < 4 or ry1 - ry0 < 4:
        return bgr, footprint

    # The fields are smooth (C1, flat where they start and end), so they are computed on a
    # grid of about LIP_FIELD_SAMPLES points per half mouth width and upsampled bilinearly:
    # about a quarter of the work for a 640x480 video face, less on larger photos, and the
    # border lands within a few tenths of a pixel of where the full-resolution field puts it.
    roi_w, roi_h = rx1 - rx0, ry1 - ry0
    step = max(1.0, half_width / LIP_FIELD_SAMPLES)
    small_w, small_h = max(2, math.ceil(roi_w / step)), max(2, math.ceil(roi_h / step))
    # Sample positions follow cv2.resize's pixel-centre convention, so the upsampled fields
    # are exact at the samples (and the plain pixel grid when nothing is downsampled).
    xs = rx0 - 0.5 + (np.arange(small_w, dtype=np.float32) + 0.5) * np.float32(roi_w / small_w)
    ys = ry0 - 0.5 + (np.arange(small_h, dtype=np.float32) + 0.5) * np.float32(roi_h / small_h)
    table = np.vstack([profiles, growth, taper[None, :]])
    fields = _lip_fields(xs[None, :] - centre[0], ys[:, None] - centre[1], axis_u, axis_v, u_grid, table)
    if (small_w, small_h) != (roi_w, roi_h):
        fields = cv2.resize(fields, (roi_w, roi_h), interpolation=cv2.INTER_LINEAR)
    shift, vermilion = fields[..., 0], fields[..., 1]
    map_x = np.arange(rx0, rx1, dtype=np.float32)[None, :] + shift * axis_v[0]
    map_y = np.arange(ry0, ry1, dtype=np.float32)[:, None] + shift * axis_v[1]
    roi = bgr[ry0:ry1, rx0:rx1]
    warped = cv2.remap(bgr, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # A touch more colour in the vermilion (hydrated, fuller lips); volume is the main effect.
    # Saturation around each pixel's own luma, so the lip keeps its hue and brightness.
    colour = (LIP_CHROMA_GAIN * intensity) * vermilion[..., None]
    warped_f = warped.astype(np.float32)
    luma = cv2.transform(warped_f, np.array([[0.114, 0.587, 0.299]], dtype=np.float32))[..., None]
    warped = cv2.convertScaleAbs(warped_f + colour * (warped_f - luma))
    # Below a fiftieth of a pixel (or a hundredth of the colour touch) nothing visible changes;
    # where the warp ends, pixels then change by a level or so even on a sharp edge: no seam.
    moved = (np.abs(shift) > 0.02) | (vermilion > 0.01)
    result = bgr.copy()
    result[ry0:ry1, rx0:rx1] = np.where(moved[..., None], warped, roi)
    footprint[ry0:ry1, rx0:rx1] = moved
    return result, footprint


_LAB_EFFECTS = {
    "redness": _effect_redness,
    "pigment": _effect_pigment,
    "under_eye": _effect_under_eye,
    "lines": _effect_lines,
    "contour": _effect_contour,
}
# Feather of each Lab effect's mask (wider for the soft under-eye and cheek blends).
_LAB_FEATHER: dict[str, float] = {
    "redness": 1.0,
    "pigment": 1.0,
    "under_eye": 1.4,
    "lines": 1.0,
    "contour": 2.0,
}


def normalise_treatments(treatments: Mapping[str, float]) -> dict[str, float]:
    """Validated {name: intensity} with intensities clipped to 0..1 and zeros dropped."""
    cleaned: dict[str, float] = {}
    for raw_name, value in treatments.items():
        name = raw_name.replace("-", "_")
        if name not in TREATMENTS:
            raise ValueError(f"unknown treatment {raw_name!r}; choose from {', '.join(TREATMENTS)}")
        intensity = float(np.clip(float(value), 0.0, 1.0))
        if intensity > 0.0:
            cleaned[name] = intensity
    return cleaned


def apply_treatments(
    image_bgr: np.ndarray,
    landmarks: Landmarks,
    treatments: Mapping[str, float],
    options: SimulationOptions | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The unmarked simulation: (image, changed_mask). Prefer `simulate()` for anything shown."""
    options = options or SimulationOptions()
    active = normalise_treatments(treatments)
    changed = np.zeros(image_bgr.shape[:2], dtype=bool)
    if not active:
        return image_bgr.copy(), changed
    ctx = _face_context(image_bgr.shape, landmarks, options)
    crop_u8 = image_bgr[ctx.y0 : ctx.y1, ctx.x0 : ctx.x1]
    work = crop_u8.astype(np.float32)
    footprint = np.zeros(ctx.crop_shape, dtype=bool)

    if "skin" in active:
        work = _effect_skin(work, ctx, active["skin"])
        footprint |= ctx.mask(SKIN) > 0
    lab_names = [name for name in _LAB_EFFECTS if name in active]
    if lab_names:
        # Float Lab (not OpenCV's 8-bit Lab, ~0.6 ms faster): its quantisation would change
        # feathered-edge pixels by 2-3 levels even where an effect's weight is ~0.
        # Separate contiguous L*, a*, b* planes: per-channel numpy work is much faster on them
        # than on strided views of an interleaved image.
        # (numpy's float32 multiply: cv2.multiply by a scalar takes several times longer here.)
        scaled = work * np.float32(1.0 / 255.0)
        planes = list(cv2.split(cv2.cvtColor(scaled, cv2.COLOR_BGR2Lab)))
        for name in lab_names:
            _LAB_EFFECTS[name](planes, ctx, active[name])
            footprint |= ctx.mask(TREATMENT_REGIONS[name], _LAB_FEATHER[name]) > 0
        bgr = cv2.cvtColor(cv2.merge(planes), cv2.COLOR_Lab2BGR)
        result_crop = cv2.convertScaleAbs(bgr, alpha=255.0)  # rounds, saturates
    else:
        result_crop = cv2.convertScaleAbs(work) if "skin" in active else crop_u8
    if "lips" in active:
        result_crop, lips_footprint = _effect_lips(result_crop, ctx, active["lips"])
        footprint |= lips_footprint
    # Pixels outside every footprint are copied back bit-for-bit (no colour round-trip error).
    output = image_bgr.copy()
    cv2.copyTo(result_crop, footprint.view(np.uint8), output[ctx.y0 : ctx.y1, ctx.x0 : ctx.x1])
    changed[ctx.y0 : ctx.y1, ctx.x0 : ctx.x1] = footprint
    return output, changed


def simulate(
    image_bgr: np.ndarray,
    landmarks: Landmarks,
    treatments: Mapping[str, float],
    options: SimulationOptions | None = None,
) -> SimulationResult:
    """Simulated treatment result, always carrying the visible simulation mark."""
    image, changed = apply_treatments(image_bgr, landmarks, treatments, options)
    return SimulationResult(
        image=watermark(image), changed_mask=changed, applied=normalise_treatments(treatments)
    )


# --- the simulation mark ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _watermark_layout(height: int, width: int) -> tuple[int, int, np.ndarray]:
    """(band top, band bottom, glyph mask) for an image size: drawn once, reused per frame."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.3, width / 900.0)
    thickness = max(1, int(round(scale * 1.6)))
    (text_w, text_h), baseline = cv2.getTextSize(WATERMARK_TEXT, font, scale, thickness)
    if text_w > width - 8:
        scale *= (width - 8) / text_w
        thickness = max(1, int(round(scale * 1.6)))
        (text_w, text_h), baseline = cv2.getTextSize(WATERMARK_TEXT, font, scale, thickness)
    pad = max(3, text_h // 2)
    band_h = min(height, text_h + baseline + 2 * pad)
    top = height - band_h
    glyphs = np.zeros((band_h, width), dtype=np.uint8)
    origin = ((width - text_w) // 2, band_h - pad - baseline)
    cv2.putText(glyphs, WATERMARK_TEXT, origin, font, scale, 255, thickness, cv2.LINE_AA)
    glyphs.setflags(write=False)
    return top, height, glyphs


def watermark_rows(height: int, width: int) -> tuple[int, int]:
    """(top, bottom) rows of the band `watermark` draws on an image of this size (every pixel
    in them changes; nothing outside them does)."""
    top, bottom, _glyphs = _watermark_layout(height, width)
    return top, bottom


def watermark(image_bgr: np.ndarray) -> np.ndarray:
    """A copy with the visible "SIMULATION - not a guaranteed result" band along the bottom."""
    marked = image_bgr.copy()
    height, width = marked.shape[:2]
    top, bottom, glyphs = _watermark_layout(height, width)
    band = marked[top:bottom].astype(np.uint16)
    band = (band * 115) // 255  # darken the band so the white text reads on any image
    alpha = glyphs.astype(np.uint16)[..., None]
    band = (band * (255 - alpha) + 255 * alpha) // 255
    marked[top:bottom] = band.astype(np.uint8)
    return marked


def has_watermark(image_bgr: np.ndarray) -> bool:
    """True when the simulation mark is visible: solid white glyphs on the darkened band."""
    height, width = image_bgr.shape[:2]
    top, bottom, glyphs = _watermark_layout(height, width)
    band = (
        image_bgr[top:bottom].astype(np.int16).max(axis=2) if image_bgr.ndim == 3 else image_bgr[top:bottom]
    )
    solid = glyphs >= 0.85 * float(glyphs.max())
    background = cv2.dilate(glyphs, _ellipse_kernel(5)) == 0
    if not solid.any() or not background.any():
        return False
    return bool(np.percentile(band[solid], 5) >= 210 and np.percentile(band[background], 95) <= 120)
