"""Hybrid care panels: the physician's "Care plan" tab and the patient's care section.

Contract (called by pages/physician_case.py and pages/patient_my_consultations.py):
- `render_case_care_panel(clinic, principal, case_id)`: in-person visit booking (book /
  reschedule / cancel / confirm), treatments, the follow-up plan (editable), check-in review with
  before/after, exports (FHIR bundle, report PDF).
- `render_patient_care_panel(clinic, principal)`: appointments in the patient's own time zone,
  check-in tasks with the guided capture (baseline ghost + baseline-match score, retake on a poor
  match), the progress chart, report PDFs, "download all my data".
All data access goes through `clinic.care`, `clinic.exports` (core/care); nothing here runs SQL.
"""

from __future__ import annotations

import inspect
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st

from components.guided_capture import view_names
from components.i18n import N_, _, ngettext, tr
from components.intake_draft import checkin_kept_photos, end_checkin_draft, save_checkin_photos
from components.layout import TREATMENT_LABELS, format_when_in_zone, label_of, plain
from core.access import AccessDenied, NotFound, ValidationError
from core.care.booking import local_to_utc, utc_to_local
from core.care.followup import AMOUNT_UNITS, TREATMENT_TYPES, PlannedCheckIn
from core.i18n import upper_first

CHECKIN_SENT_KEY = "care_checkin_sent"  # a check-in the patient just sent: confirmed on the next run
APPOINTMENT_STATES: dict[str, str] = {
    "booked": N_("booked"),
    "cancelled": N_("cancelled"),
    "completed": N_("completed"),
    "no_show": N_("patient did not come"),
    "to confirm": N_("booked by the patient, to confirm"),
}
CHECKIN_BADGES: dict[str, str] = {
    "overdue": N_("overdue"),
    "open": N_("open"),
    "submitted": N_("to review"),
    "reviewed": N_("reviewed"),
    "cancelled": N_("dropped"),
}
SCOPES: dict[str, str] = {"same": N_("Same views as the first photos"), "front": N_("Front only")}


def _show_errors(error: Exception) -> None:
    """Core's messages, translated where the catalog has them (components/core_messages.py)."""
    if isinstance(error, ValidationError):
        for field_name, message in error.errors.items():
            if field_name:
                st.error(_("{field}: {message}", field=field_name.replace("_", " "), message=_(message)))
            else:
                st.error(_(message))
    else:
        st.error(_(str(error)))


def _today(zone: str) -> date:
    return utc_to_local(datetime.now(UTC), zone).date()


# -- physician ------------------------------------------------------------------------------------


def render_case_care_panel(clinic: Any, principal: Any, case_id: str) -> None:
    """Physician's case page: in-person booking, treatments, follow-up plan, exports."""
    care = clinic.care
    zone = clinic.settings.clinic_timezone
    report = clinic.reports.get_report(principal, case_id)
    _render_visits(clinic, principal, case_id, zone, report)
    st.divider()
    _render_treatments(clinic, principal, case_id, zone)
    st.divider()
    _render_plan(clinic, principal, case_id, zone)
    st.divider()
    _render_release(clinic, principal, case_id)
    st.divider()
    st.header(_("Exports"))
    col_fhir, col_pdf = st.columns(2)
    with col_fhir:
        if st.button(_("Prepare FHIR R4 bundle"), key=f"fhir_{case_id}", icon=":material/data_object:"):
            try:
                bundle = clinic.exports.fhir_bundle(principal, case_id)
                st.session_state[f"fhir_data_{case_id}"] = json.dumps(bundle, indent=2).encode()
            except (AccessDenied, NotFound, ValueError) as error:
                _show_errors(error)
        if data := st.session_state.get(f"fhir_data_{case_id}"):
            st.download_button(
                _("Download FHIR bundle (JSON)"),
                data,
                f"case-{case_id}-fhir.json",
                "application/fhir+json",
                key=f"fhir_dl_{case_id}",
            )
    with col_pdf:
        if report is None:
            st.caption(_("The report PDF is available once a report is written."))
        elif st.button(_("Prepare report PDF"), key=f"pdf_{case_id}", icon=":material/picture_as_pdf:"):
            try:
                photo_ids = list(care.treatments.baseline_photos(principal, case_id).values())[:3]
                st.session_state[f"pdf_data_{case_id}"] = clinic.exports.report_pdf(
                    principal, case_id, photo_ids
                )
            except (AccessDenied, NotFound, ValueError) as error:
                _show_errors(error)
        if data := st.session_state.get(f"pdf_data_{case_id}"):
            st.download_button(
                _("Download report PDF"),
                data,
                f"report-{case_id}.pdf",
                "application/pdf",
                key=f"pdf_dl_{case_id}",
            )


