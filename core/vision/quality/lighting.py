"""Light on the face, judged against the skin's own tone: exposure, backlight, side light and
harsh shadows, dynamic range."""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.i18n import N_
from core.vision.quality.measures import (
    _FaceMeasures,
    _grade,
    _graded,
    _hist_percentiles,
    _median_u8,
    _percentiles_u8,
    _view_eyes,
)
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import _RANK, QualityCheck
from core.vision.regions import (
    BROW_LEFT,
    BROW_RIGHT,
    EYE_LEFT,
    EYE_RIGHT,
    FACE_OVAL,
    UNDER_NOSE,
)

_SIDE_LIGHT = {  # by the brighter side
    "left": N_("Face a window: the light comes from your left, so one side of your face is in shadow."),
    "right": N_("Face a window: the light comes from your right, so one side of your face is in shadow."),
}


def _eye_bright_end(m: _FaceMeasures, view: str, o: QualityOptions) -> float | None:
    """Bright end of the eye whites: the 90th percentile of luma in the eye opening, the brighter
    of the view's eyes (a turned view: the near eye only; the far one is in the nose's shadow).
    None when no eye opening has `eye_min_pixels`."""
    values = []
    for contour in _view_eyes(view):
        eye = np.zeros(m.luma.shape, np.uint8)
        cv2.fillPoly(eye, [np.round(m.landmarks.xy[list(contour)]).astype(np.int32)], 1)
        pixels = m.luma[eye > 0]
        if pixels.size >= o.eye_min_pixels:
            values.append(_percentiles_u8(pixels, (90,))[0])
    return max(values) if values else None


def _dark_skin(m: _FaceMeasures, view: str, p90: float, o: QualityOptions) -> bool:
    """Is a face whose bright end `p90` is below the line darker SKIN in a well-exposed photo
    (accepted) rather than a dark photo or a backlit face (refused)? Yes when the eye whites and
    the scene are exposed (`eye_white_exposed`, `scene_reference_lit`): a backlit or dark photo
    darkens the eye whites with the skin, darker skin does not. Otherwise, a bright end above the floor
    in a well-exposed scene, unless the eye whites are darker than `eye_skin_ratio_dark_skin` x
    the skin's bright end: then it is a light face made dark (a backlit face: its scene is bright,
    its eyes are not), whatever the scene; or unless the scene's bright end is a window burnt out
    in a dark room whose shade covers half the face (`_window_in_the_dark`)."""
    eyes = _eye_bright_end(m, view, o)
    if (
        eyes is not None
        and eyes >= o.eye_white_exposed
        and p90 >= o.skin_eye_ratio_floor * eyes
        and _scene_reference(m, frame_if_none=True) >= o.scene_reference_lit
    ):
        # The camera exposed for what it sees (eye whites and scene): the face is darker than
        # the line by its own tone (or a slightly dark photo still exposed), not a dark photo;
        # unless the scene's bright end is a burnt-out window in a dark room.
        return not _window_in_the_dark(m, p90, o)
    if eyes is not None and eyes < o.eye_skin_ratio_dark_skin * p90:
        return False
    if p90 < o.dark_p90_floor or _scene_reference(m) < o.scene_reference_exposed:
        return False
    # A light face half in a dark room's shade, beside a burnt-out window: the scene is no reference.
    return not _window_in_the_dark(m, p90, o)


