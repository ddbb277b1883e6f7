"""Small display helpers shared by the pages (labels, dates, status badges)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

CONCERN_LABELS: dict[str, str] = {
    "lines_wrinkles": "Lines / wrinkles",
    "pigmentation_melasma": "Pigmentation / melasma",
    "acne_scars": "Acne / scars",
    "redness_rosacea": "Redness / rosacea",
    "volume_loss": "Volume loss",
    "skin_quality_texture": "Skin quality / texture",
    "other": "Other",
}
AREA_LABELS: dict[str, str] = {
    "forehead": "Forehead",
    "glabella": "Between the eyebrows",
    "periorbital": "Around the eyes / crow's feet",
    "under_eyes": "Under the eyes",
    "cheeks": "Cheeks",
    "nose": "Nose",
    "nasolabial": "Nose-to-mouth folds",
    "lips": "Lips",
    "perioral": "Around the mouth",
    "chin": "Chin",
    "jawline": "Jawline",
    "neck": "Neck",
    "whole_face": "Whole face",
}
STATUS_LABELS: dict[str, str] = {
    "submitted": "Submitted",
    "in_review": "In review",
    "report_sent": "Report sent",
    "in_person_requested": "In-person visit advised",
    "closed": "Closed",
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
    return ", ".join(CONCERN_LABELS.get(code, humanise(code)) for code in as_list(codes))


def area_labels(codes: Any) -> str:
    return ", ".join(AREA_LABELS.get(code, humanise(code)) for code in as_list(codes))


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, humanise(status))


def status_badge(status: str) -> str:
    """Markdown badge, e.g. :blue-badge[Submitted]."""
    return f":{STATUS_COLOURS.get(status, 'gray')}-badge[{status_label(status)}]"


def format_when(value: Any, timezone: str | None = None) -> str:
    """A timestamp in the viewer's time zone (when known), to the minute."""
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
        return value.strftime("%d %b %Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d %b %Y")
    return str(value)


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
        st.error(f"The {section} section cannot be shown right now; the rest of the page is unaffected.")
