"""A 30 fps fake camera for Chromium from the real face video in ../shared/testdata.

The testdata's ready-made .y4m runs at 10 fps, too slow to show whether a call holds 24+ fps.
`face_camera_y4m()` converts the 23.976 fps MP4 to a 30 fps Y4M (frames repeated on the 30 fps
clock) once per machine, in the system's temp folder, never in the repository. With `stamp=True`
each frame carries its number as 16 black/white 16x16 blocks in the top-left corner (bit 0 at
the left, from x=8, y=8): the call widget reads it where it is displayed, which gives
glass-to-glass latency between two browsers (benchmarks/bench_live_consult.py).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from core.paths import shared_testdata_dir

SOURCE_VIDEO = shared_testdata_dir() / "video" / "face_closeup_pexels_640x480.mp4"
STAMP_BITS = 16
STAMP_BLOCK = 16
STAMP_ORIGIN = 8


def stamp_frame_number(y_plane: np.ndarray, u_plane: np.ndarray, v_plane: np.ndarray, number: int) -> None:
    """Draw `number` into a frame's planes in place (white = 1, black = 0, no colour)."""
    top = STAMP_ORIGIN
    for bit in range(STAMP_BITS):
        left = STAMP_ORIGIN + bit * STAMP_BLOCK
        y_plane[top : top + STAMP_BLOCK, left : left + STAMP_BLOCK] = 235 if number >> bit & 1 else 16
        half = slice(top // 2, (top + STAMP_BLOCK) // 2), slice(left // 2, (left + STAMP_BLOCK) // 2)
        u_plane[half] = 128
        v_plane[half] = 128


def read_frame_number(y_plane: np.ndarray) -> int:
    """The number `stamp_frame_number` drew (the centre of each block decides its bit)."""
    centre = STAMP_ORIGIN + STAMP_BLOCK // 2
    number = 0
    for bit in range(STAMP_BITS):
        if y_plane[centre, STAMP_ORIGIN + bit * STAMP_BLOCK + STAMP_BLOCK // 2] > 128:
            number |= 1 << bit
    return number


def face_camera_y4m(fps: int = 30, stamp: bool = False, source: Path = SOURCE_VIDEO) -> Path:
    """Path of the converted video (made on first use, reused after); FileNotFoundError without testdata."""
    import av

    if not source.is_file():
        raise FileNotFoundError(f"{source} is absent (../shared/testdata not available)")
    folder = Path(tempfile.gettempdir()) / "clinic-fake-camera"
    folder.mkdir(exist_ok=True)
    target = folder / f"{source.stem}_{fps}fps{'_stamped' if stamp else ''}_{int(source.stat().st_mtime)}.y4m"
    if target.is_file():
        return target
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="yuv420p") for frame in container.decode(stream)]
        source_fps = float(stream.average_rate or 24)
    height = frames[0].shape[0] * 2 // 3
    width = frames[0].shape[1]
    count = int(round(len(frames) / source_fps * fps))
    partial = target.with_suffix(f".{os.getpid()}.part")
    with partial.open("wb") as sink:
        sink.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for index in range(count):
            planar = frames[min(len(frames) - 1, int(index * source_fps / fps))].copy()
            y_plane = planar[:height]
            chroma = planar[height:].reshape(2, height // 2, width // 2)
            if stamp:
                stamp_frame_number(y_plane, chroma[0], chroma[1], index)
            sink.write(b"FRAME\n")
            sink.write(y_plane.tobytes())
            sink.write(chroma.tobytes())
    partial.replace(target)
    return target
