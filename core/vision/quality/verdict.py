"""From the checks to the verdict: which failing check is the main problem (how far past its
fail line), and which failures a worse one spoils."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from core.vision.detector import FaceBox
from core.vision.landmarks import FaceLandmarks, HeadPose
from core.vision.quality.occlusion import _hair_across
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import Measure, QualityCheck, QualityResult, Status


def _result(
    view: str,
    checks: list[QualityCheck],
    pose: HeadPose | None,
    faces: list[FaceBox],
    face_box: tuple[int, int, int, int] | None,
    size: tuple[int, int],
    landmarks: FaceLandmarks | None,
    o: QualityOptions,
    veiled: bool = False,
) -> QualityResult:
    checks = _gradient_names(checks, o)
    statuses = {check.status for check in checks}
    verdict: Status = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    spoiled = _spoiled(checks, o, veiled, view)
    checks = [
        replace(check, severity=0.0 if check.name in spoiled else _severity(check, view, o))
        if check.status == "fail"
        else check
        for check in checks
    ]
    return QualityResult(verdict, view, checks, pose, faces, face_box, size, landmarks)


def _gradient_names(checks: list[QualityCheck], o: QualityOptions) -> list[QualityCheck]:
    """A side-light gradient past `side_gradient_fail` fails only in a photo another check refuses:
    it never refuses a photo by itself (a correct photo in soft window light read past the line),
    but where the photo is retaken anyway it can be the main reason (`_spoiled`, `_severity`
    decide): a studio side light was refused for a turn just past the line, or its cheeks read as
    covered."""
    if not any(check.status == "fail" for check in checks):
        return checks
    return [
        replace(check, status="fail")
        if check.name == "lighting"
        and check.status == "warn"
        and check.measure == "side_gradient"
        and isinstance(check.value, int | float)
        and check.value >= o.side_gradient_fail
        else check
        for check in checks
    ]


def _spoiled(
    checks: list[QualityCheck],
    o: QualityOptions,
    veiled: bool = False,
    view: str = "front",
) -> set[str]:
    """Failing checks whose measure another failing check has spoiled: they stay failing but are
    never the main problem (severity 0), since fixing the cause fixes them too.
    - expression / eyes_open read MediaPipe's blendshapes, which a blurred face turns into "eyes
      closed, mouth open"; sunglasses reads the iris contrast that blur removes;
    - lighting compares the two sides of the face, which a turned head shows unequally: spoiled
      by a yaw at least one warn band past its line (a turn just past it, e.g. 19 degrees on a
      front, does not outrank a strong side light; `_severity` decides between them);
    - the cheek colour test under a failing lighting test: light uneven across a cheek (a hard
      shadow's edge, a highlight near clipping) leaves part of it unlike the rest of its side's
      skin. Tuning split (when the test still read the whole face's median): a studio side light
      on the stage portrait was named "occlusion" from its LIT cheek. The light is the fix; an
      occluder's edges still name it (the edge test spoils lighting);
    - lighting / colour compare the cheeks' pixels, which a hand or hair over a cheek (found by
      its edges) replaces with the occluder's;
    - lighting under hair across the forehead (`_hair_across`, hair_or_hand not itself spoiled):
      the gradient's forehead band reads the hair, which darkens it as a shadow would, and moving
      the hair is the first fix; the light is measured again on the retake. Tuning split: a curly
      fringe over 2/3 of a forehead, with a key light from one side the label calls good, was
      named "harsh light" (label: occlusion);
    - the colour tests of the cheeks and forehead (skin-like pixels) compare against the face's
      skin colour, which burnt-out highlights, a dark photo or a colour cast change unevenly
      (tuning split: over-exposed and blue-cast faces were named "occlusion");
    - a dark exposure under light from above (the top-light test fails): the shade covers the eye
      whites, the reference that tells darker skin from a dark photo, and the light is the fix
      (tuning constructions: light from above on the faces with darker skin was named "too dark");
    - exposure read from channel clipping (`channel_clipped_fail`, no luma clipped) under a failing
      colour cast: the cast pushed the red channel up, correcting it is the fix;
    - sharpness (a flat face's edges span few grey levels: a veil or haze also softens them) and
      the skin's chroma read a flat, washed-out face (dynamic range fails) as blurred and
      colourless: the contrast is the fix;
    - a dark face loses range too, and a veil (flare, haze, a faded photo) darkens a bright face:
      when both fail and the frame's black point is lifted (`veiled`: exposure never lifts blacks,
      a veil does), the range is the problem; otherwise the range the face would have once
      brightened to the exposure's warn line
      (stretching the tones by k adds log2 k bits) says which fix restores both. Still too flat:
      the range is the problem (exposure spoiled); otherwise exposure is (range spoiled). Tuning
      split: -2.3 EV faces -> exposure; a veil over a well-lit face -> dynamic range;
    - sharpness, dynamic range, the blendshapes and the occlusion tests read fine detail, tones and
      chroma that coarse JPEG quantisation removes (chroma is quantised hardest) and whose block
      borders add edges: sending the original is the fix (tuning split: a q20 selfie was named
      "occlusion");
    - sharpness reads a face with too few pixels (distance fails: pupils < 60 px apart) as soft
      however well it was focused, and moving closer is the fix (tuning split: a stage photo with
      a 72 px face was named "blur");
    - sharpness reads the face's strongest edges, which harsh light makes the soft borders of its
      own shadows (light from above on the astronaut: 1.35 -> 1.27 at 2.5 EV, past the fail line,
      with the shadows test failing): the light is the fix. Not the lighting test: its side-light
      gradient fails only when another check refuses the photo, so a blurred face with ordinary
      side light would name its light instead of its blur."""
    failing = {check.name: check for check in checks if check.status == "fail"}
    spoiled: set[str] = set()
    if "sharpness" in failing:
        spoiled |= {"expression", "eyes_open", "sunglasses"}
    if "distance" in failing or "shadows" in failing:
        spoiled.add("sharpness")
    yaw = failing.get("yaw")
    if yaw is not None and _severity(yaw, view, o) >= 1.0:
        spoiled.add("lighting")
    exposure = failing.get("exposure")
    if exposure is not None and exposure.measure == "dark_p90":
        # A dark face (not excused as dark skin) makes the landmarks' pose unreliable: a low-key
        # face's shadows read as geometry. A pitch or roll less than one warn band past its line
        # is not the main problem; the light is (tuning split: a dim low-key front, chin down
        # ~15-20 degrees by its label, measured -26.7: named "pose" before "too dark"). A yaw is
        # not spoiled (a turned head is a different photo, not a pose error of a few degrees).
        for name in ("pitch", "roll"):
            check = failing.get(name)
            if check is not None and _severity(check, view, o) < o.dark_pose_spoil_bands:
                spoiled.add(name)
        shadows = failing.get("shadows")
        if shadows is not None and shadows.measure == "top_ratio":
            # Light from above shades the eye sockets, eye whites included: the reference that
            # tells darker skin from a dark photo (`_dark_skin`) is gone, and the light is the fix.
            spoiled.add("exposure")
    dynamic_range = failing.get("dynamic_range")
    if exposure is not None and dynamic_range is not None:
        bits = float(dynamic_range.value) if isinstance(dynamic_range.value, int | float) else 0.0
        if exposure.measure == "dark_p90" and veiled:
            spoiled.add("exposure")  # blacks lifted: a veil, not a dark photo
        elif exposure.measure == "dark_p90" and isinstance(exposure.value, int | float):
            gain = o.dark_p90_warn / max(float(exposure.value), 1.0)
            spoiled.add("dynamic_range" if bits + math.log2(gain) >= o.dynamic_range_fail else "exposure")
        else:
            spoiled.add("dynamic_range")  # burnt out: clipping took the range
    if exposure is not None and exposure.measure == "channel_clipped" and "colour" in failing:
        # A warm or magenta cast lifts the red channel to 255 on its own (tuning split: casts clip
        # 9-25 % of the skin's channels): the cast is the fix; luma clipping still names exposure.
        spoiled.add("exposure")
    if "dynamic_range" in failing and "dynamic_range" not in spoiled:
        spoiled |= {"sharpness", "colour"}
    if "compression" in failing:
        spoiled |= {
            "sharpness",
            "dynamic_range",
            "expression",
            "eyes_open",
            "cheek_occlusion",
            "hair_or_hand",
        }
    cheek = failing.get("cheek_occlusion")
    if cheek is not None and cheek.measure == "cheek_edges" and "compression" not in failing:
        spoiled |= {"lighting", "colour"}
    elif {"exposure", "colour"} & failing.keys():
        spoiled |= {"cheek_occlusion", "hair_or_hand"}
    if "hair_or_hand" not in spoiled and _hair_across(failing.get("hair_or_hand"), o):
        spoiled.add("lighting")
    lit_badly = "lighting" in failing and "lighting" not in spoiled
    if cheek is not None and cheek.measure == "cheek_skin" and lit_badly:
        spoiled.add("cheek_occlusion")  # a shadowed or glaring cheek read as covered
    return spoiled


_CATEGORICAL = 10.0  # a fail with no degree (and the cap of every severity)


def _margin(value: float, warn: float, fail: float) -> float:
    """How far `value` is past `fail`, in units of the warn band |fail - warn| (either direction)."""
    return float(np.clip((value - fail) / (fail - warn), 0.0, _CATEGORICAL))


# The warn and fail lines of each graded measure, by check name and
# `QualityCheck.measure` ("" = the check's one measure). Pose and colour are read in `_severity`;
# a check or measure not here (one face, image size, dark lenses, a frame too dark or bright to
# find a face) fails with no degree.
_LINES: dict[tuple[str, Measure], Callable[[QualityOptions], tuple[float, float]]] = {
    ("distance", ""): lambda o: (o.warn_interpupil_px, o.min_interpupil_px),
    ("face_size", ""): lambda o: (o.warn_face_height_fraction, o.min_face_height_fraction),
    ("exposure", "dark_p90"): lambda o: (o.dark_p90_warn, o.dark_p90_fail),
    ("exposure", "clipped"): lambda o: (o.clipped_fraction_warn, o.clipped_fraction_fail),
    ("exposure", "channel_clipped"): lambda o: (o.channel_clipped_warn, o.channel_clipped_fail),
    ("exposure", "closeup_bright_end"): lambda o: (o.closeup_bright_end_warn, o.closeup_bright_end_fail),
    ("backlight", ""): lambda o: (o.backlight_difference_warn, o.backlight_difference_fail),
    ("lighting", "cheek_ratio"): lambda o: (o.side_ratio_warn, o.side_ratio_fail),
    ("lighting", "side_gradient"): lambda o: (o.side_gradient_warn, o.side_gradient_fail),
    ("shadows", "spread"): lambda o: (o.shadow_spread_warn, o.shadow_spread_fail),
    ("shadows", "top_ratio"): lambda o: (o.top_ratio_warn, o.top_ratio_fail),
    ("sharpness", ""): lambda o: (o.sharpness_warn, o.sharpness_fail),
    ("sharpness", "direction"): lambda o: (o.sharp_direction_warn, o.sharp_direction_fail),
    ("sharpness", "closeup_focus"): lambda o: (o.closeup_focus_warn, o.closeup_focus_fail),
    ("scale", ""): lambda o: (o.closeup_px_per_mm_warn, o.closeup_px_per_mm_fail),
    ("dynamic_range", ""): lambda o: (o.dynamic_range_warn, o.dynamic_range_fail),
    ("compression", ""): lambda o: (o.compression_quality_warn, o.compression_quality_fail),
    ("cheek_occlusion", "cheek_skin"): lambda o: (o.cheek_skin_warn, o.cheek_skin_fail),
    ("cheek_occlusion", "cheek_edges"): lambda o: (o.cheek_edge_warn, o.cheek_edge_fail),
    ("hair_or_hand", "forehead_skin"): lambda o: (o.forehead_skin_warn, o.forehead_skin_fail),
    ("hair_or_hand", "forehead_edges"): lambda o: (o.forehead_edge_warn, o.forehead_edge_fail),
    ("expression", ""): lambda o: (o.jaw_open_warn, o.jaw_open_fail),
    ("expression", "grimace"): lambda o: (o.grimace_warn, o.grimace_fail),
    ("eyes_open", ""): lambda o: (o.eye_blink_warn, o.eye_blink_fail),
    ("sunglasses", "frames"): lambda o: (o.glasses_frame_warn, o.glasses_frame_fail),
}


def _severity(check: QualityCheck, view: str, o: QualityOptions) -> float:
    """The failing `check`'s distance past its fail line, from its value and `QualityOptions`.

    Why not "the first failing check in report order": a turn 1.5 degrees past the line was named
    before hair covering the forehead, a pupil distance 5 px short before squeezed-shut eyes.
    The worse deviation is what the patient should fix first."""
    value = check.value
    if not isinstance(value, int | float) or isinstance(value, bool):
        return _CATEGORICAL  # one_face and image_size report counts/sizes: no degree
    v = float(value)
    name = check.name
    if name == "yaw":
        if view == "front":
            return _margin(abs(v), o.front_yaw_pass, o.front_yaw_warn)
        signed = v if view.startswith("left") else -v
        if signed < -5:
            return _CATEGORICAL  # the wrong side
        if view.endswith("oblique"):
            (lo_pass, hi_pass), (lo_warn, hi_warn) = o.oblique_yaw_range_pass, o.oblique_yaw_range_warn
            if signed > hi_warn:
                return _margin(signed, hi_pass, hi_warn)
            return _margin(signed, lo_pass, lo_warn)
        return _margin(signed, o.profile_yaw_min_pass, o.profile_yaw_min_warn)
    if name == "pitch":
        if v > 0:
            return _margin(v, o.pitch_up_pass, o.pitch_up_warn)
        return _margin(-v, o.pitch_pass, o.pitch_warn)
    if name == "roll":
        return _margin(abs(v), o.roll_pass, o.roll_warn)
    if name == "colour":
        if check.measure == "monochrome":
            # Black-and-white: a filter, but the label names the light or pose problem it shows
            # (tuning split: dark, harsh-light and turned monochrome photos), so never the main one.
            return 0.0
        # The cast margin; a skin hue/chroma fail with a neutral grey world counts as on the line.
        return _margin(v, o.cast_image_warn, o.cast_image_fail) if v > o.cast_image_fail else 1.0
    lines = _LINES.get((name, check.measure))
    if lines is None:
        return _CATEGORICAL
    return _margin(v, *lines(o))
