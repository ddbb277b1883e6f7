"""New consultation: the intake questionnaire plus guided photos, submitted in one atomic call.

Every widget is keyed (prefix `intake_`), so a failed submit keeps everything typed; errors are
shown next to their field, keyed by the field names core's ValidationError uses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from components.field_errors import FieldErrorPlace
from components.guided_capture import guided_capture, view_names
from components.i18n import N_, _, current_language, ngettext, tr
from components.intake_draft import draft_notice, kept_photos, restore_draft, save_changes
from components.layout import AREA_LABELS, CONCERN_LABELS
from components.prior_treatments import prior_treatment_list
from components.session import get_clinic, signed_in_as
from core.access import Principal
from core.clinic import Clinic
from core.consent import consent_text
from core.consult.cases import IntakeForm
from core.vocabulary import (
    CONSENT_ANONYMISED_USE,
    CONSENT_PHOTO_STORAGE,
    CONSULTATION_VIEWS,
    REQUIRED_VIEWS,
    ConsentKind,
)

# Stored as these English values (core's vocabulary); shown translated.
DURATIONS: list[str] = ["Less than 3 months", "3 to 12 months", "1 to 3 years", "More than 3 years"]
DURATION_LABELS: dict[str, str] = {
    "Less than 3 months": N_("Less than 3 months"),
    "3 to 12 months": N_("3 to 12 months"),
    "1 to 3 years": N_("1 to 3 years"),
    "More than 3 years": N_("More than 3 years"),
}
SKIN_TYPE_LABELS: dict[str, str] = {
    "I": N_("I — always burns, never tans (very fair)"),
    "II": N_("II — usually burns, tans minimally (fair)"),
    "III": N_("III — sometimes burns, tans gradually (medium)"),
    "IV": N_("IV — rarely burns, tans easily (olive)"),
    "V": N_("V — very rarely burns, tans very easily (brown)"),
    "VI": N_("VI — never burns (dark brown to black)"),
    "unsure": N_("I am not sure"),
}
YES_NO: dict[str, str] = {"No": N_("No"), "Yes": N_("Yes")}
# The name of each field in its error message (keys: core's field names).
FIELD_NAMES: dict[str, str] = {
    "concerns": N_("Your concern"),
    "concern_other_text": N_("Description"),
    "areas": N_("Face areas"),
    "duration": N_("Duration"),
    "skin_type_self_assessment": N_("Skin type"),
    "goals": N_("Hoped-for result"),
    "medications": N_("Medications"),
    "allergies": N_("Allergies"),
    "prior_treatments": N_("Previous treatments"),
    "photos": N_("Photos"),
    "consent_photo_storage": N_("Consent"),
}
ERRORS_KEY = "intake_errors"
# Errors only the submission itself finds (core's checks while storing): kept until the next attempt.
SUBMIT_ERRORS_KEY = "intake_errors_at_submission"
DONE_KEY = "new_consultation_reference"
FORM_KEY_PREFIX = "intake_"
PRIOR_ROWS_KEY = "intake_prior_rows"  # the previous-treatment rows a restored draft starts from


_error_places: dict[str, FieldErrorPlace] = {}  # this run's place under each field for its error


def field_error(name: str, input_key: str) -> None:
    """The place right under a field for its error, tied to the widget keyed `input_key` (or the
    first of the widgets whose keys start with `input_key`_); `show_field_errors` fills it."""
    _error_places[name] = FieldErrorPlace(input_key)


def show_field_errors(current: dict[str, str]) -> None:
    """The last attempt's errors that are still true now, each under its field: an answer that
    was fixed loses its message at once (`current`: the form's errors for the answers as they are)."""
    at_submission = st.session_state.get(SUBMIT_ERRORS_KEY, set())
    still = {
        name: current.get(name, message)
        for name, message in st.session_state.get(ERRORS_KEY, {}).items()
        if name in current or name in at_submission
    }
    st.session_state[ERRORS_KEY] = still
    for name, message in still.items():
        if name in _error_places:
            field = _(FIELD_NAMES[name]) if name in FIELD_NAMES else name
            _error_places[name].show(field, str(message))


def reset_form() -> None:
    for key in list(st.session_state.keys()):
        if str(key).startswith(FORM_KEY_PREFIX):
            del st.session_state[key]


def prior_treatment_rows(table) -> list[dict[str, str]]:
    """Rows of the prior-treatments editor as core expects them: treatment + ISO date (or empty)."""
    records = table.to_dict("records") if hasattr(table, "to_dict") else list(table or [])
    rows = []
    for row in records:
        treatment = str(row.get("treatment") or "").strip()
        if not treatment:
            continue
        when = row.get("date")
        if isinstance(when, dt.datetime):
            when = when.date()
        rows.append({"treatment": treatment, "date": when.isoformat() if isinstance(when, dt.date) else ""})
    return rows


def answers_to_state(intake: IntakeForm) -> dict[str, Any]:
    """A draft's answers as the form's widget values (what the widgets cannot show is left out)."""
    prior: list[dict[str, Any]] = []
    for row in intake.prior_treatments or []:
        try:
            when: dt.date | None = dt.date.fromisoformat(row.get("date") or "")
        except ValueError:
            when = None
        prior.append({"treatment": row.get("treatment", ""), "date": when})
    return {
        "intake_concerns": [code for code in intake.concerns if code in CONCERN_LABELS],
        "intake_description": intake.concern_other_text,
        "intake_areas": [code for code in intake.areas if code in AREA_LABELS],
        "intake_duration": intake.duration if intake.duration in DURATIONS else None,
        "intake_skin_type": (
            intake.skin_type_self_assessment
            if intake.skin_type_self_assessment in SKIN_TYPE_LABELS
            else "unsure"
        ),
        "intake_goals": intake.goals,
        "intake_medications": intake.medications,
        "intake_allergies": intake.allergies,
        "intake_pregnant": "Yes" if intake.pregnant_or_breastfeeding else "No",
        "intake_isotretinoin": "Yes" if intake.isotretinoin_last_6_months else "No",
        "intake_consent_storage": bool(intake.consent_photo_storage),
        "intake_consent_anonymised": bool(intake.consent_anonymised_use),
        PRIOR_ROWS_KEY: prior,
    }


def local_errors(intake_concerns: list[str], consent: bool, photos: dict) -> dict[str, str]:
    """Checks the form can make before calling core (core validates everything again); the
    messages are in the reader's language."""
    errors: dict[str, str] = {}
    if not consent:
        errors["consent_photo_storage"] = _("Consent to photo storage is required to send a consultation.")
    missing = [view for view in REQUIRED_VIEWS if view not in photos]
    failing = [view for view, photo in photos.items() if not photo.usable]
    if missing:
        errors["photos"] = _("Missing photos: {views}.", views=view_names(missing))
    elif failing:
        errors["photos"] = _(
            "These photos did not pass the quality check, please retake them: {views}.",
            views=view_names(failing),
        )
    if not intake_concerns:
        errors["concerns"] = _("Please choose at least one concern.")
    return errors


def current_errors(
    intake: IntakeForm, intake_concerns: list[str], consent: bool, photos: dict
) -> dict[str, str]:
    """Every error of the answers as they are now (the form's own checks and core's validation)."""
    from core.access import ValidationError

    errors = local_errors(intake_concerns, consent, photos)
    try:
        intake.validate()  # all intake messages at once, together with the photo checks above
    except ValidationError as error:
        errors = {**translated(error.errors), **errors}
    return errors


def translated(errors: dict[str, str]) -> dict[str, str]:
    """Core's messages (English, the catalog's message ids) in the reader's language."""
    return {name: _(message) for name, message in errors.items()}


def show_consent_text(kind: ConsentKind) -> None:
    """A consent text in the reader's language, with that language's version."""
    text = consent_text(kind, current_language())
    st.markdown(text.markdown)
    st.caption(_("Consent text version {version}", version=text.version))


def render_sent(reference: str) -> None:
    st.success(
        _(
            "Thank you, your consultation was sent. Your reference is **{reference}**. "
            "A physician will review it; you will find the answer under **My consultations**.",
            reference=reference,
        ),
        icon=":material/check_circle:",
    )
    if st.button(_("Start another consultation")):
        del st.session_state[DONE_KEY]
        st.rerun()


def render_form(principal: Principal, clinic: Clinic) -> None:
    # A reload, a new session or a visit to another page emptied the form: the draft refills it.
    restore_draft(principal, clinic, "intake_concerns", answers_to_state)
    draft_notice(principal, clinic, reset_form)
    st.caption(
        _(
            "Tell us about your concern and add three photos. Everything you send is stored encrypted. "
            "Fields marked * are required."
        )
    )

    st.header(_("1. Your concern"), anchor=False)
    concerns = st.multiselect(
        _("What would you like help with?") + " *",
        list(CONCERN_LABELS),
        format_func=lambda code: _(CONCERN_LABELS[code]),
        key="intake_concerns",
    )
    field_error("concerns", "intake_concerns")
    description = st.text_area(
        _("Describe your concern in your own words (required when you chose 'Other')"),
        key="intake_description",
        max_chars=4000,
    )
    field_error("concern_other_text", "intake_description")
    areas = st.multiselect(
        _("Which areas of the face?") + " *",
        list(AREA_LABELS),
        format_func=lambda code: _(AREA_LABELS[code]),
        key="intake_areas",
    )
    field_error("areas", "intake_areas")
    col_duration, col_skin = st.columns(2)
    with col_duration:
        duration = st.radio(
            _("How long has this been going on?") + " *",
            DURATIONS,
            format_func=lambda value: _(DURATION_LABELS[value]),
            index=None,
            key="intake_duration",
        )
        field_error("duration", "intake_duration")
    with col_skin:
        skin_type = st.selectbox(
            _("Your skin type (self assessment)"),
            list(SKIN_TYPE_LABELS),
            format_func=lambda code: _(SKIN_TYPE_LABELS[code]),
            index=len(SKIN_TYPE_LABELS) - 1,
            key="intake_skin_type",
        )
        field_error("skin_type_self_assessment", "intake_skin_type")
    goals = st.text_area(_("What result are you hoping for?") + " *", key="intake_goals", max_chars=4000)
    field_error("goals", "intake_goals")

    st.header(_("2. Your health"), anchor=False)
    col_meds, col_allergies = st.columns(2)
    with col_meds:
        medications = st.text_area(
            _("Current medications (or 'none')"), key="intake_medications", max_chars=4000
        )
        field_error("medications", "intake_medications")
    with col_allergies:
        allergies = st.text_area(_("Allergies (or 'none')"), key="intake_allergies", max_chars=4000)
        field_error("allergies", "intake_allergies")
    col_preg, col_iso = st.columns(2)
    pregnant = col_preg.radio(
        _("Are you pregnant or breast-feeding?"),
        list(YES_NO),
        format_func=lambda value: _(YES_NO[value]),
        horizontal=True,
        key="intake_pregnant",
    )
    isotretinoin = col_iso.radio(
        _("Isotretinoin (e.g. Roaccutane) in the last 6 months?"),
        list(YES_NO),
        format_func=lambda value: _(YES_NO[value]),
        horizontal=True,
        key="intake_isotretinoin",
    )
    st.markdown(_("Previous aesthetic treatments (one row each, with the date if you know it)"))
    # A simple list (one treatment and its date per row), not a table editor: usable on a phone.
    prior_table = prior_treatment_list("intake_prior", st.session_state.get(PRIOR_ROWS_KEY))
    field_error("prior_treatments", "intake_prior")

    st.header(_("3. Photos"), anchor=False)
    st.caption(_("Even light from the front, no make-up, hair away from the face, no filters."))
    photos = guided_capture(CONSULTATION_VIEWS, key="intake_photos", kept=kept_photos())
    field_error("photos", "intake_photos")

    st.header(_("4. Consent"), anchor=False)
    # Legal texts: a file per language with its own version (core/consent.py), recorded on sending.
    show_consent_text(CONSENT_PHOTO_STORAGE)
    consent_storage = st.checkbox(
        _("I consent to the clinic storing my photos and answers for my treatment (required).") + " *",
        key="intake_consent_storage",
    )
    field_error("consent_photo_storage", "intake_consent_storage")
    show_consent_text(CONSENT_ANONYMISED_USE)
    consent_anonymised = st.checkbox(
        _("Optional: the clinic may use my photos in anonymised form to improve its care."),
        key="intake_consent_anonymised",
    )

    intake = IntakeForm(
        concerns=list(concerns),
        areas=list(areas),
        duration=duration or "",
        goals=goals.strip(),
        concern_other_text=description.strip(),
        medications=medications.strip(),
        allergies=allergies.strip(),
        pregnant_or_breastfeeding=pregnant == "Yes",
        isotretinoin_last_6_months=isotretinoin == "Yes",
        prior_treatments=prior_treatment_rows(prior_table),
        skin_type_self_assessment=skin_type or "unsure",
        consent_photo_storage=consent_storage,
        consent_anonymised_use=consent_anonymised,
        consent_language=current_language(),
    )
    save_changes(principal, clinic, intake, photos)  # every change is kept (encrypted) on the server
    errors_now = current_errors(intake, list(concerns), consent_storage, photos)
    show_field_errors(errors_now)

    if st.button(_("Send consultation"), type="primary", key="intake_submit"):
        from core.access import ValidationError

        errors = errors_now
        st.session_state[SUBMIT_ERRORS_KEY] = set()
        if not errors:
            with st.status(_("Sending your consultation ..."), expanded=True) as progress:
                st.write(_("Encrypting and storing your photos and answers ..."))
                try:
                    # The kept draft is deleted in the submission's own transaction.
                    case_id = clinic.drafts.submit_case(principal, intake, list(photos.values()))
                except ValidationError as error:
                    errors = translated(error.errors)
                    st.session_state[SUBMIT_ERRORS_KEY] = set(errors)
                    progress.update(label=_("Please correct the marked fields."), state="error")
                else:
                    progress.update(label=_("Consultation sent"), state="complete")
                    reset_form()
                    st.session_state[DONE_KEY] = clinic.cases.get_case(principal, case_id).reference
                    st.rerun()
        st.session_state[ERRORS_KEY] = errors
        st.rerun()  # show each message next to its field; every typed value stays (keyed widgets)

    if st.session_state.get(ERRORS_KEY):
        problems = st.session_state[ERRORS_KEY]
        fields = [_(FIELD_NAMES[name]) if name in FIELD_NAMES else name for name in problems]
        st.error(
            ngettext(
                "{n} answer needs your attention: {fields}. The message is under the field.",
                "{n} answers need your attention: {fields}. Each message is under its field.",
                len(problems),
                fields=tr().join(fields),
            ),
            icon=":material/error:",
        )


# Every early exit is a return, not st.stop(): the live photo guide shows a timed fragment (see
# docs/ARCHITECTURE.md, "Timed fragments").
signed_in = signed_in_as("patient")
if signed_in is not None:
    st.title(_("New consultation"))
    if reference := st.session_state.get(DONE_KEY):
        render_sent(reference)
    else:
        render_form(signed_in, get_clinic())