def _render_visits(clinic: Any, principal: Any, case_id: str, zone: str, report: Any) -> None:
    care = clinic.care
    st.header(_("In-person visit"))
    if report is not None and report.in_person_needed:
        st.info(
            _("The report advises an in-person visit: {reason}", reason=plain(report.in_person_reason, ""))
        )
    elif care.appointments.patient_may_book(principal, case_id) is not None and st.button(
        _("Let the patient book a visit"),
        key=f"approve_visit_{case_id}",
        help=_("Patients book a published time only when the report advises a visit or you allow it here."),
    ):
        care.appointments.approve_visit(principal, case_id)
        st.rerun()
    appointments = care.appointments.case_appointments(principal, case_id)
    for appointment in appointments:
        with st.container(border=True):
            state = (
                appointment.status
                if appointment.confirmed or appointment.status != "booked"
                else "to confirm"
            )
            st.markdown(
                _(
                    "**{when}** · {minutes} min · {location} · _{state}_",
                    when=format_when_in_zone(appointment.start_utc, zone),
                    minutes=appointment.duration_min,
                    location=plain(appointment.location),
                    state=label_of(APPOINTMENT_STATES, state),
                )
            )
            st.caption(
                _(
                    "Patient's time: {when} · {reason} · {physician}",
                    when=format_when_in_zone(appointment.start_utc, appointment.patient_timezone),
                    reason=plain(appointment.reason),
                    physician=plain(appointment.physician_name),
                )
            )
            if appointment.status != "booked":
                continue
            cols = st.columns(4)
            if not appointment.confirmed and cols[0].button(
                _("Confirm"), key=f"confirm_{appointment.appointment_id}"
            ):
                care.appointments.set_appointment_status(principal, appointment.appointment_id, "booked")
                st.rerun()
            if cols[1].button(_("Mark completed"), key=f"done_{appointment.appointment_id}"):
                care.appointments.set_appointment_status(principal, appointment.appointment_id, "completed")
                st.rerun()
            if cols[2].button(_("Cancel visit"), key=f"cancel_{appointment.appointment_id}"):
                care.appointments.cancel(principal, appointment.appointment_id, "cancelled by the physician")
                st.rerun()
            with cols[3].popover(_("Reschedule")):
                local = appointment.local_start(zone)
                new_day = st.date_input(
                    _("New date"), local.date(), key=f"rs_day_{appointment.appointment_id}"
                )
                new_time = st.time_input(
                    _("New time ({zone})", zone=zone),
                    local.time(),
                    step=timedelta(minutes=15),
                    key=f"rs_time_{appointment.appointment_id}",
                )
                if st.button(_("Move"), key=f"rs_go_{appointment.appointment_id}") and new_time is not None:
                    try:
                        care.appointments.reschedule(
                            principal, appointment.appointment_id, local_to_utc(new_day, new_time, zone)
                        )
                        st.rerun()
                    except (ValidationError, ValueError) as error:
                        _show_errors(error)
    expanded = bool(report and report.in_person_needed and not appointments)
    with st.expander(_("Book an in-person visit"), expanded=expanded), st.form(f"book_{case_id}"):
        col_day, col_time, col_duration = st.columns(3)
        day = col_day.date_input(_("Date"), date.today() + timedelta(days=7), min_value=date.today())
        clock = col_time.time_input(_("Time ({zone})", zone=zone), time(10, 0), step=timedelta(minutes=15))
        duration = col_duration.number_input(_("Duration (min)"), 10, 240, 30, step=5)
        reason = st.text_input(_("Reason"), (report.in_person_reason or "") if report else "")
        location = st.text_input(_("Location"), _("Clinic"))
        if st.form_submit_button(_("Book visit"), type="primary"):
            try:
                booked = care.appointments.book_local(
                    principal, case_id, day, clock, int(duration), reason, location
                )
                st.success(
                    _(
                        "Booked {when} (patient: {patient_when}).",
                        when=format_when_in_zone(booked.start_utc, zone),
                        patient_when=format_when_in_zone(booked.start_utc, booked.patient_timezone),
                    )
                )
                st.rerun()
            except (ValidationError, ValueError) as error:
                _show_errors(error)


