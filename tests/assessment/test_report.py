"""Case merge, the report JSON contract, the quality gate, close-ups and overlays."""

from __future__ import annotations

import json

import cv2
import numpy as np

from core.assessment.engine import PhotoInput, assess_case, assess_photo
from core.assessment.overlays import OVERLAYS
from core.assessment.report import DISCLAIMER, REPORT_SCHEMA
from core.assessment.service import _quality
from core.vision.quality import QualityCheck, QualityResult, check_photo

from .conftest import FAST, ita_of

METRIC_KEYS = {
    "region",
    "metric",
    "value",
    "unit",
    "score",
    "band",
    "reliability",
    "details",
    "source",
    "views",
}


def _measured(metric) -> float:
    return ita_of(metric) if metric.metric == "ita" else metric.value


def _blurred_and_far(face_photo_bgr: np.ndarray) -> np.ndarray:
    """The face small in the frame and out of focus: the gate fails it on distance and sharpness."""
    small = cv2.resize(face_photo_bgr, (205, 246), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), 3)


def _warned_lighting(view: str) -> QualityResult:
    instruction = "Face a window or a lamp so both sides of your face are evenly lit."
    return QualityResult(
        "warn", view, [QualityCheck("lighting", "warn", 0.6, 0.7, instruction)], None, [], None
    )


def test_case_report_contract(face_photo_bgr, face_points, baseline):
    failed = check_photo(_blurred_and_far(face_photo_bgr), "right_oblique")
    assert failed.verdict == "fail"
    case = assess_case(
        [
            baseline,
            PhotoInput(
                face_photo_bgr, "left_oblique", "p-left", face_points, _warned_lighting("left_oblique")
            ),
            PhotoInput(face_photo_bgr, "right_oblique", "p-right", face_points, failed),
        ],
        FAST,
    )
    report = json.loads(json.dumps(case.to_report()))  # JSON-serialisable, no numpy left
    assert report["schema"] == REPORT_SCHEMA
    assert report["disclaimer"] == DISCLAIMER and "not a diagnosis" in report["disclaimer"]
    assert (
        set(report["engine"]) >= {"version", "sha256", "filterbank"} and len(report["engine"]["sha256"]) == 64
    )
    assert report["models"][0]["name"] == "skin_filterbank" and len(report["models"][0]["sha256"]) == 64
    assert [i["status"] for i in report["inputs"]] == ["assessed", "assessed", "not_assessed"]
    reason = "; ".join(dict.fromkeys(check.instruction for check in failed.failing))
    assert report["not_assessed"] == [{"photo_id": "p-right", "view": "right_oblique", "reason": reason}]
    retake = [f for f in report["flags"] if f["code"] == "retake"]
    assert retake and "right_oblique" in retake[0]["reason"]
    assert report["summary"] and "2 of 3 photos measured" in report["summary"]

    metrics = report["metrics"]
    assert metrics and all(set(m) >= METRIC_KEYS for m in metrics)
    names = {m["metric"] for m in metrics}
    assert {"ita", "redness", "red_area", "inflammatory_spots", "melanin", "brown_spots", "tone_evenness",
            "wrinkles", "texture", "pores", "shine", "under_eye", "symmetry"} <= names  # fmt: skip
    for m in metrics:
        assert m["score"] is None or 0 <= m["score"] <= 100
        assert m["band"] in {"minimal", "mild", "moderate", "marked", "n/a"} or m["metric"] == "ita"
    redness = next(m for m in metrics if m["metric"] == "redness" and m["region"] == "cheek_left")
    assert redness["views"] == ["front", "left_oblique"]
    assert any("lighting warned" in note for note in redness["reliability"])
    symmetry = next(m for m in metrics if m["metric"] == "symmetry")
    assert "measured on one view" in symmetry["reliability"]  # front only
    ita = next(m for m in metrics if m["metric"] == "ita" and m["region"] == "face")
    # No exposure anchor on the demo face: the report says so instead of naming a category.
    assert ita["band"] in {"very light", "light", "intermediate", "tan", "brown", "dark", "not measurable"}


def test_failed_quality_photo_is_not_measured(face_photo_bgr):
    verdict_only = QualityResult("fail", "front", [], None, [], None)
    result = assess_photo(face_photo_bgr, "front", quality=verdict_only, options=FAST)
    assert result.status == "not_assessed" and not result.metrics
    assert result.flags[0].code == "retake" and result.reason == "photo failed the quality check"


