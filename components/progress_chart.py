"""Progress chart (plotly): a metric of a region over time, treatment days marked, change vs baseline.

`build_progress_figure` is pure (testable); `render_progress_chart` adds the pickers. The simple
version (patients) shows only the change since the first measurement, in words a patient reads.
Times are shown as days in the viewer's own time zone (never UTC instants to the millisecond), and
measures and regions in the card's words ("Redness · left cheek", not "redness · cheek_left").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import plotly.graph_objects as go

from core.assessment.findings import PLAIN_NAMES, region_words
from core.care.archive import ChartData

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
                name="Change",
                hovertemplate="%{x|%d %b %Y}: %{y:+.0f}%<extra></extra>",
            )
        )
        figure.update_yaxes(title_text="Change since your first photos (%)", zeroline=True)
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
                name="change vs baseline (%)",
                yaxis="y2",
                line={"dash": "dot"},
            )
        )
        figure.update_layout(
            yaxis={"title": {"text": f"{measure_name(metric)} {unit}".strip()}},
            yaxis2={"title": {"text": "change vs baseline (%)"}, "overlaying": "y", "side": "right"},
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
        title=f"{measure_name(metric)} · {region_words(region)}",
        xaxis={"type": "date", "tickformat": DAY_FORMAT, "hoverformat": DAY_FORMAT, "title": {"text": "Day"}},
        height=360,
        margin={"l": 40, "r": 40, "t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def render_progress_chart(
    clinic: Any, principal: Any, patient_id: str, key: str, simple: bool = False
) -> None:
    import streamlit as st

    archive = clinic.archive
    options = archive.available_metrics(principal, patient_id)
    if not options:
        st.caption("No measurements yet: the progress chart appears after the first AI pre-assessment.")
        return
    choice = st.selectbox(
        "Measurement",
        options,
        format_func=lambda option: f"{measure_name(option[0])} · {region_words(option[1])}",
        key=f"{key}_metric",
    )
    data = archive.metric_series(principal, patient_id, choice[0], choice[1])
    if len(data.points) < 2:
        st.caption("One measurement so far; the chart shows a trend from the second one on.")
    zone = getattr(principal, "timezone", None) or clinic.settings.clinic_timezone
    st.plotly_chart(
        build_progress_figure(data, choice[0], choice[1], simple, zone),
        key=f"{key}_chart",
        width="stretch",
    )
