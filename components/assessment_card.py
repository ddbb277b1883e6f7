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

from components.i18n import N_, _, tr
from components.layout import format_when
from components.session import session_fragment
from core.i18n import upper_first

BAND_COLOURS = {"minimal": "green", "mild": "blue", "moderate": "orange", "marked": "red"}
WHITE_BALANCE_LABELS = {
    "case_sclera": N_("eye whites of this consultation's photos"),
    "case_pooled": N_("this consultation's pooled white reference"),
    "sclera": N_("this photo's own eye white"),
    "teeth": N_("this photo's teeth"),
    "background": N_("the white/grey background"),
    "exposure_only": N_("nothing (no neutral reference in the photo): colours uncorrected"),
    "colour_chart": N_("colour chart in the photo (calibrated)"),
    "off": N_("off"),
}
# The skin-tone anchors the engine records per photo (illumination.skin_tone_anchor).
ANCHOR_WORDS = {
    "colour chart": N_("colour chart"),
    "colour_chart": N_("colour chart"),
    "sclera": N_("eye white"),
    "eye white": N_("eye white"),
    "teeth": N_("teeth"),
    "background": N_("background"),
    "consultation": N_("eye whites and teeth of this consultation's photos"),
}
STATUS_WORDS = {"queued": N_("Assessment queued …"), "running": N_("Assessment running …")}


def render_assessment_section(clinic, principal, case_id: str) -> None:
    service = getattr(clinic, "assessments", None)
    if service is None:
        st.info(_("AI pre-assessment is not available on this server."))
        return
    _assessment_fragment(clinic, principal, case_id)


@st.fragment
def _assessment_fragment(clinic, principal, case_id: str) -> None:
    from core.access import AccessDenied

    service = clinic.assessments
    try:
        # Each visit (the first photos, each check-in) has its own assessment; one is shown.
        checkin_id = _visit_picker(service.visits_for_case(principal, case_id), case_id)
        record = service.latest_for_case(principal, case_id, checkin_id)
    except AccessDenied:
        st.error(_("Only physicians can see the AI pre-assessment."))
        return
    header, action = st.columns([4, 1])
    with header:
        st.header(_("AI pre-assessment"))
        st.caption(_("Automated photo measurements to support your review — not a diagnosis."))
    with action:
        busy = record is not None and record.status in {"queued", "running"}
        if st.button(_("Run again"), key=f"assess_rerun_{case_id}", icon=":material/refresh:", disabled=busy):
            service.run_for_case(principal, case_id, background=True, checkin_id=checkin_id)
            st.rerun(scope="fragment")

    if record is None:
        st.info(_("No assessment yet for this case. Use **Run again** to start one."))
        return
    if record.status in {"queued", "running"}:
        with st.status(_(STATUS_WORDS[record.status]), expanded=False, state="running"):
            st.write(_("Measuring the photos in the background; this page updates by itself."))
        _poll_until_done(clinic, principal, case_id, checkin_id)
        return
    if record.status == "failed":
        st.error(
            _(
                "The last assessment failed: {error}",
                error=_(record.error) if record.error else _("unknown error"),
            )
        )

        return
    _render_report(clinic, principal, record)


def _visit_picker(visits, case_id: str) -> str | None:
    """Which visit's assessment to show (None: the first photos); a choice only from the second visit on."""
    from components.i18n import _

    if len(visits) < 2:
        return None
    chosen = st.radio(
        _("Visit"),
        visits,
        format_func=lambda v: _("First photos") if v.is_baseline else v.label,
        horizontal=True,
        key=f"assess_visit_{case_id}",
        help=_("Each visit is measured on its own; Run again re-runs only the visit shown."),
    )
    return None if chosen is None else chosen.checkin_id


@session_fragment(run_every=2.0)  # each poll re-checks the session: an idle page logs out
def _poll_until_done(clinic, principal, case_id: str, checkin_id: str | None = None) -> None:
    # Status only: no patient data, audited once per case (not a row every 2 s).
    status = clinic.assessments.status_for_case(principal, case_id, checkin_id)
    if status is not None and status not in {"queued", "running"}:
        st.rerun()


