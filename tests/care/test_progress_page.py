"""The follow-up loop on the pages (issue 13), in Streamlit's AppTest: the patient's "My progress"
shows only what the physician released (and says so plainly when nothing is), the physician's
release control on the case page, the archive's chart opening on the treatment's measures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_pages import run_page_as

PASSWORD = "Care-Test-Pass-123"
VIEWS = ("front", "left_oblique", "right_oblique")


@pytest.fixture
def followed_up(data_dir: Path, face_photo_bgr) -> Iterator[dict]:
    """A toxin case measured at baseline and at its sent 2-week check-in (patient reads English)."""
    import cv2
    import numpy as np

    from components.session import _open_clinic, get_clinic
    from core.access import SYSTEM_PRINCIPAL
    from core.assessment.engine import AssessmentOptions
    from core.care.followup import PlannedCheckIn
    from core.care.records import TreatmentInput
    from core.consult.cases import IntakeForm
    from tests.photo_factory import checked_photo

    clinic = get_clinic()
    clinic.assessments._options = AssessmentOptions(run_registry=False, evidence=False)
    physician = clinic.auth.create_staff(
        SYSTEM_PRINCIPAL, "physician", "doc@example.test", "Dr Care", PASSWORD
    )
    patient = clinic.auth.register_patient(
        "pat@example.test", PASSWORD, "Pat Care", dt.date(1985, 1, 1), "en", "Europe/Amsterdam", True
    )
    small = cv2.resize(face_photo_bgr, (410, 492), interpolation=cv2.INTER_AREA)
    later = cv2.warpAffine(
        small, np.array([[1, 0, 3], [0, 1, 2]], dtype=np.float32), (410, 492), borderMode=cv2.BORDER_REPLICATE
    )
    jpeg = lambda image: cv2.imencode(".jpg", image)[1].tobytes()  # noqa: E731
    intake = IntakeForm(
        concerns=["lines_wrinkles"], areas=["forehead"], duration="1 year", consent_photo_storage=True
    )
    case_id = clinic.cases.submit_case(patient, intake, [checked_photo(v, jpeg(small)) for v in VIEWS])
    _, (checkin,) = clinic.care.treatments.record_treatment(
        physician,
        case_id,
        TreatmentInput("botulinum_toxin", "forehead", dt.date.today(), "Bocouture", 10, "U"),
        [PlannedCheckIn(dt.date.today(), "2-week check-in", VIEWS)],
    )
    clinic.care.checkins.submit_checkin(
        patient, checkin.checkin_id, {v: checked_photo(v, jpeg(later), source="followup") for v in VIEWS}
    )
    assert clinic.assessments.wait_idle(240)
    try:
        yield {"clinic": clinic, "case_id": case_id, "patient": patient, "physician": physician}
    finally:
        from tests.care.conftest import _settle

        _settle(clinic)
        clinic.close()
        _open_clinic.clear()


def _text(app: AppTest) -> str:
    parts = (
        [e.value for e in app.markdown] + [e.value for e in app.caption] + [str(e.value) for e in app.info]
    )
    parts += [str(e.value) for e in app.success] + [str(e.value) for e in app.error]
    parts += [e.label for e in app.multiselect]
    return "\n".join(parts)


def _charts(app: AppTest) -> list[Any]:
    return list(app.get("plotly_chart"))


def test_the_patient_page_says_plainly_that_nothing_was_shared(followed_up) -> None:
    app = run_page_as(
        followed_up["clinic"], "pat@example.test", PASSWORD, "pages/patient_my_consultations.py"
    )
    assert not app.exception, app.exception
    text = _text(app)
    assert "My progress" in [h.value for h in app.header]
    assert "Your physician has not shared any measurements with you yet." in text
    assert _charts(app) == []  # no raw AI scores on the patient's page
    assert "/100" not in text and "Lines · " not in text


def test_the_patient_page_shows_only_the_released_measure(followed_up) -> None:
    from core.care.release import MeasureKey

    clinic = followed_up["clinic"]
    clinic.care.release.set_released(
        followed_up["physician"], followed_up["case_id"], [MeasureKey("wrinkles", "forehead")]
    )
    app = run_page_as(clinic, "pat@example.test", PASSWORD, "pages/patient_my_consultations.py")
    assert not app.exception, app.exception
    text = _text(app)
    assert "not shared any measurements" not in text
    assert len(_charts(app)) == 1
    trend = next(m.value for m in app.markdown if m.value.startswith("Lines · forehead:"))
    assert "first photos" in trend and "/100" not in trend  # the change, in words, no raw score
    assert "Redness" not in text and "Brown spots" not in text


def test_the_physician_releases_on_the_case_page(followed_up) -> None:
    clinic, case_id = followed_up["clinic"], followed_up["case_id"]
    app = run_page_as(clinic, "doc@example.test", PASSWORD, "pages/physician_case.py", {"case": case_id})
    assert not app.exception, app.exception
    assert "What the patient sees" in [h.value for h in app.header]
    assert "Nothing is shared with the patient yet; their page says so." in _text(app)
    control = next(m for m in app.multiselect if m.label == "Measurements the patient sees")
    wanted = next(o for o in control.options if o.startswith("Lines · forehead"))
    control.select(wanted)
    app = next(b for b in app.button if b.label == "Save what the patient sees").click().run()
    assert not app.exception, app.exception
    assert "The patient now sees 1 measurement." in _text(app)
    released = clinic.care.release.released(followed_up["physician"], case_id)
    assert [(r.metric, r.region) for r in released] == [("wrinkles", "forehead")]


def test_the_archive_chart_opens_on_the_treatments_measure_with_a_trend(followed_up) -> None:
    clinic = followed_up["clinic"]
    app = run_page_as(
        clinic,
        "doc@example.test",
        PASSWORD,
        "pages/physician_archive.py",
        {"patient": followed_up["patient"].patient_id},
    )
    assert not app.exception, app.exception
    chart = next((m for m in app.multiselect if m.label == "Measurements"), None)
    if chart is None:
        pytest.skip("the archive page shows the chart only for a chosen patient (see test_pages)")
    assert chart.value[0] == ("wrinkles", "forehead")  # lines for a toxin treatment, not "brown spots"
    trend = next(m.value for m in app.markdown if m.value.startswith("Lines · forehead:"))
    assert "at the first visit" in trend and "over 2 visits" in trend
