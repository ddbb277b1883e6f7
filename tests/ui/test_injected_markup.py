"""Issue 12, injected markup: what people type (names, intake answers, prior treatments,
appointment reasons and places, report text, check-in and treatment labels) shows as the
characters they typed on every page that shows it, for the physician and for the patient:
no image, link, HTML or emphasis from such text ever reaches Streamlit's Markdown unescaped."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.layout import plain
from tests.apptest_pages import run_page_as

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Markup-Test-Pass-123"
PAYLOADS = (
    "![x](http://evil/x.png)",
    "[Verify your account](http://evil)",
    "<img src=x onerror=alert(1)>",
    "**bold**",
)
PAYLOAD = " ".join(PAYLOADS)
# What must never reach a Markdown string as it is (each would render as markup).
RAW_MARKERS = ("](http", "![", "<img", "**bold**", "http://evil")


def _mark(field: str) -> str:
    return f"{field}: {PAYLOAD}"


@pytest.fixture
def injected(data_dir: Path, face_photo_bgr) -> Iterator[dict]:
    import cv2

    from components.session import _open_clinic, get_clinic
    from core.access import SYSTEM_PRINCIPAL
    from core.care.followup import PlannedCheckIn
    from core.care.records import TreatmentInput
    from core.consult.cases import IntakeForm
    from core.consult.reports import PhysicianReport
    from tests.photo_factory import checked_photo

    clinic = get_clinic()
    clinic.case_submitted_listeners.clear()  # no background pre-assessment needed here
    physician = clinic.auth.create_staff(
        SYSTEM_PRINCIPAL, "physician", "doc@example.test", "Dr Markup", PASSWORD
    )
    clinic.auth.create_staff(SYSTEM_PRINCIPAL, "admin", "admin@example.test", "Ann Admin", PASSWORD)
    clinic.auth.register_patient(
        "pat@example.test",
        PASSWORD,
        f"Pat {PAYLOAD}"[:200],
        dt.date(1985, 1, 1),
        "en",
        "Europe/Amsterdam",
        True,
    )
    patient = clinic.auth.login("pat@example.test", PASSWORD).principal
    photo = cv2.imencode(".jpg", face_photo_bgr)[1].tobytes()
    intake = IntakeForm(
        concerns=["other"],
        areas=["cheeks"],
        duration=_mark("duration"),
        goals=_mark("goals"),
        concern_other_text=_mark("other"),
        medications=_mark("medications"),
        allergies=_mark("allergies"),
        prior_treatments=[{"treatment": _mark("prior")[:200], "date": "2024-01"}],
        consent_photo_storage=True,
    )
    case_id = clinic.cases.submit_case(
        patient, intake, [checked_photo(v, photo) for v in ("front", "left_oblique", "right_oblique")]
    )
    clinic.cases.transition(physician, case_id, "in_review")
    clinic.reports.save_draft(
        physician,
        case_id,
        PhysicianReport(
            _mark("findings"),
            _mark("assessment"),
            _mark("treatments"),
            _mark("home care"),
            True,
            _mark("visit reason"),
            _mark("follow-up"),
        ),
    )
    clinic.reports.send(physician, case_id)
    clinic.care.appointments.book_local(
        physician,
        case_id,
        dt.date.today() + dt.timedelta(days=9),
        dt.time(10),
        30,
        _mark("reason"),
        _mark("room"),
    )
    plan = [PlannedCheckIn(dt.date.today() - dt.timedelta(days=1), _mark("check-in"), ("front",))]
    clinic.care.treatments.record_treatment(
        physician,
        case_id,
        TreatmentInput(
            "filler", _mark("area"), dt.date.today() - dt.timedelta(days=15), _mark("product"), 1, "ml"
        ),
        plan,
    )
    try:
        yield {"clinic": clinic, "case_id": case_id}
    finally:
        clinic.close()
        _open_clinic.clear()


def _run(clinic, email: str, page: str, query: dict[str, str] | None = None) -> AppTest:
    return run_page_as(clinic, email, PASSWORD, page, query)


def _unescaped_syntax(text: str) -> str:
    """`text` without its backslash-escaped characters: what Markdown could still interpret."""
    return re.sub(r"\\.", "", text)


def _markdown_strings(app: AppTest) -> list[str]:
    """Every string the page handed to Streamlit's Markdown renderer."""
    parts = [e.value for e in app.markdown] + [e.value for e in app.caption]
    for kind in (app.info, app.warning, app.error, app.success, app.title, app.header, app.subheader):
        parts += [str(e.value) for e in kind]
    parts += [e.label for e in app.expander] + [e.label for e in app.button] + [e.label for e in app.tabs]
    return parts


PAGES = [
    ("doc@example.test", "app.py", None),  # the physician's landing page: the case queue
    ("doc@example.test", "pages/physician_case.py", "case"),
    ("doc@example.test", "pages/physician_agenda.py", None),
    ("doc@example.test", "pages/physician_archive.py", None),
    ("pat@example.test", "pages/patient_my_consultations.py", None),
    ("admin@example.test", "pages/admin_patients.py", None),
]


@pytest.mark.parametrize(("email", "page", "query"), PAGES, ids=[p[1].split("/")[-1] for p in PAGES])
def test_typed_text_never_renders_as_markup(injected, email: str, page: str, query: str | None) -> None:
    app = _run(injected["clinic"], email, page, {query: injected["case_id"]} if query else None)
    assert not app.exception, app.exception
    strings = _markdown_strings(app)
    leaks = [s for s in strings if any(marker in _unescaped_syntax(s) for marker in RAW_MARKERS)]
    assert leaks == [], f"{page}: markup from typed text reached Markdown: {leaks[:3]}"
    if page in ("pages/physician_archive.py", "pages/admin_patients.py"):
        return  # names only in a select box's options (plain text) and tables
    # The text is still shown (escaped, or as plain text), not dropped.
    shown = "\n".join(strings + [str(e.value) for e in app.text])
    assert plain("Verify your account") in shown or "Verify your account" in shown, page


def test_every_intake_field_is_on_the_physicians_case_page(injected) -> None:
    app = _run(
        injected["clinic"], "doc@example.test", "pages/physician_case.py", {"case": injected["case_id"]}
    )
    shown = "\n".join(_markdown_strings(app) + [str(e.value) for e in app.text])
    for field in ("duration", "goals", "other", "medications", "allergies", "prior"):
        assert plain(_mark(field))[:40] in shown or _mark(field) in shown, field


def test_plain_escapes_everything_markdown_would_interpret() -> None:
    for payload in (*PAYLOADS, "a@b.example", ":red[x]", ":material/home:", "$x^2$", "~~gone~~", "`code`"):
        escaped = plain(payload)
        # Every syntax character is escaped: no syntax survives.
        assert all(escaped[i - 1] == "\\" for i, ch in enumerate(escaped) if ch in "![]()<>*:$@~`" and i > 0)
    assert plain("www.evil.example") == "www\\.evil.example"  # no GFM autolink
    assert plain("# h") == "\\# h" and plain("1. item") == "1\\. item" and plain("- item") == "\\- item"
    assert plain("2-week check-in, C-261202-AB2C") == "2-week check-in, C-261202-AB2C"  # readable
    assert plain("") == "—" and plain(None, "none") == "none"
    assert plain("line one\nline two") == "line one  \nline two"
