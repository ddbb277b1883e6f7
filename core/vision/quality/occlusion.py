"""Face occlusion: sunglasses and thick frames, hair or a hand over the cheeks or the forehead."""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.i18n import N_
from core.vision.landmarks import CHIN, FOREHEAD_TOP, FaceLandmarks
from core.vision.quality.measures import (
    _LAB_OFFSET,
    _eye_line,
    _FaceMeasures,
    _grade,
    _hist_percentiles,
    _view_eyes,
)
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import _RANK, QualityCheck
from core.vision.regions import (
    BROW_LEFT,
    BROW_RIGHT,
    REGION_VERTICES,
)


def _check_occlusion(
    m: _FaceMeasures, landmarks: FaceLandmarks, view: str, o: QualityOptions
) -> list[QualityCheck]:
    checks: list[QualityCheck] = []
    skin_values = m.skin_luma
    if skin_values.size < 50:
        return checks
    (skin_luma,) = m.skin_luma_at(50)
    # Sunglasses: the eye openings are much darker than the skin and show no iris/sclera contrast.
    # A front needs both eyes dark; a turned view is judged on the NEAR eye only (the patient's left
    # eye for a left view): the far eye is foreshortened behind the nose and falls in its shadow
    # (tuning split: a side-lit oblique's far eye read 0.01 of the skin, and "remove your
    # sunglasses" was its main problem).
    dark_eyes = 0
    eye_ratios = []
    contours = _view_eyes(view)
    for contour in contours:
        eye = np.zeros(m.luma.shape, np.uint8)
        cv2.fillPoly(eye, [np.round(landmarks.xy[list(contour)]).astype(np.int32)], 1)
        values = m.luma[eye > 0]
        if values.size < 10:
            continue
        ratio = float(np.mean(values)) / max(skin_luma, 1.0)
        eye_ratios.append(ratio)
        if ratio < o.sunglasses_eye_ratio and float(np.std(values)) < o.sunglasses_iris_contrast:
            dark_eyes += 1
    # Fronts only: beside a turned face's near eye, the temple's shadow and a window's reflection
    # in rimless lenses read as a frame (tuning split: a 37-degree oblique, 0.28).
    frames = _glasses_frames(m, view, o) if dark_eyes < len(contours) and view == "front" else None
    if dark_eyes == len(contours):
        checks.append(
            QualityCheck(
                "sunglasses",
                "fail",
                min(eye_ratios),
                o.sunglasses_eye_ratio,
                N_("Remove your sunglasses."),
                measure="dark_lenses",
            )
        )
    elif frames is not None and frames >= o.glasses_frame_warn:
        # Same component (the eyes' surroundings must be visible), a measure of its own.
        checks.append(
            QualityCheck(
                "sunglasses",
                "fail" if frames >= o.glasses_frame_fail else "warn",
                frames,
                o.glasses_frame_warn,
                N_("Take off your glasses: their frames cover the skin around your eyes."),
                measure="frames",
            )
        )
    else:
        checks.append(
            QualityCheck(
                "sunglasses", "pass", min(eye_ratios) if eye_ratios else None, o.sunglasses_eye_ratio
            )
        )
    cheek_names = _view_cheeks(view)
    # The forehead's edge test on fronts only: its lines were fit on fronts (the tuning split has
    # no correct oblique), and a turned face's forehead region reaches the far temple's hairline.
    edges = _edge_shares(m, [*cheek_names, "forehead"] if view == "front" else cheek_names, o)
    checks.extend(_check_cheeks(m, cheek_names, o, edges))
    # Hair or a hand over the forehead: forehead pixels unlike the cheeks' skin colour, or crossed
    # by strong edges (hair strands in a colour close to the skin's).
    cheeks = (m.masks["cheek_left"] | m.masks["cheek_right"]) & m.skin
    forehead = m.masks["forehead"]
    if cheeks.sum() > 30 and forehead.sum() > 30:
        reference = np.median(m.lab_of(cheeks), axis=0)
        forehead_edges = edges.get("forehead", 0.0)
        # A forehead without a strand's edge (`forehead_light_edges`, fronts: the only view with
        # the edge test) that differs from the cheeks along b* is lit by another lamp, not covered.
        smooth = "forehead" in edges and forehead_edges < o.forehead_light_edges
        fraction = _skin_like(
            m.lab_of(forehead),
            reference,
            o,
            o.skin_min_lightness_ratio,
            o.forehead_light_b_tolerance if smooth else 1.0,
        )
        status = _grade(fraction, o.forehead_skin_warn, o.forehead_skin_fail, higher_is_worse=False)
        value, threshold, measure = fraction, o.forehead_skin_warn, "forehead_skin"
        edge_status = _grade(forehead_edges, o.forehead_edge_warn, o.forehead_edge_fail)
        if _RANK[edge_status] > _RANK[status]:
            status, value, threshold, measure = (
                edge_status,
                forehead_edges,
                o.forehead_edge_warn,
                "forehead_edges",
            )
        checks.append(
            QualityCheck(
                "hair_or_hand",
                status,
                value,
                threshold,
                ""
                if status == "pass"
                else N_("Move your hair away from your face and keep your hands down."),
                measure=measure,
            )
        )
    return checks


