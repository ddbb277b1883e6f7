"""The assessment card renders a finished report (Streamlit AppTest, no browser)."""

from __future__ import annotations

from datetime import date

import cv2
import numpy as np
from streamlit.testing.v1 import AppTest

from core.access import SYSTEM_PRINCIPAL
from core.clinic import shared_clinic
from core.consult.cases import IntakeForm
from core.consult.photos import intake_frame

from .conftest import checked_photo

PASSWORD = "correct-horse-battery"


def _card_script(case_id: str) -> None:
    from components.assessment_card import render_assessment_section
    from core.clinic import shared_clinic

    clinic = shared_clinic()
    principal = clinic.auth.login("doc@clinic.test", "correct-horse-battery").principal
    render_assessment_section(clinic, principal, case_id)


def test_card_shows_summary_flags_metrics_and_overlays(data_dir, face_photo_bgr):
    clinic = shared_clinic()
    try:
        clinic.auth.create_staff(SYSTEM_PRINCIPAL, "physician", "doc@clinic.test", "Dr Doc", PASSWORD)
        clinic.auth.register_patient(
            "alice@example.test", PASSWORD, "Alice", date(1988, 5, 4), "en", "Europe/Amsterdam",
            accepted_telemedicine_consent=True,
        )  # fmt: skip
        alice = clinic.auth.login("alice@example.test", PASSWORD).principal
        small = cv2.resize(face_photo_bgr, (410, 492), interpolation=cv2.INTER_AREA)
        # Far and blurred: the real gate fails it; the card must say what to do, not name checks.
        blurred = cv2.GaussianBlur(
            cv2.resize(face_photo_bgr, (205, 246), interpolation=cv2.INTER_AREA), (0, 0), 3
        )
        failed = intake_frame(blurred, "right_oblique", source="upload")
        assert failed.verdict == "fail"
        photos = [checked_photo("front", small), checked_photo("left_oblique", small), failed]
        intake = IntakeForm(
            concerns=["redness_rosacea"], areas=["cheeks"], duration="1 year", consent_photo_storage=True
        )
        case_id = clinic.cases.submit_example_case(alice, intake, photos)  # keeps the failed one
        assert clinic.assessments.wait_idle(120)

        app = AppTest.from_function(_card_script, args=(case_id,), default_timeout=60).run()
        assert not app.exception, app.exception
        text = " ".join(m.value for m in app.markdown)
        assert "2 of 3 photos measured" in text
        warnings = " ".join(w.value for w in app.warning)
        assert "Right side photo not measured" in warnings  # the views as the card names them
        for check in failed.quality.failing:
            assert check.instruction in warnings and check.name not in warnings
        assert "Redness" in text and "badge" in text
        assert any("AI pre-assessment" in h.value for h in app.header)
        assert [b.label for b in app.button] == ["Run again"]
        # One screen first: the photo with a heat-map toggle and legend, 3-6 key findings.
        assert "Key findings" in text
        findings = [m.value for m in app.markdown if "-badge[" in m.value and ":" in m.value.split("**")[1]]
        assert 3 <= len(findings) <= 6, findings
        assert app.toggle[0].label == "Heat map" and app.toggle[0].value
        assert "markedly redder" in " ".join(c.value for c in app.caption)  # the legend
        assert "Skin tone" in text
        # Units people read; no lab units, module paths or fractional counts on the card.
        shown = text + " ".join(c.value for c in app.caption)
        for raw in (" a*", " MI", " dE", "L*", "/1000px", "Ita ", "core.vision", "count"):
            assert raw not in shown, raw
        # The reliability caveat once for the case, not under every measure.
        assert shown.count("Reliability for this case") == 1
        # Per-region detail one click away: an expander with a region picker, not 14 tabs.
        assert not app.tabs and app.expander and app.selectbox[0].label == "Region"
        kinds = _element_types(app._tree.main)
        assert kinds.count("image") >= 2  # the photo and the legend
    finally:
        clinic.assessments.wait_idle(60)
        clinic.close()


def _element_types(node) -> list[str]:
    """Element types anywhere under an AppTest node (AppTest has no typed accessor for images)."""
    found = [getattr(node, "type", "")]
    for child in getattr(node, "children", {}).values():
        found += _element_types(child)
    return found


def test_card_shows_progress_while_queued(data_dir, face_photo_bgr):
    clinic = shared_clinic()
    try:
        clinic.auth.create_staff(SYSTEM_PRINCIPAL, "physician", "doc@clinic.test", "Dr Doc", PASSWORD)
        clinic.auth.register_patient(
            "alice@example.test", PASSWORD, "Alice", date(1988, 5, 4), "en", "Europe/Amsterdam",
            accepted_telemedicine_consent=True,
        )  # fmt: skip
        alice = clinic.auth.login("alice@example.test", PASSWORD).principal
        blank = np.full((480, 400, 3), 120, np.uint8)
        intake = IntakeForm(
            concerns=["redness_rosacea"], areas=["cheeks"], duration="1 year", consent_photo_storage=True
        )
        clinic.case_submitted_listeners.clear()  # keep the worker out: the row stays queued
        case_id = clinic.cases.submit_case(
            alice, intake, [checked_photo(v, blank) for v in ("front", "left_oblique", "right_oblique")]
        )
        clinic.assessments._insert_queued(case_id, None)

        app = AppTest.from_function(_card_script, args=(case_id,), default_timeout=60).run()
        assert not app.exception, app.exception
        assert any("queued" in s.label for s in app.status)
        assert app.button[0].label == "Run again" and app.button[0].disabled
    finally:
        clinic.close()


def _ita_report(value: float | None, anchor: str | None, reliability: list[str]) -> dict:
    ita = {"metric": "ita", "region": "face", "value": value, "band": "light", "unit": "deg",
           "reliability": reliability}  # fmt: skip
    return {"metrics": [ita], "photos": [{"illumination": {"skin_tone_anchor": anchor}}]}


def test_skin_tone_line_names_each_anchor_and_why_none_could_be_used():
    from components.assessment_card import _skin_tone_line
    from core.assessment.findings import NO_ANCHOR_NOTE, UNUSABLE_ANCHOR_NOTE

    both = _skin_tone_line(_ita_report(45.0, "eye white and teeth", []))
    assert both.endswith("light anchored on the eye white and teeth"), both
    pooled = _skin_tone_line(_ita_report(45.0, "consultation", []))
    assert pooled.endswith("anchored on the eye whites and teeth of this consultation's photos"), pooled
    seen_unusable = _skin_tone_line(_ita_report(None, None, [UNUSABLE_ANCHOR_NOTE]))
    assert "not measurable" in seen_unusable and "could not set the exposure" in seen_unusable
    assert "no colour chart" in _skin_tone_line(_ita_report(None, None, [NO_ANCHOR_NOTE]))
