"""The physician's report as a clinic letter for the patient (PDF, fpdf2).

A4: letterhead (clinic name, address, contact from settings), the patient's name and date of
birth (two identifiers, repeated in every page's footer with the case reference and "page n of
m"), case reference and dates, the physician's name and credentials, the report's sections, a
signature block (or a DRAFT mark), the photos in a grid with view and date, the AI
pre-assessment's main measurements in a compact table labelled as measurements, not diagnoses,
and the disclaimer. Headings, labels and the disclaimer come in the patient's language (en, de,
fr, nl, es: the languages whose dates the letter already formats; others get English).

Accessibility and privacy: the document language is set (/Lang), photos carry alt text in a
structure tree (fpdf2 tags figures; it does not tag paragraphs or headings, so the file is a
partially tagged PDF, not PDF/UA), headings are in the outline, fonts are embedded (DejaVu Sans;
without it, core Helvetica with text reduced to Latin-1), and the metadata hold no personal data:
a generic title, no author, subject or keywords.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Consultation report",
        "patient": "Patient",
        "birth_date": "Date of birth",
        "reference": "Case",
        "consultation_date": "Consultation",
        "date": "Report date",
        "physician": "Physician",
        "registration": "Reg. no.",
        "findings": "Findings",
        "assessment": "Assessment",
        "recommendations": "Recommendations",
        "home_care": "Home care",
        "in_person": "In-person visit advised",
        "follow_up": "Follow-up",
        "signed": "Electronically signed on {date}",
        "draft": "DRAFT: not yet signed or sent",
        "photos": "Photos",
        "photo_alt": "Photo of the face, {view}, {date}",
        "measurements": "Image measurements (AI pre-assessment)",
        "measurements_note": "Measurements of your photos by software that supported the physician. They are "
        "measurements, not diagnoses: the physician's assessment above is what counts.",
        "measurement": "Measurement",
        "region": "Region",
        "value": "Value",
        "band": "Band",
        "page": "Page {n} of {nb}",
        "disclaimer": "This report is based on photos and the information you provided in a remote consultation. "
        "It does not replace an in-person examination. Seek urgent care if a skin change bleeds, grows "
        "quickly or worries you. Automated image measurements only supported the physician's judgement.",
    },
    "de": {
        "title": "Konsultationsbericht",
        "patient": "Patient/in",
        "birth_date": "Geburtsdatum",
        "reference": "Fall",
        "consultation_date": "Konsultation",
        "date": "Berichtsdatum",
        "physician": "Ärztin/Arzt",
        "registration": "Reg.-Nr.",
        "findings": "Befund",
        "assessment": "Beurteilung",
        "recommendations": "Empfehlungen",
        "home_care": "Pflege zu Hause",
        "in_person": "Persönlicher Termin empfohlen",
        "follow_up": "Nachsorge",
        "signed": "Elektronisch unterzeichnet am {date}",
        "draft": "ENTWURF: noch nicht unterzeichnet oder versandt",
        "photos": "Fotos",
        "photo_alt": "Foto des Gesichts, {view}, {date}",
        "measurements": "Bildmessungen (KI-Voreinschätzung)",
        "measurements_note": "Messungen Ihrer Fotos durch eine Software, die die ärztliche Beurteilung unterstützt "
        "hat. Es sind Messwerte, keine Diagnosen: maßgeblich ist die ärztliche Beurteilung oben.",
        "measurement": "Messung",
        "region": "Region",
        "value": "Wert",
        "band": "Stufe",
        "page": "Seite {n} von {nb}",
        "disclaimer": "Dieser Bericht beruht auf Fotos und Ihren Angaben aus einer Fernkonsultation. Er ersetzt "
        "keine Untersuchung vor Ort. Suchen Sie umgehend ärztliche Hilfe, wenn eine Hautveränderung blutet, "
        "schnell wächst oder Sie beunruhigt. Automatische Bildmessungen haben die ärztliche Beurteilung nur "
        "unterstützt.",
    },
    "fr": {
        "title": "Compte rendu de consultation",
        "patient": "Patient(e)",
        "birth_date": "Date de naissance",
        "reference": "Dossier",
        "consultation_date": "Consultation",
        "date": "Date du compte rendu",
        "physician": "Médecin",
        "registration": "N° d'enregistrement",
        "findings": "Constatations",
        "assessment": "Évaluation",
        "recommendations": "Recommandations",
        "home_care": "Soins à domicile",
        "in_person": "Consultation en présentiel conseillée",
        "follow_up": "Suivi",
        "signed": "Signé électroniquement le {date}",
        "draft": "BROUILLON : pas encore signé ni envoyé",
        "photos": "Photos",
        "photo_alt": "Photo du visage, {view}, {date}",
        "measurements": "Mesures d'image (pré-évaluation par IA)",
        "measurements_note": "Mesures de vos photos par un logiciel qui a aidé le médecin. Ce sont des mesures, "
        "pas des diagnostics : seule l'évaluation du médecin ci-dessus fait foi.",
        "measurement": "Mesure",
        "region": "Zone",
        "value": "Valeur",
        "band": "Niveau",
        "page": "Page {n} sur {nb}",
        "disclaimer": "Ce compte rendu repose sur des photos et les informations que vous avez fournies lors "
        "d'une consultation à distance. Il ne remplace pas un examen en personne. Consultez rapidement si une "
        "lésion de la peau saigne, grandit vite ou vous inquiète. Les mesures automatiques des images n'ont "
        "fait qu'appuyer le jugement du médecin.",
    },
    "nl": {
        "title": "Consultverslag",
        "patient": "Patiënt",
        "birth_date": "Geboortedatum",
        "reference": "Dossier",
        "consultation_date": "Consult",
        "date": "Datum verslag",
        "physician": "Arts",
        "registration": "Registratienr.",
        "findings": "Bevindingen",
        "assessment": "Beoordeling",
        "recommendations": "Aanbevelingen",
        "home_care": "Verzorging thuis",
        "in_person": "Bezoek aan de kliniek aangeraden",
        "follow_up": "Nacontrole",
        "signed": "Elektronisch ondertekend op {date}",
        "draft": "CONCEPT: nog niet ondertekend of verstuurd",
        "photos": "Foto's",
        "photo_alt": "Foto van het gezicht, {view}, {date}",
        "measurements": "Beeldmetingen (AI-vooronderzoek)",
        "measurements_note": "Metingen van uw foto's door software die de arts heeft ondersteund. Het zijn "
        "metingen, geen diagnoses: de beoordeling van de arts hierboven is bepalend.",
        "measurement": "Meting",
        "region": "Gebied",
        "value": "Waarde",
        "band": "Niveau",
        "page": "Pagina {n} van {nb}",
        "disclaimer": "Dit verslag is gebaseerd op foto's en de informatie die u gaf in een consult op afstand. "
        "Het vervangt geen onderzoek in de kliniek. Zoek snel zorg als een plek op de huid bloedt, snel groeit "
        "of u ongerust maakt. Automatische beeldmetingen ondersteunden alleen het oordeel van de arts.",
    },
    "es": {
        "title": "Informe de consulta",
        "patient": "Paciente",
        "birth_date": "Fecha de nacimiento",
        "reference": "Caso",
        "consultation_date": "Consulta",
        "date": "Fecha del informe",
        "physician": "Médico/a",
        "registration": "N.º de colegiado/a",
        "findings": "Hallazgos",
        "assessment": "Valoración",
        "recommendations": "Recomendaciones",
        "home_care": "Cuidados en casa",
        "in_person": "Se aconseja una visita presencial",
        "follow_up": "Seguimiento",
        "signed": "Firmado electrónicamente el {date}",
        "draft": "BORRADOR: aún no firmado ni enviado",
        "photos": "Fotos",
        "photo_alt": "Foto de la cara, {view}, {date}",
        "measurements": "Mediciones de imagen (evaluación previa con IA)",
        "measurements_note": "Mediciones de sus fotos hechas por un software que ayudó al médico. Son "
        "mediciones, no diagnósticos: lo que cuenta es la valoración médica de arriba.",
        "measurement": "Medición",
        "region": "Zona",
        "value": "Valor",
        "band": "Nivel",
        "page": "Página {n} de {nb}",
        "disclaimer": "Este informe se basa en fotos y en la información que usted facilitó en una consulta a "
        "distancia. No sustituye una exploración presencial. Busque atención urgente si una lesión de la piel "
        "sangra, crece rápido o le preocupa. Las mediciones automáticas de las imágenes solo apoyaron el "
        "criterio del médico.",
    },
}

LABELS["tr"] = {
    "title": "Konsültasyon raporu",
    "patient": "Hasta",
    "birth_date": "Doğum tarihi",
    "reference": "Vaka",
    "consultation_date": "Konsültasyon",
    "date": "Rapor tarihi",
    "physician": "Hekim",
    "registration": "Sicil no.",
    "findings": "Bulgular",
    "assessment": "Değerlendirme",
    "recommendations": "Öneriler",
    "home_care": "Evde bakım",
    "in_person": "Yüz yüze muayene önerilir",
    "follow_up": "Kontrol",
    "signed": "{date} tarihinde elektronik olarak imzalandı",
    "draft": "TASLAK: henüz imzalanmadı veya gönderilmedi",
    "photos": "Fotoğraflar",
    "photo_alt": "Yüz fotoğrafı, {view}, {date}",
    "measurements": "Görüntü ölçümleri (yapay zekâ ön değerlendirmesi)",
    "measurements_note": "Fotoğraflarınızın, hekime yardımcı olan bir yazılımla yapılan ölçümleri. Bunlar "
    "tanı değil ölçümdür: geçerli olan, yukarıdaki hekim değerlendirmesidir.",
    "measurement": "Ölçüm",
    "region": "Bölge",
    "value": "Değer",
    "band": "Düzey",
    "page": "Sayfa {n} / {nb}",
    "disclaimer": "Bu rapor, uzaktan konsültasyonda verdiğiniz fotoğraflara ve bilgilere dayanır. Yüz yüze "
    "muayenenin yerini tutmaz. Bir cilt değişikliği kanarsa, hızla büyürse veya sizi endişelendirirse hemen "
    "bir doktora başvurun. Otomatik görüntü ölçümleri yalnızca hekimin kararını destekledi.",
}

VIEW_LABELS: dict[str, dict[str, str]] = {
    "en": {"front": "Front", "left_oblique": "Left side", "right_oblique": "Right side",
           "left_profile": "Left profile", "right_profile": "Right profile", "close_up": "Close-up"},
    "de": {"front": "Vorderansicht", "left_oblique": "Linke Seite", "right_oblique": "Rechte Seite",
           "left_profile": "Linkes Profil", "right_profile": "Rechtes Profil", "close_up": "Nahaufnahme"},
    "fr": {"front": "Face", "left_oblique": "Côté gauche", "right_oblique": "Côté droit",
           "left_profile": "Profil gauche", "right_profile": "Profil droit", "close_up": "Gros plan"},
    "nl": {"front": "Voorkant", "left_oblique": "Linkerkant", "right_oblique": "Rechterkant",
           "left_profile": "Linkerprofiel", "right_profile": "Rechterprofiel", "close_up": "Close-up"},
    "es": {"front": "Frente", "left_oblique": "Lado izquierdo", "right_oblique": "Lado derecho",
           "left_profile": "Perfil izquierdo", "right_profile": "Perfil derecho", "close_up": "Primer plano"},
    "tr": {"front": "Önden", "left_oblique": "Sol taraf", "right_oblique": "Sağ taraf",
           "left_profile": "Sol profil", "right_profile": "Sağ profil", "close_up": "Yakın çekim"},
}  # fmt: skip

BAND_LABELS: dict[str, dict[str, str]] = {
    "en": {"minimal": "minimal", "mild": "mild", "moderate": "moderate", "marked": "marked"},
    "de": {"minimal": "minimal", "mild": "leicht", "moderate": "mäßig", "marked": "deutlich"},
    "fr": {"minimal": "minimal", "mild": "léger", "moderate": "modéré", "marked": "marqué"},
    "nl": {"minimal": "minimaal", "mild": "licht", "moderate": "matig", "marked": "duidelijk"},
    "es": {"minimal": "mínimo", "mild": "leve", "moderate": "moderado", "marked": "marcado"},
    "tr": {"minimal": "çok hafif", "mild": "hafif", "moderate": "orta", "marked": "belirgin"},
}

# The report's sections by key (exports pass these keys); any other key is printed as given.
SECTION_KEYS = ("findings", "assessment", "recommendations", "home_care")
DISCLAIMER = LABELS["en"]["disclaimer"]

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def language_code(language: str | None) -> str:
    lang = (language or "en").split("-")[0].lower()
    return lang if lang in LABELS else "en"


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
    measurement: str  # e.g. "Redness"
    region: str  # e.g. "left cheek"
    value: str  # formatted with its unit, e.g. "14.2 CIELAB a*"
    band: str | None = None  # minimal / mild / moderate / marked (localised when known)


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
    measurement_engine: str | None = None  # e.g. "engine 1.2.0"
    signed: bool = True  # False: a physician's preview of a draft, marked DRAFT, no signature


def find_unicode_font() -> Path | None:
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    return None


def _photo(item: PdfPhoto | tuple[str, bytes]) -> PdfPhoto:
    return item if isinstance(item, PdfPhoto) else PdfPhoto(item[0], item[1])


def build_report_pdf(data: ReportPdfInput) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    lang = language_code(data.language)
    labels = LABELS[lang]
    font_path = find_unicode_font()

    def clean(text: str) -> str:
        return text if font_path is not None else text.encode("latin-1", "replace").decode("latin-1")

    footer_left = clean(
        " · ".join(
            part
            for part in (
                data.patient_name,
                format_date(data.patient_birth_date, lang) if data.patient_birth_date else "",
                data.case_reference,
            )
            if part
        )
    )

    class Letter(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(family, "", 8)
            self.set_text_color(90)
            self.cell(self.epw * 0.7, 5, footer_left, align="L")
            page = labels["page"].replace("{n}", str(self.page_no()))
            self.cell(self.epw * 0.3, 5, clean(page), align="R")
            self.set_text_color(0)

    pdf = Letter(format="A4")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.alias_nb_pages("{nb}")
    if font_path is not None:
        pdf.add_font("DejaVu", "", str(font_path))
        bold = font_path.with_name(font_path.stem + "-Bold.ttf")
        pdf.add_font("DejaVu", "B", str(bold if bold.is_file() else font_path))
        family = "DejaVu"
    else:  # core fonts only know Latin-1: degrade characters instead of failing
        family = "Helvetica"
    # Metadata: nothing about the patient (no name, case, author, subject or keywords).
    pdf.set_title(clean(labels["title"]))
    pdf.set_creator("Clinic portal")
    pdf.set_lang(lang)
    pdf.add_page()

    # -- letterhead ------------------------------------------------------------------------------
    top = pdf.get_y()
    pdf.set_font(family, "B", 15)
    pdf.multi_cell(pdf.epw * 0.55, 7, clean(data.clinic_name), new_x="LMARGIN", new_y="NEXT", align="L")
    left_bottom = pdf.get_y()
    contact = [*data.clinic_address_lines, *(x for x in (data.clinic_phone, data.clinic_email) if x)]
    pdf.set_font(family, "", 8.5)
    pdf.set_xy(pdf.l_margin + pdf.epw * 0.55, top)
    for line in contact:
        pdf.set_x(pdf.l_margin + pdf.epw * 0.55)
        pdf.cell(pdf.epw * 0.45, 4.2, clean(line), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 2)
    pdf.set_draw_color(150)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(4)
    pdf.set_font(family, "B", 13)
    pdf.start_section(clean(labels["title"]))
    pdf.multi_cell(0, 7, clean(labels["title"]), new_x="LMARGIN", new_y="NEXT", align="L")
    if not data.signed:
        pdf.set_text_color(170, 0, 0)
        pdf.set_font(family, "B", 10)
        pdf.multi_cell(0, 6, clean(labels["draft"]), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_text_color(0)
    pdf.ln(1)

    # -- who and when ----------------------------------------------------------------------------
    physician = data.physician_name + (
        f", {data.physician_credentials}" if data.physician_credentials else ""
    )
    rows = [
        (labels["patient"], data.patient_name, labels["reference"], data.case_reference),
        (
            labels["birth_date"],
            format_date(data.patient_birth_date, lang) if data.patient_birth_date else "",
            labels["consultation_date"],
            format_date(data.consultation_date, lang) if data.consultation_date else "",
        ),
        (labels["physician"], physician, labels["date"], format_date(data.issued_on, lang)),
    ]
    pdf.set_font(family, "", 9.5)
    label_style = FontFace(emphasis="BOLD")
    with pdf.table(
        col_widths=(30, 58, 29, 47),
        borders_layout="NONE",
        first_row_as_headings=False,
        line_height=5.2,
        padding=(0.6, 1, 0.6, 0),
        text_align="LEFT",
    ) as table:
        for row in rows:
            cells = table.row()
            for index, text in enumerate(row):
                cells.cell(clean(text), style=label_style if index % 2 == 0 else None)
    pdf.ln(4)

    # -- the report ------------------------------------------------------------------------------
    def section(heading: str, text: str) -> None:
        if pdf.get_y() > pdf.page_break_trigger - 22:
            pdf.add_page()
        pdf.set_font(family, "B", 11.5)
        pdf.start_section(clean(heading), level=1)
        pdf.multi_cell(0, 6.5, clean(heading), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_font(family, "", 10)
        pdf.multi_cell(0, 5.2, clean(text), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(2.5)

    for key, text in data.sections.items():
        if text and text.strip():
            section(labels.get(key, key) if key in SECTION_KEYS else key, text.strip())
    for key, text in (("in_person", data.in_person_reason), ("follow_up", data.follow_up)):
        if text and text.strip():
            section(labels[key], text.strip())

    # -- signature ------------------------------------------------------------------------------
    if data.signed:
        if pdf.get_y() > pdf.page_break_trigger - 30:
            pdf.add_page()
        pdf.ln(3)
        pdf.set_font(family, "", 9.5)
        pdf.multi_cell(
            0,
            5,
            clean(labels["signed"].format(date=format_date(data.issued_on, lang))),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.ln(7)
        pdf.set_draw_color(0)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + 70, pdf.get_y())
        pdf.ln(1.5)
        pdf.set_font(family, "B", 10)
        pdf.multi_cell(0, 5, clean(data.physician_name), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_font(family, "", 9.5)
        for line in (
            data.physician_credentials,
            f"{labels['registration']} {data.physician_registration}"
            if data.physician_registration
            else None,
            data.clinic_name,
        ):
            if line:
                pdf.multi_cell(0, 4.8, clean(line), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(4)

    # -- photos in a grid ------------------------------------------------------------------------
    photos = [_photo(item) for item in data.photos]
    if photos:
        _photo_grid(pdf, family, labels, lang, photos, clean)

    # -- measurements ----------------------------------------------------------------------------
    if data.measurements:
        _measurement_table(pdf, family, labels, lang, data, clean)

    # -- disclaimer ------------------------------------------------------------------------------
    if pdf.get_y() > pdf.page_break_trigger - 20:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(family, "", 8)
    pdf.set_text_color(70)
    pdf.multi_cell(0, 4.2, clean(labels["disclaimer"]), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_text_color(0)
    return bytes(pdf.output())


def _photo_grid(
    pdf: Any, family: str, labels: dict[str, str], lang: str, photos: list[PdfPhoto], clean: Any
) -> None:
    gap, columns = 5.0, 3
    cell_w = (pdf.epw - gap * (columns - 1)) / columns
    box_h = cell_w * 1.25
    caption_h = 9.0
    if pdf.get_y() > pdf.page_break_trigger - (box_h + caption_h + 10):
        pdf.add_page()
    pdf.set_font(family, "B", 11.5)
    pdf.start_section(clean(labels["photos"]), level=1)
    pdf.multi_cell(0, 6.5, clean(labels["photos"]), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(1)
    views = VIEW_LABELS[lang]
    for start in range(0, len(photos), columns):
        if pdf.get_y() + box_h + caption_h > pdf.page_break_trigger:
            pdf.add_page()
        row_top = pdf.get_y()
        for index, photo in enumerate(photos[start : start + columns]):
            x = pdf.l_margin + index * (cell_w + gap)
            view = views.get(photo.view, photo.view.replace("_", " "))
            when = format_date(photo.taken_on, lang) if photo.taken_on else ""
            alt = labels["photo_alt"].format(view=view, date=when).rstrip(", ")
            pdf.image(
                io.BytesIO(photo.image),
                x=x,
                y=row_top,
                w=cell_w,
                h=box_h,
                keep_aspect_ratio=True,
                alt_text=clean(alt),
            )
            pdf.set_xy(x, row_top + box_h + 1)
            pdf.set_font(family, "", 8.5)
            pdf.cell(cell_w, 4, clean(view), align="C")
            if when:
                pdf.set_xy(x, row_top + box_h + 5)
                pdf.cell(cell_w, 4, clean(when), align="C")
        pdf.set_xy(pdf.l_margin, row_top + box_h + caption_h + 2)


def _measurement_table(
    pdf: Any, family: str, labels: dict[str, str], lang: str, data: ReportPdfInput, clean: Any
) -> None:
    from fpdf.fonts import FontFace

    rows_h = 6 * (len(data.measurements) + 1) + 20
    if pdf.get_y() > pdf.page_break_trigger - min(rows_h, 80):
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(family, "B", 11.5)
    pdf.start_section(clean(labels["measurements"]), level=1)
    pdf.multi_cell(0, 6.5, clean(labels["measurements"]), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font(family, "", 8.5)
    note = labels["measurements_note"] + (f" ({data.measurement_engine})" if data.measurement_engine else "")
    pdf.multi_cell(0, 4.3, clean(note), new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(1.5)
    bands = BAND_LABELS[lang]
    with pdf.table(
        col_widths=(50, 42, 46, 26),
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        line_height=5,
        padding=(0.8, 1.5, 0.8, 1.5),
        text_align=("LEFT", "LEFT", "RIGHT", "LEFT"),
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        header = table.row()
        for key in ("measurement", "region", "value", "band"):
            header.cell(clean(labels[key]))
        for item in data.measurements:
            cells = table.row()
            cells.cell(clean(item.measurement))
            cells.cell(clean(item.region))
            cells.cell(clean(item.value))
            cells.cell(clean(bands.get(item.band or "", item.band or "")))
    pdf.ln(2)
