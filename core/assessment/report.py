"""What an assessment produces: per-photo and per-case results and their report JSON.

The report (`CaseAssessment.to_report`, schema `REPORT_SCHEMA`) is what the service stores and
the physician's card reads; the numpy fields of a `PhotoAssessment` (canonical photo, masks) feed
the overlays and are never serialised.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.assessment.metrics import Spot
from core.vocabulary import FlagCode

REPORT_SCHEMA = "clinic.assessment/1"
DISCLAIMER = (
    "Automated photo measurements to support the physician's review. They describe what the photos "
    "show (colour, lines, spots, texture) under the photo's own lighting and are not a diagnosis. "
    "Scores are relative measures, not clinically validated grades; the physician decides."
)
CLOSE_UP_REGION = "skin"  # a close-up is measured as one region
_CLOSE_UP_VIEWS = {"close_up", "closeup", "close-up"}


def is_close_up(view: str) -> bool:
    return view.lower() in _CLOSE_UP_VIEWS


def is_front(view: str) -> bool:
    lowered = view.lower()
    return not any(word in lowered for word in ("left", "right", "profile", "oblique"))


@dataclass
class Metric:
    region: str
    metric: str
    value: float
    unit: str
    score: float
    band: str
    reliability: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    source: str = "skin_filterbank"
    views: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "region": self.region,
            "metric": self.metric,
            "value": rounded(self.value),
            "unit": self.unit,
            "score": rounded(self.score),
            "band": self.band,
            "reliability": list(self.reliability),
            "details": self.details,
            "source": self.source,
            "views": list(self.views),
        }


@dataclass
class Flag:
    code: FlagCode
    title: str
    reason: str
    severity: str = "attention"  # attention | action
    region: str | None = None
    photo_id: str | None = None
    view: str | None = None
    evidence: list[np.ndarray] = field(default_factory=list)  # BGR crops

    def as_dict(self, with_images: bool = True) -> dict:
        data = {
            "code": self.code,
            "title": self.title,
            "reason": self.reason,
            "severity": self.severity,
            "region": self.region,
            "photo_id": self.photo_id,
            "view": self.view,
            "evidence_count": len(self.evidence),
        }
        if with_images:
            data["evidence_png_base64"] = [
                base64.b64encode(png_bytes(image)).decode("ascii") for image in self.evidence
            ]
        return data


@dataclass
class PhotoAssessment:
    photo_id: str | None
    view: str
    status: str  # assessed | not_assessed
    reason: str | None = None
    quality_verdict: str | None = None
    metrics: list[Metric] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    illumination: dict = field(default_factory=dict)
    regions_source: str | None = None
    spots: list[Spot] = field(default_factory=list)
    canonical_bgr: np.ndarray | None = None
    redness_excess: np.ndarray | None = None
    skin_mask: np.ndarray | None = None
    line_mask: np.ndarray | None = None
    region_masks: dict[str, np.ndarray] = field(default_factory=dict)
    model_outputs: dict[str, dict] = field(default_factory=dict)

    def metric(self, metric: str, region: str) -> Metric | None:
        return find_metric(self.metrics, metric, region)

    def as_dict(self) -> dict:
        return {
            "photo_id": self.photo_id,
            "view": self.view,
            "status": self.status,
            "reason": self.reason,
            "quality_verdict": self.quality_verdict,
            "illumination": self.illumination,
            "regions_source": self.regions_source,
            "metrics": [m.as_dict() for m in self.metrics],
            "spots": [s.as_dict() for s in self.spots],
            "flags": [f.as_dict(with_images=False) for f in self.flags],
        }


@dataclass
class CaseAssessment:
    photos: list[PhotoAssessment]
    metrics: list[Metric]
    flags: list[Flag]
    suggestions: list[dict]
    summary: str
    engine: dict
    models: list[dict]
    created_at: str
    disclaimer: str = DISCLAIMER

    def metric(self, metric: str, region: str) -> Metric | None:
        return find_metric(self.metrics, metric, region)

    def to_report(self, with_images: bool = True) -> dict:
        return {
            "schema": REPORT_SCHEMA,
            "created_at": self.created_at,
            "engine": self.engine,
            "models": self.models,
            "disclaimer": self.disclaimer,
            "summary": self.summary,
            "inputs": [
                {
                    "photo_id": p.photo_id,
                    "view": p.view,
                    "quality_verdict": p.quality_verdict,
                    "status": p.status,
                }
                for p in self.photos
            ],
            "not_assessed": [
                {"photo_id": p.photo_id, "view": p.view, "reason": p.reason}
                for p in self.photos
                if p.status != "assessed"
            ],
            "metrics": [m.as_dict() for m in self.metrics],
            "flags": [f.as_dict(with_images=with_images) for f in self.flags],
            "suggestions": self.suggestions,
            "photos": [p.as_dict() for p in self.photos],
        }


def find_metric(metrics: Iterable[Metric], metric: str, region: str) -> Metric | None:
    return next((m for m in metrics if m.metric == metric and m.region == region), None)


def rounded(value: float | None) -> float | None:
    """A number for the JSON report: 3 decimals, None for NaN/inf (JSON has neither)."""
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), 3)


def png_bytes(image_bgr: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image_bgr)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buffer.tobytes()