def _check_exposure(m: _FaceMeasures, view: str, o: QualityOptions) -> QualityCheck:
    values = m.skin_luma
    if values.size < 50:
        return QualityCheck("exposure", "warn", None, None, N_("Make sure your face is clearly visible."))
    (p90,) = m.skin_luma_at(90)
    clipped = float(m.skin_luma_counts[o.clipped_level :].sum()) / values.size
    dark = _grade(p90, o.dark_p90_warn, o.dark_p90_fail, higher_is_worse=False)
    if dark == "fail" and _dark_skin(m, view, p90, o):
        dark = "warn"  # dark skin (or shade) in a well-exposed photo, accepted
    bright = _grade(clipped, o.clipped_fraction_warn, o.clipped_fraction_fail)
    clipped_threshold, clipped_measure = o.clipped_fraction_warn, "clipped"
    level = o.clipped_level - 1
    unclipped = cv2.inRange(m.bgr, (0, 0, 0), (level, level, level))  # 255: no channel clipped
    channel_clipped = float(np.count_nonzero(m.skin & (unclipped == 0))) / values.size
    channel = _grade(channel_clipped, o.channel_clipped_warn, o.channel_clipped_fail)
    if _RANK[channel] > _RANK[bright]:
        bright, clipped = channel, channel_clipped
        clipped_threshold, clipped_measure = o.channel_clipped_warn, "channel_clipped"
    if dark != "pass":
        return QualityCheck(
            "exposure",
            dark,
            p90,
            o.dark_p90_warn,
            N_("Your face is too dark. Move to a brighter place or face a window."),
            measure="dark_p90",
        )
    if bright != "pass":
        return QualityCheck(
            "exposure",
            bright,
            clipped,
            clipped_threshold,
            N_("Your face is too bright. Turn off the flash or move out of direct sunlight."),
            measure=clipped_measure,
        )
    return QualityCheck("exposure", "pass", p90, o.dark_p90_warn, measure="dark_p90")


def _background(m: _FaceMeasures) -> tuple[np.ndarray, np.ndarray] | None:
    """(which of every 4th pixel of the working copy lie away from the face, their luma); None
    when the face leaves too little background (< 5 % of the frame). Read by backlight and exposure
    (the scene, a window in the dark), so taken once per photo."""
    if m.background_cache is None:
        h, w = m.frame_luma.shape
        x, y, bw, bh = m.face_rect
        x += m.crop_rect[0]
        y += m.crop_rect[1]
        margin = int(0.35 * max(bw, bh))
        background = np.ones((h, w), bool)
        background[max(0, y - margin) : y + bh + margin, max(0, x - margin) : x + bw + margin] = False
        background = background[::4, ::4]
        enough = background.sum() >= 0.05 * background.size
        m.background_cache = ((background, m.frame_luma[::4, ::4][background]) if enough else None,)
    return m.background_cache[0]


def _background_luma(m: _FaceMeasures) -> np.ndarray | None:
    """Luma of the scene away from the face (`_background`); None when there is too little."""
    scene = _background(m)
    return None if scene is None else scene[1]


def _scene_reference(m: _FaceMeasures, frame_if_none: bool = False) -> float:
    """Bright end (98th percentile) of the scene around the face: how the CAMERA exposed the
    photo, independent of the skin's tone. When there is little background: 0, or with
    `frame_if_none` the whole frame's 99.5th percentile (a face filling the frame: its hair,
    clothes and highlights are what the camera exposed for).

    Read on each pixel's brightest channel, not its luma: a saturated backdrop is exposed where
    its own channel is (a studio's blue paper at B 250 has luma ~90; the tuning split's brown-skinned
    portrait on one read 88 by luma, so with its skin darker it was refused as a dark photo)."""
    scene = _background(m)
    if scene is None:
        if frame_if_none:
            return _percentiles_u8(m.frame_bgr.max(axis=2), (99.5,))[0]
        return 0.0
    return _percentiles_u8(m.frame_bgr[scene[0]].max(axis=1), (98,))[0]


def _window_in_the_dark(m: _FaceMeasures, p90: float, o: QualityOptions) -> bool:
    """Is the face lit by a window in a dark room: the scene's bright end a light source (burnt
    out over `light_source_share` of the background, the rest's median below
    `dark_scene_median`) and the face half in the room's darkness (its skin's median below
    `window_shade_ratio` x its bright end `p90`)? Then the bright scene says nothing about how the
    face was exposed (the camera exposed for the window)."""
    scene = _background_luma(m)
    if scene is None:
        return False
    counts = np.bincount(scene, minlength=256)
    clipped = float(counts[o.clipped_level :].sum()) / float(counts.sum())
    if clipped < o.light_source_share or _hist_percentiles(counts, (50,))[0] >= o.dark_scene_median:
        return False
    return m.skin_luma_at(50)[0] < o.window_shade_ratio * p90


