"""The physician's report as a clinic letter for the patient (PDF, WeasyPrint from semantic HTML).

A4: letterhead (clinic name, address, contact from settings), the patient's name and date of
birth (two identifiers, repeated in every page's footer with the case reference and "page n of
m"), case reference and dates, the physician's name and credentials, the report's sections, a
signature block (or a DRAFT mark), the photos in a grid with view and date, the AI
pre-assessment's main measurements in a compact table labelled as measurements, not diagnoses,
and the disclaimer. Headings, labels, the table's words and the disclaimer come in the patient's
language through the translation layer (core.i18n's catalogs: en, de, fr, nl, es, tr, ar; others
get English); Arabic is shaped and laid out right to left (Pango and
HarfBuzz), with Latin names, phone numbers and references kept in their own order.

Accessibility and privacy: a tagged PDF in WeasyPrint's PDF/UA-1 variant. The structure tree
comes from the HTML: H1/H2 headings, P paragraphs, the facts and the measurements as real tables
(TH with scope, TD pointing at their headers), photos as Figure with alt text and a Caption, in
reading order; the page footers are left out of the tree. /Lang is the letter's language,
/MarkInfo /Marked true, /DisplayDocTitle true, headings in the outline. Fonts are embedded
(DejaVu Sans subsets: Latin and Arabic); the metadata hold no personal data: a generic title,
creator "Clinic portal", no author, subject or keywords (the XMP packet says the same).

Why WeasyPrint and not fpdf2 with uharfbuzz: fpdf2 (2.8.9) shapes Arabic with uharfbuzz, but its
structure tree is flat and private (every element a child of /Document, only figures and outline
entries tagged); paragraphs, headings and tables would need a hand-built tree of our own.
WeasyPrint derives the whole tree from HTML elements, so the tagging is the layout's own markup.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from pathlib import Path

from core.assessment.findings import VIEW_WORDS, band_words
from core.i18n import N_, RTL_LANGUAGES, Translator, translator, upper_first

# The letter's words: English msgids said through the translation layer in the patient's
# language (core.i18n; catalogs in locales/). Views and bands are the assessment card's words
# (core.assessment.findings), so the letter and the card say the same thing.
TITLE = N_("Consultation report")
PATIENT = N_("Patient")
BIRTH_DATE = N_("Date of birth")
REFERENCE = N_("Case")
CONSULTATION_DATE = N_("Consultation")
REPORT_DATE = N_("Report date")
PHYSICIAN = N_("Physician")
# Translators: the physician's name and credentials in the report letter (Arabic: "{name}، {credentials}").
PHYSICIAN_WITH_CREDENTIALS = N_("{name}, {credentials}")
# Translators: the physician's registration number under the letter's signature.
REGISTRATION = N_("Reg. no. {number}")
SECTION_HEADINGS: dict[str, str] = {
    "findings": N_("Findings"),
    "assessment": N_("Assessment"),
    "recommendations": N_("Recommendations"),
    "home_care": N_("Home care"),
}
IN_PERSON = N_("In-person visit advised")
FOLLOW_UP = N_("Follow-up")
SIGNED = N_("Electronically signed on {date}")
DRAFT = N_("DRAFT: not yet signed or sent")
PHOTOS = N_("Photos")
PHOTO_ALT = N_("Photo of the face, {view}, {date}")
PHOTO_ALT_UNDATED = N_("Photo of the face, {view}")
MEASUREMENTS = N_("Image measurements (AI pre-assessment)")
MEASUREMENTS_NOTE = N_(
    "Measurements of your photos by software that supported the physician. They are measurements, "
    "not diagnoses: the physician's assessment above is what counts."
)
# Translators: {version} is the measuring software's version, e.g. 1.2.0.
MEASUREMENTS_NOTE_ENGINE = N_(
    "Measurements of your photos by software that supported the physician. They are measurements, "
    "not diagnoses: the physician's assessment above is what counts. (engine {version})"
)
MEASUREMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("measurement", N_("Measurement")),
    ("region", N_("Region")),
    ("value", N_("Value")),
    ("band", N_("Band")),
)
# Translators: the report letter's page footer; {n} is this page, {nb} the number of pages.
PAGE = N_("Page {n} of {nb}")
DISCLAIMER = N_(
    "This report is based on photos and the information you provided in a remote consultation. "
    "It does not replace an in-person examination. Seek urgent care if a skin change bleeds, grows "
    "quickly or worries you. Automated image measurements only supported the physician's judgement."
)

# The report's sections by key (exports pass these keys); any other key is printed as given.
SECTION_KEYS = tuple(SECTION_HEADINGS)

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def format_date(value: date | datetime, language: str) -> str:
    """The long date in the reader's language by Babel's CLDR data: en 'November 27, 2026',
    de '27. November 2026', fr '27 novembre 2026', es '27 de noviembre de 2026', tr '27 Kasım 2026'."""
    from babel.core import UnknownLocaleError
    from babel.dates import format_date as babel_format_date

    day = value.date() if isinstance(value, datetime) else value
    lang = (language or "en").split("-")[0].lower()
    try:
        return babel_format_date(day, format="long", locale=lang)
    except (UnknownLocaleError, ValueError):
        return babel_format_date(day, format="long", locale="en")


@dataclass(frozen=True)
class PdfPhoto:
    view: str  # a stored view name (front, left_oblique, ...) or a caption
    image: bytes  # JPEG/PNG
    taken_on: date | None = None


@dataclass(frozen=True)
class PdfMeasurement:
    """One row, its words already in the letter's language (exports.pdf_measurements says them
    with the assessment card's words); the band is a key the letter says in the card's words."""

    measurement: str  # e.g. "Redness", "Rötung"
    region: str  # e.g. "left cheek", "linke Wange"
    value: str  # formatted with its unit, e.g. "4.8% of the area", "38/100"
    band: str | None = None  # minimal / mild / moderate / marked / an ITA band (findings.BAND_WORDS)


@dataclass(frozen=True)
class ReportPdfInput:
    clinic_name: str
    patient_name: str
    case_reference: str
    physician_name: str
    issued_on: date
    language: str
    sections: dict[str, str]  # section key (SECTION_KEYS) or heading -> text
    in_person_reason: str | None = None
    follow_up: str | None = None
    photos: Sequence[PdfPhoto | tuple[str, bytes]] = field(default_factory=list)
    patient_birth_date: date | None = None
    consultation_date: date | None = None
    physician_credentials: str | None = None
    physician_registration: str | None = None
    clinic_address_lines: Sequence[str] = ()
    clinic_phone: str | None = None
    clinic_email: str | None = None
    measurements: Sequence[PdfMeasurement] = ()
    engine_version: str | None = None  # the measuring engine's version, e.g. "1.2.0"
    signed: bool = True  # False: a physician's preview of a draft, marked DRAFT, no signature


def find_unicode_font() -> Path | None:
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    return None


def _photo(item: PdfPhoto | tuple[str, bytes]) -> PdfPhoto:
    return item if isinstance(item, PdfPhoto) else PdfPhoto(item[0], item[1])


def build_report_pdf(data: ReportPdfInput) -> bytes:
    """The letter as a tagged PDF (PDF/UA-1 variant of WeasyPrint): semantic HTML in, so the
    structure tree has H1/H2, P, Table/TR/TH/TD and Figure with Alt in reading order; Pango and
    HarfBuzz shape the text and lay out right-to-left languages."""
    from PIL import ImageFile
    from weasyprint import HTML, URLFetcher

    # Importing WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES, which would make the
    # upload check accept a cut-off photo as a partly grey one; the letter embeds only our own
    # complete JPEGs, so the strict default comes back.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    html = letter_html(data)
    fetcher = URLFetcher(allowed_protocols=("data", "file"))  # photos inline, fonts from disk only
    document = HTML(string=html, url_fetcher=fetcher).render()
    pdf = document.write_pdf(pdf_variant="pdf/ua-1")
    assert pdf is not None
    return pdf


def letter_html(data: ReportPdfInput) -> str:
    """The letter as an HTML document (the PDF's source; tests and reviewers can read it)."""
    t = translator(data.language)
    lang = t.html_lang
    rtl = lang in RTL_LANGUAGES

    def when(value: date | None) -> str:
        return format_date(value, lang) if value else ""

    physician = (
        t(PHYSICIAN_WITH_CREDENTIALS, name=data.physician_name, credentials=data.physician_credentials)
        if data.physician_credentials
        else data.physician_name
    )
    facts = (
        (t(PATIENT), data.patient_name, t(REFERENCE), data.case_reference),
        (t(BIRTH_DATE), when(data.patient_birth_date), t(CONSULTATION_DATE), when(data.consultation_date)),
        (t(PHYSICIAN), physician, t(REPORT_DATE), format_date(data.issued_on, lang)),
    )
    body: list[str] = [
        '<header class="letterhead">',
        f'<p class="clinic"{_dir(data.clinic_name)}>{escape(data.clinic_name)}</p>',
        '<div class="contact">',
    ]
    contact = [*data.clinic_address_lines, *(x for x in (data.clinic_phone, data.clinic_email) if x)]
    body.extend(f"<p{_dir(line)}>{escape(line)}</p>" for line in contact)
    body.append("</div></header>")
    body.append(f"<h1>{escape(t(TITLE))}</h1>")
    if not data.signed:
        body.append(f'<p class="draft">{escape(t(DRAFT))}</p>')
    # Two label/value tables side by side (who, then the case): each value's header is its label.
    body.append('<div class="facts">')
    for column in (0, 2):
        body.append(f'<table class="facts-{column // 2}"><tbody>')
        body.extend(
            f'<tr><th scope="row">{escape(row[column])}</th><td{_dir(row[column + 1])}>{escape(row[column + 1])}</td></tr>'
            for row in facts
        )
        body.append("</tbody></table>")
    body.append("</div>")

    sections = [
        (t(SECTION_HEADINGS[key]) if key in SECTION_HEADINGS else key, text.strip())
        for key, text in data.sections.items()
        if text and text.strip()
    ]
    sections += [
        (t(heading), text.strip())
        for heading, text in ((IN_PERSON, data.in_person_reason), (FOLLOW_UP, data.follow_up))
        if text and text.strip()
    ]
    for heading, text in sections:
        body.append(f"<section><h2{_dir(heading)}>{escape(heading)}</h2>{_paragraphs(text)}</section>")

    if data.signed:
        lines = [
            data.physician_credentials,
            t(REGISTRATION, number=data.physician_registration) if data.physician_registration else None,
            data.clinic_name,
        ]
        body.append(
            '<section class="signature">'
            f"<p>{escape(t(SIGNED, date=format_date(data.issued_on, lang)))}</p>"
            f'<div class="signer"><p class="name"{_dir(data.physician_name)}>{escape(data.physician_name)}</p>'
            + "".join(f"<p{_dir(line)}>{escape(line)}</p>" for line in lines if line)
            + "</div></section>"
        )

    photos = [_photo(item) for item in data.photos]
    if photos:
        body.append(_photo_grid(t, photos))
    if data.measurements:
        body.append(_measurement_table(t, data))
    body.append(f'<p class="disclaimer">{escape(t(DISCLAIMER))}</p>')

    footer = " · ".join(
        _isolate(part)
        for part in (data.patient_name, when(data.patient_birth_date), data.case_reference)
        if part
    )
    page = "".join(
        {"{n}": " counter(page) ", "{nb}": " counter(pages) "}.get(piece, _css_string(piece))
        for piece in re.split(r"(\{n\}|\{nb\})", t(PAGE))
        if piece
    )
    start, end = ("right", "left") if rtl else ("left", "right")
    style = _STYLE.format(
        fonts=_font_faces(),
        start=start,
        end=end,
        footer=_css_string(footer),
        page=page,
    )
    direction = "rtl" if rtl else "ltr"
    return (
        f'<!DOCTYPE html><html lang="{lang}" dir="{direction}"><head><meta charset="utf-8">'
        f'<title>{escape(t(TITLE))}</title><meta name="generator" content="Clinic portal">'
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )


def _photo_grid(t: Translator, photos: list[PdfPhoto]) -> str:
    """Three photos a row (front, obliques side by side), the view and date under each; the
    image's alt text says the same for a screen reader."""
    figures: list[str] = []
    for photo in photos:
        view = (
            upper_first(t(VIEW_WORDS[photo.view]))
            if photo.view in VIEW_WORDS
            else photo.view.replace("_", " ")
        )
        taken = format_date(photo.taken_on, t.html_lang) if photo.taken_on else ""
        alt = t(PHOTO_ALT, view=view, date=taken) if taken else t(PHOTO_ALT_UNDATED, view=view)
        source = f"data:{_image_type(photo.image)};base64,{base64.b64encode(photo.image).decode()}"
        caption = escape(view) + (f"<br>{escape(taken)}" if taken else "")
        figures.append(
            f'<figure><div class="frame"><img src="{source}" alt="{escape(alt)}"></div>'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return f'<section class="photos"><h2>{escape(t(PHOTOS))}</h2><div class="grid">{"".join(figures)}</div></section>'


def _measurement_table(t: Translator, data: ReportPdfInput) -> str:
    """The AI pre-assessment's main measurements: a real table (column headers), headed and
    introduced as measurements, not diagnoses."""
    note = (
        t(MEASUREMENTS_NOTE_ENGINE, version=data.engine_version)
        if data.engine_version
        else t(MEASUREMENTS_NOTE)
    )
    header = "".join(
        f'<th scope="col" class="{key}">{escape(t(label))}</th>' for key, label in MEASUREMENT_COLUMNS
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="{key}"{_dir(text)}>{escape(text)}</td>'
            for key, text in (
                ("measurement", item.measurement),
                ("region", item.region),
                ("value", item.value),
                ("band", band_words(item.band, t)),
            )
        )
        + "</tr>"
        for item in data.measurements
    )
    return (
        f'<section class="measurements"><h2>{escape(t(MEASUREMENTS))}</h2>'
        f'<p class="note">{escape(note)}</p>'
        f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _dir(text: str) -> str:
    """A `dir` attribute for a block of text (a name, an address line, a table cell, a paragraph
    of the physician's): right to left when most of its letters are Arabic or Hebrew, else left
    to right (also when it has no letters: a phone number, "38/100"). So a Latin name or a phone
    number keeps its order inside an Arabic letter, and an Arabic paragraph that starts with
    "SPF 50" still reads right to left (HTML's dir=auto would take the first letter; WeasyPrint
    has no dir=auto anyway)."""
    kinds = [unicodedata.bidirectional(char) for char in text]
    right_to_left = sum(kind in ("R", "AL") for kind in kinds)
    return ' dir="rtl"' if right_to_left > sum(kind == "L" for kind in kinds) else ' dir="ltr"'


def _isolate(text: str) -> str:
    """`text` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE: inside a run of the other
    direction (the footer's "name · date · case"), its characters keep their order."""
    return f"\u2068{text}\u2069"


def _paragraphs(text: str) -> str:
    """The physician's text: a paragraph per blank-line block, line breaks kept inside."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    return "".join(
        f"<p{_dir(block)}>" + "<br>".join(escape(line) for line in block.splitlines()) + "</p>"
        for block in blocks
    )


def _image_type(image: bytes) -> str:
    return "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"


def _css_string(text: str) -> str:
    """A CSS string literal: quotes, backslashes and line breaks escaped as code points."""
    escaped = "".join(f"\\{ord(char):x} " if char in '"\\\n\r' or ord(char) < 32 else char for char in text)
    return f'"{escaped}"'


def _font_faces() -> str:
    """DejaVu Sans (Latin, Greek, Cyrillic, Arabic; Bitstream Vera licence, embedding allowed),
    embedded as a subset; without it, the system's sans-serif through fontconfig."""
    regular = find_unicode_font()
    if regular is None:
        return ""
    bold = regular.with_name(regular.stem + "-Bold.ttf")
    faces = [(regular, "normal"), (bold if bold.is_file() else regular, "bold")]
    return "".join(
        f'@font-face {{ font-family: "Letter Sans"; src: url("{path.as_uri()}"); font-weight: {weight}; }}'
        for path, weight in faces
    )


_STYLE = """
{fonts}
@page {{
  size: A4;
  margin: 16mm 18mm 20mm 18mm;
  @bottom-{start} {{ content: {footer}; font: 8pt "Letter Sans", sans-serif; color: #5a5a5a;
    vertical-align: top; padding-top: 4mm; }}
  @bottom-{end} {{ content: {page}; font: 8pt "Letter Sans", sans-serif; color: #5a5a5a;
    vertical-align: top; padding-top: 4mm; }}
}}
html {{ font-family: "Letter Sans", sans-serif; font-size: 10pt; line-height: 1.45; color: #000; }}
body {{ margin: 0; }}
p {{ margin: 0 0 1.5mm 0; }}
.letterhead {{ display: flex; justify-content: space-between; align-items: flex-start;
  border-bottom: 0.3mm solid #969696; padding-bottom: 2mm; margin-bottom: 4mm; }}
.letterhead .clinic {{ font-size: 15pt; font-weight: bold; line-height: 1.25; width: 55%; text-align: {start}; }}
.letterhead .contact {{ font-size: 8.5pt; line-height: 1.4; width: 45%; }}
.letterhead .contact p {{ text-align: {end}; margin: 0; }}
h1 {{ font-size: 13pt; margin: 0 0 1.5mm 0; text-align: {start}; }}
h2 {{ font-size: 11.5pt; margin: 3mm 0 1mm 0; break-after: avoid; text-align: {start}; }}
.draft {{ color: #aa0000; font-weight: bold; }}
table {{ border-collapse: collapse; }}
.facts {{ display: flex; font-size: 9.5pt; margin: 1mm 0 3mm 0; }}
.facts-0 {{ width: 88mm; }}
.facts-1 {{ width: 76mm; }}
.facts th {{ text-align: {start}; font-weight: bold; padding: 0.3mm 0; width: 30mm; vertical-align: top; }}
.facts-1 th {{ width: 29mm; }}
.facts td {{ text-align: {start}; padding: 0.3mm 0; vertical-align: top; }}
.facts-0 td {{ padding-inline-end: 3mm; }}
.signature {{ break-inside: avoid; margin-top: 4mm; font-size: 9.5pt; }}
.signature .signer {{ border-top: 0.3mm solid #000; width: 70mm; padding-top: 1.5mm; margin-top: 9mm; }}
.signature .signer p {{ margin: 0; text-align: {start}; }}
.signature .signer .name {{ font-weight: bold; font-size: 10pt; }}
.photos .grid {{ display: flex; flex-wrap: wrap; gap: 3mm 5mm; }}
.photos figure {{ margin: 0; width: 54.6mm; break-inside: avoid; }}
.photos .frame {{ height: 68mm; display: flex; align-items: center; justify-content: center; }}
.photos img {{ max-width: 100%; max-height: 68mm; object-fit: contain; }}
.photos figcaption {{ font-size: 8.5pt; text-align: center; line-height: 1.3; margin-top: 1mm; }}
.measurements {{ break-inside: avoid; }}
.measurements .note {{ font-size: 8.5pt; }}
.measurements table {{ width: 100%; font-size: 9pt; margin-top: 1.5mm; }}
.measurements th {{ background: #ebebeb; text-align: {start}; padding: 0.8mm 1.5mm; }}
.measurements td {{ text-align: {start}; padding: 0.8mm 1.5mm; border-bottom: 0.2mm solid #b4b4b4; }}
.measurements th.value, .measurements td.value {{ text-align: {end}; }}
.disclaimer {{ font-size: 8pt; color: #464646; margin-top: 4mm; line-height: 1.4; break-inside: avoid; }}
"""
