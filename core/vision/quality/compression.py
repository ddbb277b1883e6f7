"""JPEG compression artefacts: the quantisation step the face's pixels still carry, read as
the encoder's quality."""

from __future__ import annotations

import math

import cv2
import numpy as np

from core.i18n import N_
from core.vision.quality.measures import _graded
from core.vision.quality.options import QualityOptions
from core.vision.quality.result import QualityCheck

_DCT8 = np.array(
    [
        [math.sqrt((1 if k == 0 else 2) / 8) * math.cos((2 * n + 1) * k * math.pi / 16) for n in range(8)]
        for k in range(8)
    ],
    np.float32,
)


# Low-frequency DCT positions (row v, column u) and their step in the JPEG standard's luminance
# table at quality 50 (ITU-T T.81 K.1): every encoder scales this table by its quality.
_JPEG_BASE_STEPS = {(0, 1): 11.0, (1, 0): 12.0, (1, 1): 12.0, (0, 2): 10.0, (2, 0): 14.0}


# Their 8x8 DCT basis images as rows (one matrix product gives the five coefficients of every block).
_DCT_BASIS = np.stack([np.outer(_DCT8[v], _DCT8[u]).ravel() for v, u in _JPEG_BASE_STEPS])


# Candidate steps, largest first, against coefficient magnitudes rounded to whole levels: which
# levels a step codes as non-zero (>= half a step) and which of those sit on one of its multiples
# (within 1 level: pixel rounding and colour conversion).
_STEPS = np.arange(120, 3, -1)


_LEVELS = np.arange(1024)


_CODED = (_LEVELS[None, :] >= _STEPS[:, None] / 2).astype(np.float64)


_ON_STEP = _CODED * (
    np.abs(_LEVELS[None, :] - _STEPS[:, None] * np.round(_LEVELS[None, :] / _STEPS[:, None])) <= 1
)


def _block_grid(gray: np.ndarray) -> tuple[int, int]:
    """(x, y) offset of the 8x8 block grid: the column/row phase with the largest mean step
    (JPEG blocks are coded apart, so their borders step; a crop shifts the grid)."""
    g = gray.astype(np.int16)
    dx = np.abs(np.diff(g[::2], axis=1)).mean(axis=0)  # every 2nd row/column: half the cost
    dy = np.abs(np.diff(g[:, ::2], axis=0)).mean(axis=1)
    ox = int(np.argmax([dx[k::8].mean() if dx[k::8].size else 0.0 for k in range(8)]))
    oy = int(np.argmax([dy[k::8].mean() if dy[k::8].size else 0.0 for k in range(8)]))
    return (ox + 1) % 8, (oy + 1) % 8


def _quantisation_step(coefficients: np.ndarray) -> float | None:
    """The largest step q such that most coefficients coded as non-zero (>= q/2) sit on multiples
    of q; None when too few are non-zero to tell. An uncompressed or resampled image has no such
    step above ~3. All candidate steps at once: two products of a histogram of the magnitudes."""
    levels = np.minimum(np.rint(np.abs(coefficients)), _LEVELS.size - 1).astype(np.int64)
    counts = np.bincount(levels, minlength=_LEVELS.size).astype(np.float64)
    counts[:3] = 0.0  # |c| <= 2: coded as zero, or noise
    nonzero = float(counts.sum())
    if nonzero < 12:
        return None
    coded, on_step = _CODED @ counts, _ON_STEP @ counts
    found = np.flatnonzero((coded >= max(8.0, 0.25 * nonzero)) & (on_step >= 0.6 * coded))
    return float(_STEPS[found[0]]) if found.size else 1.0


def _jpeg_quality(gray: np.ndarray, window: int) -> float:
    """The JPEG quality (1-100, the libjpeg scale) a luma crop was last encoded at, estimated
    from its pixels: the quantisation step of five low-frequency DCT coefficients over the 8x8
    blocks of a `window`-px centre piece, each relative to the standard table. 100 = no sign of
    coarse quantisation (a camera JPEG at q90+, a PNG, a resampled screenshot)."""
    h, w = gray.shape[:2]
    side = min(window + 8, h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    piece = gray[y0 : y0 + side, x0 : x0 + side]
    if side < 24:
        return 100.0
    # The grid is anchored to the photo, not to this piece: find its phase here.
    ox, oy = _block_grid(piece)
    piece = piece[oy:, ox:]
    bh, bw = piece.shape[0] // 8, piece.shape[1] // 8
    blocks = piece[: bh * 8, : bw * 8].astype(np.float32).reshape(bh, 8, bw, 8).swapaxes(1, 2)
    coefficients = blocks.reshape(-1, 64) @ _DCT_BASIS.T  # (blocks, 5)
    scales = []
    for index, base in enumerate(_JPEG_BASE_STEPS.values()):
        step = _quantisation_step(coefficients[:, index])
        if step is not None:
            scales.append(step / base)
    if not scales:
        # No low-frequency detail left at all: a face is never that flat unless coarsely coded.
        flat = float(np.mean(np.abs(coefficients[:, 0]) <= 2.4))
        return 5.0 if flat > 0.97 and coefficients.shape[0] >= 64 else 100.0
    scale = float(np.median(scales))
    quality = 50.0 / scale if scale > 1.0 else 100.0 - 50.0 * scale
    return float(np.clip(quality, 1.0, 100.0))


def _check_compression(image: np.ndarray, rect: tuple[int, int, int, int], o: QualityOptions) -> QualityCheck:
    """ISO/IEC 29794-5 CompressionArtifacts on the ORIGINAL pixels of the face `rect` of `image`
    (the working copy's halving would hide the 8x8 grid)."""
    x, y, w, h = rect
    crop = image[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)]
    # Only the centre piece `_jpeg_quality` reads is converted (a 12 MP face crop is ~4 MP).
    side = o.compression_window + 8
    top, left = max(0, (crop.shape[0] - side) // 2), max(0, (crop.shape[1] - side) // 2)
    crop = crop[top : top + side, left : left + side]
    if crop.ndim == 3:
        crop = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_BGR2GRAY)
    quality = _jpeg_quality(crop, o.compression_window) if crop.size else 100.0
    return _graded(
        "compression",
        quality,
        o.compression_quality_warn,
        o.compression_quality_fail,
        N_(
            "The photo is too compressed to show skin detail. Send the original photo, not a screenshot or a photo sent through a messaging app."
        ),
        higher_is_worse=False,
    )
