"""Every colour measure inherits the exposure anchor (issue 13).

The same face photo exposed darker or brighter (by construction: its linear light scaled) must give
the same colour measures when an anchor (here: the teeth) sets the exposure, while the construction
moves the raw numbers well beyond the tolerance. Brighter than about 1.2x burns the teeth out to
white: then they are refused as an anchor, and the report says so. And a skin made darker (the same photo with only
the skin darkened, eye whites and teeth as they were) must read darker and more pigmented with the
anchor, where the face's own exposure brightens most of that difference away.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from core.assessment import canonical as canon
from core.assessment.engine import AssessmentOptions, assess_photo
from core.assessment.findings import case_reliability, skin_tone_missing
from core.assessment.metrics import anchor_exposure
from core.vision.landmarks import detect_landmarks, points_px

from .conftest import FAST

PHOTO = "frontal_goodlight_older_male_02.jpg"  # teeth in the smile anchor its exposure
RAW = AssessmentOptions(run_registry=False, evidence=False, white_balance=False)
UNANCHORED = AssessmentOptions(run_registry=False, evidence=False, exposure_anchor=False)
# (metric, region, tolerance): absolute, in the measure's own unit.
COLOUR_MEASURES = (
    ("ita", "face", 2.0), ("redness", "cheek_left", 1.0), ("redness", "forehead", 1.0),
    ("melanin", "cheek_left", 1.5), ("melanin", "forehead", 1.5), ("tone_evenness", "cheek_left", 0.6),
    ("red_area", "cheek_left", 2.0), ("under_eye", "under_eye_left", 1.5),
)  # fmt: skip


def measures(result) -> dict[tuple[str, str], float]:
    out = {}
    for metric, region, _ in COLOUR_MEASURES:
        found = result.metric(metric, region)
        out[(metric, region)] = float("nan") if found is None else float(found.value)
    return out


@pytest.fixture(scope="module")
def photo(shared_testdata) -> tuple[np.ndarray, np.ndarray]:
    read = cv2.imread(str(shared_testdata / "faces" / PHOTO))
    assert read is not None
    image = np.asarray(read)
    landmarks = detect_landmarks(image)
    assert landmarks is not None
    return image, points_px(landmarks, with_z=True, dtype=np.float64)


def exposed(image: np.ndarray, factor: float) -> np.ndarray:
    return canon.relight(image, (factor, factor, factor))


@pytest.mark.shared
def test_colour_measures_hold_under_exposure_with_an_anchor(photo):
    image, points = photo
    base = assess_photo(image, "front", points, options=FAST)
    assert base.illumination["skin_tone_anchor"] == "teeth"
    reference, raw_reference = measures(base), measures(assess_photo(image, "front", points, options=RAW))
    raw_moved = []
    for factor in (0.6, 1.15):
        changed = exposed(image, factor)
        result = assess_photo(changed, "front", points, options=FAST)
        assert result.illumination["skin_tone_anchor"] == "teeth", factor
        anchored = measures(result)
        raw = measures(assess_photo(changed, "front", points, options=RAW))
        for metric, region, tolerance in COLOUR_MEASURES:
            key = (metric, region)
            assert abs(anchored[key] - reference[key]) <= tolerance, (
                factor,
                key,
                reference[key],
                anchored[key],
            )
            raw_moved.append(abs(raw[key] - raw_reference[key]) / tolerance)
    # Without anchoring the same construction moves the numbers: on average by several tolerances.
    assert float(np.nanmean(raw_moved)) > 2.0, raw_moved


@pytest.mark.shared
def test_a_burnt_out_white_is_refused_and_the_report_says_why(photo):
    image, points = photo
    result = assess_photo(exposed(image, 1.6), "front", points, options=FAST)
    assert result.illumination["anchor_unusable"].get("teeth") == "clipped"
    ita = result.metric("ita", "face")
    assert ita is not None and not math.isfinite(ita.value)
    assert any(note.startswith("teeth: overexposed") for note in ita.reliability), ita.reliability
    # The physician reads what was found and why it was refused, not "no eye white or teeth".
    report = {"metrics": [{"metric": m.metric, "region": m.region, "reliability": m.reliability}
                          for m in result.metrics]}  # fmt: skip
    lines = " ".join(case_reliability(report))
    assert "teeth: overexposed (burnt out to white)" in lines, lines
    assert "no colour chart, eye white or teeth" not in lines
    assert skin_tone_missing(ita.reliability) == "the eye whites or teeth seen could not set the exposure"


def darken_skin(image: np.ndarray, points: np.ndarray, factor: float) -> np.ndarray:
    """The photo with the skin of the face (not the eye openings, not the inside of the mouth)
    darker by `factor` on linear light, feathered at the edges."""
    height, width = image.shape[:2]
    skin = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(skin, cv2.convexHull(np.round(points[:, :2]).astype(np.int32)), 1)
    for contour in (canon.RIGHT_EYE_CONTOUR, canon.LEFT_EYE_CONTOUR, canon.INNER_MOUTH):
        cv2.fillPoly(skin, [np.round(points[list(contour), :2]).astype(np.int32)], 0)
    weight = cv2.GaussianBlur(skin.astype(np.float32), (0, 0), 2.0)[..., None]
    linear = canon.srgb_to_linear(image[..., ::-1] / 255.0)
    darker = linear * (1.0 - weight * (1.0 - factor))
    return (canon.linear_to_srgb(darker) * 255.0 + 0.5).astype(np.uint8)[..., ::-1]


@pytest.mark.shared
def test_darker_skin_reads_darker_only_with_the_anchor(photo):
    image, points = photo
    darker = darken_skin(image, points, 0.5)
    anchored = [assess_photo(i, "front", points, options=FAST) for i in (image, darker)]
    unanchored = [assess_photo(i, "front", points, options=UNANCHORED) for i in (image, darker)]
    assert [a.illumination["skin_tone_anchor"] for a in anchored] == ["teeth", "teeth"]

    def change(pair, metric: str, region: str) -> float:
        before, after = (p.metric(metric, region) for p in pair)
        assert before is not None and after is not None
        return float(after.value) - float(before.value)

    # Half the light: melanin index +30 (100*log10 2), ITA lower; the face's own exposure
    # brightens the darker face back and keeps little of either.
    assert 20.0 < change(anchored, "melanin", "forehead") < 40.0
    assert abs(change(unanchored, "melanin", "forehead")) < 0.5 * change(anchored, "melanin", "forehead")
    assert change(anchored, "ita", "face") < -10.0
    withheld = unanchored[0].metric("ita", "face")
    assert withheld is not None and not math.isfinite(withheld.value)  # no anchor, no skin tone


def test_anchor_exposure_is_one_rescaling_of_the_colour_maps():
    """The one function every colour measure goes through: exact CIELAB re-exposure."""
    rng = np.random.default_rng(7)
    linear = rng.uniform(0.05, 0.6, (8, 8, 3)).astype(np.float32)

    def lab_of(values: np.ndarray) -> np.ndarray:
        srgb = (canon.linear_to_srgb(values) * 255.0).astype(np.float32) / 255.0
        return cv2.cvtColor(srgb, cv2.COLOR_RGB2LAB)

    ratio = 0.5
    maps = {"lab": lab_of(linear), "melanin": -100 * np.log10(linear[..., 0]), "blob_dark": np.ones((8, 8))}
    anchored = anchor_exposure(maps, ratio)
    expected = lab_of(linear * ratio)
    assert np.abs(anchored["lab"] - expected).max() < 1.0
    assert np.allclose(anchored["melanin"], -100 * np.log10(linear[..., 0] * ratio), atol=1e-3)
    assert np.allclose(anchored["blob_dark"], ratio ** (1 / 3))
    assert anchor_exposure(maps, 1.0) is maps