def _hair_across(hair: QualityCheck | None, o: QualityOptions) -> bool:
    """The failing forehead test `hair` found what side light cannot make: a fringe's edges, or a
    forehead almost wholly unlike the skin (skin-like share < `forehead_covered_fraction`). Side
    light darkens one side and leaves the lit part skin: the astronaut with its far half 2-5 EV
    darker keeps 0.27-0.34 of its forehead skin-like (it fails the colour test), the tuning
    constructions at -2 to -2.5 EV >= 0.5; the tuning split's curly fringe over 2/3 of a
    forehead: 0.01."""
    if hair is None or hair.status != "fail" or not isinstance(hair.value, int | float):
        return False
    if hair.measure == "forehead_edges":
        return True
    return float(hair.value) < o.forehead_covered_fraction


def _glasses_frames(m: _FaceMeasures, view: str, o: QualityOptions) -> float | None:
    """Share of the ring around the view's eyes covered by thin dark structures (spectacle
    frames), the smaller over both eyes of a front (see `glasses_frame_fail`). Measured at a fixed
    scale (pupil distance 60 px) on a box around the eyes only. None: no eye to judge."""
    landmarks = m.landmarks
    ipd = max(landmarks.interpupil_px(), landmarks.face_height_px() / 2.6)
    if ipd < 10:
        return None
    scale = 60.0 / ipd
    eyes = [landmarks.xy[list(contour)] for contour in _view_eyes(view)]
    points = np.concatenate(eyes)
    x0, y0 = (np.floor(points.min(axis=0) - 0.8 * ipd)).astype(int)
    x1, y1 = (np.ceil(points.max(axis=0) + 0.8 * ipd)).astype(int)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    box = m.luma[y0 : max(y0, int(y1)), x0 : max(x0, int(x1))]
    if box.size == 0:
        return None
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    luma = cv2.resize(box, None, fx=scale, fy=scale, interpolation=interpolation)
    shift = np.array([x0, y0], np.float32)
    kernel_px = max(3, round(o.glasses_kernel_ipd * 60.0) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_px, kernel_px))
    blackhat = cv2.morphologyEx(luma, cv2.MORPH_BLACKHAT, kernel)
    (skin_median,) = m.skin_luma_at(50)
    deep = blackhat > o.glasses_depth * max(skin_median, 1.0)
    brows = np.zeros(luma.shape, np.uint8)
    for group in (BROW_LEFT, BROW_RIGHT):
        hull = cv2.convexHull(((landmarks.xy[list(group)] - shift) * scale).astype(np.float32))
        cv2.fillPoly(brows, [np.round(hull).astype(np.int32)], 1)
    brows = cv2.dilate(brows, np.ones((5, 5), np.uint8))
    shares = []
    for eye in eyes:
        contour = (eye - shift) * scale
        centre = contour.mean(axis=0)
        # The ring: inside an ellipse where frames sit (0.55 x 0.42 of the pupil distance, a little
        # below the eye), outside the opening enlarged 1.35x (lashes, liner, the lid crease).
        ring = np.zeros(luma.shape, np.uint8)
        cv2.ellipse(ring, (round(centre[0]), round(centre[1] + 3)), (33, 25), 0, 0, 360, 1, -1)
        cv2.fillPoly(ring, [np.round(centre + (contour - centre) * 1.35).astype(np.int32)], 0)
        ring[brows > 0] = 0
        if np.count_nonzero(ring) >= 50:
            shares.append(float(np.count_nonzero(deep & (ring > 0))) / np.count_nonzero(ring))
    return min(shares) if shares else None


