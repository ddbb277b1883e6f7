"""One case for the physician: intake & photos, AI pre-assessment, report, AR preview, care plan.

The case comes from `?case=ID` (so links work) or from the queue via session state. Early exits
are returns, not st.stop(): the assessment card polls in a timed fragment (see
docs/ARCHITECTURE.md, "Timed fragments").
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from components.consent_record import render_recorded_consents
from components.guided_capture import view_names
from components.i18n import N_, _, tr
from components.layout import (
    area_labels,
    concern_labels,
    format_when,
    labelled_text,
    plain,
    render_extension,
    status_badge,
)
from components.live_guide import CHECK_LABELS
from components.session import get_clinic, signed_in_as
from core.i18n import upper_first

SELECTED_KEY = "physician_selected_case"
VERDICT_LABELS: dict[str, str] = {"pass": N_("passed"), "warn": N_("warning"), "fail": N_("failed")}
# The name of each report field in its error message (keys: core's field names).
REPORT_FIELDS: dict[str, str] = {
    "findings": N_("Findings"),
    "assessment": N_("Assessment"),
    "recommended_treatments": N_("Recommended treatments"),
    "home_care": N_("Home care"),
    "in_person_needed": N_("An in-person visit is needed"),
    "in_person_reason": N_("Reason for the in-person visit"),
    "follow_up_suggestion": N_("Follow-up suggestion"),
}

principal = signed_in_as("physician")  # None: told why; the run ends by returning
clinic = get_clinic()

from core.access import AccessDenied, NotFound  # noqa: E402 - after the role check, like every page
from core.consult.cases import CaseDetail  # noqa: E402


def open_selected_case() -> CaseDetail | None:
    """The case from the URL or the queue, or None after saying why there is none."""
    case_id = st.query_params.get("case") or st.session_state.get(SELECTED_KEY)
    if not case_id:
        st.title(_("Case"))
        st.info(_("Choose a case in the **Case queue** first."))
        return None
    assert principal is not None  # the page calls this only when signed in
    st.session_state[SELECTED_KEY] = case_id
    st.query_params["case"] = case_id  # keep the URL shareable within the clinic
    try:
        return clinic.cases.get_case(principal, case_id)
    except (AccessDenied, NotFound):
        st.title(_("Case"))
        st.error(_("This case does not exist or you may not open it."))
        return None


def render_quality(quality_json: str | None, verdict: str | None) -> None:
    from core.vision.quality import QualityResult

    if not quality_json and not verdict:
        st.caption(_("No quality check recorded."))
        return
    quality = None
    if quality_json:
        try:
            quality = QualityResult.from_json(quality_json)
        except ValueError:
            quality = None  # the verdict column still says how the photo fared
    verdict = verdict or (quality.verdict if quality else None)
    colour = {"pass": "green", "warn": "orange", "fail": "red"}.get(str(verdict), "gray")
    shown = _(VERDICT_LABELS[str(verdict)]) if str(verdict) in VERDICT_LABELS else _("unknown")
    st.markdown(_("Quality: {badge}", badge=f":{colour}-badge[{shown}]"))
    if quality is None:
        return
    for check in quality.checks:
        if check.status in {"warn", "fail"}:
            name = _(CHECK_LABELS[check.name]) if check.name in CHECK_LABELS else plain(check.name)
            detail = (
                _(check.instruction)
                if check.instruction
                else _(VERDICT_LABELS.get(check.status, check.status))
            )
            st.caption(_("⚠ {check}: {detail}", check=name, detail=detail))
    if quality.pose is not None:
        st.caption(
            _(
                "Head turn {yaw}°, tilt {pitch}°",
                yaw=f"{quality.pose.yaw:+.0f}",
                pitch=f"{quality.pose.pitch:+.0f}",
            )
        )


def show_photo_full(photo_id: str, title: str) -> None:
    """The photo, large, in a dialog titled in the reader's language."""

    def body() -> None:
        assert principal is not None  # the page calls this only when signed in
        st.image(
            clinic.cases.get_photo_bytes(principal, photo_id),
            caption=title,
            width="stretch",
            alt=_("The patient's photo, {view}.", view=title),
        )

    st.dialog(_("Photo"), width="large")(body)()


