"""PDF of the physician's report for the patient (fpdf2), in the patient's language's date format.

Text uses a Unicode TTF (DejaVu Sans) so names like "Zoë Müller-Ñúñez" print correctly; when no
such font is on the machine the core Helvetica font is used and text is reduced to Latin-1.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

MONTHS: dict[str, tuple[str, ...]] = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
}

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Consultation report",
        "patient": "Patient",
        "date": "Date",
        "reference": "Case",
        "physician": "Physician",
        "photos": "Photos",
        "in_person": "In-person visit advised",
        "follow_up": "Follow-up",
    },
    "de": {
        "title": "Konsultationsbericht",
        "patient": "Patient/in",
        "date": "Datum",
        "reference": "Fall",
        "physician": "Ärztin/Arzt",
        "photos": "Fotos",
        "in_person": "Persönlicher Termin empfohlen",
        "follow_up": "Nachsorge",
    },
    "fr": {
        "title": "Compte rendu de consultation",
        "patient": "Patient(e)",
        "date": "Date",
        "reference": "Dossier",
        "physician": "Médecin",
        "photos": "Photos",
        "in_person": "Consultation en présentiel conseillée",
        "follow_up": "Suivi",
    },
    "nl": {
        "title": "Consultverslag",
        "patient": "Patiënt",
        "date": "Datum",
        "reference": "Dossier",
        "physician": "Arts",
        "photos": "Foto's",
        "in_person": "Bezoek aan de kliniek aangeraden",
        "follow_up": "Nacontrole",
    },
    "es": {
        "title": "Informe de consulta",
        "patient": "Paciente",
        "date": "Fecha",
        "reference": "Caso",
        "physician": "Médico/a",
        "photos": "Fotos",
        "in_person": "Se aconseja una visita presencial",
        "follow_up": "Seguimiento",
    },
}

DISCLAIMER = (
    "This report is based on photos and the information you provided in a remote consultation. "
    "It does not replace an in-person examination. Seek urgent care if a skin change bleeds, grows "
    "quickly or worries you. Automated image measurements only supported the physician's judgement."
)

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def format_date(value: date | datetime, language: str) -> str:
    """en: 'November 27, 2026'; de: '27. November 2026'; fr/es/nl: '27 novembre 2026' / '27 de noviembre de 2026'."""
    day = value.date() if isinstance(value, datetime) else value
    lang = language.split("-")[0].lower() if language else "en"
    months = MONTHS.get(lang, MONTHS["en"])
    month = months[day.month - 1]
    if lang == "de":
        return f"{day.day}. {month} {day.year}"
    if lang == "es":
        return f"{day.day} de {month} de {day.year}"
    if lang in ("fr", "nl"):
        return f"{day.day} {month} {day.year}"
    return f"{month} {day.day}, {day.year}"


@dataclass(frozen=True)
class ReportPdfInput:
    clinic_name: str
    patient_name: str
    case_reference: str
    physician_name: str
    issued_on: date
    language: str
    sections: dict[str, str]  # heading -> text (findings, assessment, recommendations, home care ...)
    in_person_reason: str | None = None
    follow_up: str | None = None
    photos: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, JPEG/PNG bytes)


def find_unicode_font() -> Path | None:
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    return None


def build_report_pdf(data: ReportPdfInput) -> bytes:
    from fpdf import FPDF

    labels = LABELS.get(data.language.split("-")[0].lower() if data.language else "en", LABELS["en"])
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    font_path = find_unicode_font()
    if font_path is not None:
        pdf.add_font("DejaVu", "", str(font_path))
        bold = font_path.with_name(font_path.stem + "-Bold.ttf")
        pdf.add_font("DejaVu", "B", str(bold if bold.is_file() else font_path))
        family = "DejaVu"

        def clean(text: str) -> str:
            return text
    else:  # core fonts only know Latin-1: degrade characters instead of failing
        family = "Helvetica"

        def clean(text: str) -> str:
            return text.encode("latin-1", "replace").decode("latin-1")

    pdf.set_title(clean(f"{labels['title']} {data.case_reference}"))
    pdf.add_page()
    pdf.set_font(family, "B", 16)
    pdf.multi_cell(0, 9, clean(data.clinic_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "B", 13)
    pdf.multi_cell(0, 8, clean(labels["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    for key, value in (
        ("patient", data.patient_name),
        ("reference", data.case_reference),
        ("physician", data.physician_name),
        ("date", format_date(data.issued_on, data.language)),
    ):
        pdf.multi_cell(0, 6, clean(f"{labels[key]}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for heading, text in data.sections.items():
        if not text:
            continue
        pdf.set_font(family, "B", 12)
        pdf.multi_cell(0, 7, clean(heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 10)
        pdf.multi_cell(0, 5.5, clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    for key, text in (("in_person", data.in_person_reason), ("follow_up", data.follow_up)):
        if text:
            pdf.set_font(family, "B", 12)
            pdf.multi_cell(0, 7, clean(labels[key]), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, "", 10)
            pdf.multi_cell(0, 5.5, clean(text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    if data.photos:
        pdf.set_font(family, "B", 12)
        pdf.multi_cell(0, 7, clean(labels["photos"]), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 9)
        for caption, image_bytes in data.photos:
            if pdf.get_y() > pdf.h - 80:
                pdf.add_page()
            pdf.image(io.BytesIO(image_bytes), w=60)
            pdf.multi_cell(0, 5, clean(caption), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.ln(4)
    pdf.set_font(family, "", 8)
    pdf.multi_cell(0, 4.5, clean(DISCLAIMER), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
