"""Known groups: skin tone (ITA) on real photos labelled by a person, light to dark skin.

The photos are split by a hash of the file name; the anchor target in canonical.py was fitted on
the "tune" half (`benchmarks/eval_skin_tone.py --fit`, which also prints the table per tone and
half). Asserted: every dark-labelled photo reads below 10 deg or "not measurable" (both halves);
on the held-out half no category is more than one step from the label; the median ITA is ordered
light > medium > brown > dark over all labelled photos; and the anchors are found on a fair share
of each half.

What does not hold, and is not asserted (1.5.2): on the held half alone light (39.6 deg, its one
measured light photo) sits below medium (41.5, two photos); only "light and medium above brown"
holds there. Since the teeth balance the light less their own yellow (1.5.2, canonical.TEETH_TINT)
no measured photo of either half is more than one category off (brown_skin_frontal_outdoor_10, a
medium skin balanced on its teeth, read "very light" at 62 deg; now "light", 54).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.eval_skin_tone import DARK_LIMIT, TONES, category_steps, measured_skin_tones, tone_median

from .conftest import FAST


@pytest.mark.shared
def test_skin_tone_known_groups(shared_testdata):
    rows = measured_skin_tones(shared_testdata, FAST)
    measured = [r for r in rows if r.ita is not None]
    # 1.4.0 measured 7 of the 43, 1.5.0 14 (tune 8, held 6), 1.5.1 17 (tune 11, held 6)
    assert len(measured) >= 16, len(measured)
    assert sum(r.half == "held" for r in measured) >= 6
    assert any(r.tone == "dark" for r in measured)  # a dark skin gets a skin tone, not only "not measurable"
    for row in measured:
        if row.tone == "dark":
            assert row.ita is not None and row.ita < DARK_LIMIT, row
        assert row.ita is not None and category_steps(row.tone, row.ita) <= 1, row
    medians = [m for tone in TONES if (m := tone_median(rows, tone)) is not None]
    assert len(medians) == 4 and medians == sorted(medians, reverse=True), medians
    assert np.isfinite(medians).all()
    # The held half on its own: what holds there with its few photos (light 1, medium 2, brown 3).
    held = [r for r in rows if r.half == "held"]
    light, medium, brown = (tone_median(held, tone) for tone in ("light", "medium", "brown"))
    assert light is not None and medium is not None and brown is not None
    assert min(light, medium) > brown, (light, medium, brown)
