"""Colour calibration from a ColorChecker Classic (24 patches) held up in the photo.

When a clinic photographs a chart beside the face, the chart gives what the eye whites only
approximate: the camera's full colour response under that light. OpenCV's `mcc` module finds the
chart and `ccm` fits a colour correction matrix from its measured patches to their published
values; the photo is then measured in calibrated sRGB. The fit's mean CIEDE2000 error is kept
with the report, and a poor fit (a misread chart) is refused rather than applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

PATCH_COUNT = 24


@dataclass(frozen=True)
class ChartOptions:
    detect_max_side: int = 1280  # the detector runs on a copy no larger than this (speed)
    max_fit_error: float = 6.0  # mean CIEDE2000 of the fitted patches; above it the chart is refused


@dataclass
class ChartCalibration:
    """A fitted colour correction: `correct` maps the photo's colours to calibrated sRGB."""

    box: np.ndarray  # chart corners in source pixels (4, 2)
    patches_rgb: np.ndarray  # measured patch colours, RGB in [0, 1], (24, 3)
    fit_error: float  # mean CIEDE2000 of the patches after correction
    matrix: np.ndarray  # the colour correction matrix (linear RGB)
    _model: cv2.ccm.ColorCorrectionModel = field(repr=False)

    def correct(self, image_bgr: np.ndarray) -> np.ndarray:
        """Calibrated copy of a BGR uint8 image (OpenCV 5's `correctImage` works on BGR)."""
        corrected = self._model.correctImage(image_bgr.astype(np.float32) / 255.0)
        return (np.clip(corrected, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    def summary(self) -> dict:
        return {
            "chart": "ColorChecker Classic (24 patches)",
            "fit_error_de2000": round(self.fit_error, 2),
            "box": [[round(float(x), 1), round(float(y), 1)] for x, y in self.box],
        }


def reference_patches_bgr() -> np.ndarray:
    """The chart's published patch colours as 8-bit BGR, in reading order (24, 3)."""
    detector = cv2.mcc.CCheckerDetector.create()
    detector.setColorChartType(cv2.mcc.MCC24)
    return np.asarray(detector.getRefColors()).reshape(PATCH_COUNT, 3).astype(np.uint8)


def render_reference_chart(patch: int = 50, gap: int = 10, border: int = 16) -> np.ndarray:
    """The chart as printed (4 x 6 patches on a black frame), BGR: for tests and demonstrations."""
    reference = reference_patches_bgr()
    height, width = 4 * patch + 3 * gap + 2 * border, 6 * patch + 5 * gap + 2 * border
    chart = np.full((height, width, 3), 20, np.uint8)
    for index, colour in enumerate(reference):
        row, column = divmod(index, 6)
        y, x = border + row * (patch + gap), border + column * (patch + gap)
        chart[y : y + patch, x : x + patch] = colour
    return chart


def place_chart_beside(image_bgr: np.ndarray, chart_bgr: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The image with a grey strip on its right holding the chart, and the chart's top-left corner.

    The image's own pixels keep their coordinates, so its landmarks stay valid.
    """
    strip = np.full((image_bgr.shape[0], chart_bgr.shape[1] + 80, 3), 128, np.uint8)
    top = (image_bgr.shape[0] - chart_bgr.shape[0]) // 2
    strip[top : top + chart_bgr.shape[0], 40 : 40 + chart_bgr.shape[1]] = chart_bgr
    return np.hstack([image_bgr, strip]), (image_bgr.shape[1] + 40, top)


def find_colour_chart(image_bgr: np.ndarray, options: ChartOptions | None = None) -> ChartCalibration | None:
    """Find a ColorChecker Classic in the photo and fit a colour correction; None without one."""
    options = options or ChartOptions()
    factor = min(1.0, options.detect_max_side / max(image_bgr.shape[:2]))
    small = image_bgr
    if factor < 1.0:
        small = cv2.resize(image_bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    detector = cv2.mcc.CCheckerDetector.create()
    detector.setColorChartType(cv2.mcc.MCC24)
    if not detector.process(np.ascontiguousarray(small), 1):
        return None
    checker = detector.getBestColorChecker()
    # getChartsRGB: one row per patch and channel (R, G, B), columns (pixels, mean, sd, max, min).
    charts = np.asarray(checker.getChartsRGB(), dtype=np.float64)
    if charts.shape[0] != PATCH_COUNT * 3:
        return None
    patches = charts[:, 1].reshape(PATCH_COUNT, 3) / 255.0
    model = cv2.ccm.ColorCorrectionModel(patches.reshape(PATCH_COUNT, 1, 3), cv2.ccm.COLORCHECKER_MACBETH)
    model.setColorSpace(cv2.ccm.COLOR_SPACE_SRGB)
    model.setCcmType(cv2.ccm.CCM_LINEAR)
    model.setDistance(cv2.ccm.DISTANCE_CIE2000)
    model.setLinearization(cv2.ccm.LINEARIZATION_GAMMA)
    model.setLinearizationGamma(2.2)
    try:
        matrix = np.asarray(model.compute())
    except cv2.error:
        return None
    fit_error = float(model.getLoss())
    if not np.isfinite(fit_error) or fit_error > options.max_fit_error:
        return None
    box = np.asarray(checker.getBox(), dtype=np.float64) / factor
    return ChartCalibration(box, patches, fit_error, matrix, model)
