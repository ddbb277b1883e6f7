"""The report letter as a reader sees it, in English and in Arabic: rendered with poppler (pdftoppm)
and compared with the reference renderings kept in tests/care/reference/ for reviewers (synthetic
data and drawn faces only, no real photos). Fonts, tagging and the structure tree are read with
poppler (pdffonts, pdfinfo -struct-text, pdftotext) and pypdf, readers independent of WeasyPrint.

After an intended layout change: `CLINIC_UPDATE_REFERENCE=1 .venv/bin/python -m pytest
tests/care/test_report_letter_render.py` rewrites the reference PNGs; look at them before committing.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from pypdf import PdfReader

from core.assessment.findings import view_words
from core.care.pdf import MEASUREMENTS, PdfMeasurement, PdfPhoto, ReportPdfInput, build_report_pdf
from core.i18n import translator

REFERENCE_DIR = Path(__file__).parent / "reference"
DPI = 80
MAX_MEAN_DIFFERENCE = 3.0  # of 255, per pixel: room for quantisation and anti-aliasing, not for layout


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} (Debian poppler-utils) is missing: run `bash scripts/install_test_deps.sh`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def drawn_face(view: str, size: tuple[int, int] = (360, 300)) -> bytes:
    """A drawn face (no real photo): skin oval, eyes, brows, mouth; obliques shift the features."""
    height, width = size
    image = np.full((height, width, 3), (222, 226, 230), np.uint8)
    shift = {"front": 0, "left_oblique": -28, "right_oblique": 28}[view]
    centre = (width // 2 + shift // 2, height // 2 + 10)
    cv2.ellipse(image, centre, (95, 125), 0, 0, 360, (150, 175, 215), -1)
    cv2.ellipse(image, (centre[0], centre[1] - 110), (100, 50), 0, 180, 360, (60, 70, 90), -1)  # hair
    for side in (-1, 1):
        eye = (centre[0] + shift + side * 38, centre[1] - 20)
        cv2.ellipse(image, eye, (16, 8), 0, 0, 360, (245, 245, 245), -1)
        cv2.circle(image, eye, 5, (70, 50, 40), -1)
        cv2.line(image, (eye[0] - 18, eye[1] - 20), (eye[0] + 18, eye[1] - 24), (60, 70, 90), 4)
        cv2.circle(image, (centre[0] + shift + side * 55, centre[1] + 30), 16, (140, 150, 225), -1)  # cheeks
    cv2.line(
        image,
        (centre[0] + shift, centre[1] - 10),
        (centre[0] + shift + 6, centre[1] + 30),
        (120, 140, 190),
        3,
    )
    cv2.ellipse(image, (centre[0] + shift, centre[1] + 62), (30, 10), 0, 0, 180, (90, 90, 170), 4)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def reference_letter() -> bytes:
    taken = date(2027, 3, 4)
    return build_report_pdf(
        ReportPdfInput(
            clinic_name="Aesthetic Dermatology Clinic",
            patient_name="Zoë Müller",
            case_reference="C-0042",
            physician_name="Dr Ada Lovelace",
            issued_on=date(2027, 3, 5),
            language="en",
            sections={
                "findings": "Dynamic horizontal forehead lines, more marked on the left. Mild diffuse redness of both "
                "cheeks without papules or pustules. No suspicious pigmented lesions on the photos.",
                "assessment": "Expression lines of the forehead, suitable for botulinum toxin. The cheek redness "
                "fits mild erythemato-telangiectatic rosacea; a visit would confirm it.",
                "recommendations": "Botulinum toxin, 10 units to the forehead, at an in-person visit. Azelaic acid "
                "15% gel once daily on the cheeks for 8 weeks.",
                "home_care": "Daily broad-spectrum SPF 50. Gentle cleanser; avoid hot drinks and alcohol if they "
                "bring on flushing.",
            },
            in_person_reason="The treatment needs a visit; we will also look at the cheeks in person.",
            follow_up="Photo check-in two weeks after the treatment.",
            photos=[
                PdfPhoto(view, drawn_face(view), taken) for view in ("front", "left_oblique", "right_oblique")
            ],
            patient_birth_date=date(1988, 5, 1),
            consultation_date=taken,
            physician_credentials="MD, dermatologist",
            physician_registration="BIG 19012345601",
            clinic_address_lines=("Keizersgracht 100", "1015 AA Amsterdam"),
            clinic_phone="+31 20 123 4567",
            clinic_email="info@clinic.example",
            measurements=(
                PdfMeasurement("Lines", "forehead", "4.8% of the area", "mild"),
                PdfMeasurement("Redness", "left cheek", "38/100", "mild"),
                PdfMeasurement("Red area", "right cheek", "9.1% of the area", "minimal"),
                PdfMeasurement("Roughness", "forehead", "12/100", "minimal"),
                PdfMeasurement("Skin tone", "forehead", "ITA 38° (intermediate)", "intermediate"),
            ),
            engine_version="1.2.0",
        )
    )


def arabic_letter() -> bytes:
    """The same consultation for a patient who reads Arabic: the physician writes in Arabic, with a
    Latin patient name, numbers, a dose in percent and the case reference inside the sentences."""
    taken = date(2027, 3, 4)
    return build_report_pdf(
        ReportPdfInput(
            clinic_name="عيادة الأمراض الجلدية التجميلية",
            patient_name="Zoë Müller",
            case_reference="C-0042",
            physician_name="د. ليلى حداد",
            issued_on=date(2027, 3, 5),
            language="ar",
            sections={
                "findings": "خطوط أفقية ديناميكية في الجبهة، أوضح في الجهة اليسرى. احمرار خفيف ومنتشر في الخدين "
                "من دون حطاطات أو بثور.",
                "assessment": "خطوط تعبير في الجبهة مناسبة لحقن البوتوكس. يتوافق احمرار الخدين مع وردية خفيفة.",
                "recommendations": "حقن البوتوكس، 10 وحدات في الجبهة، في زيارة حضورية. جل حمض الأزيليك 15% مرة "
                "يوميًا على الخدين لمدة 8 أسابيع.",
                "home_care": "واقي شمس SPF 50 يوميًا. غسول لطيف؛ تجنّبي المشروبات الساخنة إذا سبّبت احمرارًا.",
            },
            in_person_reason="يحتاج العلاج إلى زيارة؛ سنفحص الخدين أيضًا.",
            follow_up="أرسلي صور المتابعة بعد أسبوعين مع رقم الملف C-0042 إلى الدكتورة Ada Lovelace.",
            photos=[
                PdfPhoto(view, drawn_face(view), taken) for view in ("front", "left_oblique", "right_oblique")
            ],
            patient_birth_date=date(1988, 5, 1),
            consultation_date=taken,
            physician_credentials="طبيبة أمراض جلدية",
            physician_registration="BIG 19012345601",
            clinic_address_lines=("Keizersgracht 100", "1015 AA Amsterdam"),
            clinic_phone="+31 20 123 4567",
            clinic_email="info@clinic.example",
            measurements=(
                PdfMeasurement("الخطوط", "الجبهة", "4.8% من المساحة", "mild"),
                PdfMeasurement("الاحمرار", "الخد الأيسر", "38/100", "mild"),
                PdfMeasurement("الخشونة", "الجبهة", "12/100", "minimal"),
            ),
            engine_version="1.2.0",
        )
    )


@dataclass(frozen=True)
class Letter:
    language: str
    build: Callable[[], bytes]
    reference: str  # tests/care/reference/<reference>-<page>.png
    title: str
    pages: tuple[str, ...]  # "page n of m" as the footer prints it
    note: str  # the measurements' label: measurements, not diagnoses


LETTERS = {
    "en": Letter(
        "en",
        reference_letter,
        "report_letter",
        "Consultation report",
        ("Page 1 of 2", "Page 2 of 2"),
        "measurements, not diagnoses",
    ),
    "ar": Letter(
        "ar",
        arabic_letter,
        "report_letter_ar",
        "تقرير الاستشارة",
        ("الصفحة 1 من 2", "الصفحة 2 من 2"),
        "إنها قياسات وليست تشخيصات",
    ),
}


@pytest.fixture(scope="module", params=sorted(LETTERS))
def letter(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Letter, Path]:
    spec = LETTERS[request.param]
    path = tmp_path_factory.mktemp("letter") / f"letter-{spec.language}.pdf"
    path.write_bytes(spec.build())
    return spec, path


_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _pdftotext(path: Path) -> str:
    """pdftotext's reading of the page, without the bidi embedding marks it writes around runs."""
    text = subprocess.run(
        [_poppler("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"[ \t]+", " ", _BIDI_CONTROLS.sub("", text))


def test_fonts_are_embedded_and_the_pdf_is_tagged_without_personal_metadata(
    letter: tuple[Letter, Path],
) -> None:
    spec, letter_path = letter
    fonts = subprocess.run(
        [_poppler("pdffonts"), str(letter_path)], capture_output=True, text=True, check=True
    ).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(" yes " in row for row in rows), fonts  # emb column
    info = subprocess.run(
        [_poppler("pdfinfo"), str(letter_path)], capture_output=True, text=True, check=True
    ).stdout
    xmp = subprocess.run(
        [_poppler("pdfinfo"), "-meta", str(letter_path)], capture_output=True, text=True, check=True
    ).stdout
    assert 'pdfuaid:part="1"' in xmp and spec.title in xmp
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    assert fields["Tagged"].strip() == "yes"
    assert fields["Pages"].strip() == "2"
    assert fields["Title"].strip() == spec.title
    assert "Author" not in fields and "Subject" not in fields and "Keywords" not in fields
    for personal in ("Zoë", "Müller", "C-0042", "1988", "Lovelace", "ليلى"):  # nor in the XMP metadata
        assert personal not in info and personal not in xmp, personal
    if spec.language == "en":  # Arabic: pages and note are checked in logical order below
        text = _pdftotext(letter_path)
        assert all(page in text for page in spec.pages)
        assert spec.note in text


def test_rendering_matches_the_reference(letter: tuple[Letter, Path], tmp_path: Path) -> None:
    spec, letter_path = letter
    subprocess.run(
        [_poppler("pdftoppm"), "-png", "-r", str(DPI), str(letter_path), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2
    update = os.environ.get("CLINIC_UPDATE_REFERENCE") == "1"
    for index, page in enumerate(pages, start=1):
        rendered = cv2.imread(str(page))
        assert rendered is not None, page
        assert rendered.shape[:2] == (math.ceil(841.89 / 72 * DPI), math.ceil(595.28 / 72 * DPI))  # A4
        assert rendered.std() > 10  # not a blank page
        reference = REFERENCE_DIR / f"{spec.reference}-{index}.png"
        if update or not reference.is_file():
            if os.environ.get("CI") and not update:
                pytest.fail(f"{reference} is missing: generate it with CLINIC_UPDATE_REFERENCE=1")
            _write_small_png(rendered, reference)
            continue
        expected = cv2.imread(str(reference))
        assert expected is not None, reference
        assert expected.shape == rendered.shape, f"{reference.name}: the page size changed"
        difference = float(np.abs(expected.astype(np.int16) - rendered.astype(np.int16)).mean())
        assert difference < MAX_MEAN_DIFFERENCE, (
            f"page {index} differs from {reference.name} (mean {difference:.2f}/255); if the change is "
            "intended, regenerate with CLINIC_UPDATE_REFERENCE=1 and look at the PNGs"
        )


def _write_small_png(image: np.ndarray, path: Path) -> None:
    """A 64-colour palette PNG: small enough to keep in the repository, clear enough to review."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    rgb.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


_KEPT = ("H1", "H2", "P", "TH", "TD", "Figure", "Caption")


def _structure(path: Path, with_text: bool = True) -> list[tuple[str, str]]:
    """The structure tree as poppler prints it (`pdfinfo -struct-text`): (type, text) for the
    headings, paragraphs, table cells, figures and captions, in the tree's order, which is the
    reading order; an element's text is its lines joined with spaces."""
    printed = subprocess.run(
        [_poppler("pdfinfo"), "-struct-text" if with_text else "-struct", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    elements: list[tuple[str, list[str]]] = []
    open_elements: list[tuple[int, int | None]] = []  # (indent, index in elements when kept)
    for line in printed.splitlines():
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        if not body or body.startswith("/"):  # attributes: /Headers, /BBox, ...
            continue
        while open_elements and open_elements[-1][0] >= indent:
            open_elements.pop()
        if body.startswith('"'):
            kept = [index for _, index in open_elements if index is not None]
            if kept and body.strip('"'):
                elements[kept[-1]][1].append(body.strip('"'))
            continue
        kind = body.split()[0].rstrip(":")
        index = None
        if kind in _KEPT:
            elements.append((kind, []))
            index = len(elements) - 1
        open_elements.append((indent, index))
    return [(kind, " ".join(parts)) for kind, parts in elements]


def _figure_alts(pdf: bytes) -> list[str]:
    """/Alt of every Figure, walking the structure tree in order (pypdf)."""
    alts: list[str] = []

    def walk(node: Any) -> None:
        node = node.get_object()
        if node.get("/S") == "/Figure":
            alts.append(str(node.get("/Alt", "")))
        kids = node.get("/K")
        for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
            if hasattr(kid, "get_object") and hasattr(kid.get_object(), "get"):
                walk(kid)

    walk(_catalog(pdf)["/StructTreeRoot"])
    return alts


def _catalog(pdf: bytes) -> Any:
    """The document catalog (pypdf), for its /Lang, /MarkInfo, /ViewerPreferences and tree."""
    return PdfReader(io.BytesIO(pdf)).trailer["/Root"].get_object()


def _kinds(structure: list[tuple[str, str]]) -> list[str]:
    return [kind for kind, _ in structure]


def test_the_english_letter_has_a_structure_tree_in_reading_order(tmp_path: Path) -> None:
    pdf = reference_letter()
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    structure = _structure(path)
    headings = [(kind, text) for kind, text in structure if kind in ("H1", "H2")]
    assert headings == [
        ("H1", "Consultation report"),
        ("H2", "Findings"),
        ("H2", "Assessment"),
        ("H2", "Recommendations"),
        ("H2", "Home care"),
        ("H2", "In-person visit advised"),
        ("H2", "Follow-up"),
        ("H2", "Photos"),
        ("H2", "Image measurements (AI pre-assessment)"),
    ]
    cells = [(kind, text) for kind, text in structure if kind in ("TH", "TD")]
    assert cells[:12] == [  # who, then the case: each value after its label
        ("TH", "Patient"),
        ("TD", "Zoë Müller"),
        ("TH", "Date of birth"),
        ("TD", "May 1, 1988"),
        ("TH", "Physician"),
        ("TD", "Dr Ada Lovelace, MD, dermatologist"),
        ("TH", "Case"),
        ("TD", "C-0042"),
        ("TH", "Consultation"),
        ("TD", "March 4, 2027"),
        ("TH", "Report date"),
        ("TD", "March 5, 2027"),
    ]
    assert cells[12:20] == [
        ("TH", "Measurement"),
        ("TH", "Region"),
        ("TH", "Value"),
        ("TH", "Band"),
        ("TD", "Lines"),
        ("TD", "forehead"),
        ("TD", "4.8% of the area"),
        ("TD", "mild"),
    ]
    assert len(cells) == 12 + 4 + 5 * 4
    figures = [(kind, text) for kind, text in structure if kind in ("Figure", "Caption")]
    assert figures == [
        ("Figure", ""),
        ("Caption", "Front March 4, 2027"),
        ("Figure", ""),
        ("Caption", "Left side March 4, 2027"),
        ("Figure", ""),
        ("Caption", "Right side March 4, 2027"),
    ]
    assert _figure_alts(pdf) == [
        "Photo of the face, Front, March 4, 2027",
        "Photo of the face, Left side, March 4, 2027",
        "Photo of the face, Right side, March 4, 2027",
    ]
    # Reading order: letterhead, title, the facts, each heading before its paragraph, the
    # signature, photos, measurements, disclaimer last.
    order = [text for _, text in structure]
    first = [
        "Aesthetic Dermatology Clinic",
        "Keizersgracht 100",
        "Consultation report",
        "Patient",
        "Findings",
        "Dynamic horizontal forehead lines, more marked on the left. Mild diffuse redness of both cheeks "
        "without papules or pustules. No suspicious pigmented lesions on the photos.",
        "Follow-up",
        "Photo check-in two weeks after the treatment.",
        "Electronically signed on March 5, 2027",
        "Dr Ada Lovelace",
        "Reg. no. BIG 19012345601",
        "Photos",
        "Image measurements (AI pre-assessment)",
        "Measurement",
    ]
    positions = [order.index(text) for text in first]
    assert positions == sorted(positions), list(zip(first, positions, strict=True))
    assert structure[-1][0] == "P" and structure[-1][1].startswith("This report is based on photos")
    assert "measurements, not diagnoses" in " ".join(order)


def test_the_arabic_letter_is_shaped_right_to_left_and_tagged_like_the_english_one(tmp_path: Path) -> None:
    pdf = arabic_letter()
    path = tmp_path / "letter-ar.pdf"
    path.write_bytes(pdf)
    root = _catalog(pdf)
    assert root["/Lang"] == "ar"
    assert root["/MarkInfo"]["/Marked"] and root["/ViewerPreferences"]["/DisplayDocTitle"]
    # The same structure as the English letter (three measurements here instead of five).
    english = tmp_path / "letter-en.pdf"
    english.write_bytes(reference_letter())
    english_kinds = _kinds(_structure(english, with_text=False))
    arabic_kinds = _kinds(_structure(path, with_text=False))
    assert arabic_kinds == english_kinds[: -1 - 2 * 4] + english_kinds[-1:]
    # The views in the assessment card's words (the same in the letter and on the card).
    views = [view_words(view, translator("ar")) for view in ("front", "left_oblique", "right_oblique")]
    assert _figure_alts(pdf) == [f"صورة الوجه، {view}، 4 مارس 2027" for view in views]
    # Shaped and in logical order: pdftotext finds the headings and sentences as they were written
    # (it would find reversed or isolated letters if the text were unshaped or in visual order).
    text = _pdftotext(path)
    for expected in (
        "التوصيات",
        "التقييم",
        "العناية المنزلية",
        "خطوط تعبير في الجبهة مناسبة لحقن البوتوكس",
        "مرة يوميًا على الخدين لمدة",
        " ".join(translator("ar")(MEASUREMENTS).split()[:3]),  # the table's heading, as the catalog says it
        "يستند هذا التقرير إلى الصور",
        "Zoë Müller",  # Latin inside Arabic keeps its order
        "C-0042",
        "Ada Lovelace",
        "+31 20 123 4567",
    ):
        assert expected in text, expected
    assert re.search(r"الصفحة\s*1\s*من\s*2", text) and re.search(r"الصفحة\s*2\s*من\s*2", text)