def _render_treatments(clinic: Any, principal: Any, case_id: str, zone: str) -> None:
    care = clinic.care
    st.header(_("Treatments"))
    for treatment in care.treatments.case_treatments(principal, case_id):
        st.markdown(
            _("- {date}: {treatment}", date=tr().date(treatment.treated_on), treatment=plain(treatment.label))
        )
    with st.expander(_("Record a treatment")):
        kind = st.selectbox(
            _("Treatment"),
            list(TREATMENT_TYPES),
            format_func=lambda name: label_of(TREATMENT_LABELS, name),
            key=f"tr_kind_{case_id}",
        )
        col_area, col_product = st.columns(2)
        area = col_area.text_input(_("Area"), key=f"tr_area_{case_id}", placeholder=_("e.g. forehead"))
        product = col_product.text_input(_("Product"), key=f"tr_product_{case_id}")
        units = AMOUNT_UNITS.get(kind, ("",))
        col_amount, col_unit, col_day = st.columns(3)
        amount = col_amount.number_input(
            _("Amount"), min_value=0.0, value=0.0, step=0.1, key=f"tr_amount_{case_id}"
        )
        unit = (
            col_unit.selectbox(_("Unit"), units, key=f"tr_unit_{case_id}_{kind}") if units != ("",) else None
        )
        treated_on = col_day.date_input(
            _("Date"), _today(zone), max_value=_today(zone) + timedelta(days=1), key=f"tr_day_{case_id}"
        )
        proposal = care.treatments.propose_follow_up(principal, case_id, kind, treated_on)
        scope = st.radio(
            _("Check-in photos"),
            list(SCOPES),
            format_func=lambda option: _(SCOPES[option]),
            horizontal=True,
            key=f"tr_scope_{case_id}",
        )
        if scope == "front":
            proposal = [PlannedCheckIn(item.due_date, item.label, ("front",)) for item in proposal]
        st.caption(_("Proposed remote follow-up (edit dates or labels; delete rows to drop a check-in):"))
        edited = st.data_editor(
            [
                {"due": item.due_date, "label": item.label, "views": ", ".join(item.views)}
                for item in proposal
            ],
            key=f"tr_plan_{case_id}_{kind}_{treated_on}_{scope}",
            num_rows="dynamic",
            column_config={
                "due": st.column_config.DateColumn(_("Due"), required=True),
                "label": st.column_config.TextColumn(_("Check-in"), required=True),
                "views": st.column_config.TextColumn(_("Views (comma separated)"), required=True),
            },
            width="stretch",
        )
        if st.button(_("Record treatment and create check-ins"), type="primary", key=f"tr_go_{case_id}"):
            from core.care.records import TreatmentInput

            plan = [
                PlannedCheckIn(
                    row["due"] if isinstance(row["due"], date) else date.fromisoformat(str(row["due"])[:10]),
                    str(row["label"]),
                    tuple(v.strip() for v in str(row["views"]).split(",") if v.strip()),
                )
                for row in edited
                if row.get("due") and row.get("label")
            ]
            try:
                treatment, checkins = care.treatments.record_treatment(
                    principal,
                    case_id,
                    TreatmentInput(
                        kind, area, treated_on, product or None, amount or None, unit if amount else None
                    ),
                    plan,
                )
                st.success(
                    ngettext(
                        "Recorded {treatment}; {n} check-in planned.",
                        "Recorded {treatment}; {n} check-ins planned.",
                        len(checkins),
                        treatment=plain(treatment.label),
                    )
                )
                st.rerun()
            except (ValidationError, ValueError) as error:
                _show_errors(error)


