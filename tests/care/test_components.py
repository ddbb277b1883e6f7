"""Pure parts of the before/after and progress-chart components."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import cv2
import numpy as np
import pytest

from components.before_after import prepare_pair, slider_html
from components.progress_chart import build_progress_figure, change_vs_baseline
from core.care.archive import ChartData, MetricPoint


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def test_prepare_pair_aligns_a_scaled_copy(face_photo_bgr, landmark_detector) -> None:
    height, width = face_photo_bgr.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 6, 0.85)
    moved = cv2.warpAffine(face_photo_bgr, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    pair = prepare_pair(jpeg(face_photo_bgr), jpeg(moved), detector=landmark_detector)
    assert pair.aligned and pair.note is None
    before = cv2.imdecode(np.frombuffer(pair.before_jpeg, np.uint8), cv2.IMREAD_COLOR)
    after = cv2.imdecode(np.frombuffer(pair.after_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert before.shape == after.shape
    # Aligned: the aligned after photo is much closer to the before photo than the raw copy was.
    small = (200, 240)
    raw_diff = np.abs(
        cv2.resize(face_photo_bgr, small).astype(int) - cv2.resize(moved, small).astype(int)
    ).mean()
    aligned_diff = np.abs(cv2.resize(before, small).astype(int) - cv2.resize(after, small).astype(int)).mean()
    assert aligned_diff < raw_diff * 0.6


def test_prepare_pair_without_a_face_still_shows_the_photos(landmark_detector) -> None:
    blank = np.full((300, 240, 3), 120, np.uint8)
    pair = prepare_pair(jpeg(blank), jpeg(np.full((600, 480, 3), 90, np.uint8)), detector=landmark_detector)
    assert not pair.aligned and "Not aligned" in (pair.note or "")
    shapes = [
        cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR).shape
        for b in (pair.before_jpeg, pair.after_jpeg)
    ]
    assert shapes[0] == shapes[1]


def test_slider_html_embeds_both_images_and_escapes_labels() -> None:
    html = slider_html(b"before-bytes", b"after-bytes", ("Before <1>", "After"))
    assert (
        base64.b64encode(b"before-bytes").decode() in html
        and base64.b64encode(b"after-bytes").decode() in html
    )
    assert 'type="range"' in html and "Before &lt;1&gt;" in html and "<1>" not in html


def test_change_vs_baseline() -> None:
    assert change_vs_baseline([50.0, 40.0, 55.0]) == pytest.approx([0.0, -20.0, 10.0])
    assert change_vs_baseline([0.0, 3.0]) == [0.0, 0.0]
    assert change_vs_baseline([]) == []


def _data() -> ChartData:
    points = [
        MetricPoint(
            datetime(2027, 1, d, tzinfo=UTC), "redness", "left_cheek", None, v, "a*", None, None, "c1", None
        )
        for d, v in ((1, 20.0), (15, 16.0), (28, 12.0))
    ] + [
        MetricPoint(
            datetime(2027, 1, 2, tzinfo=UTC), "texture", "forehead", None, 3.0, None, None, None, "c1", None
        )
    ]
    return ChartData(points, [(date(2027, 1, 5), "filler (cheeks)")])


def test_progress_figure_marks_treatments_and_change() -> None:
    figure = build_progress_figure(_data(), "redness", "left_cheek")
    assert [len(trace.y) for trace in figure.data] == [
        3,
        3,
    ]  # values + change vs baseline, other metric left out
    assert list(figure.data[1].y) == pytest.approx([0.0, -20.0, -40.0])
    assert len(figure.layout.shapes) == 1  # the treatment day
    assert "filler" in figure.layout.annotations[0].text


def test_progress_figure_shows_local_days_and_plain_words() -> None:
    # 23:30 UTC on 31 Dec is already 1 January in Amsterdam: the viewer's own day is shown.
    late = MetricPoint(
        datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
        "redness",
        "left_cheek",
        None,
        21.0,
        "a*",
        None,
        None,
        "c1",
        None,
    )
    data = ChartData([late, *_data().points], [])
    figure = build_progress_figure(data, "redness", "left_cheek", zone="Europe/Amsterdam")
    first = figure.data[0].x[0]
    assert first.tzinfo is None and (first.year, first.month, first.day, first.hour) == (2027, 1, 1, 0)
    assert figure.layout.xaxis.tickformat == "%d %b %Y"  # days, not UTC instants in milliseconds
    assert figure.layout.title.text == "Redness · left cheek"


def test_simple_progress_figure_for_patients() -> None:
    figure = build_progress_figure(_data(), "redness", "left_cheek", simple=True)
    assert len(figure.data) == 1 and list(figure.data[0].y) == pytest.approx([0.0, -20.0, -40.0])
