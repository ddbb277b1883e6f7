"""Shared streamlit-webrtc glue: ICE configuration, safe frame conversion, one library patch.

Importing this module installs (once) a workaround for a race in streamlit-webrtc 0.79:

    streamlit-webrtc 0.79 resets a context it believes "was not rendered for N script runs"
    (`component._get_or_create_context` compares `session_info.script_run_count`, which another
    thread updates). On fresh starts that race kills the new stream ("Stopping worker during
    context reset"). The check exists only to clean up after a multi-page switch, so before the
    library looks at a context we clear its `_last_rendered_run_count`; the library sets it again
    right after. Cost: after switching pages and coming back, press Start again if the stream
    does not resume. tests/vision/test_webrtc_support.py fails if the patched internals change.

Frames (traps 2 and 3): `frame_to_bgr` always returns a private copy (a bgr24 frame's ndarray is
a view shared with every other consumer of a relayed track); `bgr_to_frame` returns a new
yuv420p frame converted by a private `VideoReformatter`, so encoders never convert a shared frame.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

_PATCH_MARKER = "_clinic_stale_context_patch"
_patch_lock = threading.Lock()


def rtc_configuration() -> dict[str, Any]:
    """`{"iceServers": [...]}` from CLINIC_ICE_SERVERS (empty list = LAN only, never Google STUN)."""
    from core.config import Settings

    return {"iceServers": list(Settings.from_env().ice_servers)}


def install_stale_context_patch() -> bool:
    """Install the trap-1 workaround; idempotent. Returns True when the patch is active."""
    from streamlit_webrtc import component

    with _patch_lock:
        original = component._get_or_create_context
        if getattr(original, _PATCH_MARKER, False):
            return True

        @functools.wraps(original)
        def get_or_create_context(key: str):
            # The library's own `st` (what it sees; tests substitute it), not re-exported by its stubs.
            session_state = component.st.session_state  # pyright: ignore[reportPrivateImportUsage]
            context = session_state.get(key) if key in session_state else None
            if context is not None and hasattr(context, "_last_rendered_run_count"):
                context._last_rendered_run_count = None  # skip the racy "stale context" reset
            return original(key)

        setattr(get_or_create_context, _PATCH_MARKER, True)
        get_or_create_context.__wrapped_original__ = original  # type: ignore[attr-defined]
        component._get_or_create_context = get_or_create_context
        return True


def frame_to_bgr(frame: av.VideoFrame) -> np.ndarray:
    """A private, writable BGR copy of a video frame (never a view into a shared frame)."""
    return np.array(frame.to_ndarray(format="bgr24"), copy=True, order="C")


_local = threading.local()


def _reformatter() -> VideoReformatter:
    # One per thread: VideoReformatter keeps a swscale context that must not be shared.
    reformatter = getattr(_local, "reformatter", None)
    if reformatter is None:
        reformatter = _local.reformatter = VideoReformatter()
    return reformatter


def bgr_to_frame(image: np.ndarray, like: av.VideoFrame | None = None) -> av.VideoFrame:
    """A new yuv420p frame from a BGR image; copies pts/time_base from `like` when given."""
    bgr = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = bgr.shape[:2]
    if width % 2 or height % 2:  # yuv420p needs even sizes
        bgr = np.ascontiguousarray(bgr[: height - height % 2, : width - width % 2])
    source = av.VideoFrame.from_ndarray(bgr, format="bgr24")
    frame = _reformatter().reformat(source, format="yuv420p")
    if like is not None:
        frame.pts = like.pts
        if like.time_base is not None:
            frame.time_base = like.time_base
    return frame


install_stale_context_patch()