def _skin_like(
    pixels: np.ndarray, reference: np.ndarray, o: QualityOptions, min_ratio: float, b_tolerance: float = 1.0
) -> float:
    """Share of Lab `pixels` with the reference skin's chroma and not much darker than it. A
    `b_tolerance` > 1 accepts that many times the distance along b* (blue-yellow), the axis along
    which light of another colour temperature moves the skin."""
    chroma_distance = np.hypot(pixels[:, 1] - reference[1], (pixels[:, 2] - reference[2]) / b_tolerance)
    lightness_ratio = pixels[:, 0] / max(float(reference[0]), 1.0)
    return float(np.mean((chroma_distance < o.skin_chroma_distance) & (lightness_ratio > min_ratio)))


def _view_cheeks(view: str) -> list[str]:
    """The cheek regions a view is for: both on a front, the near one on a turned view."""
    if view == "front" or view == "close_up":
        return ["cheek_left", "cheek_right"]
    return ["cheek_left" if view.startswith("left") else "cheek_right"]


def _check_cheeks(
    m: _FaceMeasures, names: list[str], o: QualityOptions, edges: dict[str, float]
) -> list[QualityCheck]:
    """Hair or a hand over the cheek(s) `names` (ISO/IEC 29794-5 face occlusion): cheek pixels
    unlike the skin of the cheek's own side of the face (`_same_side_skin`), or crossed by strong edges
    (`edges`, from `_edge_shares`)."""
    if np.count_nonzero(m.skin[::2, ::2]) < 25:
        return []
    shown = [name for name in names if m.masks[name].sum() > 30]
    references = _same_side_skin(m, shown)
    fractions = [
        _skin_like(m.lab_of(m.masks[name]), references[name], o, o.cheek_min_lightness_ratio)
        for name in shown
    ]
    if not fractions:
        return []
    fraction = min(fractions)
    status = _grade(fraction, o.cheek_skin_warn, o.cheek_skin_fail, higher_is_worse=False)
    value, threshold, measure = fraction, o.cheek_skin_warn, "cheek_skin"
    edge_values = [edges[name] for name in names if name in edges]
    edges_share = max(edge_values, default=0.0)
    edge_status = _grade(edges_share, o.cheek_edge_warn, o.cheek_edge_fail)
    if _RANK[edge_status] > _RANK[status] or edge_status == "fail":
        # An occluder in the skin's own colour (a hand) or thin dark strands (hair) that the colour
        # test misses: the value is then the share of the cheek crossed by strong edges.
        status, value, threshold, measure = edge_status, edges_share, o.cheek_edge_warn, "cheek_edges"
    return [
        QualityCheck(
            "cheek_occlusion",
            status,
            value,
            threshold,
            "" if status == "pass" else N_("Move your hair away from your cheeks and keep your hands down."),
            measure=measure,
        )
    ]