def _render_report(clinic, principal, record) -> None:
    from core.assessment.findings import band_words, case_reliability, key_findings, summary_words, view_words

    t = tr()
    report = record.report or {}
    engine = report.get("engine", {})
    st.markdown(summary_words(report, t))
    metrics = report.get("metrics", [])
    findings = key_findings(metrics, _concerns(clinic, principal, record), t)

    photo_column, findings_column = st.columns([1, 1])
    with photo_column:
        _photo_with_heat_map(clinic, principal, record, report)
    with findings_column:
        st.markdown("### " + _("Key findings"))
        if not findings:
            st.info(_("Nothing measurable stood out."))
        for finding in findings:
            colour = BAND_COLOURS.get(finding["band"], "gray")
            badge = f":{colour}-badge[{band_words(finding['band'], t)}]"
            if finding["comparison"]:
                line = _(
                    "**{finding}** {badge} — {comparison}",
                    finding=finding["text"],
                    badge=badge,
                    comparison=finding["comparison"],
                )
            else:
                line = _("**{finding}** {badge}", finding=finding["text"], badge=badge)
            st.markdown(line)
        st.markdown(_skin_tone_line(report))
        caveats = case_reliability(report, t)
        if caveats:
            st.caption(_("**Reliability for this case.** {caveats}", caveats=" ".join(caveats)))

    _render_flags_and_suggestions(report)
    for item in report.get("not_assessed", []):
        st.warning(
            _(
                "{view} photo not measured: {reason}",
                view=upper_first(view_words(item.get("view"), t)),
                reason=_(item.get("reason") or ""),
            )
        )

    with st.expander(_("Per-region detail")):
        by_region: dict[str, list[dict]] = defaultdict(list)
        for metric in metrics:
            by_region[metric["region"]].append(metric)
        if by_region:
            region = st.selectbox(
                _("Region"),
                list(by_region),
                format_func=_region_title,
                key=f"assess_region_{record.assessment_id}",
            )
            for metric in by_region.get(region or "", []):
                st.markdown(_metric_line(metric))
    st.caption(
        _(
            "Engine {version} · sha256 {digest}… · finished {when}",
            version=engine.get("version"),
            digest=str(engine.get("sha256", ""))[:12],
            when=format_when(record.finished_at, clinic.settings.clinic_timezone),
        )
    )
    st.caption(_(report.get("disclaimer", "")))


def _concerns(clinic, principal, record) -> list[str]:
    try:
        return list(clinic.cases.get_case(principal, record.case_id).intake.concerns or [])
    except Exception:  # the card still works without the intake (e.g. an erased case)
        return []


def _region_title(region: str) -> str:
    from core.assessment.findings import region_words

    return upper_first(region_words(region, tr()))


def _metric_line(metric: dict) -> str:
    from core.assessment.findings import INDEX_MEANING, band_words, measure_name, plain_value

    t = tr()
    name = metric.get("metric", "")
    band = metric.get("band", "n/a")
    colour = BAND_COLOURS.get(band, "gray")
    values = {"measure": measure_name(name, t), "value": plain_value(metric, t)}
    if name == "ita":
        return _("**{measure}**: {value}", **values)
    badge = f":{colour}-badge[{band_words(band, t)}]"
    if name in INDEX_MEANING and metric.get("score") is not None:
        return _(
            "**{measure}**: {value} {badge} _({meaning})_",
            badge=badge,
            meaning=_(INDEX_MEANING[name]),
            **values,
        )
    return _("**{measure}**: {value} {badge}", badge=badge, **values)


def _anchor_parts(illumination: dict) -> list[str]:
    """What anchored one photo's skin tone: `skin_tone_anchor_sources` when the report has it,
    else the parts of the older reports' label."""
    sources = illumination.get("skin_tone_anchor_sources")
    if sources:
        return [str(source) for source in sources]
    label = illumination.get("skin_tone_anchor")
    return str(label).split(" and ") if label else []


def _skin_tone_line(report: dict) -> str:
    from core.assessment.findings import plain_value, skin_tone_missing

    ita = next(
        (m for m in report.get("metrics", []) if m.get("metric") == "ita" and m["region"] == "face"), None
    )
    if ita is None:
        return _("**Skin tone**: not measured")
    # Each photo's anchors: the list of sources (engine 1.5.2 on), else its label, which older
    # reports combine as "eye white and teeth".
    words = sorted(
        {ANCHOR_WORDS.get(part, part) for p in report.get("photos", [])
         for part in _anchor_parts(p.get("illumination") or {})}
    )  # fmt: skip
    if ita.get("value") is None:
        return _(
            "**Skin tone**: not measurable — {reason}",
            reason=skin_tone_missing(list(ita.get("reliability") or []), tr()),
        )
    anchor_words = [_(word) for word in words]
    if not anchor_words:
        return _("**Skin tone**: {value}, light anchored on the reference", value=plain_value(ita, tr()))
    return _(
        "**Skin tone**: {value}, light anchored on the {anchors}",
        value=plain_value(ita, tr()),
        anchors=tr().join(anchor_words),
    )