def _frame_exposure(luma: np.ndarray, o: QualityOptions) -> QualityCheck:
    """Exposure of the whole frame (close-ups, or when no face can be found)."""
    mean_luma = float(luma.mean())
    clipped = float(np.mean(luma >= o.clipped_level))
    if mean_luma < o.frame_dark_mean:
        return QualityCheck(
            "exposure",
            "fail",
            mean_luma,
            o.frame_dark_mean,
            N_("The photo is too dark. Move to a brighter place."),
            measure="frame_dark",
        )
    if clipped > o.frame_clipped_fraction:
        return QualityCheck(
            "exposure",
            "fail",
            clipped,
            o.frame_clipped_fraction,
            N_("The photo is too bright. Turn off the flash or move out of direct sunlight."),
            measure="frame_clipped",
        )
    return QualityCheck("exposure", "pass", mean_luma, o.frame_dark_mean, measure="frame_dark")


def _check_backlight(m: _FaceMeasures, view: str, o: QualityOptions) -> QualityCheck:
    scene = _background_luma(m)
    face_values = m.skin_luma
    if scene is None or face_values.size < 50:
        return QualityCheck("backlight", "pass", None, o.backlight_difference_warn)
    # Every 4th pixel is plenty for a median and 16x cheaper on a full frame.
    background_median = _median_u8(scene)
    (p90,) = m.skin_luma_at(90)
    difference = background_median - p90
    status = _grade(difference, o.backlight_difference_warn, o.backlight_difference_fail)
    if status == "fail" and _dark_skin(m, view, p90, o):
        # Dark skin before a white wall, its eye whites well exposed: not a backlit face.
        status = "warn"
    return QualityCheck(
        "backlight",
        status,
        difference,
        o.backlight_difference_warn,
        ""
        if status == "pass"
        else N_("The light is behind you. Turn around so the window or lamp is in front of you."),
    )


def _check_lighting(m: _FaceMeasures, view: str, o: QualityOptions) -> list[QualityCheck]:
    """Side light (`lighting`: the cheeks' ratio, or the gradient across the whole face when that
    is further past its line) and harsh shadows (`shadows`: the skin's luma spread, or light from
    above when that is further past its line). Fronts only for the side and top tests."""
    checks = []
    left = m.masks["cheek_left"] | m.masks["under_eye_left"]
    right = m.masks["cheek_right"] | m.masks["under_eye_right"]
    warn, fail = o.side_ratio_warn, o.side_ratio_fail
    if view == "front" and left.sum() > 30 and right.sum() > 30:
        (left_luma,), (right_luma,) = (
            _percentiles_u8(m.luma[left], (50,)),
            _percentiles_u8(m.luma[right], (50,)),
        )
        ratio = min(left_luma, right_luma) / max(left_luma, right_luma, 1.0)
        status = _grade(ratio, warn, fail, higher_is_worse=False)
        value, threshold, left_brighter = ratio, warn, left_luma > right_luma
        measure = "cheek_ratio"
        gradient = _side_gradient_ev(m)
        if gradient is not None:
            ev, gradient_left = gradient
            ev_status = _grade(ev, o.side_gradient_warn, o.side_gradient_fail)
            past_ratio = (warn - ratio) / (warn - fail)
            past_gradient = (ev - o.side_gradient_warn) / (o.side_gradient_fail - o.side_gradient_warn)
            if _RANK[ev_status] > _RANK[status] or (
                ev_status == status != "pass" and past_gradient > past_ratio
            ):
                # Past its fail line the gradient refuses only with the cheeks (their ratio fails
                # too) or with another check (`_gradient_names`); alone it warns (see
                # `side_gradient_fail`).
                if ev_status == "fail" and status != "fail":
                    ev_status = "warn"
                status, value, threshold, left_brighter = ev_status, ev, o.side_gradient_warn, gradient_left
                measure = "side_gradient"
        instruction = ""
        if status != "pass":
            # The brighter side is where the light comes from (patient's own left/right).
            instruction = _SIDE_LIGHT["left" if left_brighter else "right"]
        checks.append(QualityCheck("lighting", status, value, threshold, instruction, measure=measure))
    values = m.skin_luma
    if values.size >= 50:
        p5, p50, p95 = m.skin_luma_at(5, 50, 95)
        spread = float((p95 - p5) / max(p50, 1.0))
        status = _grade(spread, o.shadow_spread_warn, o.shadow_spread_fail)
        value, threshold, measure = spread, o.shadow_spread_warn, "spread"
        instruction = (
            ""
            if status == "pass"
            else N_("Avoid harsh light: use soft daylight from a window in front of you.")
        )
        top = _top_ratio(m) if view == "front" else None
        if top is not None:
            top_status = _grade(top, o.top_ratio_warn, o.top_ratio_fail, higher_is_worse=False)
            if _RANK[top_status] > _RANK[status]:
                status, value, threshold, measure = top_status, top, o.top_ratio_warn, "top_ratio"
                instruction = N_(
                    "Avoid light from straight above: it puts your eyes and the skin under your nose in "
                    "shadow. Face a window or a lamp in front of you."
                )
        checks.append(QualityCheck("shadows", status, value, threshold, instruction, measure=measure))
    return checks