def test_a_photo_the_gate_failed_is_reported_with_its_instructions_not_check_names(face_photo_bgr):
    """Through the real gate and its stored JSON, as the service reads it back."""
    image = _blurred_and_far(face_photo_bgr)
    gate = check_photo(image, "front")
    assert {"distance", "sharpness"} <= {check.name for check in gate.failing}
    stored = _quality(image, "front", gate.verdict, gate.to_json())
    report = assess_case([PhotoInput(image, "front", "p1", None, stored)], FAST).to_report()

    reason = report["not_assessed"][0]["reason"]
    for check in gate.failing:
        assert check.instruction and check.instruction in reason
        assert check.name not in reason
    assert "Move the camera closer" in reason and "blurry" in reason
    assert reason in report["summary"]
    retake = next(flag for flag in report["flags"] if flag["code"] == "retake")
    assert reason in retake["reason"]


def test_close_up_is_measured_as_one_skin_region(face_photo_bgr):
    patch = np.ascontiguousarray(face_photo_bgr[450:700, 250:550])  # cheek/nose skin, no full face
    result = assess_photo(patch, "close_up", options=FAST)
    assert result.status == "assessed"
    assert {m.region for m in result.metrics} == {"skin"}
    assert {"redness", "inflammatory_spots", "texture", "ita"} <= {m.metric for m in result.metrics}
    assert any("close-up" in note for m in result.metrics for note in m.reliability)


def test_no_face_is_a_retake(face_photo_bgr):
    blank = np.full((480, 640, 3), 128, np.uint8)
    result = assess_photo(blank, "front", options=FAST)
    assert result.status == "not_assessed" and result.flags[0].code == "retake"


def test_overlays_are_bgr_images_that_show_findings(baseline):
    for name, render in OVERLAYS.items():
        image = render(baseline)
        assert image.shape == baseline.canonical_bgr.shape and image.dtype == np.uint8, name
    assert baseline.spots, "the astronaut's skin has measured spots"
    assert not np.array_equal(OVERLAYS["spots"](baseline), baseline.canonical_bgr)
    assert not np.array_equal(OVERLAYS["redness"](baseline), baseline.canonical_bgr)


def test_large_very_dark_spot_is_flagged_for_dermoscopy_with_evidence(face_photo_bgr, face_points, baseline):
    from core.assessment.engine import AssessmentOptions

    from .conftest import region_centre, to_source

    centre, scale = to_source(face_points, region_centre(baseline, "cheek_left"))
    image = face_photo_bgr.copy()
    axes = (int(8 * scale), int(6 * scale))
    cv2.ellipse(
        image, tuple(np.round(centre[0]).astype(int)), axes, 20, 0, 360, (25, 35, 55), -1, cv2.LINE_AA
    )
    result = assess_photo(image, "front", face_points, options=AssessmentOptions(run_registry=False))
    flags = [f for f in result.flags if f.code == "dermoscopy"]
    assert flags and flags[0].region == "cheek_left"
    assert flags[0].evidence and flags[0].evidence[0].ndim == 3
    assert "In-person dermoscopy" in flags[0].title


def test_a_large_photo_measures_like_the_same_photo_at_working_size(face_photo_bgr, face_points, baseline):
    """A 12 MP-class photo is shrunk by area averaging before the warp: same colours, no aliasing."""
    factor = 3.0
    large = cv2.resize(face_photo_bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    points = np.asarray(face_points, np.float64).copy()
    points[:, :2] = (points[:, :2] + 0.5) * factor - 0.5
    result = assess_photo(large, "front", points, options=FAST)
    assert result.illumination["source_scale"] < 0.7  # the shrinking path
    # 1.5.0: colour is read at the anchor's exposure, where ITA near 45 deg moves ~2 deg per L*
    # (twice as much as at the face's brighter own exposure) and the anchor's white level moves by
    # about 1 % between the two resampling paths.
    for metric, region, tolerance in (("ita", "face", 2.5), ("redness", "cheek_left", 0.3),
                                      ("melanin", "forehead", 1.2), ("texture", "cheek_left", 0.05)):  # fmt: skip
        gap = abs(_measured(result.metric(metric, region)) - _measured(baseline.metric(metric, region)))
        assert gap < tolerance, (metric, region, gap)
