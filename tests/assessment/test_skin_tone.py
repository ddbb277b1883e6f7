"""Known groups: skin tone (ITA) on real photos labelled by a person, light to dark skin.

The photos are split by a hash of the file name; the anchor constants in canonical.py were tuned
on the "tune" half. Each half must hold the criteria on its own, the held-out half included.
"""

from __future__ import annotations

import csv
import hashlib
import math

import cv2
import numpy as np
import pytest

from core.assessment.engine import assess_photo
from core.assessment.metrics import ITA_CATEGORIES

from .conftest import FAST

ORDER = [name for _, name in ITA_CATEGORIES] + ["dark"]
# The labeller's four words on the six ITA categories (Chardon / Del Bino).
LABEL_CATEGORIES = {"light": {"very light", "light"}, "medium": {"intermediate"}, "brown": {"tan"},
                    "dark": {"brown", "dark"}}  # fmt: skip


def half(file_name: str) -> str:
    return "tune" if int(hashlib.sha256(file_name.encode()).hexdigest(), 16) % 2 == 0 else "held"


def measured_skin_tones(directory) -> list[tuple[str, str, float | None]]:
    rows = [r for r in csv.DictReader((directory / "faces_labels.csv").open()) if r["skin_tone"] != "unknown"]
    out = []
    for row in rows:
        result = assess_photo(cv2.imread(str(directory / row["file"])), "front", options=FAST)
        ita = result.metric("ita", "face") if result.status == "assessed" else None
        value = ita.value if ita is not None and math.isfinite(ita.value) else None
        out.append((half(row["file"].split("/")[-1]), row["skin_tone"], value))
    return out


@pytest.mark.shared
def test_skin_tone_known_groups(shared_testdata):
    results = measured_skin_tones(shared_testdata)
    assert sum(v is not None for *_, v in results) >= 6  # the anchors work on a fair share
    for part in ("tune", "held"):
        rows = [(tone, v) for h, tone, v in results if h == part]
        for tone, value in rows:
            if value is None:
                continue  # "skin tone not measurable" is an allowed answer
            if tone == "dark":
                assert value < 10, (part, tone, value)
            category = ORDER.index(next(name for limit, name in ITA_CATEGORIES if value > limit)
                                   if value > ITA_CATEGORIES[-1][0] else "dark")  # fmt: skip
            steps = min(abs(category - ORDER.index(c)) for c in LABEL_CATEGORIES[tone])
            assert steps <= 1, (part, tone, value)
        medians = [np.median(vs) if (vs := [v for t, v in rows if t == tone and v is not None]) else None
                   for tone in ("light", "medium", "brown", "dark")]  # fmt: skip
        present = [m for m in medians if m is not None]
        assert present == sorted(present, reverse=True), (part, medians)
