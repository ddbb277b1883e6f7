"""AI pre-assessment card for the physician's case page.

Shows the latest run of `clinic.assessments` for the case: status (polling while queued or
running), the physician summary, flags with evidence crops, suggestions, metrics by region with
bands and reliability notes, per-photo overlays (redness heat map, spots, lines) and "Run again".
All data access goes through the service (access checks and audit live there).
"""

from __future__ import annotations

import base64
from collections import defaultdict

import streamlit as st

from components.layout import format_when, humanise
from components.session import session_fragment

BAND_COLOURS = {"minimal": "green", "mild": "blue", "moderate": "orange", "marked": "red"}
OVERLAY_LABELS = {"canonical": "Photo", "redness": "Redness heat map", "spots": "Spots", "lines": "Lines"}
WHITE_BALANCE_LABELS = {
    "case_sclera": "eye whites of this consultation's photos",
    "sclera": "this photo's own eye white",
    "exposure_only": "none (no usable eye white), exposure only",
    "colour_chart": "colour chart in the photo (calibrated)",
    "off": "off",
}


def render_assessment_section(clinic, principal, case_id: str) -> None:
    service = getattr(clinic, "assessments", None)
    if service is None:
        st.info("AI pre-assessment is not available on this server.")
        return
    _assessment_fragment(clinic, principal, case_id)


@st.fragment
def _assessment_fragment(clinic, principal, case_id: str) -> None:
    from core.access import AccessDenied

    service = clinic.assessments
    try:
        record = service.latest_for_case(principal, case_id)
    except AccessDenied:
        st.error("Only physicians can see the AI pre-assessment.")
        return
    header, action = st.columns([4, 1])
    with header:
        st.subheader("AI pre-assessment")
        st.caption("Automated photo measurements to support your review — not a diagnosis.")
    with action:
        busy = record is not None and record.status in {"queued", "running"}
        if st.button("Run again", key=f"assess_rerun_{case_id}", icon=":material/refresh:", disabled=busy):
            service.run_for_case(principal, case_id, background=True)
            st.rerun(scope="fragment")

    if record is None:
        st.info("No assessment yet for this case. Use **Run again** to start one.")
        return
    if record.status in {"queued", "running"}:
        with st.status(f"Assessment {record.status} …", expanded=False, state="running"):
            st.write("Measuring the photos in the background; this page updates by itself.")
        _poll_until_done(clinic, principal, case_id)
        return
    if record.status == "failed":
        st.error(f"The last assessment failed: {record.error or 'unknown error'}")
        return
    _render_report(clinic, principal, record)


@session_fragment(run_every=2.0)  # each poll re-checks the session: an idle page logs out
def _poll_until_done(clinic, principal, case_id: str) -> None:
    latest = clinic.assessments.latest_for_case(principal, case_id)
    if latest is not None and latest.finished:
        st.rerun()


def _render_report(clinic, principal, record) -> None:
    report = record.report or {}
    engine = report.get("engine", {})
    st.markdown(report.get("summary", ""))
    st.caption(
        f"Engine {engine.get('version')} · sha256 {str(engine.get('sha256', ''))[:12]}… · "
        f"finished {format_when(record.finished_at, clinic.settings.clinic_timezone)}"
    )

    flags = report.get("flags", [])
    if flags:
        st.markdown("#### Flags")
    for flag in flags:
        icon = ":material/priority_high:" if flag.get("severity") == "action" else ":material/info:"
        with st.container(border=True):
            st.markdown(f"{icon} **{flag.get('title')}** — {flag.get('reason')}")
            images = [base64.b64decode(b) for b in flag.get("evidence_png_base64", [])]
            if images:
                st.image(images, width=120, caption=[f"evidence {i + 1}" for i in range(len(images))])
            if flag.get("view"):
                st.caption(
                    f"{humanise(flag.get('view'))} photo"
                    + (f", {humanise(flag.get('region'))}" if flag.get("region") else "")
                )

    suggestions = report.get("suggestions", [])
    if suggestions:
        st.markdown("#### Points to review")
        for suggestion in suggestions:
            st.markdown(f"- {suggestion['text']} — _{suggestion['reason']}_")

    not_assessed = report.get("not_assessed", [])
    for item in not_assessed:
        st.warning(f"{humanise(item.get('view'))} photo not measured: {item.get('reason')}")

    st.markdown("#### Measurements by region")
    by_region: dict[str, list[dict]] = defaultdict(list)
    for metric in report.get("metrics", []):
        by_region[metric["region"]].append(metric)
    tabs = st.tabs([humanise(region) for region in by_region] or ["—"])
    for tab, metrics in zip(tabs, by_region.values(), strict=False):
        with tab:
            for metric in metrics:
                value = (
                    "n/a"
                    if metric.get("value") is None
                    else f"{metric['value']:.2f} {metric.get('unit', '')}"
                )
                band = metric.get("band", "n/a")
                colour = BAND_COLOURS.get(band, "gray")
                score = "" if metric.get("score") is None else f" · score {metric['score']:.0f}"
                st.markdown(f"**{humanise(metric['metric'])}**: {value} :{colour}-badge[{band}]{score}")
                notes = metric.get("reliability") or []
                if notes:
                    st.caption(" · ".join(notes))

    photos = [p for p in report.get("photos", []) if p.get("overlay_blobs")]
    if photos:
        st.markdown("#### Overlays")
        choice = st.segmented_control(
            "Overlay",
            list(OVERLAY_LABELS),
            format_func=OVERLAY_LABELS.get,
            default="redness",
            key=f"overlay_choice_{record.assessment_id}",
        )
        columns = st.columns(len(photos))
        for column, photo in zip(columns, photos, strict=False):
            with column:
                blob_id = photo["overlay_blobs"].get(choice or "canonical")
                if blob_id:
                    data = clinic.assessments.overlay_bytes(principal, record.assessment_id, blob_id)
                    st.image(
                        data,
                        caption=f"{humanise(photo['view'])} — {OVERLAY_LABELS.get(choice or 'canonical')}",
                    )
                illumination = photo.get("illumination", {})
                method = str(illumination.get("method", "n/a"))
                st.caption(
                    f"White balance: {WHITE_BALANCE_LABELS.get(method, method)}; "
                    f"regions: {photo.get('regions_source')}"
                )
    st.caption(report.get("disclaimer", ""))
