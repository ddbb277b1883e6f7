"""Streamlit's own widget words in the viewer's language.

Streamlit has no translations: its file uploader says "Upload" and "25MB per file", its camera
"Take Photo", its date fields "dd/mm/yyyy", its selects "Choose an option", its sidebar button
"Collapse sidebar" (an aria-label a screen reader reads), in English on an Arabic page. The page
bridge (components/page_bridge.py) sends `widget_words()` — each English word as Streamlit
writes it and its translation from our catalog — to a script in the page
(components/page_bridge_frontend/widget_words.js) that swaps them in text and in the
`aria-label`, `placeholder` and `title` attributes of Streamlit's own markup after every
re-render. Named placeholders (`{size}`, `{label}`, `{name}`) stand for the part Streamlit fills
in (a size, a field's label, an option): the script matches the rest and keeps that part.

The words follow Streamlit's wording in the pinned version (requirements.txt); a new Streamlit
that changes one shows it in English again (tests/browser/test_widget_words.py finds it).
"""

from __future__ import annotations

from core.i18n import N_, Translator

# Each exactly as Streamlit writes it (text or attribute), in order of where it shows.
STREAMLIT_WORDS: tuple[str, ...] = (
    # Translators: Streamlit's file uploader (the drop area, its button and its limits).
    N_("Drag and drop file here"),
    N_("Drag and drop files here"),
    N_("Drag and drop a file here"),
    N_("Browse files"),
    # Translators: the button that opens the phone's or computer's file chooser.
    N_("Upload"),
    N_("Add files"),
    # Translators: {size} is a size such as "25MB".
    N_("Limit {size} per file"),
    # Translators: {size} is a size such as "25MB" (the file uploader's limit).
    N_("{size} per file"),
    N_("file upload"),
    N_("Uploading..."),
    # Translators: Streamlit's camera input.
    N_("Take Photo"),
    N_("Clear photo"),
    N_("Switch camera"),
    N_("This app would like to use your camera."),
    N_("Learn how to allow access."),
    # Translators: shown under a text field while typing.
    N_("Press Enter to apply"),
    N_("Press Enter to submit form"),
    N_("Press Ctrl+Enter to apply"),
    N_("Press ⌘+Enter to apply"),
    N_("Press Ctrl+Enter to submit form"),
    N_("Press ⌘+Enter to submit form"),
    # Translators: the empty day part of a date field (two letters, as "dd" for "day").
    N_("dd"),
    # Translators: the empty month part of a date field (two letters, as "mm" for "month").
    N_("mm"),
    # Translators: the empty year part of a date field (four letters, as "yyyy" for "year").
    N_("yyyy"),
    # Translators: a date field's day part as a screen reader names it; {label} is the field's label.
    N_("day, {label}"),
    # Translators: a date field's month part as a screen reader names it; {label} is the field's label.
    N_("month, {label}"),
    # Translators: a date field's year part as a screen reader names it; {label} is the field's label.
    N_("year, {label}"),
    N_("Choose date"),
    N_("Choose date range"),
    N_("Use arrow keys to navigate dates. Enter to select. Escape to close."),
    # Translators: select boxes (empty field, their list, their buttons).
    N_("Choose an option"),
    N_("Choose options"),
    N_("No results"),
    N_("No options to select"),
    N_("Selectbox options"),
    # Translators: the button that opens a select box's list of options.
    N_("Open"),
    N_("Clear all"),
    N_("Dismiss"),
    # Translators: the button that removes a chosen option; {name} is the option.
    N_("Remove {name}"),
    # Translators: the menu (sidebar) and the page around it.
    N_("Collapse sidebar"),
    N_("Expand sidebar"),
    N_("Sidebar"),
    N_("App pages"),
    N_("Skip to main content"),
    # Translators: the link icon beside a heading (a screen reader reads this name).
    N_("Link to heading"),
    # Translators: the log-in's password field.
    N_("Show password"),
    N_("Hide password"),
    # Translators: an image's full-screen button.
    N_("Fullscreen"),
    N_("Close fullscreen"),
    # Translators: an image's full-screen button; {name} is what the image shows.
    N_("Fullscreen: {name}"),
    # Translators: an image's button that leaves full screen; {name} is what the image shows.
    N_("Close fullscreen: {name}"),
    # Translators: a progress bar's name for screen readers.
    N_("progress"),
)


def widget_words(translation: Translator) -> dict[str, str]:
    """Streamlit's English word -> its translation (placeholders kept), for those that differ:
    none in English, so the page script then has nothing to do."""
    words: dict[str, str] = {}
    for english in STREAMLIT_WORDS:
        translated = translation.gettext(english)
        if translated and translated != english:
            words[english] = translated
    return words