def _same_side_skin(m: _FaceMeasures, cheeks: list[str]) -> dict[str, np.ndarray]:
    """For each of `cheeks`, the median Lab of the face skin on its side of the face's midline
    (forehead top to chin), both cheeks left out (every 4th pixel): what the cheek's own skin looks
    like in the light that reaches that side. Against the whole face's median, a side lit by another
    lamp (a cool window or ceiling tube on one side, warm light on the other) read as covered: the
    tuning split's correct webcam selfie read 0.39 skin-like on its window side, frames of the same
    clip at 360 px 0.05. The whole face's median for a side with too little skin."""
    xy = m.landmarks.xy
    top, chin = xy[FOREHEAD_TOP], xy[CHIN]
    skin = m.skin[::2, ::2]
    rows = np.arange(0, m.skin.shape[0], 2, dtype=np.float32)[:, None] - np.float32(top[1])
    columns = np.arange(0, m.skin.shape[1], 2, dtype=np.float32)[None, :] - np.float32(top[0])
    # Which side of the line from the forehead top to the chin (the sign of the cross product).
    right_of_line = (chin[0] - top[0]) * rows - (chin[1] - top[1]) * columns > 0
    candidates = np.flatnonzero(skin & ~(m.masks["cheek_left"] | m.masks["cheek_right"])[::2, ::2])
    lab = np.ascontiguousarray(m.lab_u8[::2, ::2]).reshape(-1, 3).take(candidates, axis=0)
    # One histogram per side and channel from a single bincount: (side, channel, value).
    keys = right_of_line.ravel().take(candidates)[:, None] * 768 + np.arange(0, 768, 256) + lab
    counts = np.bincount(keys.ravel(), minlength=1536).reshape(2, 3, 256)
    references = {}
    for cheek in cheeks:
        cx, cy = xy[list(REGION_VERTICES[cheek])].mean(axis=0)
        cheek_right = int((chin[0] - top[0]) * (cy - top[1]) - (chin[1] - top[1]) * (cx - top[0]) > 0)
        if counts[cheek_right, 0].sum() >= 50:
            medians = [_hist_percentiles(counts[cheek_right, channel], (50,))[0] for channel in range(3)]
            references[cheek] = np.array(medians, np.float32) - _LAB_OFFSET
        else:
            references[cheek] = m.skin_lab_median(step=2)
    return references


