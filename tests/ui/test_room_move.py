"""The live consult pages when another app server holds the room (components/room_move.py).

This server is B; a row in `live_room_hosts` says server A holds the case's room (as A's room
registry writes it). The patient's live page asks the page bridge to move the browser to A (the
sticky cookie set to A's value, `?room=...&moved=A`), says so, and never moves a browser that
already was moved (A down: Caddy sent it back here). One server (no CLINIC_SERVER_ID) moves nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.room_move import MOVE_KEY
from core.live.room_hosts import RoomHostService, StickyCookie, sticky_cookie_value
from tests.ui.conftest import submit_demo_case

PAGE = "pages/patient_live_consult.py"
SERVER_A = "127.0.0.1:8501"
SERVER_B = "127.0.0.1:8502"
SECRET = "a-test-secret-of-enough-length-0123456789"
ROOM = "room-held-by-server-a"


@pytest.fixture
def this_server_is_b(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_SERVER_ID", SERVER_B)
    monkeypatch.setenv("CLINIC_STICKY_COOKIE", "clinic_server")
    monkeypatch.setenv("CLINIC_STICKY_SECRET", SECRET)


def room_on_server_a(clinic, face_bgr: np.ndarray) -> None:
    case_id = submit_demo_case(clinic, face_bgr)
    RoomHostService(clinic.db, clinic.cases, SERVER_A, StickyCookie("clinic_server", SECRET)).record_open(
        ROOM, case_id
    )


def texts(app: AppTest) -> str:
    return "\n".join(str(element.value) for element in [*app.info, *app.warning, *app.error])


def test_the_patient_is_moved_to_the_server_that_holds_the_room(
    this_server_is_b: None, app_as: Callable[..., AppTest], clinic, face_photo_bgr: np.ndarray
) -> None:
    room_on_server_a(clinic, face_photo_bgr)
    app = app_as("patient", PAGE, {"room": ROOM})
    assert not app.exception
    assert "Connecting you to your consultation" in texts(app)
    assert app.session_state[MOVE_KEY] == {
        "cookie": "clinic_server",
        "value": sticky_cookie_value(SECRET, SERVER_A),
        "query": {"room": ROOM, "moved": SERVER_A},
    }

    # A physician on this server looking for the room is moved the same way.
    physician = app_as("physician", "pages/physician_live_consult.py", {"room": ROOM})
    assert not physician.exception
    assert "Connecting you to your consultation" in texts(physician)
    assert physician.session_state[MOVE_KEY]["value"] == sticky_cookie_value(SECRET, SERVER_A)

    # Moved already, yet served here again (A is down): told so, not moved in a circle.
    again = app_as("patient", PAGE, {"room": ROOM, "moved": SERVER_A})
    assert "cannot be reached right now" in texts(again)
    assert MOVE_KEY not in again.session_state


def test_one_server_moves_nobody(app_as: Callable[..., AppTest], clinic, face_photo_bgr: np.ndarray) -> None:
    room_on_server_a(clinic, face_photo_bgr)  # even a row there is never looked up
    app = app_as("patient", PAGE, {"room": ROOM})
    assert not app.exception
    assert "This consult has ended or does not exist." in texts(app)
    assert MOVE_KEY not in app.session_state


def test_the_physician_sees_rooms_on_other_servers_and_their_waiting_patients(
    this_server_is_b: None, app_as: Callable[..., AppTest], clinic, face_photo_bgr: np.ndarray
) -> None:
    from tests.ui.conftest import ACCOUNTS

    case_id = submit_demo_case(clinic, face_photo_bgr)
    doctor = ACCOUNTS["physician"]
    physician_id = clinic.auth.login(doctor.email, doctor.password).principal.user_id
    server_a = RoomHostService(clinic.db, clinic.cases, SERVER_A, StickyCookie("clinic_server", SECRET))
    server_a.record_open(ROOM, case_id, physician_id)  # as A's registry writes it
    server_a.record_waiting(ROOM, 2)

    live = app_as("physician", "pages/physician_live_consult.py")
    assert not live.exception
    (choice,) = live.selectbox
    assert choice.value == ROOM
    assert "on another server, 2 patients waiting" in choice.format_func(ROOM)

    # The physician's landing page (the queue, through app.py: its menu and page links).
    queue = app_as("physician")
    assert not queue.exception
    assert "2 patients waiting in a live consult" in "\n".join(str(w.value) for w in queue.warning)
    from components.ar_panel import waiting_count

    # The menu's badge counts them too (the physician opened that room).
    principal = clinic.auth.login(doctor.email, doctor.password).principal
    assert waiting_count(principal) == 2
