"""guided_capture and the live guide inside Streamlit's AppTest (no browser)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest


def _script() -> None:
    import streamlit as st

    from components.guided_capture import guided_capture

    photos = guided_capture(["front", "left_oblique", "right_oblique"], key="t", baseline=None)
    st.write(f"returned {len(photos)}")


@pytest.fixture
def no_webrtc_session(monkeypatch):
    """streamlit-webrtc needs a real browser session; AppTest has none, so its session lookup fails."""
    from streamlit_webrtc import session_info
    from streamlit_webrtc.session_info import NoSessionError

    def raise_no_session():
        raise NoSessionError()

    monkeypatch.setattr(session_info, "get_session_id", raise_no_session)


def test_guided_capture_renders_every_view_with_its_guide():
    app = AppTest.from_function(_script, default_timeout=60).run()
    assert not app.exception, app.exception
    assert len(app.radio) == 3
    assert app.radio[0].options[0] == "Upload a photo"
    assert any("returned 0" in block.value for block in app.markdown)
    # The pose instructions are real text at full contrast (not a 60%-opacity caption)
    texts = " ".join(block.value for block in app.markdown)
    assert "LEFT cheek faces the camera" in texts and "RIGHT cheek faces the camera" in texts


def test_live_guide_option_starts_a_webrtc_stream_without_ice_servers(no_webrtc_session, monkeypatch):
    monkeypatch.delenv("CLINIC_ICE_SERVERS", raising=False)
    app = AppTest.from_function(_script, default_timeout=60).run()
    app.radio[0].set_value("Live guide (takes the photo for you)").run()
    assert not app.exception, app.exception
    components = [element for element in app.get("component_instance")] or [
        element for element in app.main if type(element).__name__ == "UnknownElement"
    ]
    args = [json.loads(element.proto.json_args) for element in components if hasattr(element, "proto")]
    assert args, "no webrtc component rendered"
    assert args[0]["rtc_configuration"] == {"iceServers": []}
    assert args[0]["mode"] == "SENDRECV"