def _edge_shares(m: _FaceMeasures, names: list[str], o: QualityOptions) -> dict[str, float]:
    """Share of each region's (`names`: the view's cheeks, the forehead) pixels crossed by edges
    much stronger than the face's OWN skin texture (`cheek_edge_factor` x the median gradient of
    the face skin); the gradient is computed once for all regions. A region too small is left out.

    A cheek is smooth at this scale (face `cheek_edge_face_px` wide, lightly smoothed): pores and
    noise stay near the face's median gradient, and a shadow from side light is a soft ramp. Hair
    strands, a hand's outline and the creases between fingers are sharp lines. Relative to the
    face's own texture, so dark skin (lower contrast, more sensor noise) is judged on its own scale.

    On the forehead only the edges a fringe makes count (`_fringe_edges`): strands, and the
    fringe's edge; not the horizontal grooves of forehead lines (what the clinic treats)."""
    x, y, w, h = m.face_rect
    scale = o.cheek_edge_face_px / max(w, 1)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    luma = cv2.resize(m.luma, None, fx=scale, fy=scale, interpolation=interpolation).astype(np.float32)
    luma = cv2.GaussianBlur(luma, (0, 0), 1.0)
    size = (luma.shape[1], luma.shape[0])
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
    gradient = cv2.magnitude(gx, gy)
    skin = cv2.resize(m.skin.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    if np.count_nonzero(skin) < 50:
        return {}
    # The face's texture level: the median over every 2nd pixel of the skin (4x cheaper, same value).
    texture = float(np.median(gradient[::2, ::2][skin[::2, ::2]]))
    strong = gradient > o.cheek_edge_factor * max(texture, 1.0)
    kernel = np.ones((3, 3), np.uint8)
    shares = {}
    for name in names:
        # Eroded: the region polygon's own border (the face outline of an oblique) is not inside.
        region = cv2.erode(
            cv2.resize(m.masks[name].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST), kernel
        )
        if np.count_nonzero(region) < 20:
            continue
        if name == "forehead":
            counted = _fringe_edges(m, strong, gx, gy, region, o)
            shares[name] = float(np.count_nonzero(counted)) / float(np.count_nonzero(region))
        else:
            x0, y0, w0, h0 = cv2.boundingRect(region)
            box = (slice(y0, y0 + h0), slice(x0, x0 + w0))
            inside = region[box] > 0
            counted = strong[box] & ~_rim_edges(m, inside, (x0, y0), gx[box], gy[box], o)
            shares[name] = float(np.count_nonzero(counted & inside)) / float(np.count_nonzero(inside))
    return shares


def _rim_edges(
    m: _FaceMeasures,
    inside: np.ndarray,
    origin: tuple[int, int],
    gx: np.ndarray,
    gy: np.ndarray,
    o: QualityOptions,
) -> np.ndarray:
    """Which pixels of a cheek's box (`inside`: the cheek, `origin`: the box's corner, `gx`, `gy`:
    the gradient there) lie in the cheek's top `cheek_edge_top_band` (along the face's own
    vertical, from the outer eye corners: a direction, the same at any scale) on an edge running
    along the eye line: where a spectacle frame's lower rim crosses the cheek. Hair hangs down
    across that band and a hand's outline crosses it at any angle; they count."""
    cos, sin = _eye_line(m)
    rows = np.arange(origin[1], origin[1] + inside.shape[0], dtype=np.float32)[:, None]
    columns = np.arange(origin[0], origin[0] + inside.shape[1], dtype=np.float32)[None, :]
    down = rows * cos - columns * sin  # position along the face's vertical
    top, bottom = float(down[inside].min()), float(down[inside].max())
    in_band = down < top + o.cheek_edge_top_band * (bottom - top)
    along_eye_line = np.abs(gy * cos - gx * sin) > np.abs(gx * cos + gy * sin)
    return in_band & along_eye_line


def _fringe_edges(
    m: _FaceMeasures,
    strong: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    region: np.ndarray,
    o: QualityOptions,
) -> np.ndarray:
    """The strong-edge pixels of the forehead `region` a fringe makes (bool, the region's box).

    Along the face's own axes (the outer eye corners: a rolled head rolls its wrinkles too):
    - strands hang down: their gradient points ACROSS the face (closer to the eye line than to the
      vertical) -> counted;
    - forehead lines run across: their gradient points UP or down -> counted only when it is a
      STEP (the fringe's lower edge: hair on one side, skin on the other), not a GROOVE (a dark
      line between skin of the same level, often with a lit fold above it): over
      `forehead_groove_sigma` x the face width the signed gradient along the vertical of a groove
      cancels (the luma falls, then rises again), a step's does not
      (`forehead_step_coherence`)."""
    sigma = o.forehead_groove_sigma * o.cheek_edge_face_px
    pad = math.ceil(3 * sigma)  # the blur's reach (its kernel cut at 3 sigma)
    rx, ry, rw, rh = cv2.boundingRect(region)
    y0, x0 = max(0, ry - pad), max(0, rx - pad)
    y1, x1 = ry + rh + pad, rx + rw + pad
    cos, sin = _eye_line(m)
    box = (slice(y0, y1), slice(x0, x1))
    across = gx[box] * cos + gy[box] * sin  # along the eye line
    vertical = gy[box] * cos - gx[box] * sin  # along the face's vertical (towards the chin)
    hanging = np.abs(across) >= np.abs(vertical)
    kernel = (2 * pad + 1, 2 * pad + 1)
    net = np.abs(cv2.GaussianBlur(vertical, kernel, sigma))
    total = cv2.GaussianBlur(np.abs(vertical), kernel, sigma)
    step = net > o.forehead_step_coherence * np.maximum(total, 1e-3)
    return strong[box] & (region[box] > 0) & (hanging | step)
