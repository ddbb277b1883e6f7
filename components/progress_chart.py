"""Progress chart (plotly): a metric of a region over time, treatment days marked, change vs baseline.

`build_progress_figure` is pure (testable); `render_progress_chart` adds the pickers. The chart
opens on the measures that matter for the treatment and the concern (`core.care.progress`), and
states the trend from the baseline visit from the second visit on, in the card's words and bands.
The simple version (patients) shows only the measures the physician released
(`core.care.release`: the services hand a patient nothing else), each as the change since the
first photos, and says plainly when nothing was released.
Times are shown as days in the viewer's own time zone (never UTC instants to the millisecond), and
measures and regions in the card's words ("Redness · left cheek", not "redness · cheek_left").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import plotly.graph_objects as go

from components.i18n import _, tr
from core.assessment.findings import PLAIN_NAMES, plain_value, region_words
from core.care.archive import ChartData, MetricPoint
from core.care.progress import Trend, TrendPoint, default_picks, trend

DAY_FORMAT = "%d %b %Y"


def _label(text: str) -> str:
    return text.replace("_", " ")


def measure_name(metric: str) -> str:
    return PLAIN_NAMES.get(metric, _label(metric).capitalize())


def local_times(times: list[datetime], zone: str) -> list[datetime]:
    """Aware instants as the wall-clock time in `zone`, without the zone (plotly draws naive times
    as given; an aware one would be drawn in UTC)."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return [t.astimezone(tz).replace(tzinfo=None) if t.tzinfo else t for t in times]


def change_vs_baseline(values: list[float]) -> list[float]:
    """Percent change from the first value (0 when the baseline is 0)."""
    if not values:
        return []
    base = values[0]
    return [0.0 if base == 0 else (value - base) / abs(base) * 100.0 for value in values]


