"""Streamlit's own widget words in the viewer's language, and its icons silent for screen readers.

Streamlit has no translations; the page bridge swaps its words (components/widget_words.py,
page_bridge_frontend/widget_words.js). In Arabic, the intake page — file uploader, camera,
date fields, selects, text fields while typing, the menu button — shows no English word of
Streamlit's, in text or in the names a screen reader reads (aria-label, placeholder, title).
In German, a field error's alert is read as its message, not as "error" (the Material icon's
ligature) followed by the message.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.widget_words import STREAMLIT_WORDS
from core.i18n import LANGUAGES, translator
from tests.browser.conftest import (
    FAKE_CAMERA_ARGS,
    UI_TIMEOUT_MS,
    PortalServer,
    click_menu,
    login,
    open_page,
    wait_for_app,
)

pytestmark = pytest.mark.browser

# Every text node, aria-label, placeholder and title a person or a screen reader meets (what is
# aria-hidden or a style sheet is neither), with the element's nearest test id.
READABLE_WORDS = """() => {
    const out = [];
    const silent = (el) => !el || el.closest('[aria-hidden="true"]') || ['STYLE', 'SCRIPT'].includes(el.tagName);
    const where = (el) => (el.closest('[data-testid]') || { getAttribute: () => '' }).getAttribute('data-testid');
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.data.trim();
        if (text && !silent(node.parentElement)) out.push({ kind: 'text', where: where(node.parentElement), text });
    }
    for (const name of ['aria-label', 'placeholder', 'title']) {
        for (const el of document.querySelectorAll('[' + name + ']')) {
            if (!silent(el)) out.push({ kind: name, where: where(el), text: el.getAttribute(name) });
        }
    }
    return out;
}"""


def streamlit_word(text: str) -> str | None:
    """The English widget word `text` is, if it is one (placeholders match anything)."""
    for english in STREAMLIT_WORDS:
        pattern = "^" + re.sub(r"\\\{\w+\\\}", ".+?", re.escape(english)) + "$"
        if re.match(pattern, text.strip(), flags=re.S):
            return english
    return None


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    return list(FAKE_CAMERA_ARGS)  # the camera input shows its own button


def choose_in_sidebar_language(page: Any, name: str) -> None:
    page.get_by_test_id("stSidebar").locator(".st-key-account_language_picker input").click()
    page.get_by_role("option", name=name).click()
    wait_for_app(page)


def test_intake_page_in_arabic_shows_no_english_widget_word(portal: PortalServer, page: Any) -> None:
    ar = translator("ar")
    login(page, portal, "patient")
    try:
        choose_in_sidebar_language(page, LANGUAGES["ar"])
        page.goto(portal.url("patient_new_consultation"))
        wait_for_app(page)
        page.wait_for_function("() => document.documentElement.lang === 'ar'")
        # The camera for the front view (its own "Take Photo" button), and a text field being typed
        # in (its "Press Enter to apply" line).
        page.get_by_text(ar("Take a photo"), exact=True).first.click()
        wait_for_app(page)
        camera_button = page.get_by_test_id("stCameraInputButton").first
        camera_button.wait_for(timeout=UI_TIMEOUT_MS)
        page.get_by_test_id("stTextArea").first.locator("textarea").fill("بقع بنية على الخدين")
        page.get_by_test_id("InputInstructions").first.wait_for()
        page.wait_for_timeout(500)  # the observer's next frame

        # Translated where Streamlit wrote English, in text and in what a screen reader reads.
        assert camera_button.inner_text().strip() == ar("Take Photo")
        assert ar("{size} per file", size="25MB") in page.get_by_test_id(
            "stFileUploaderDropzoneInstructions"
        ).first.inner_text().replace("\n", " ")
        assert page.get_by_test_id("stMultiSelect").first.locator("input").get_attribute("placeholder") == ar(
            "Choose options"
        )
        collapse = page.get_by_test_id("stSidebarCollapseButton").locator("button")
        assert collapse.get_attribute("aria-label") == ar("Collapse sidebar")
        segment_names = page.get_by_test_id("stDateInputFieldsScroller").first.get_by_role("spinbutton")
        assert (segment_names.first.get_attribute("aria-label") or "").startswith(
            ar("day, {label}", label="")
        )
        instructions = page.get_by_test_id("InputInstructions").first.inner_text()
        assert not re.search(r"[A-Za-z]{3,}", instructions.replace("Ctrl", "").replace("Enter", "")), (
            instructions
        )

        # Nothing of Streamlit's left in English anywhere on the page.
        english = [
            f"{item['kind']} in {item['where']}: {item['text']!r}"
            for item in page.evaluate(READABLE_WORDS)
            if streamlit_word(item["text"]) and item["text"].strip() != ar(streamlit_word(item["text"]) or "")
        ]
        assert not english, "Streamlit's English words on the Arabic intake page:\n" + "\n".join(english)
        # And its icons' ligatures ("upload", "add_a_photo", …) are not read aloud.
        spoken_icons = page.evaluate(
            """() => [...document.querySelectorAll('[data-testid="stIconMaterial"]')]
                .filter((icon) => !icon.closest('[aria-hidden="true"]')).map((icon) => icon.textContent)"""
        )
        assert not spoken_icons, f"icons read aloud as words: {spoken_icons}"
    finally:
        choose_in_sidebar_language(page, LANGUAGES["en"])  # the seeded account reads English again


@pytest.fixture
def german_page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="de-DE")
    context.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_field_errors_alert_is_read_as_its_message_not_as_error(
    portal: PortalServer, german_page: Any
) -> None:
    de = translator("de")
    page = german_page
    open_page(page, portal)
    click_menu(page, de("Register"))
    page.wait_for_function("() => document.documentElement.lang === 'de'")
    page.get_by_role("button", name=de("Create account")).click()
    wait_for_app(page)
    alert = page.locator('[class*="st-key-field-error-"] [data-testid="stAlertContainer"]').first
    alert.wait_for()
    page.wait_for_timeout(500)  # the observer's next frame
    # The icon is there, drawn from the ligature "error" …
    icon = alert.locator('[data-testid="stAlertDynamicIcon"], [data-testid="stIconMaterial"]').first
    assert icon.inner_text().strip() == "error"
    assert icon.get_attribute("aria-hidden") == "true"
    # … but what a screen reader reads of the alert is the message alone (the accessibility tree).
    spoken = alert.aria_snapshot()
    message = alert.get_by_test_id("stMarkdownContainer").inner_text().strip()
    assert message and message in spoken, spoken
    assert not re.search(r"\berror\b", spoken), f"the alert is read with the icon's word: {spoken}"
