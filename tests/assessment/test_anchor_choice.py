"""Which eye white or teeth anchor the exposure, and when they also set the colour (issue 13, 1.5.1).

Constructed linear images under a warm light: a very light skin whose eye white's lit part is
plainly white while the opening as a whole reads darker than the skin (ordinary distance), eye
whites and teeth that disagree because one is in shade, and the lightest skin still accepted.
"""

from __future__ import annotations

import numpy as np

from core.assessment import canonical as canon

LIGHT = np.array([1.2, 1.0, 0.7])  # a warm lamp's gains on linear RGB
SKIN_REFLECTANCE = np.array([0.6, 0.45, 0.35])  # a very light skin (r/b well above a white's)


def luminance(rgb: np.ndarray) -> float:
    return float(np.asarray(rgb) @ np.array([0.2126, 0.7152, 0.0722]))


def lit_scene(skin_luminance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(linear image, eye-white mask, skin colour): the upper half an eye white whose pixels run
    from shade (luminance 0.1) to lit (0.5), the lower half skin, all under LIGHT."""
    skin = SKIN_REFLECTANCE * LIGHT
    skin = skin * skin_luminance / luminance(skin)
    white = LIGHT / luminance(LIGHT)
    image = np.empty((64, 64, 3), np.float32)
    levels = np.linspace(0.1, 0.5, 32 * 64).reshape(32, 64)
    image[:32] = levels[..., None] * white
    image[32:] = skin
    mask = np.zeros((64, 64), bool)
    mask[:32] = True
    return image, mask, skin


def test_a_lit_eye_white_balances_a_very_light_skin_the_blended_references_refused():
    image, sclera, skin = lit_scene(0.45)
    blended, stats = canon.sclera_reference(image, sclera, skin)
    assert blended is None and stats["sclera_brightness"] < 0.8  # the opening reads darker than skin
    result = canon.estimate_illumination(image, sclera, image[32:].reshape(-1, 3), skin)
    assert result["skin_tone_anchor"] == "eye white"
    assert result["method"] == "sclera" and result["white_from_anchor"]
    # The warm light is taken out: the gains are its inverse (up to the exposure).
    gains = np.asarray(result["colour_gains"]) * LIGHT
    assert np.allclose(gains / gains.mean(), 1.0, atol=0.02), result["colour_gains"]


def test_an_eye_white_in_shade_neither_anchors_nor_balances():
    image, sclera, skin = lit_scene(0.7)  # the white's lit part would make this skin L* 90
    result = canon.estimate_illumination(image, sclera, image[32:].reshape(-1, 3), skin)
    assert result["skin_tone_anchor"] is None
    assert result["anchor_unusable"] == {"sclera": "shaded"}
    assert result["method"] == "exposure_only"


def test_of_an_eye_white_and_teeth_that_disagree_the_brighter_anchors():
    levels = [canon.WhiteLevel("sclera", 0.3, 200), canon.WhiteLevel("teeth", 0.5, 400)]
    stats: dict = {}
    anchor, gain = canon.exposure_anchor(levels, 0.2, stats)
    assert anchor == "teeth" and gain is not None
    assert abs(gain - canon.ANCHOR_TARGETS["teeth"] / 0.5) < 1e-9
    assert stats["anchor_unusable"] == {"sclera": "shaded"}
    assert stats["skin_tone_anchor_sources"] == ["teeth"]
    # Close enough (within 1.2x) both anchor: their gains' geometric mean weighted by pixels.
    close = [canon.WhiteLevel("sclera", 0.45, 200), canon.WhiteLevel("teeth", 0.5, 400)]
    stats = {}
    anchor, gain = canon.exposure_anchor(close, 0.2, stats)
    assert anchor == "eye white and teeth" and gain is not None
    expected = canon.ANCHOR_TARGETS["teeth"] / (0.45 ** (1 / 3) * 0.5 ** (2 / 3))
    assert abs(gain - expected) < 1e-9
    assert stats["skin_tone_anchor_sources"] == ["teeth", "sclera"]  # most weight first


def test_a_white_fading_towards_a_refusal_fades_out_of_the_exposure():
    """No jump where a retake tips a white over a threshold: the exposure with a white that has
    almost reached one (confidence near 0, or a disagreement near ANCHOR_MAX_DISAGREEMENT) is
    nearly the exposure without it."""
    teeth = canon.WhiteLevel("teeth", 0.5, 400)
    _, alone = canon.exposure_anchor([teeth], 0.2, {})
    assert alone is not None
    for sclera in (
        canon.WhiteLevel("sclera", 0.45, 400, confidence=0.01),  # e.g. barely less coloured than skin
        canon.WhiteLevel("sclera", 0.5 / (canon.ANCHOR_MAX_DISAGREEMENT - 0.005), 400),  # nearly shaded
    ):
        _, both = canon.exposure_anchor([sclera, teeth], 0.2, {})
        assert both is not None and abs(np.log(both / alone)) < 0.01, (sclera, both, alone)
    # Well clear of every threshold the eye white counts in full.
    _, even = canon.exposure_anchor([canon.WhiteLevel("sclera", 0.45, 400), teeth], 0.2, {})
    assert even is not None and abs(np.log(even / alone)) > 0.04


def test_white_level_confidence_falls_to_zero_at_the_skin_contrast_threshold():
    image, sclera, skin = lit_scene(0.3)
    white = image[:32].copy()
    confidences = []
    # The white tinted towards the skin's colour: its skin contrast falls towards the threshold.
    for mix in (0.0, 0.25, 0.32):
        tint = (skin / luminance(skin)) ** mix / (LIGHT / luminance(LIGHT)) ** mix
        image[:32] = white * tint
        found, reason = canon.white_level(image, sclera, skin, "sclera")
        confidences.append(0.0 if found is None else found.confidence)
    assert confidences[0] == 1.0 and 0.0 < confidences[1] < 1.0 and confidences[2] < confidences[1]


def test_teeth_balance_the_light_less_their_own_yellow():
    """Teeth under a neutral light are yellowish: balanced as their own tint they leave the light
    neutral (an eye white under the same light agrees), instead of turning the skin blue."""
    tint = np.asarray(canon.TEETH_TINT)
    image = np.empty((64, 64, 3), np.float32)
    image[:32] = 0.5 * tint
    image[32:] = SKIN_REFLECTANCE * 0.5
    teeth = np.zeros((64, 64), bool)
    teeth[:32] = True
    skin = SKIN_REFLECTANCE * 0.5
    reference, _ = canon.neutral_reference(image, teeth, skin, "teeth", upper_percentile=90.0)
    found, _ = canon.white_level(image, teeth, skin, "teeth")
    assert reference is not None and found is not None
    assert np.allclose(reference.rgb, 1.0, atol=0.01), reference.rgb
    assert np.allclose(found.rgb, 1.0, atol=0.01), found.rgb


def test_the_lightest_skin_is_accepted_and_lighter_than_any_skin_is_shade():
    white = [canon.WhiteLevel("sclera", canon.ANCHOR_TARGETS["sclera"], 200)]  # gain 1

    def skin_at(lightness: float) -> float:
        return ((lightness + 16.0) / 116.0) ** 3

    assert canon.exposure_anchor(white, skin_at(83.0), {})[0] == "eye white"  # a very light child
    stats: dict = {}
    assert canon.exposure_anchor(white, skin_at(88.0), stats)[0] is None
    assert stats["anchor_unusable"] == {"sclera": "shaded"}
