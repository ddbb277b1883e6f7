"""The report letter with the real catalogs (locales/): a German letter has no English heading or
label left. Every word of the letter's frame (title, facts, section headings, signature, draft
mark, photo captions and alt texts, the measurements' heading, note and column headers, the page
footer, the disclaimer) is compared with the English letter built from the same input: a word that
is the same in both must be one the German catalog itself gives unchanged ("Patient", "Region");
and no English words of a sentence with placeholders ("Electronically signed on {date}") are left
around the German dates and views."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import cv2
import numpy as np
import pytest
from babel.messages.pofile import read_po

from core.care import pdf
from core.care.pdf import PdfMeasurement, PdfPhoto, ReportPdfInput, letter_html
from core.i18n import catalog_path

# The letter's sentences with placeholders: their words around the placeholders must go too.
SENTENCES = (
    pdf.SIGNED,
    pdf.PHOTO_ALT,
    pdf.PHOTO_ALT_UNDATED,
    pdf.REGISTRATION,
    pdf.PAGE,
    pdf.MEASUREMENTS_NOTE_ENGINE,
)

# The letter's frame, in document order: element text and the photos' alt texts.
_FRAME = re.compile(
    r"<title>(?P<title>[^<]*)</title>"
    r"|<h[12][^>]*>(?P<heading>[^<]*)</h[12]>"
    r"|<th[^>]*>(?P<label>[^<]*)</th>"
    r'|<p class="(?:draft|note|disclaimer)"[^>]*>(?P<paragraph>[^<]*)</p>'
    r'|<section class="signature"><p>(?P<signed>[^<]*)</p>'
    r'|alt="(?P<alt>[^"]*)"'
    r"|<figcaption>(?P<caption>[^<]*)<br>"
    r'|<p dir="ltr">(?P<registration>[^<]*BIG 19012345601)</p>'
    r"|content: (?P<page>[^;]*counter\(page\)[^;]*);"
)


def _jpeg() -> bytes:
    return cv2.imencode(".jpg", np.full((60, 50, 3), 140, np.uint8))[1].tobytes()


def _letter(language: str, signed: bool) -> ReportPdfInput:
    taken = date(2027, 3, 4)
    return ReportPdfInput(
        clinic_name="Aesthetic Dermatology Clinic",
        patient_name="Zoë Müller",
        case_reference="C-0042",
        physician_name="Dr Ada Lovelace",
        issued_on=date(2027, 3, 5),
        language=language,
        sections={key: "Text." for key in ("findings", "assessment", "recommendations", "home_care")},
        in_person_reason="Text.",
        follow_up="Text.",
        photos=[PdfPhoto(view, _jpeg(), taken) for view in ("front", "left_oblique", "right_oblique")],
        patient_birth_date=date(1988, 5, 1),
        consultation_date=taken,
        physician_credentials="MD",
        physician_registration="BIG 19012345601",
        measurements=(PdfMeasurement("Rötung", "linke Wange", "38/100", "mild"),),
        engine_version="1.2.0",
        signed=signed,
    )


def _frame(html: str) -> list[str]:
    words = []
    for match in _FRAME.finditer(html):
        text = next(value for value in match.groupdict().values() if value is not None)
        words.append(unescape(text).strip())
    return words


def _unchanged_in_german() -> set[str]:
    """The msgids the German catalog translates as themselves (a word both languages share)."""
    with catalog_path("de").open("rb") as handle:
        catalog = read_po(handle, locale="de")
    return {
        str(message.id)
        for message in catalog
        if message.id and not message.fuzzy and message.string and message.string == message.id
    }


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "draft"])
def test_a_german_letter_has_no_english_heading_or_label_left(signed: bool) -> None:
    english = _frame(letter_html(_letter("en", signed)))
    german = _frame(letter_html(_letter("de", signed)))
    assert len(english) == len(german) and len(english) >= 20, (english, german)
    shared = _unchanged_in_german()
    left = [word for word, said in zip(english, german, strict=True) if word == said and word not in shared]
    pieces = {
        piece.strip(" ,.()")
        for sentence in SENTENCES
        if sentence not in shared
        for piece in re.split(r"\{\w+\}", sentence)
        if len(piece.strip(" ,.()")) >= 4
    }
    left += sorted({piece for piece in pieces for said in german if piece in said})
    assert not left, f"still in English in a German letter (not in locales/de yet?): {left}"
