"""One Euro filter for landmark tracks (Casiez, Roussel & Vogel, CHI 2012).

Raw per-frame landmarks jitter by a pixel or two even on a still face; drawn effects would
shimmer. The One Euro filter is a low-pass whose cut-off rises with speed: strong smoothing
when the face is still, little lag when it moves. It runs per coordinate on whole arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    min_cutoff: float = 1.0  # Hz; lower = smoother at rest
    beta: float = 0.05  # speed coefficient; higher = less lag when moving (units: 1/pixel)
    derivative_cutoff: float = 1.0  # Hz, for the speed estimate


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters an array of any fixed shape (e.g. (478, 3) landmark points) over time."""

    def __init__(self, params: OneEuroParams | None = None) -> None:
        self.params = params or OneEuroParams()
        self._previous: np.ndarray | None = None
        self._previous_speed: np.ndarray | None = None
        self._previous_time: float | None = None

    def reset(self) -> None:
        """Forget the track (call when the face is lost so the next face starts fresh)."""
        self._previous = None
        self._previous_speed = None
        self._previous_time = None

    def __call__(self, values: np.ndarray, timestamp_s: float) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if (
            self._previous is None
            or self._previous_speed is None
            or self._previous_time is None
            or self._previous.shape != values.shape
            or timestamp_s <= self._previous_time
        ):
            # First sample, new shape or a clock that did not advance: start from the sample.
            self._previous = values.copy()
            self._previous_speed = np.zeros_like(values)
            self._previous_time = timestamp_s
            return values.copy()
        dt = timestamp_s - self._previous_time
        speed = (values - self._previous) / dt
        alpha_d = _alpha(self.params.derivative_cutoff, dt)
        speed_hat = alpha_d * speed + (1.0 - alpha_d) * self._previous_speed
        cutoff = self.params.min_cutoff + self.params.beta * np.abs(speed_hat)
        alpha = _alpha(cutoff, dt)
        filtered = alpha * values + (1.0 - alpha) * self._previous
        self._previous, self._previous_speed, self._previous_time = filtered, speed_hat, timestamp_s
        return filtered.copy()