def _render_plan(clinic: Any, principal: Any, case_id: str, zone: str) -> None:
    care = clinic.care
    st.header(_("Follow-up check-ins"))
    checkins = care.checkins.case_checkins(principal, case_id)
    if not checkins:
        st.caption(_("No check-ins planned. Recording a treatment proposes them."))
        return
    today = _today(zone)
    baseline = care.treatments.baseline_photos(principal, case_id)
    for checkin in checkins:
        overdue = checkin.overdue(today)
        shown = "overdue" if checkin.status == "open" and overdue else checkin.status
        colour = {"overdue": "red", "open": "blue", "submitted": "orange", "reviewed": "green"}.get(
            shown, "gray"
        )
        badge = f":{colour}-badge[{label_of(CHECKIN_BADGES, shown)}]"
        with st.container(border=True):
            st.markdown(
                _(
                    "**{label}** · due {date} · {views} {badge}",
                    label=plain(checkin.label),
                    date=tr().date(checkin.due_date),
                    views=view_names(list(checkin.views)),
                    badge=badge,
                )
            )
            if checkin.status == "open":
                col_day, col_save, col_drop = st.columns([2, 1, 1])
                new_due = col_day.date_input(
                    _("Due"),
                    checkin.due_date,
                    key=f"ck_due_{checkin.checkin_id}",
                    label_visibility="collapsed",
                )
                if col_save.button(_("Move"), key=f"ck_move_{checkin.checkin_id}"):
                    care.checkins.update_checkin(principal, checkin.checkin_id, due_date=new_due)
                    st.rerun()
                if col_drop.button(_("Drop"), key=f"ck_drop_{checkin.checkin_id}"):
                    care.checkins.cancel_checkin(principal, checkin.checkin_id)
                    st.rerun()
            elif checkin.status in ("submitted", "reviewed"):
                _render_checkin_review(clinic, principal, checkin, baseline)


def _render_release(clinic: Any, principal: Any, case_id: str) -> None:
    """The physician chooses which measures, if any, the patient sees on "My progress"."""
    from components.i18n import _
    from components.progress_chart import measure_name
    from core.assessment.findings import region_words

    release = clinic.care.release
    st.header(_("What the patient sees"))
    st.caption(
        _(
            "The photo measurements are not clinically validated. The patient sees none of them"
            " unless you share them here; each shared measure appears on the patient's page as the"
            " change since the first photos, in plain words."
        )
    )
    measured = release.measured(principal, case_id)
    if not measured:
        st.caption(_("Nothing measured on this consultation yet."))
        return
    current = [r.key for r in release.released(principal, case_id)]
    chosen = st.multiselect(
        _("Measurements the patient sees"),
        measured,
        default=[key for key in current if key in measured],
        format_func=lambda key: _(
            "{measure} · {region}", measure=_(measure_name(key.metric)), region=_(region_words(key.region))
        ),
        key=f"release_{case_id}",
    )
    if not current:
        st.caption(_("Nothing is shared with the patient yet; their page says so."))
    if st.button(_("Save what the patient sees"), key=f"release_save_{case_id}"):
        try:
            saved = release.set_released(principal, case_id, chosen)
            st.success(
                ngettext(
                    "The patient now sees {count} measurement.",
                    "The patient now sees {count} measurements.",
                    len(saved),
                    count=len(saved),
                )
                if saved
                else _("The patient sees no measurements.")
            )
        except (ValidationError, AccessDenied) as error:
            _show_errors(error)


def _match_hint(match: dict[str, Any]) -> str:
    """A baseline match's hint in the viewer's language (core.care.matching's catalog sentence and
    its numbers; a match stored before those existed keeps its English text, looked up as it is)."""
    from core.care.matching import hint_in

    message = str(match.get("message") or "")
    if message:
        return hint_in(tr(), message, dict(match.get("message_values") or {}))
    return _(str(match.get("instruction") or ""))


def _render_checkin_review(clinic: Any, principal: Any, checkin: Any, baseline: dict[str, str]) -> None:
    from components.before_after import render_before_after

    views = [view for view in checkin.views if view in checkin.photo_ids and view in baseline]
    if not views:
        return
    view = st.radio(
        _("View"),
        views,
        horizontal=True,
        format_func=lambda v: view_names([v]),
        key=f"ck_view_{checkin.checkin_id}",
    )
    if view is None:
        return
    match = checkin.match.get(view) or {}
    if match:
        st.caption(
            _(
                "Baseline match at capture: {score}/100 · {instruction}",
                score=plain(match.get("score"), "?"),
                instruction=_match_hint(match),
            )
        )
    render_before_after(
        clinic.cases.get_photo_bytes(principal, baseline[view]),
        clinic.cases.get_photo_bytes(principal, checkin.photo_ids[view]),
        key=f"ba_{checkin.checkin_id}_{view}",
        labels=(_("Baseline"), checkin.label),
    )
    if checkin.status == "submitted" and st.button(_("Mark reviewed"), key=f"ck_rev_{checkin.checkin_id}"):
        clinic.care.checkins.mark_checkin_reviewed(principal, checkin.checkin_id)
        st.rerun()


# -- patient --------------------------------------------------------------------------------------


