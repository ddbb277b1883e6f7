"""The report letter as a reader sees it: rendered with poppler (pdftoppm) and compared with the
reference rendering kept in tests/care/reference/ for reviewers (synthetic data and drawn faces
only, no real photos). Fonts embedded and tagging are read with pdffonts/pdfinfo.

After an intended layout change: `CLINIC_UPDATE_REFERENCE=1 .venv/bin/python -m pytest
tests/care/test_report_letter_render.py` rewrites the reference PNGs; look at them before committing.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.care.pdf import PdfMeasurement, PdfPhoto, ReportPdfInput, build_report_pdf

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
            measurement_engine="engine 1.2.0",
        )
    )


@pytest.fixture(scope="module")
def letter(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("letter") / "letter.pdf"
    path.write_bytes(reference_letter())
    return path


def test_fonts_are_embedded_and_the_pdf_is_tagged_without_personal_metadata(letter: Path) -> None:
    fonts = subprocess.run(
        [_poppler("pdffonts"), str(letter)], capture_output=True, text=True, check=True
    ).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(" yes " in row for row in rows), fonts  # emb column
    info = subprocess.run(
        [_poppler("pdfinfo"), str(letter)], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    assert fields["Tagged"].strip() == "yes"
    assert fields["Pages"].strip() == "2"
    assert fields["Title"].strip() == "Consultation report"
    assert "Author" not in fields and "Subject" not in fields and "Keywords" not in fields
    text = subprocess.run(
        [_poppler("pdftotext"), "-layout", str(letter), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Page 1 of 2" in text and "Page 2 of 2" in text
    assert "measurements, not diagnoses" in text


def test_rendering_matches_the_reference(letter: Path, tmp_path: Path) -> None:
    subprocess.run(
        [_poppler("pdftoppm"), "-png", "-r", str(DPI), str(letter), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2
    update = os.environ.get("CLINIC_UPDATE_REFERENCE") == "1"
    for index, page in enumerate(pages, start=1):
        rendered = cv2.imread(str(page))
        assert rendered.shape[:2] == (math.ceil(841.89 / 72 * DPI), math.ceil(595.28 / 72 * DPI))  # A4
        assert rendered.std() > 10  # not a blank page
        reference = REFERENCE_DIR / f"report_letter-{index}.png"
        if update or not reference.is_file():
            if os.environ.get("CI") and not update:
                pytest.fail(f"{reference} is missing: generate it with CLINIC_UPDATE_REFERENCE=1")
            _write_small_png(rendered, reference)
            continue
        expected = cv2.imread(str(reference))
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