def build_progress_figure(
    data: ChartData, metric: str, region: str, simple: bool = False, zone: str = "UTC"
) -> go.Figure:
    points = [p for p in data.points if p.metric == metric and p.region == region]
    times = local_times([p.measured_at for p in points], zone)
    values = [p.value for p in points]
    unit = next((p.unit for p in points if p.unit), "")
    figure = go.Figure()
    if simple:
        figure.add_trace(
            go.Scatter(
                x=times,
                y=change_vs_baseline(values),
                mode="lines+markers",
                name=_("Change"),
                hovertemplate="%{x|%d %b %Y}: %{y:+.0f}%<extra></extra>",
            )
        )
        figure.update_yaxes(title_text=_("Change since your first photos (%)"), zeroline=True)
    else:
        figure.add_trace(
            go.Scatter(
                x=times,
                y=values,
                mode="lines+markers",
                name=f"{measure_name(metric)} ({unit})".replace(" ()", ""),
                hovertemplate=f"%{{x|{DAY_FORMAT}}}: %{{y:.1f}}<extra></extra>",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=times,
                y=change_vs_baseline(values),
                mode="lines",
                name=_("change vs baseline (%)"),
                yaxis="y2",
                line={"dash": "dot"},
            )
        )
        figure.update_layout(
            yaxis={"title": {"text": f"{measure_name(metric)} {unit}".strip()}},
            yaxis2={"title": {"text": _("change vs baseline (%)")}, "overlaying": "y", "side": "right"},
        )
    for day, label in data.treatments:
        figure.add_vline(
            x=day.isoformat() if hasattr(day, "isoformat") else day, line_dash="dash", line_color="#d62728"
        )
        figure.add_annotation(
            x=day.isoformat() if hasattr(day, "isoformat") else day,
            y=1.02,
            yref="paper",
            text=_label(label),
            showarrow=False,
            font={"size": 10, "color": "#d62728"},
        )
    figure.update_layout(
        title=_("{measure} · {region}", measure=_(measure_name(metric)), region=_(region_words(region))),
        xaxis={
            "type": "date",
            "tickformat": DAY_FORMAT,
            "hoverformat": DAY_FORMAT,
            "title": {"text": _("Day")},
        },
        height=360,
        margin={"l": 40, "r": 40, "t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def series_trend(data: ChartData, metric: str, region: str) -> Trend | None:
    """The series' change from the baseline visit (None before the second visit)."""
    points = [p for p in data.points if p.metric == metric and p.region == region]
    return trend(metric, region, [TrendPoint(p.measured_at, p.value, p.score, p.band) for p in points])


def opening_series(data: ChartData) -> list[tuple[str, str]]:
    """The (measure, region) series the chart opens on: what the treatment and concern call for."""
    available = sorted({(p.metric, p.region) for p in data.points})
    first: dict[tuple[str, str], MetricPoint] = {}
    for point in sorted(data.points, key=lambda p: p.measured_at):
        first.setdefault((point.metric, point.region), point)
    scores = {pair: p.score for pair, p in first.items() if p.score is not None}
    picks = default_picks(available, data.treated, data.concerns, scores)
    return [(pick.metric, pick.region) for pick in picks]


def _shown(point: TrendPoint, metric: str) -> str:
    """A value in the card's words (degrees, percent of area, counts, 0-100 indices)."""
    return plain_value({"metric": metric, "value": point.value, "score": point.score, "band": point.band})


def trend_words(found: Trend, zone: str, simple: bool) -> str:
    """The trend as a sentence: for physicians with the values and bands, for patients the change."""
    series = _(
        "{measure} · {region}", measure=_(measure_name(found.metric)), region=_(region_words(found.region))
    )
    percent = None if found.relative is None else tr().percent(abs(found.relative))
    if simple:
        if found.direction == "same":
            return _("{series}: about the same as in your first photos.", series=series)
        if found.direction == "lower":
            return _("{series}: {percent} lower than in your first photos.", series=series, percent=percent)
        if percent is None:
            return _("{series}: higher than in your first photos.", series=series)
        return _("{series}: {percent} higher than in your first photos.", series=series, percent=percent)
    day = local_times([found.last.measured_at], zone)[0].strftime(DAY_FORMAT)
    values = {
        "series": series,
        "first": _shown(found.first, found.metric),
        "first_band": _(found.first.band or "n/a"),
        "last": _shown(found.last, found.metric),
        "last_band": _(found.last.band or "n/a"),
        "day": day,
        "visits": found.visits,
        "percent": percent,
    }
    if found.direction == "same":
        return _(
            "{series}: {first} ({first_band}) at the first visit, {last} ({last_band}) on {day}:"
            " about the same over {visits} visits.",
            **values,
        )
    if percent is None:
        return _(
            "{series}: {first} ({first_band}) at the first visit, {last} ({last_band}) on {day}:"
            " higher over {visits} visits.",
            **values,
        )
    if found.direction == "lower":
        return _(
            "{series}: {first} ({first_band}) at the first visit, {last} ({last_band}) on {day}:"
            " {percent} lower over {visits} visits.",
            **values,
        )
    return _(
        "{series}: {first} ({first_band}) at the first visit, {last} ({last_band}) on {day}:"
        " {percent} higher over {visits} visits.",
        **values,
    )


def render_progress_chart(
    clinic: Any, principal: Any, patient_id: str, key: str, simple: bool = False
) -> None:
    """The physician's chart (simple=False) or the patient's "My progress" (simple=True)."""
    import streamlit as st

    data = clinic.archive.metric_series(principal, patient_id)  # a patient: released measures only
    zone = getattr(principal, "timezone", None) or clinic.settings.clinic_timezone
    if not data.points:
        if simple:
            st.info(
                _(
                    "Your physician has not shared any measurements with you yet. The photo"
                    " measurements are a tool for your physician; if they help you follow your"
                    " progress, your physician will share them here."
                )
            )
        else:
            st.caption(
                _("No measurements yet: the progress chart appears after the first AI pre-assessment.")
            )
        return
    options = sorted({(p.metric, p.region) for p in data.points})
    label = lambda option: _(  # noqa: E731
        "{measure} · {region}", measure=_(measure_name(option[0])), region=_(region_words(option[1]))
    )
    if simple:
        st.caption(
            _("The measurements your physician shared with you, as the change since your first photos.")
        )
        chosen = options
    else:
        chosen = st.multiselect(
            _("Measurements"),
            options,
            default=opening_series(data) or options[:1],
            format_func=label,
            key=f"{key}_metrics",
            help=_("The chart opens on the measures the treatment and the patient's concern call for."),
        )
    for metric, region in chosen:
        series = ChartData(
            [p for p in data.points if p.metric == metric and p.region == region], data.treatments
        )
        found = series_trend(series, metric, region)
        if found is None:
            st.caption(
                _(
                    "{series}: one visit so far; the trend shows from the second visit on.",
                    series=label((metric, region)),
                )
            )
        else:
            st.markdown(trend_words(found, zone, simple))
        st.plotly_chart(
            build_progress_figure(series, metric, region, simple, zone),
            key=f"{key}_chart_{metric}_{region}",
            width="stretch",
        )
