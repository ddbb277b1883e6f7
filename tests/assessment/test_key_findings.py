"""Key findings: the few that matter, never a minimal-band measure picked only because it is the
highest of low values (issue 13: a physician reads the card in seconds)."""

from __future__ import annotations

from core.assessment.findings import MAX_FINDINGS, MIN_FINDINGS, key_findings


def _metric(metric: str, region: str, score: float, band: str) -> dict:
    return {"metric": metric, "region": region, "score": score, "band": band, "value": score / 10}


def test_minimal_findings_only_fill_up_to_the_minimum() -> None:
    metrics = [
        _metric("tone_evenness", "forehead", 80, "marked"),
        _metric("tone_evenness", "nose", 5, "minimal"),
        _metric("redness", "cheek_left", 20, "minimal"),  # the highest redness, still minimal
        _metric("redness", "cheek_right", 4, "minimal"),
        _metric("melanin", "forehead", 60, "moderate"),
        _metric("melanin", "chin", 10, "minimal"),
        _metric("texture", "cheek_left", 22, "minimal"),
        _metric("texture", "cheek_right", 2, "minimal"),
    ]
    chosen = key_findings(metrics)
    notable = [f for f in chosen if f["band"] != "minimal"]
    assert len(notable) == 2
    # Minimal ones only make up the minimum count, nothing beyond it.
    assert len(chosen) == max(MIN_FINDINGS, len(notable)) <= MAX_FINDINGS


def test_every_notable_finding_is_kept_up_to_the_maximum() -> None:
    regions = ("forehead", "nose", "chin", "cheek_left", "cheek_right")
    metrics = [
        _metric(name, region, 70, "marked")
        for name in ("melanin", "texture", "tone_evenness", "pores")
        for region in regions
    ]
    chosen = key_findings(metrics)
    assert len(chosen) == MAX_FINDINGS
    assert all(f["band"] == "marked" for f in chosen)
