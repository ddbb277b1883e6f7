"""Frames of the test videos in ../shared/testdata, decoded with OpenCV (BGR)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def frames_at(path: Path, indices: tuple[int, ...]) -> dict[int, np.ndarray]:
    """The frames at these indices (fewer when the video is shorter)."""
    capture = cv2.VideoCapture(str(path))
    found: dict[int, np.ndarray] = {}
    index = 0
    try:
        while len(found) < len(indices):
            ok, frame = capture.read()
            if not ok:
                break
            if index in indices:
                found[index] = frame
            index += 1
    finally:
        capture.release()
    return found


def first_frames(path: Path, count: int) -> list[np.ndarray]:
    """The first `count` frames; the video must have them."""
    found = frames_at(path, tuple(range(count)))
    assert len(found) == count, f"{path} has fewer than {count} frames"
    return [found[index] for index in range(count)]
