"""Every value a patient sees is a label in words: no raw vocabulary identifiers and no "None".

The patient's pages run in AppTest through app.py (as in the portal) with a case that has
everything a patient can see: a report advising an in-person visit, the visit booked, a
treatment with a due check-in (two views), the intake's errors. The visible text of every
element (bodies, labels, options, help, placeholders, table cells) is scanned for the
identifiers of core's vocabulary (views, statuses, photo sources, consent kinds, concerns,
areas, treatment types) and for a bare "None" or "user:None".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from google.protobuf.message import Message

from components.layout import AREA_LABELS, CONCERN_LABELS
from core.care.followup import TREATMENT_TYPES
from core.vocabulary import CASE_STATUSES, CONSENT_KINDS, PHOTO_SOURCES, VIEWS
from tests.ui.conftest import ACCOUNTS, submit_demo_case

# Fields of Streamlit's element messages that hold text people see.
VISIBLE_FIELDS = frozenset({"body", "label", "help", "placeholder", "options", "caption", "text", "value"})
RAW_IDENTIFIERS = sorted(
    {
        word
        for word in (
            *VIEWS,
            *CASE_STATUSES,
            *PHOTO_SOURCES,
            *CONSENT_KINDS,
            *CONCERN_LABELS,
            *AREA_LABELS,
            *TREATMENT_TYPES,
        )
        if "_" in word  # one-word codes ("front", "laser") are words people use too
    }
)
RAW = re.compile(r"\b(" + "|".join(map(re.escape, RAW_IDENTIFIERS)) + r")\b|\bNone\b|user:None")


def _strings(message: Message) -> Iterator[str]:
    for field, value in message.ListFields():
        repeated = isinstance(value, Iterable) and not isinstance(value, (str, bytes, Message))
        items: list[Any] = list(value) if repeated else [value]
        for item in items:
            if isinstance(item, Message):
                yield from _strings(item)
            elif isinstance(item, str) and field.name in VISIBLE_FIELDS:
                yield item


def visible_text(app: Any) -> list[str]:
    """The text of every element and block on the page, as the patient reads it."""
    found: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if isinstance(proto, Message):
            found.extend(_strings(proto))
        if getattr(node, "type", "") in ("arrow_data_frame", "arrow_table"):
            found.append(node.value.to_string())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(app._tree)
    return found


def raw_words(app: Any) -> list[str]:
    return sorted({match.group(0) for text in visible_text(app) for match in RAW.finditer(text)})


@pytest.fixture
def patient_case(clinic, face_photo_bgr) -> str:
    """A case answered with a report that advises a visit, the visit booked, a treatment recorded
    with a check-in due today for two views."""
    from core.care.followup import PlannedCheckIn
    from core.care.records import TreatmentInput
    from core.consult.reports import PhysicianReport

    case_id = submit_demo_case(clinic, face_photo_bgr)
    doctor = clinic.auth.login(ACCOUNTS["physician"].email, ACCOUNTS["physician"].password).principal
    clinic.cases.transition(doctor, case_id, "in_review")
    clinic.reports.save_draft(
        doctor,
        case_id,
        PhysicianReport(
            findings="Light-brown macules on both cheeks.",
            assessment="Likely melasma.",
            recommended_treatments="Botulinum toxin is not needed; a light peel.",
            home_care="Daily SPF 50.",
            in_person_needed=True,
            in_person_reason="A look under dermoscopy",
        ),
    )
    clinic.reports.send(doctor, case_id)
    today = dt.date.today()
    clinic.care.treatments.record_treatment(
        doctor,
        case_id,
        TreatmentInput("botulinum_toxin", "forehead", today),
        [PlannedCheckIn(today, "2-week check-in", ("front", "left_oblique"))],
    )
    return case_id


def test_my_consultations_shows_words_only(app_as, patient_case) -> None:
    app = app_as("patient")  # app.py: the patient's landing page, My consultations
    assert not app.exception, app.exception
    texts = "\n".join(visible_text(app))
    # The report, the check-in and its capture are on the page that was scanned.
    assert "Likely melasma." in texts
    assert "2-week check-in" in texts
    assert "Your physician advises an in-person visit" in texts
    assert raw_words(app) == [], raw_words(app)


def test_the_advice_for_a_visit_changes_once_it_is_booked(clinic, app_as, patient_case) -> None:
    advice = "Your physician advises an in-person visit"
    app = app_as("patient")
    assert any(advice in warning.value for warning in app.warning)
    doctor = clinic.auth.login(ACCOUNTS["physician"].email, ACCOUNTS["physician"].password).principal
    clinic.care.appointments.book_local(
        doctor, patient_case, dt.date.today() + dt.timedelta(days=7), dt.time(10, 0), 30, "Dermoscopy"
    )
    app = app_as("patient")
    assert not any(advice in warning.value for warning in app.warning)
    assert any("Your in-person visit is booked for" in info.value for info in app.info)
    assert raw_words(app) == [], raw_words(app)


# (The photo guide's live camera needs a real Streamlit server: the browser tests cover it.)
@pytest.mark.parametrize("page", ["pages/patient_new_consultation.py", "pages/patient_live_consult.py"])
def test_the_other_patient_pages_show_words_only(app_as, patient_case, page: str) -> None:
    app = app_as("patient")
    app.switch_page(page).run()
    assert not app.exception, app.exception
    assert raw_words(app) == [], raw_words(app)


def test_intake_errors_show_words_and_go_away_once_fixed(app_as) -> None:
    app = app_as("patient")
    app.switch_page("pages/patient_new_consultation.py").run()
    app.button(key="intake_submit").click().run()
    assert raw_words(app) == [], raw_words(app)
    concerns_error = "Please choose at least one concern."
    assert any(concerns_error in error.value for error in app.error)
    app.multiselect(key="intake_concerns").select("pigmentation_melasma").run()
    assert not any(concerns_error in error.value for error in app.error)
    consent_error = "Consent to photo storage is required to send a consultation."
    assert any(consent_error in error.value for error in app.error)  # still true: still shown