def render_patient_care_panel(clinic: Any, principal: Any) -> None:
    """Patient's "My consultations": appointments, check-in tasks, progress, downloads."""
    care = clinic.care
    zone = principal.timezone or clinic.settings.clinic_timezone  # the patient's zone, set at registration
    st.header(_("My appointments"))
    appointments = [a for a in care.appointments.patient_agenda(principal) if a.status == "booked"]
    if not appointments:
        st.caption(_("No upcoming visits."))
    for appointment in appointments:
        with st.container(border=True):
            status = _("confirmed") if appointment.confirmed else _("waiting for the clinic to confirm")
            st.markdown(
                _(
                    "**{when}** · {minutes} min · {location} · _{state}_",
                    when=format_when_in_zone(appointment.start_utc, zone),
                    minutes=appointment.duration_min,
                    location=plain(appointment.location),
                    state=status,
                )
            )
            st.caption(
                _(
                    "{reason} · with {physician} · clinic time {when}",
                    reason=plain(appointment.reason),
                    physician=plain(appointment.physician_name),
                    when=format_when_in_zone(appointment.start_utc, appointment.clinic_timezone),
                )
            )
            if st.button(_("Cancel this visit"), key=f"p_cancel_{appointment.appointment_id}"):
                care.appointments.cancel(principal, appointment.appointment_id, "cancelled by the patient")
                st.rerun()
    _render_patient_booking(clinic, principal, zone, appointments)

    st.header(_("Check-ins"))
    if st.session_state.pop(CHECKIN_SENT_KEY, None):  # the check-in just sent (the page re-ran since)
        st.success(
            _("Thank you! Your physician will compare these photos with your first ones."),
            icon=":material/check_circle:",
        )
    checkins = care.checkins.patient_checkins(principal)
    if not checkins:
        st.caption(_("No check-ins due. After a treatment your physician plans photo check-ins here."))
    today = _today(zone)
    for checkin in checkins:
        overdue = checkin.overdue(today)
        values = {"label": plain(checkin.label), "date": tr().date(checkin.due_date)}
        title = (
            _("{label} · due {date} · OVERDUE", **values) if overdue else _("{label} · due {date}", **values)
        )
        with st.expander(
            title, expanded=checkin.due_date <= today + timedelta(days=3), icon=":material/photo_camera:"
        ):
            if overdue:
                st.error(_("This check-in is overdue; please take the photos as soon as you can."))
            _render_checkin_capture(clinic, principal, checkin)

    st.header(_("My progress"))
    from components.progress_chart import render_progress_chart

    render_progress_chart(clinic, principal, principal.patient_id, key="patient_progress", simple=True)

    st.header(_("Downloads"))
    for summary in clinic.cases.list_patient_cases(principal):
        report = clinic.reports.get_report(principal, summary.case_id)
        if report is None:
            continue
        key = f"p_pdf_{summary.case_id}"
        if st.button(
            _("Prepare the report PDF of {reference}", reference=summary.reference),
            key=f"{key}_go",
            icon=":material/picture_as_pdf:",
        ):
            st.session_state[key] = clinic.exports.report_pdf(principal, summary.case_id)
        if data := st.session_state.get(key):
            st.download_button(
                _("Download report {reference} (PDF)", reference=summary.reference),
                data,
                f"report-{summary.reference}.pdf",
                "application/pdf",
                key=f"{key}_dl",
            )
    if st.button(_("Prepare all my data (zip)"), key="p_all_data_go", icon=":material/download:"):
        st.session_state["p_all_data"] = clinic.exports.patient_data_zip(principal)
    if data := st.session_state.get("p_all_data"):
        st.download_button(
            _("Download all my data"), data, "my-clinic-data.zip", "application/zip", key="p_all_data_dl"
        )


def _render_patient_booking(clinic: Any, principal: Any, zone: str, appointments: list[Any]) -> None:
    """Patients whose report advises a visit pick one of the clinic's published slots."""
    care = clinic.care
    booked_cases = {a.case_id for a in appointments}
    # Only cases the physician asked a visit for (advised in the report, or approved) and without
    # an upcoming visit (the per-case limit): the service enforces both and says why not.
    cases = [
        c
        for c in clinic.cases.list_patient_cases(principal)
        if c.status != "closed"
        and c.case_id not in booked_cases
        and care.appointments.patient_may_book(principal, c.case_id) is None
    ]
    if not cases:
        return
    slots = care.appointments.free_slots(principal)
    with st.container(border=True):
        st.markdown(_("**Book your in-person visit**"))
        if not slots:
            st.caption(
                _("The clinic has not published free times yet; your physician will book the visit with you.")
            )
            return
        case = cases[0]
        slot = st.selectbox(
            _("Free times (your time zone: {zone})", zone=zone),
            slots,
            format_func=lambda s: _(
                "{when} · {minutes} min · {physician} · {location}",
                when=format_when_in_zone(s.start_utc, zone),
                minutes=s.minutes,
                physician=s.physician_name,
                location=s.location,
            ),
            key="p_slot",
        )
        if st.button(_("Book this time"), type="primary", key="p_book"):
            try:
                care.appointments.book_appointment(
                    principal,
                    case.case_id,
                    slot.start_utc,
                    slot.minutes,
                    "In-person visit advised in the report",
                    physician_id=slot.physician_id,
                )
                st.rerun()
            except (ValidationError, ValueError) as error:
                _show_errors(error)


