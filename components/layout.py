"""Small display helpers shared by the pages (labels, dates, status badges), in the reader's
language: the label tables hold English message ids, translated where they are shown."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Any

from components.i18n import N_, _, tr
from core.care.followup import TREATMENT_TYPES

CONCERN_LABELS: dict[str, str] = {
    "lines_wrinkles": N_("Lines / wrinkles"),
    "pigmentation_melasma": N_("Pigmentation / melasma"),
    "acne_scars": N_("Acne / scars"),
    "redness_rosacea": N_("Redness / rosacea"),
    "volume_loss": N_("Volume loss"),
    "skin_quality_texture": N_("Skin quality / texture"),
    "other": N_("Other"),
}
AREA_LABELS: dict[str, str] = {
    "forehead": N_("Forehead"),
    "glabella": N_("Between the eyebrows"),
    "periorbital": N_("Around the eyes / crow's feet"),
    "under_eyes": N_("Under the eyes"),
    "cheeks": N_("Cheeks"),
    "nose": N_("Nose"),
    "nasolabial": N_("Nose-to-mouth folds"),
    "lips": N_("Lips"),
    "perioral": N_("Around the mouth"),
    "chin": N_("Chin"),
    "jawline": N_("Jawline"),
    "neck": N_("Neck"),
    "whole_face": N_("Whole face"),
}
STATUS_LABELS: dict[str, str] = {
    "submitted": N_("Submitted"),
    "in_review": N_("In review"),
    "report_sent": N_("Report sent"),
    "in_person_requested": N_("In-person visit advised"),
    "closed": N_("Closed"),
}
# Marked for translation where they are defined; `label_of` shows them in the reader's language.
TREATMENT_LABELS: dict[str, str] = TREATMENT_TYPES
PHOTO_SOURCE_LABELS: dict[str, str] = {
    "upload": N_("uploaded"),
    "webcam": N_("camera"),
    "video_snapshot": N_("snapshot in a live consult"),
    "simulation": N_("AR simulation"),
    "followup": N_("follow-up check-in"),
}
STATUS_COLOURS: dict[str, str] = {
    "submitted": "blue",
    "in_review": "orange",
    "report_sent": "green",
    "in_person_requested": "violet",
    "closed": "gray",
}


def humanise(value: str | None) -> str:
    return (value or "").replace("_", " ").strip().capitalize()


def concern_labels(codes: Any) -> str:
    """'pigmentation_melasma' -> 'Pigmentation / melasma', joined with commas."""
    return ", ".join(
        _(CONCERN_LABELS[code]) if code in CONCERN_LABELS else humanise(code) for code in as_list(codes)
    )


def area_labels(codes: Any) -> str:
    return ", ".join(
        _(AREA_LABELS[code]) if code in AREA_LABELS else humanise(code) for code in as_list(codes)
    )


def status_label(status: str) -> str:
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else humanise(status)


def label_of(labels: dict[str, str], code: str | None) -> str:
    """A stored code's label in the reader's language (a code no table knows: made readable)."""
    return _(labels[code]) if code in labels else humanise(code)


def status_badge(status: str) -> str:
    """Markdown badge, e.g. :blue-badge[Submitted]."""
    return f":{STATUS_COLOURS.get(status, 'gray')}-badge[{status_label(status)}]"


def format_when(value: Any, timezone: str | None = None) -> str:
    """A timestamp in the viewer's time zone (when known), to the minute, in the reader's language."""
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if timezone and value.tzinfo is not None:
            from zoneinfo import ZoneInfo

            with contextlib.suppress(KeyError, ValueError):
                value = value.astimezone(ZoneInfo(timezone))
        return tr().datetime(value)
    if isinstance(value, dt.date):
        return tr().date(value)
    return str(value)


def format_when_in_zone(value: Any, timezone: str) -> str:
    """A timestamp in `timezone`, the zone named: where two zones meet (booking, the agenda)."""
    return _("{when} ({zone})", when=format_when(value, timezone), zone=timezone)


def as_list(value: Any) -> list[str]:

    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(item) for item in value]


def render_extension(section: str, module_name: str, function_name: str, *args: Any) -> None:
    """Call another area's panel (components.<module>.<function>) so that a failure in it shows
    one message in its own section instead of breaking the whole page."""
    import importlib
    import logging

    import streamlit as st

    try:
        render = getattr(importlib.import_module(module_name), function_name)
        render(*args)
    except Exception:  # noqa: BLE001 - st.stop/st.rerun are BaseException and pass through
        logging.getLogger(__name__).exception("%s.%s failed", module_name, function_name)
        st.error(
            _(
                "The {section} section cannot be shown right now; the rest of the page is unaffected.",
                section=_(section),
            )
        )


# -- people's text as text ------------------------------------------------------------------------
# Patients, physicians and staff type names, intake answers, reasons and notes. Streamlit renders
# every string it is given (markdown, captions, alerts, labels) as Markdown: such text must go
# through `plain` (inside a Markdown line) or `labelled_text` (a "Label: value" line), never be
# put in a Markdown string as it is. Then an image, a link, HTML, emphasis, a `:material/...:` or
# `:red[...]` directive, or LaTeX in what someone typed shows as the characters they typed.
# Characters that start Markdown or Streamlit syntax anywhere in a line: emphasis, code, links,
# images, HTML, tables, strikethrough, directives (`:red[...]`, `:material/...:`, emoji), LaTeX,
# e-mail autolinks, entities. `:` also breaks URL autolinks (`http\://`).
_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()<>!|~:$@&^")
# What starts a block only at the beginning of a line (headings, quotes, lists, rules).
_LINE_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])")
_WWW = re.compile(r"(?i)(www)\.")  # GFM's www. autolinks


def plain(value: Any, empty: str = "—") -> str:
    """`value` as Markdown that renders exactly its characters (`empty` when blank).

    Markdown and Streamlit syntax characters are backslash-escaped (CommonMark renders `\\x` as
    `x` for every ASCII punctuation character), so no syntax, autolink (`http\\://`, `www\\.`,
    `a\\@b`), directive or HTML can form; line breaks stay line breaks.
    """
    text = "" if value is None else str(value)
    if not text.strip():
        return empty
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        escaped = "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in line)
        escaped = _WWW.sub(r"\1\\.", escaped)
        lines.append(_LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], escaped))
    return "  \n".join(lines)


def labelled_text(label: str, value: Any, empty: str = "—") -> None:
    """One "**Label:** value" line; `label` is the portal's own words, `value` anyone's text."""
    import streamlit as st

    st.markdown(_("**{label}:** {value}", label=label, value=plain(value, empty)))
