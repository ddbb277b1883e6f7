"""The consents a patient answered, for the physician's case page: which text (kind, version,
language) was accepted or declined, and when (core/consent.py records them)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from components.i18n import N_, _, tr
from core.consent import RecordedConsent
from core.i18n import LANGUAGES

CONSENT_KIND_LABELS: dict[str, str] = {
    "telemedicine": N_("Telemedicine consultations"),
    "photo_storage": N_("Storing photos and answers"),
    "anonymised_use": N_("Anonymised use of photos"),
}


def consent_line(record: RecordedConsent, timezone: str | None) -> str:
    """One answered consent in words: kind, answer, version and language of its text, time."""
    kind = _(CONSENT_KIND_LABELS[record.kind]) if record.kind in CONSENT_KIND_LABELS else record.kind
    language = LANGUAGES.get(record.text_language, record.text_language)
    when = tr().datetime(record.recorded_at, timezone=timezone)
    if record.granted:
        return _(
            "{kind}: accepted {when} (text version {version}, {language})",
            kind=kind,
            when=when,
            version=record.version,
            language=language,
        )
    return _(
        "{kind}: declined {when} (text version {version}, {language})",
        kind=kind,
        when=when,
        version=record.version,
        language=language,
    )


def render_recorded_consents(records: Sequence[RecordedConsent], timezone: str | None) -> None:
    """The consent texts the patient answered, as a list under a bold label."""
    st.markdown(_("**Consent texts the patient answered:**"))
    if not records:
        st.markdown(_("None recorded."))
        return
    st.markdown("\n".join(f"- {consent_line(record, timezone)}" for record in records))
