"""The skin-tone anchor's sources as a list beside its label (issue 13, engine 1.5.2).

The engine records which references anchored a photo's exposure as source keys
(illumination.skin_tone_anchor_sources); the card names them from that list, and still reads the
older reports that only have the label ("eye white and teeth").
"""

from __future__ import annotations

from core.assessment import canonical as canon

from .test_anchor_choice import lit_scene


def test_the_engine_records_the_anchor_sources_beside_the_label():
    image, sclera, skin = lit_scene(0.45)
    result = canon.estimate_illumination(image, sclera, image[32:].reshape(-1, 3), skin)
    assert result["skin_tone_anchor"] == "eye white"
    assert result["skin_tone_anchor_sources"] == ["sclera"]
    shaded = canon.estimate_illumination(*lit_scene(0.7)[:2], None, lit_scene(0.7)[2])
    assert shaded["skin_tone_anchor"] is None and shaded["skin_tone_anchor_sources"] == []
    chart = canon.estimate_illumination(image, None, image.reshape(-1, 3), calibrated=True)
    assert chart["skin_tone_anchor_sources"] == ["colour_chart"]
    pooled = canon.estimate_illumination(image, sclera, None, skin, case_skin_luminance=0.3)
    assert pooled["skin_tone_anchor"] == "consultation"
    assert pooled["skin_tone_anchor_sources"] == ["consultation"]


def _report(illumination: dict) -> dict:
    ita = {
        "metric": "ita",
        "region": "face",
        "value": 45.0,
        "band": "light",
        "unit": "deg",
        "reliability": [],
    }
    return {"metrics": [ita], "photos": [{"illumination": illumination}]}


def test_the_card_names_the_anchors_from_the_list_and_still_reads_old_labels():
    from components.assessment_card import _skin_tone_line

    listed = _skin_tone_line(_report({"skin_tone_anchor_sources": ["teeth", "sclera"]}))
    assert listed.endswith("light anchored on the eye white and teeth"), listed
    # The list wins over the label; a photo of an older report (label only) and one with the list
    # that name the same anchor name it once.
    report = _report({"skin_tone_anchor": "teeth", "skin_tone_anchor_sources": ["sclera"]})
    report["photos"].append({"illumination": {"skin_tone_anchor": "eye white"}})
    assert _skin_tone_line(report).endswith("light anchored on the eye white"), _skin_tone_line(report)
    old = _skin_tone_line(_report({"skin_tone_anchor": "eye white and teeth"}))
    assert old.endswith("light anchored on the eye white and teeth"), old
    chart = _skin_tone_line(
        _report({"skin_tone_anchor": "colour chart", "skin_tone_anchor_sources": ["colour_chart"]})
    )
    assert chart.endswith("light anchored on the colour chart"), chart
