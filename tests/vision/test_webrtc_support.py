"""WebRTC helpers: ICE config, private frame copies, yuv420p output and the stale-context patch."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import av
import numpy as np
import pytest

from components import webrtc_support


def test_rtc_configuration_defaults_to_no_ice_servers(monkeypatch):
    monkeypatch.delenv("CLINIC_ICE_SERVERS", raising=False)
    assert webrtc_support.rtc_configuration() == {"iceServers": []}
    monkeypatch.setenv("CLINIC_ICE_SERVERS", '[{"urls": ["stun:stun.clinic.example:3478"]}]')
    assert webrtc_support.rtc_configuration()["iceServers"][0]["urls"] == ["stun:stun.clinic.example:3478"]


def test_frame_to_bgr_is_a_private_copy():
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    first = webrtc_support.frame_to_bgr(frame)
    first[:] = 0  # drawing on our copy must not change what other viewers get
    second = webrtc_support.frame_to_bgr(frame)
    assert np.array_equal(second, image)
    assert first.flags.writeable and not np.shares_memory(first, second)


def test_bgr_to_frame_returns_yuv420p_with_timing():
    like = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="bgr24")
    like.pts = 1234
    from fractions import Fraction

    like.time_base = Fraction(1, 90000)
    image = np.full((48, 64, 3), (30, 120, 200), np.uint8)
    frame = webrtc_support.bgr_to_frame(image, like)
    assert frame.format.name == "yuv420p" and (frame.width, frame.height) == (64, 48)
    assert frame.pts == 1234 and frame.time_base == Fraction(1, 90000)
    back = frame.to_ndarray(format="bgr24")
    assert np.abs(back.astype(int) - image.astype(int)).mean() < 6
    odd = webrtc_support.bgr_to_frame(np.zeros((47, 63, 3), np.uint8))
    assert (odd.width, odd.height) == (62, 46)


def test_library_internals_the_patch_relies_on_are_unchanged():
    """Fails when streamlit-webrtc changes the code the trap-1 workaround patches: re-check it."""
    from streamlit_webrtc import component

    patched = component._get_or_create_context
    assert getattr(patched, webrtc_support._PATCH_MARKER, False), "patch not installed"
    source = inspect.getsource(patched.__wrapped_original__)
    assert "_last_rendered_run_count" in source and "_reset_context" in source
    assert "current_run_count > context._last_rendered_run_count + 1" in source
    assert "context = _get_or_create_context(key)" in inspect.getsource(component)


@pytest.fixture
def fake_streamlit_session(monkeypatch):
    from streamlit_webrtc import component

    state: dict = {}
    resets: list = []
    monkeypatch.setattr(component, "st", SimpleNamespace(session_state=state))
    monkeypatch.setattr(component, "get_this_session_info", lambda: object())
    monkeypatch.setattr(component, "get_script_run_count", lambda info: 10)
    monkeypatch.setattr(component, "_reset_context", lambda context: resets.append(context))
    return component, state, resets


def test_patch_prevents_the_racy_reset(fake_streamlit_session):
    component, state, resets = fake_streamlit_session
    context = component.WebRtcStreamerContext(
        worker=None, state=component.WebRtcStreamerState(playing=True, signalling=False)
    )
    context._last_rendered_run_count = 3  # looks "not rendered for 6 runs" to the library
    state["stream"] = context
    assert component._get_or_create_context("stream") is context
    assert resets == [] and context._last_rendered_run_count == 10
    # Without the patch the library would have reset the live stream:
    context._last_rendered_run_count = 3
    component._get_or_create_context.__wrapped_original__("stream")
    assert resets == [context]
    assert webrtc_support.install_stale_context_patch() is True  # idempotent
