"""AI pre-assessment card for the physician's case page.

Shows the latest run of `clinic.assessments` for the case: status (polling while queued or
running), then one screen: the photo with a heat map (toggle, legend) beside the few findings
that matter for the patient's concern, the skin tone and the reliability caveat once; then flags,
points to review, and the per-region detail behind one expander; "Run again".
All data access goes through the service (access checks and audit live there).
"""

from __future__ import annotations

import base64
from collections import defaultdict

import streamlit as st

from components.layout import format_when, humanise
from components.session import session_fragment

BAND_COLOURS = {"minimal": "green", "mild": "blue", "moderate": "orange", "marked": "red"}
WHITE_BALANCE_LABELS = {
    "case_sclera": "eye whites of this consultation's photos",
    "case_pooled": "this consultation's pooled white reference",
    "sclera": "this photo's own eye white",
    "teeth": "this photo's teeth",
    "background": "the white/grey background",
    "exposure_only": "nothing (no neutral reference in the photo): colours uncorrected",
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
    # Status only: no patient data, audited once per case (not a row every 2 s).
    status = clinic.assessments.status_for_case(principal, case_id)
    if status is not None and status not in {"queued", "running"}:
        st.rerun()


def _render_report(clinic, principal, record) -> None:
    from core.assessment.findings import case_reliability, key_findings

    report = record.report or {}
    engine = report.get("engine", {})
    st.markdown(report.get("summary", ""))
    metrics = report.get("metrics", [])
    findings = key_findings(metrics, _concerns(clinic, principal, record))

    photo_column, findings_column = st.columns([1, 1])
    with photo_column:
        _photo_with_heat_map(clinic, principal, record, report)
    with findings_column:
        st.markdown("#### Key findings")
        if not findings:
            st.info("Nothing measurable stood out.")
        for finding in findings:
            colour = BAND_COLOURS.get(finding["band"], "gray")
            comparison = f" — {finding['comparison']}" if finding["comparison"] else ""
            st.markdown(f"**{finding['text']}** :{colour}-badge[{finding['band']}]{comparison}")
        st.markdown(_skin_tone_line(report))
        caveats = case_reliability(report)
        if caveats:
            st.caption("**Reliability for this case.** " + " ".join(caveats))

    _render_flags_and_suggestions(report)
    for item in report.get("not_assessed", []):
        st.warning(f"{humanise(item.get('view'))} photo not measured: {item.get('reason')}")

    with st.expander("Per-region detail"):
        by_region: dict[str, list[dict]] = defaultdict(list)
        for metric in metrics:
            by_region[metric["region"]].append(metric)
        if by_region:
            region = st.selectbox(
                "Region",
                list(by_region),
                format_func=_region_title,
                key=f"assess_region_{record.assessment_id}",
            )
            for metric in by_region.get(region or "", []):
                st.markdown(_metric_line(metric))
    st.caption(
        f"Engine {engine.get('version')} · sha256 {str(engine.get('sha256', ''))[:12]}… · "
        f"finished {format_when(record.finished_at, clinic.settings.clinic_timezone)}"
    )
    st.caption(report.get("disclaimer", ""))


def _concerns(clinic, principal, record) -> list[str]:
    try:
        return list(clinic.cases.get_case(principal, record.case_id).intake.concerns or [])
    except Exception:  # the card still works without the intake (e.g. an erased case)
        return []


def _region_title(region: str) -> str:
    from core.assessment.findings import region_words

    return "Whole face" if region == "face" else region_words(region).capitalize()


def _metric_line(metric: dict) -> str:
    from core.assessment.findings import INDEX_MEANING, PLAIN_NAMES, plain_value

    name = metric.get("metric", "")
    title = PLAIN_NAMES.get(name, humanise(name))
    band = metric.get("band", "n/a")
    colour = BAND_COLOURS.get(band, "gray")
    badge = "" if name == "ita" else f" :{colour}-badge[{band}]"
    meaning = (
        f" _({INDEX_MEANING[name]})_" if name in INDEX_MEANING and metric.get("score") is not None else ""
    )
    return f"**{title}**: {plain_value(metric)}{badge}{meaning}"


def _skin_tone_line(report: dict) -> str:
    from core.assessment.findings import plain_value

    ita = next(
        (m for m in report.get("metrics", []) if m.get("metric") == "ita" and m["region"] == "face"), None
    )
    if ita is None:
        return "**Skin tone**: not measured"
    anchors = sorted(
        {str(p["illumination"]["skin_tone_anchor"]) for p in report.get("photos", [])
         if (p.get("illumination") or {}).get("skin_tone_anchor")}
    )  # fmt: skip
    if ita.get("value") is None:
        return "**Skin tone**: not measurable — no colour chart, eye white or teeth to anchor the light"
    return f"**Skin tone**: {plain_value(ita)}, light anchored on the {' and '.join(anchors) or 'reference'}"


def _render_flags_and_suggestions(report: dict) -> None:
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


def _photo_with_heat_map(clinic, principal, record, report: dict) -> None:
    photos = [p for p in report.get("photos", []) if p.get("overlay_blobs")]
    if not photos:
        st.caption("No measured photo to show.")
        return
    key = record.assessment_id
    views = [p["view"] for p in photos]
    view = views[0]
    if len(views) > 1:
        view = (
            st.segmented_control(
                "Photo", views, format_func=humanise, default=views[0], key=f"overlay_view_{key}"
            )
            or views[0]
        )
    photo = next(p for p in photos if p["view"] == view)
    show = st.toggle("Heat map", value=True, key=f"overlay_on_{key}")
    measure = "canonical"
    if show:
        measure = (
            st.segmented_control(
                "Measure",
                list(HEAT_MAPS),
                format_func=HEAT_MAPS.__getitem__,
                default="redness",
                key=f"overlay_choice_{key}",
            )
            or "redness"
        )
    blob_id = photo["overlay_blobs"].get(measure) or photo["overlay_blobs"].get("canonical")
    if blob_id:
        data = clinic.assessments.overlay_bytes(principal, record.assessment_id, blob_id)
        st.image(data, caption=f"{humanise(view)} — {HEAT_MAPS.get(measure, 'photo')}")
    if show:
        if measure == "redness":
            st.image(_legend_bar(), width="stretch")
        st.caption(LEGENDS.get(measure, ""))
    method = str((photo.get("illumination") or {}).get("method", "n/a"))
    st.caption(f"Colour corrected on: {WHITE_BALANCE_LABELS.get(method, method)}")


HEAT_MAPS = {"redness": "Redness", "spots": "Spots", "lines": "Lines"}
LEGENDS = {
    "redness": "Blue: as red as the patient's own skin · red: markedly redder than it.",
    "spots": "Yellow rings: brown spots · magenta rings: inflamed spots.",
    "lines": "Cyan: detected lines.",
}


def _legend_bar():
    import cv2
    import numpy as np

    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (12, 1))
    return cv2.applyColorMap(ramp, cv2.COLORMAP_JET)[..., ::-1]