_GRADIENT_BINS = np.array([-0.5, -0.25, 0.0, 0.25, 0.5], np.float32)  # across the face, face widths


def _side_gradient_ev(m: _FaceMeasures) -> tuple[float, bool] | None:
    """Side light as a gradient across the whole face: the EV lost from one side of the face to
    the other. The face skin (every 2nd pixel) in three bands (forehead above the brows, cheeks
    from the eyes to the mouth, jaw below it), each cut into four strips across the face (along
    the eye line, from the nose bridge, in face widths); the slope of a line through the strips'
    linear light (log2 luma^2.2 of their 75th percentile: a beard, stubble or hair at the temple
    darkens part of a strip, a shadow all of it) is the band's EV per face width, and the median
    of the three bands counts (what darkens one side of one band does not decide). Returns the
    EV and whether the patient's left side is the brighter; None: too little skin."""
    xy = m.landmarks.xy
    ys, xs = np.nonzero(m.skin[::2, ::2])
    if ys.size < 100:
        return None
    luma = m.luma[::2, ::2][ys, xs]
    ys, xs = ys * 2.0, xs * 2.0
    right_eye, left_eye = (xy[468], xy[473]) if len(xy) > 473 else (xy[33], xy[263])
    axis = (left_eye - right_eye) / max(float(np.linalg.norm(left_eye - right_eye)), 1.0)
    centre = xy[168]
    across = ((xs - centre[0]) * axis[0] + (ys - centre[1]) * axis[1]) / max(float(m.face_rect[2]), 1.0)
    strip = np.digitize(across, _GRADIENT_BINS) - 1  # 0..3 inside the face, -1 / 4 outside
    brow_y = float(xy[[105, 334]][:, 1].mean())
    eye_y = float(xy[[159, 386]][:, 1].mean())
    mouth_y = float(xy[[61, 291]][:, 1].mean())
    # Band 0 forehead, 1 cheeks, 2 jaw (-1: between the brows and the eyes); one histogram of luma
    # per band and strip from a single bincount.
    band = np.where(ys < brow_y, 0, np.where(ys < eye_y, -1, np.where(ys < mouth_y, 1, 2)))
    strips = len(_GRADIENT_BINS) - 1
    inside = (band >= 0) & (strip >= 0) & (strip < strips)
    cell = (band[inside] * strips + strip[inside]) * 256 + luma[inside]
    counts = np.bincount(cell, minlength=3 * strips * 256).reshape(3, strips, 256)
    middles = 0.5 * (_GRADIENT_BINS[:-1] + _GRADIENT_BINS[1:])
    slopes = []
    for histograms in counts:
        centres, levels = [], []
        for index, histogram in enumerate(histograms):
            if histogram.sum() >= 20:
                centres.append(float(middles[index]))
                levels.append(2.2 * math.log2(max(_hist_percentiles(histogram, (75,))[0], 2.0) / 255.0))
        if len(centres) >= 2 and min(centres) < 0 < max(centres):
            x, y = np.array(centres), np.array(levels)
            slopes.append(float(np.dot(x - x.mean(), y - y.mean()) / np.dot(x - x.mean(), x - x.mean())))
    if not slopes:
        return None
    slope = float(np.median(slopes))
    return abs(slope), slope > 0