def _render_flags_and_suggestions(report: dict) -> None:
    from core.assessment.findings import flag_reason, flag_title, region_words, suggestion_words, view_words

    t = tr()
    flags = report.get("flags", [])
    if flags:
        st.markdown("### " + _("Flags"))
    for flag in flags:
        icon = ":material/priority_high:" if flag.get("severity") == "action" else ":material/info:"
        with st.container(border=True):
            st.markdown(
                _(
                    "{icon} **{title}** — {reason}",
                    icon=icon,
                    title=flag_title(flag, t),
                    reason=flag_reason(flag, t),
                )
            )
            images = [base64.b64decode(b) for b in flag.get("evidence_png_base64", [])]
            if images:
                st.image(
                    images,
                    width=120,
                    caption=[_("evidence {number}", number=i + 1) for i in range(len(images))],
                    alt=[
                        _("Evidence {number}: the part of the photo behind this point.", number=i + 1)
                        for i in range(len(images))
                    ],
                )
            if flag.get("view"):
                view = upper_first(view_words(flag.get("view"), t))
                if flag.get("region"):
                    st.caption(
                        _(
                            "{view} photo, {region}",
                            view=view,
                            region=region_words(str(flag.get("region")), t),
                        )
                    )
                else:
                    st.caption(_("{view} photo", view=view))
    suggestions = report.get("suggestions", [])
    if suggestions:
        st.markdown("### " + _("Points to review"))
        for suggestion in suggestions:
            text, reason = suggestion_words(suggestion, t)
            st.markdown(_("- {text} — _{reason}_", text=text, reason=reason))


def _photo_with_heat_map(clinic, principal, record, report: dict) -> None:
    from core.assessment.findings import view_words

    photos = [p for p in report.get("photos", []) if p.get("overlay_blobs")]
    if not photos:
        st.caption(_("No measured photo to show."))
        return
    key = record.assessment_id
    views = [p["view"] for p in photos]
    view = views[0]
    if len(views) > 1:
        view = (
            st.segmented_control(
                _("Photo"),
                views,
                format_func=lambda v: upper_first(view_words(v, tr())),
                default=views[0],
                key=f"overlay_view_{key}",
            )
            or views[0]
        )
    photo = next(p for p in photos if p["view"] == view)
    show = st.toggle(_("Heat map"), value=True, key=f"overlay_on_{key}")
    measure = "canonical"
    if show:
        measure = (
            st.segmented_control(
                _("Measure"),
                list(HEAT_MAPS),
                format_func=lambda m: _(HEAT_MAPS[m]),
                default="redness",
                key=f"overlay_choice_{key}",
            )
            or "redness"
        )
    blob_id = photo["overlay_blobs"].get(measure) or photo["overlay_blobs"].get("canonical")
    if blob_id:
        data = clinic.assessments.overlay_bytes(principal, record.assessment_id, blob_id)
        caption = _(
            "{view} — {measure}",
            view=upper_first(view_words(view, tr())),
            measure=_(HEAT_MAPS[measure]) if measure in HEAT_MAPS else _("photo"),
        )
        st.image(data, caption=caption, alt=caption)
    if show:
        if measure == "redness":
            st.image(
                _legend_bar(),
                width="stretch",
                alt=_("The heat map's colour scale, from little redness to much redness."),
            )
        st.caption(_(LEGENDS[measure]) if measure in LEGENDS else "")
    method = str((photo.get("illumination") or {}).get("method", "n/a"))
    shown = _(WHITE_BALANCE_LABELS[method]) if method in WHITE_BALANCE_LABELS else method
    st.caption(_("Colour corrected on: {method}", method=shown))


HEAT_MAPS = {"redness": N_("Redness"), "spots": N_("Spots"), "lines": N_("Lines")}
LEGENDS = {
    "redness": N_("Blue: as red as the patient's own skin · red: markedly redder than it."),
    "spots": N_("Yellow rings: brown spots · magenta rings: inflamed spots."),
    "lines": N_("Cyan: detected lines."),
}


def _legend_bar():
    import cv2
    import numpy as np

    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (12, 1))
    return cv2.applyColorMap(ramp, cv2.COLORMAP_JET)[..., ::-1]
