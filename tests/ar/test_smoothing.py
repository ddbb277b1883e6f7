"""One Euro filter: less jitter at rest, follows a step, forgets the track on reset."""

from __future__ import annotations

import numpy as np

from core.ar.smoothing import OneEuroFilter, OneEuroParams


def _run(filt: OneEuroFilter, track: np.ndarray, fps: float = 30.0) -> np.ndarray:
    return np.stack([filt(sample, i / fps) for i, sample in enumerate(track)])


def test_reduces_jitter_on_a_noisy_stationary_track() -> None:
    rng = np.random.default_rng(1)
    truth = np.full((300, 478, 2), 200.0)
    noisy = truth + rng.normal(0, 1.5, truth.shape)
    filtered = _run(OneEuroFilter(), noisy)
    # Frame-to-frame motion (what the eye sees as shimmer) after the first second.
    raw_jitter = np.abs(np.diff(noisy[30:], axis=0)).mean()
    smooth_jitter = np.abs(np.diff(filtered[30:], axis=0)).mean()
    assert smooth_jitter < raw_jitter * 0.4
    assert np.abs(filtered[30:] - truth[30:]).mean() < np.abs(noisy[30:] - truth[30:]).mean()


def test_follows_a_step_within_a_few_frames() -> None:
    track = np.concatenate([np.zeros((30, 1)), np.full((30, 1), 50.0)])
    filtered = _run(OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.05)), track)
    assert filtered[29, 0] == 0.0
    assert 0.0 < filtered[30, 0] < 50.0  # it smooths, so not instantly
    assert abs(filtered[40, 0] - 50.0) < 2.5  # but catches up within ~1/3 s
    assert abs(filtered[-1, 0] - 50.0) < 0.5


def test_reset_starts_from_the_next_sample() -> None:
    filt = OneEuroFilter()
    filt(np.zeros(3), 0.0)
    filt(np.zeros(3), 0.033)
    filt.reset()
    out = filt(np.full(3, 100.0), 0.066)
    np.testing.assert_array_equal(out, np.full(3, 100.0))


def test_non_advancing_clock_does_not_divide_by_zero() -> None:
    filt = OneEuroFilter()
    filt(np.zeros(2), 1.0)
    out = filt(np.ones(2), 1.0)
    assert np.isfinite(out).all()