def _top_ratio(m: _FaceMeasures) -> float | None:
    """Light from above: the eye sockets (the skin between brow and eye) and the skin under the
    nose (to the upper lip) against the forehead or the cheeks (the brighter median luma of the
    two: hair over the forehead darkens it, light from above does not). Each shaded area
    is read at its 75th percentile (spectacle frames or a moustache cover part of it, a shadow
    covers all), and the brighter of the two counts: both are shaded under top light; frames
    alone darken only the sockets, a moustache only under the nose. A ratio of the skin to
    itself, so its tone cancels. Fronts. None: too little skin."""
    xy = m.landmarks.xy
    lit_areas = (m.luma[m.masks["forehead"]], m.luma[m.masks["cheek_left"] | m.masks["cheek_right"]])
    lit = max((_median_u8(area) for area in lit_areas if area.size >= 30), default=None)
    if lit is None:
        return None
    sockets = np.zeros(m.skin.shape, np.uint8)
    for brow, eye in ((BROW_RIGHT, EYE_RIGHT), (BROW_LEFT, EYE_LEFT)):
        hull = cv2.convexHull(np.concatenate([xy[list(brow)], xy[list(eye)]]).astype(np.float32))
        cv2.fillPoly(sockets, [np.round(hull).astype(np.int32)], 1)
    under_nose = np.zeros(m.skin.shape, np.uint8)
    hull = cv2.convexHull(xy[list(UNDER_NOSE)].astype(np.float32))
    cv2.fillPoly(under_nose, [np.round(hull).astype(np.int32)], 1)
    shaded = []
    for area in (sockets, under_nose):
        pixels = m.luma[(area > 0) & m.skin]
        if pixels.size < 8:
            return None
        shaded.append(_percentiles_u8(pixels, (75,))[0])
    return max(shaded) / max(lit, 1.0)


def _entropy_bits(values: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Entropy in bits of the 256-bin histogram of uint8 `values` (where `mask` is non-zero;
    0 for no values)."""
    values = np.ascontiguousarray(values)
    counts = cv2.calcHist([values], [0], mask, [256], [0, 256]).ravel().astype(np.float64)
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


def _check_dynamic_range(m: _FaceMeasures, o: QualityOptions) -> QualityCheck | None:
    """ISO/IEC 29794-5 DynamicRange: entropy of the face region's luma histogram (see
    `dynamic_range_fail`). The face oval includes the eyes, brows and lips, as OFIQ's face region
    does; skin tone does not lower it (a darker face spans as many levels when it is well lit)."""
    oval = np.zeros(m.luma.shape, np.uint8)
    cv2.fillPoly(oval, [np.round(m.landmarks.xy[list(FACE_OVAL)]).astype(np.int32)], 1)
    if cv2.countNonZero(oval) < 500:
        return None
    bits = _entropy_bits(m.luma, oval)
    return _graded(
        "dynamic_range",
        bits,
        o.dynamic_range_warn,
        o.dynamic_range_fail,
        N_(
            "The photo looks flat and washed out. Turn off filters and beauty mode, wipe the camera lens and take the photo in daylight."
        ),
        higher_is_worse=False,
    )
