"""One case for the physician: intake & photos, AI pre-assessment, report, AR preview, care plan.

The case comes from `?case=ID` (so links work) or from the queue via session state. Early exits
are returns, not st.stop(): the assessment card polls in a timed fragment (see
docs/ARCHITECTURE.md, "Timed fragments").
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from components.layout import (
    area_labels,
    concern_labels,
    format_when,
    humanise,
    labelled_text,
    plain,
    render_extension,
    status_badge,
)
from components.session import get_clinic, signed_in_as

SELECTED_KEY = "physician_selected_case"

principal = signed_in_as("physician")  # None: told why; the run ends by returning
clinic = get_clinic()

from core.access import AccessDenied, NotFound  # noqa: E402 - after the role check, like every page
from core.consult.cases import CaseDetail  # noqa: E402


def open_selected_case() -> CaseDetail | None:
    """The case from the URL or the queue, or None after saying why there is none."""
    case_id = st.query_params.get("case") or st.session_state.get(SELECTED_KEY)
    if not case_id:
        st.title("Case")
        st.info("Choose a case in the **Case queue** first.")
        return None
    st.session_state[SELECTED_KEY] = case_id
    st.query_params["case"] = case_id  # keep the URL shareable within the clinic
    try:
        return clinic.cases.get_case(principal, case_id)
    except (AccessDenied, NotFound):
        st.title("Case")
        st.error("This case does not exist or you may not open it.")
        return None


def render_quality(quality_json: str | None, verdict: str | None) -> None:
    from core.vision.quality import QualityResult

    if not quality_json and not verdict:
        st.caption("No quality check recorded.")
        return
    quality = None
    if quality_json:
        try:
            quality = QualityResult.from_json(quality_json)
        except ValueError:
            quality = None  # the verdict column still says how the photo fared
    verdict = verdict or (quality.verdict if quality else None)
    colour = {"pass": "green", "warn": "orange", "fail": "red"}.get(str(verdict), "gray")
    st.markdown(f"Quality: :{colour}-badge[{verdict or 'unknown'}]")
    if quality is None:
        return
    for check in quality.checks:
        if check.status in {"warn", "fail"}:
            st.caption(f"⚠ {humanise(check.name)}: {check.instruction or check.status}")
    if quality.pose is not None:
        st.caption(f"Head turn {quality.pose.yaw:+.0f}°, tilt {quality.pose.pitch:+.0f}°")


@st.dialog("Photo", width="large")
def show_photo_full(photo_id: str, title: str) -> None:
    st.image(clinic.cases.get_photo_bytes(principal, photo_id), caption=title, width="stretch")


def render_case(case: CaseDetail) -> None:
    case_id = case.case_id
    st.title(f"Case {case.reference}")
    st.markdown(
        f"{status_badge(case.status)} · **{plain(case.patient_name)}** · submitted "
        f"{format_when(case.submitted_at, clinic.settings.clinic_timezone)}"
    )

    tab_intake, tab_ai, tab_report, tab_ar, tab_care = st.tabs(
        ["Intake & photos", "AI pre-assessment", "Report", "AR preview", "Care plan"]
    )

    with tab_intake:
        intake = case.intake
        patient = case.patient
        st.caption(
            f"Patient: {plain(patient.name)}, {patient.age_on(dt.date.today())} years · language"
            f" {plain(patient.language)} · time zone {plain(patient.timezone)}"
        )
        col_left, col_right = st.columns(2)
        with col_left:
            st.subheader("Concern")
            st.markdown("**Concerns:** " + (concern_labels(intake.concerns) or "—"))
            st.markdown("**Face areas:** " + (area_labels(intake.areas) or "—"))
            labelled_text("Duration", intake.duration)
            labelled_text("Skin type (self assessment)", intake.skin_type_self_assessment)
            st.markdown("**In the patient's words:**")
            st.text(intake.concern_other_text or "—")
            st.markdown("**Goals:**")
            st.text(intake.goals or "—")
        with col_right:
            st.subheader("History")
            labelled_text("Medications", intake.medications)
            labelled_text("Allergies", intake.allergies)
            if intake.pregnant_or_breastfeeding:
                st.warning("Pregnant or breast-feeding")
            else:
                st.markdown("**Pregnant / breast-feeding:** no")
            if intake.isotretinoin_last_6_months:
                st.warning("Isotretinoin in the last 6 months")
            else:
                st.markdown("**Isotretinoin in the last 6 months:** no")
            treatments = intake.prior_treatments or []
            st.markdown("**Prior aesthetic treatments:**" + ("" if treatments else " none"))
            for row in treatments:
                st.markdown(f"- {plain(row.get('treatment'))} ({plain(row.get('date'), 'date unknown')})")
            st.markdown(
                f"**Consent:** photo storage {'yes' if intake.consent_photo_storage else 'NO'}; "
                f"anonymised use {'yes' if intake.consent_anonymised_use else 'no'}"
            )

        st.subheader("Photos")
        photos = list(case.photos)
        if not photos:
            st.info("No photos in this case.")
        columns = st.columns(max(len(photos), 1))
        for column, photo in zip(columns, photos, strict=False):
            with column:
                title = humanise(photo.view)
                st.image(
                    clinic.cases.get_photo_bytes(principal, photo.photo_id), caption=title, width="stretch"
                )
                if st.button("Enlarge", key=f"zoom_{photo.photo_id}", icon=":material/zoom_in:"):
                    show_photo_full(photo.photo_id, title)
                render_quality(getattr(photo, "quality_json", None), getattr(photo, "quality_verdict", None))

    with tab_ai:
        render_extension(
            "AI pre-assessment",
            "components.assessment_card",
            "render_assessment_section",
            clinic,
            principal,
            case_id,
        )

    with tab_report:
        report = case.report
        sent = report is not None and report.sent_at is not None
        if sent:
            st.success(
                f"Report sent {format_when(report.sent_at, clinic.settings.clinic_timezone)}; it can no longer be edited."
            )
        with st.form(f"report_form_{case_id}"):
            findings = st.text_area(
                "Findings", value=report.findings if report else "", disabled=sent, height=120
            )
            assessment = st.text_area(
                "Assessment", value=report.assessment if report else "", disabled=sent, height=120
            )
            treatments = st.text_area(
                "Recommended treatments", value=report.recommended_treatments if report else "", disabled=sent
            )
            home_care = st.text_area("Home care", value=report.home_care if report else "", disabled=sent)
            in_person = st.checkbox(
                "An in-person visit is needed",
                value=bool(report.in_person_needed) if report else False,
                disabled=sent,
            )
            in_person_reason = st.text_input(
                "Reason for the in-person visit",
                value=(report.in_person_reason or "") if report else "",
                disabled=sent,
            )
            follow_up = st.text_input(
                "Follow-up suggestion",
                value=(report.follow_up_suggestion or "") if report else "",
                disabled=sent,
            )
            col_save, col_send = st.columns(2)
            save = col_save.form_submit_button("Save draft", disabled=sent)
            send = col_send.form_submit_button("Send report to patient", type="primary", disabled=sent)
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
                    st.error(f"{humanise(field_name)}: {message}" if field_name else message)
            else:
                st.toast("Report sent to the patient." if send else "Draft saved.", icon=":material/check:")
                st.rerun()

    with tab_ar:
        render_extension(
            "AR preview", "components.ar_panel", "render_ar_photo_panel", clinic, principal, case_id
        )
        st.divider()
        render_extension(
            "live consult", "components.ar_panel", "render_live_consult_launcher", clinic, principal, case_id
        )

    with tab_care:
        render_extension(
            "care plan", "components.care_panel", "render_case_care_panel", clinic, principal, case_id
        )


if principal is not None:
    selected_case = open_selected_case()
    if selected_case is not None:
        render_case(selected_case)