def render_case(case: CaseDetail) -> None:
    assert principal is not None  # the page calls this only when signed in
    case_id = case.case_id
    st.title(_("Case {reference}", reference=case.reference))
    patient_language = tr().language_name(case.patient.language)
    st.markdown(
        _(
            "{status} · **{patient}** · reads {language} · submitted {when}",
            status=status_badge(case.status),
            patient=plain(case.patient_name),
            language=patient_language,
            when=format_when(case.submitted_at, clinic.settings.clinic_timezone),
        )
    )

    tab_intake, tab_ai, tab_report, tab_ar, tab_care = st.tabs(
        [_("Intake & photos"), _("AI pre-assessment"), _("Report"), _("AR preview"), _("Care plan")]
    )

    with tab_intake:
        intake = case.intake
        patient = case.patient
        st.caption(
            _(
                "Patient: {name}, {age} years · language {language} · time zone {zone}",
                name=plain(patient.name),
                age=patient.age_on(dt.date.today()),
                language=patient_language,
                zone=plain(patient.timezone),
            )
        )
        col_left, col_right = st.columns(2)
        with col_left:
            st.header(_("Concern"))
            st.markdown(_("**Concerns:** {concerns}", concerns=concern_labels(intake.concerns) or "—"))
            st.markdown(_("**Face areas:** {areas}", areas=area_labels(intake.areas) or "—"))
            labelled_text(_("Duration"), _(intake.duration) if intake.duration else None)
            skin_type = intake.skin_type_self_assessment
            labelled_text(
                _("Skin type (self assessment)"), _("I am not sure") if skin_type == "unsure" else skin_type
            )

            st.markdown(_("**In the patient's words:**"))
            st.text(intake.concern_other_text or "—")
            st.markdown(_("**Goals:**"))
            st.text(intake.goals or "—")
        with col_right:
            st.header(_("History"))
            labelled_text(_("Medications"), intake.medications)
            labelled_text(_("Allergies"), intake.allergies)
            if intake.pregnant_or_breastfeeding:
                st.warning(_("Pregnant or breast-feeding"))
            else:
                st.markdown(_("**Pregnant / breast-feeding:** no"))
            if intake.isotretinoin_last_6_months:
                st.warning(_("Isotretinoin in the last 6 months"))
            else:
                st.markdown(_("**Isotretinoin in the last 6 months:** no"))
            treatments = intake.prior_treatments or []
            if treatments:
                st.markdown(_("**Prior aesthetic treatments:**"))
            else:
                st.markdown(_("**Prior aesthetic treatments:** none"))
            for row in treatments:
                st.markdown(
                    _(
                        "- {treatment} ({date})",
                        treatment=plain(row.get("treatment")),
                        date=plain(row.get("date"), _("date unknown")),
                    )
                )
            st.markdown(
                _(
                    "**Consent:** photo storage {storage}; anonymised use {anonymised}",
                    storage=_("yes") if intake.consent_photo_storage else _("NO"),
                    anonymised=_("yes") if intake.consent_anonymised_use else _("no"),
                )
            )
            render_recorded_consents(
                clinic.consents.for_case(principal, case.case_id), clinic.settings.clinic_timezone
            )

        st.header(_("Photos"))
        photos = list(case.photos)
        if not photos:
            st.info(_("No photos in this case."))
        columns = st.columns(max(len(photos), 1))
        for column, photo in zip(columns, photos, strict=False):
            with column:
                title = upper_first(view_names([photo.view]))
                st.image(
                    clinic.cases.get_photo_bytes(principal, photo.photo_id),
                    caption=title,
                    width="stretch",
                    alt=_("The patient's photo, {view}.", view=title),
                )
                if st.button(_("Enlarge"), key=f"zoom_{photo.photo_id}", icon=":material/zoom_in:"):
                    show_photo_full(photo.photo_id, title)
                render_quality(getattr(photo, "quality_json", None), getattr(photo, "quality_verdict", None))

    with tab_ai:
        render_extension(
            N_("AI pre-assessment"),
            "components.assessment_card",
            "render_assessment_section",
            clinic,
            principal,
            case_id,
        )

    with tab_report:
        report = case.report
        sent = report is not None and report.sent_at is not None
        if report is not None and report.sent_at is not None:
            st.success(
                _(
                    "Report sent {when}; it can no longer be edited.",
                    when=format_when(report.sent_at, clinic.settings.clinic_timezone),
                )
            )
        else:
            st.info(
                _(
                    "The patient reads {language}. Write the report in {language} or add a translation.",
                    language=patient_language,
                ),
                icon=":material/translate:",
            )
        with st.form(f"report_form_{case_id}"):
            findings = st.text_area(
                _("Findings"), value=report.findings if report else "", disabled=sent, height=120
            )
            assessment = st.text_area(
                _("Assessment"), value=report.assessment if report else "", disabled=sent, height=120
            )
            treatments = st.text_area(
                _("Recommended treatments"),
                value=report.recommended_treatments if report else "",
                disabled=sent,
            )
            home_care = st.text_area(_("Home care"), value=report.home_care if report else "", disabled=sent)
            in_person = st.checkbox(
                _("An in-person visit is needed"),
                value=bool(report.in_person_needed) if report else False,
                disabled=sent,
            )
            in_person_reason = st.text_input(
                _("Reason for the in-person visit"),
                value=(report.in_person_reason or "") if report else "",
                disabled=sent,
            )
            follow_up = st.text_input(
                _("Follow-up suggestion"),
                value=(report.follow_up_suggestion or "") if report else "",
                disabled=sent,
            )
            col_save, col_send = st.columns(2)
            save = col_save.form_submit_button(_("Save draft"), disabled=sent)
            send = col_send.form_submit_button(_("Send report to patient"), type="primary", disabled=sent)
        if save or send:
            from core.access import ValidationError
            from core.consult.reports import PhysicianReport

            draft = PhysicianReport(
                findings=findings,
                assessment=assessment,
                recommended_treatments=treatments,
                home_care=home_care,
                in_person_needed=in_person,
                in_person_reason=in_person_reason,
                follow_up_suggestion=follow_up,
            )
            try:
                clinic.reports.save_draft(principal, case_id, draft)
                if send:
                    clinic.reports.send(principal, case_id)
            except ValidationError as error:
                for field_name, message in (getattr(error, "errors", None) or {"": str(error)}).items():
                    if field_name:
                        field = _(REPORT_FIELDS[field_name]) if field_name in REPORT_FIELDS else field_name
                        st.error(_("{field}: {message}", field=field, message=_(message)))
                    else:
                        st.error(_(message))
            else:
                st.toast(
                    _("Report sent to the patient.") if send else _("Draft saved."), icon=":material/check:"
                )
                st.rerun()

    with tab_ar:
        render_extension(
            N_("AR preview"), "components.ar_panel", "render_ar_photo_panel", clinic, principal, case_id
        )
        st.divider()
        render_extension(
            N_("live consult"),
            "components.ar_panel",
            "render_live_consult_launcher",
            clinic,
            principal,
            case_id,
        )

    with tab_care:
        render_extension(
            N_("care plan"), "components.care_panel", "render_case_care_panel", clinic, principal, case_id
        )


if principal is not None:
    selected_case = open_selected_case()
    if selected_case is not None:
        render_case(selected_case)