def _capture(
    views: tuple[str, ...], key: str, baseline: dict[str, bytes], kept: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The vision area's guided capture, with the baseline ghost when that version supports it
    (and the check-in draft's kept photos standing in until replaced)."""
    from components.guided_capture import guided_capture

    parameters = inspect.signature(guided_capture).parameters
    if "baseline" in parameters and "kept" in parameters:
        return guided_capture(list(views), key=key, baseline=baseline, kept=kept)
    if "baseline" in parameters:
        return guided_capture(list(views), key=key, baseline=baseline)
    return guided_capture(list(views), key=key)


def _render_checkin_capture(clinic: Any, principal: Any, checkin: Any) -> None:

    from core.care.matching import baseline_match
    from core.consult.photos import decode_to_bgr

    care = clinic.care
    # Decrypted once per session and check-in: every rerun would otherwise re-read (and audit) them.
    baseline_key = f"checkin_baseline_{checkin.checkin_id}"
    if baseline_key not in st.session_state:
        baseline_ids = care.treatments.baseline_photos(principal, checkin.case_id)
        st.session_state[baseline_key] = {
            view: clinic.cases.get_photo_bytes(principal, baseline_ids[view])
            for view in checkin.views
            if view in baseline_ids
        }
    baseline: dict[str, bytes] = st.session_state[baseline_key]
    st.caption(
        _(
            "Take the same photos as the first time: same place, same light, face the outline of your first photo."
        )
    )
    # A half-done check-in is kept as a draft (a phone reloads the tab when it opens its camera app).
    kept = checkin_kept_photos(principal, clinic, checkin.checkin_id)
    captured = _capture(checkin.views, key=f"checkin_{checkin.checkin_id}", baseline=baseline, kept=kept)
    save_checkin_photos(principal, clinic, checkin.checkin_id, captured)
    matches: dict[str, dict[str, Any]] = {}
    all_ok = True
    cache = st.session_state.setdefault(f"checkin_match_{checkin.checkin_id}", {})
    for view in checkin.views:
        photo = captured.get(view)
        if photo is None:
            all_ok = False
            continue
        if view not in baseline:
            continue
        cache_key = (view, hash(photo.image_bytes))
        if cache_key not in cache:
            result = baseline_match(decode_to_bgr(baseline[view]), decode_to_bgr(photo.image_bytes))
            cache[cache_key] = {
                "score": result.score,
                "ok": result.ok,
                "instruction": result.instruction,  # English, as stored; shown from message + values
                "message": result.message,
                "message_values": result.message_values,
                "components": result.components,
            }
        match = matches[view] = cache[cache_key]
        said = _(
            "{view}: match {score}/100. {instruction}",
            view=upper_first(view_names([view])),
            score=f"{match['score']:.0f}",
            instruction=_match_hint(match),
        )
        if match["ok"]:
            st.success(said)
        else:
            all_ok = False
            st.warning(said)
    missing = [v for v in checkin.views if v not in captured]
    override = False
    if not missing and not all_ok:
        override = st.checkbox(
            _("I cannot take a better photo; send these anyway"), key=f"override_{checkin.checkin_id}"
        )
    if st.button(
        _("Send check-in photos"),
        type="primary",
        disabled=bool(missing) or not (all_ok or override),
        key=f"submit_{checkin.checkin_id}",
    ):
        try:
            care.checkins.submit_checkin(
                principal, checkin.checkin_id, {v: captured[v] for v in checkin.views}, matches
            )
            end_checkin_draft(principal, clinic, checkin.checkin_id)
            st.session_state[CHECKIN_SENT_KEY] = checkin.checkin_id  # confirmed after the re-run
            st.rerun()
        except (ValidationError, AccessDenied) as error:
            _show_errors(error)
