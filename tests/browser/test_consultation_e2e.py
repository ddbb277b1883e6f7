"""End to end: a patient registers and sends a consultation, a physician answers it, the patient
reads the report; afterwards no personal data or photo bytes sit in plaintext on disk."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from core.vocabulary import VIEW_NAMES
from tests.browser.conftest import PortalServer, click_menu, fill_date, login, logout, open_page, wait_for_app

pytestmark = pytest.mark.browser

PATIENT_NAME = "Zebulon Quixotefield"
PATIENT_EMAIL = "zebulon.q@example.test"
PATIENT_PASSWORD = "Sunny-Meadow-4821"
CONCERN_TEXT = "Brown patches on both cheeks since last summer xq7"
FINDINGS_TEXT = "Symmetric light-brown macules on the malar cheeks, consistent with melasma."
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def synthetic_head_turn(face_bgr: np.ndarray, degrees: float) -> np.ndarray:
    """The face turned about the vertical axis: MediaPipe's 3D landmarks rotated, the image
    warped piecewise-affinely onto them (the frame's border stays put).

    The quality gate measures the head turn in 3D, so a mirrored or perspective-warped frontal
    photo is refused as an oblique view; this turn is what it accepts. The far cheek shows
    warping artefacts, which is fine for a workflow test.
    """
    from skimage.transform import PiecewiseAffineTransform, warp

    from core.vision.landmarks import FaceLandmarker

    landmarker = FaceLandmarker()
    try:
        faces = landmarker.detect(face_bgr)
    finally:
        landmarker.close()
    assert faces, "no face found in the generated photo"
    points = faces[0].points.astype(np.float64)
    height, width = face_bgr.shape[:2]
    source = points[:, :2]
    centre_x = source[:, 0].mean()
    depth = points[:, 2] - points[:, 2].mean()
    angle = np.radians(degrees)
    target = source.copy()
    target[:, 0] = centre_x + (source[:, 0] - centre_x) * np.cos(angle) + depth * np.sin(angle)
    w, h = width - 1, height - 1
    border = np.array([[0, 0], [w, 0], [w, h], [0, h], [w / 2, 0], [w / 2, h], [0, h / 2], [w, h / 2]])
    # warp() maps output coordinates to input ones, so estimate target -> source.
    transform = PiecewiseAffineTransform.from_estimate(
        np.vstack([target, border]), np.vstack([source, border])
    )
    turned = warp(face_bgr, transform, output_shape=(height, width), preserve_range=True)
    return np.clip(turned, 0, 255).astype(np.uint8)


def write_view_photos(face_bgr: np.ndarray, directory: Path) -> dict[str, Path]:
    """front = the generated face photo; obliques = its synthetic 45 degree turn and the mirror."""
    import cv2

    from core.vision.quality import check_photo

    left = synthetic_head_turn(face_bgr, 45.0)
    variants = {"front": face_bgr, "left_oblique": left, "right_oblique": cv2.flip(left, 1)}
    paths = {}
    for view, image in variants.items():
        verdict = check_photo(image, view).verdict
        assert verdict != "fail", f"the generated {view} photo no longer passes the quality gate"
        path = directory / f"{view}.jpg"
        assert cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths[view] = path
    return paths


def choose_options(page, widget_test_id: str, label: str, options: list[str]) -> None:
    """Pick options in an st.multiselect by their visible labels."""
    widget = page.get_by_test_id(widget_test_id).filter(has_text=label)
    for option in options:
        field = widget.locator("input")
        field.click()
        field.fill(option)  # filters the list down to the option
        page.get_by_role("option", name=option, exact=True).click()
        wait_for_app(page)
    page.keyboard.press("Escape")


def fill_text_area(page, label: str, text: str) -> None:
    """Fill an st.text_area and apply it at once (Ctrl+Enter) so no rerun races a later action."""
    area = page.get_by_label(label)
    area.fill(text)
    area.press("Control+Enter")
    wait_for_app(page)


def register_patient(page, portal: PortalServer) -> None:
    open_page(page, portal)
    click_menu(page, "Register")
    page.get_by_label("Full name").fill(PATIENT_NAME)
    page.get_by_label("Email").fill(PATIENT_EMAIL)
    page.get_by_label("Password *", exact=True).fill(PATIENT_PASSWORD)
    page.get_by_label("Confirm password").fill(PATIENT_PASSWORD)
    fill_date(page, "Date of birth", 12, 4, 1990)
    page.get_by_test_id("stCheckbox").filter(has_text="accept the telemedicine consent").locator(
        "label"
    ).click()
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="My consultations").wait_for()
    wait_for_app(page)


def reload_keeps_the_draft(page) -> None:
    """A phone reloads the tab when the patient switches to the camera, and a visit to the photo
    guide leaves the form: still logged in, the typed answers and the accepted photo come back
    from the encrypted draft on the server each time."""
    page.get_by_text("1 of 3 views done").wait_for()
    for leave in ("reload", "photo guide"):
        if leave == "reload":
            page.reload()
            wait_for_app(page)
        else:
            click_menu(page, "Photo guide")
            page.get_by_role("heading", name="Photo guide").wait_for()
            click_menu(page, "New consultation")
        page.get_by_text(re.compile("We kept your answers from")).wait_for()
        # The form streams in after the notice: wait for the restored value, not just the field.
        expect(page.get_by_label("Describe your concern in your own words")).to_have_value(CONCERN_TEXT)
        page.get_by_text("Kept from your saved answers.").wait_for()
        page.get_by_text("1 of 3 views done").wait_for()


def send_consultation(page, photos: dict[str, Path]) -> str:
    click_menu(page, "New consultation")
    choose_options(page, "stMultiSelect", "What would you like help with?", ["Pigmentation / melasma"])
    choose_options(page, "stMultiSelect", "Which areas of the face?", ["Cheeks"])
    page.get_by_test_id("stRadio").filter(has_text="How long has this been going on?").get_by_text(
        "1 to 3 years"
    ).click()
    wait_for_app(page)
    fill_text_area(page, "Describe your concern in your own words", CONCERN_TEXT)
    fill_text_area(page, "What result are you hoping for?", "Even skin tone")
    fill_text_area(page, "Current medications (or 'none')", "none")
    uploaders = page.get_by_test_id("stFileUploader")
    for view in ("front", "left_oblique", "right_oblique"):
        uploader = uploaders.filter(has_text=f"Photo: {VIEW_NAMES[view]}")
        uploader.locator("input[type=file]").set_input_files(str(photos[view]))
        uploader.get_by_text(photos[view].name).wait_for()
        wait_for_app(page)
        if view == "front":
            reload_keeps_the_draft(page)
    page.get_by_text("3 of 3 views done").wait_for()
    page.get_by_test_id("stCheckbox").filter(has_text="storing my photos").locator("label").click()
    wait_for_app(page)
    page.get_by_role("button", name="Send consultation").click()
    success = page.get_by_text(re.compile("your consultation was sent", re.IGNORECASE))
    success.wait_for(timeout=60_000)
    reference = re.search(r"reference is (\S+?)\.", success.inner_text())
    assert reference, success.inner_text()
    return reference.group(1)


def answer_as_physician(page, portal: PortalServer, reference: str, shots: Path | None = None) -> None:
    """`shots`: a folder for a rendering of the AI pre-assessment card's one-screen summary."""
    login(page, portal, "physician")
    click_menu(page, "Case queue")
    open_link = page.get_by_role("link", name="Open case")
    # The innermost block holding both the reference and a link is the case's card.
    card = page.get_by_test_id("stVerticalBlock").filter(has_text=reference).filter(has=open_link).last
    card.get_by_role("link", name="Open case").click()
    page.get_by_role("heading", name=f"Case {reference}").wait_for()
    wait_for_app(page)
    assert page.get_by_text(CONCERN_TEXT).count() >= 1
    photos = page.get_by_test_id("stImage").locator("img")
    photos.nth(2).wait_for()  # the three views, decrypted for the physician (they load last)
    assert photos.count() >= 3
    if shots is not None:
        save_assessment_summary(page, shots / "assessment_card_summary.png")
    page.get_by_role("tab", name="Report").click()
    # Inside st.form: values are sent with the submit button, no rerun per field.
    page.get_by_role("textbox", name="Findings", exact=True).fill(FINDINGS_TEXT)
    page.get_by_label("Assessment", exact=True).fill("Likely epidermal melasma.")
    page.get_by_label("Recommended treatments").fill("Topical tranexamic acid; consider a light peel.")
    page.get_by_label("Home care").fill("Daily SPF 50.")
    page.get_by_role("button", name="Send report to patient").click()
    page.get_by_text("can no longer be edited").wait_for()


def save_assessment_summary(page, path: Path) -> None:
    """The card's one-screen summary (photo with heat map, key findings) once the background
    assessment of the case's real front photo is done, saved as `path` (issue 13's before/after)."""
    page.get_by_role("tab", name="AI pre-assessment").click()
    panel = page.get_by_role("tabpanel", name="AI pre-assessment")
    expect(panel.get_by_text("Key findings")).to_be_visible(timeout=180_000)
    expect(panel.get_by_test_id("stImage").locator("img").first).to_be_visible()
    wait_for_app(page)
    panel.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, "the card's summary rendered as an empty picture"


def raw_files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def test_patient_to_physician_round_trip(
    portal: PortalServer, browser, face_photo_bgr, tmp_path: Path
) -> None:
    photos = write_view_photos(face_photo_bgr, tmp_path)

    patient_context = browser.new_context(viewport={"width": 1280, "height": 1000})
    patient_context.set_default_timeout(30_000)
    patient = patient_context.new_page()
    try:
        register_patient(patient, portal)
        reference = send_consultation(patient, photos)
    except Exception:
        patient.screenshot(path=str(tmp_path / "failure_patient.png"), full_page=True)
        (tmp_path / "failure_patient.txt").write_text(patient.inner_text("body"))
        raise

    physician_context = browser.new_context(viewport={"width": 1280, "height": 1000})
    physician_context.set_default_timeout(30_000)
    physician = physician_context.new_page()
    try:
        answer_as_physician(physician, portal, reference, shots=tmp_path)
    except Exception:
        physician.screenshot(path=str(tmp_path / "failure_physician.png"), full_page=True)
        raise
    physician.screenshot(path=str(tmp_path / "physician_case.png"), full_page=True)
    physician_context.close()

    # The patient reloads their consultations (still logged in: the session cookie) and reads the report.
    patient.reload()
    wait_for_app(patient)
    patient.get_by_role("button", name="Log out").wait_for()
    click_menu(patient, "My consultations")
    patient.get_by_text(FINDINGS_TEXT).wait_for()
    assert patient.get_by_text("Report sent").count() >= 1
    patient.screenshot(path=str(tmp_path / "patient_report.png"), full_page=True)
    patient_context.close()

    # Nothing personal in plaintext on disk: the database (and its WAL) and every blob.
    files = raw_files(portal.data_dir)
    assert files, "the portal wrote no files"
    photo_chunks = [path.read_bytes()[2000:2256] for path in photos.values()]
    for path in files:
        data = path.read_bytes()
        where = path.relative_to(portal.data_dir)
        assert PATIENT_NAME.encode() not in data, f"patient name in plaintext in {where}"
        assert CONCERN_TEXT.encode() not in data, f"concern text in plaintext in {where}"
        assert FINDINGS_TEXT.encode() not in data, f"report text in plaintext in {where}"
        assert not data.startswith((JPEG_MAGIC, PNG_MAGIC)), f"an unencrypted image file: {where}"
        for chunk in photo_chunks:
            assert chunk not in data, f"uploaded photo bytes in plaintext in {where}"


def test_log_out_takes_one_press_and_a_wrong_password_is_refused(portal: PortalServer, page) -> None:
    login(page, portal, "admin")
    page.get_by_role("heading", name="Users").wait_for()
    logout(page)
    page.get_by_text("You have been logged out.").wait_for()
    assert page.get_by_role("button", name="Log out").count() == 0
    page.get_by_label("Email").fill(portal.credentials["admin"].email)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Email or password is not correct.").wait_for()
    page.screenshot(path=str(Path(portal.log_path).parent / "login_refused.png"))
