"""Both sides know the call is on (AppTest, no browser): the patient's notice, the physician's
banner and menu count, the launcher's e-mail invitation, and the e-mailed link surviving log-in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.live.rooms import RoomRegistry
from tests.notifications.conftest import (
    PASSWORD,
    PATIENT_EMAIL,
    PHYSICIAN_EMAIL,
    MailBox,
    World,
    parts,
    populate,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTICE = "Your physician is ready for your live video consult"


@pytest.fixture
def portal(data_dir: Path) -> Iterator[Callable[[], World]]:
    """The Clinic the pages get (components.session.get_clinic), populated; call after setting env."""
    from components.session import _open_clinic, get_clinic

    made: list[World] = []

    def make() -> World:
        made.append(populate(get_clinic()))
        return made[-1]

    yield make
    for world in made:
        world.clinic.close()
    _open_clinic.clear()


def registry() -> RoomRegistry:
    from components.video_room import room_registry

    return room_registry()


def run_app(world: World, email: str | None, page: str | None = None, **query: str) -> AppTest:
    from components.session import TOKEN_KEY

    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    if email is not None:
        app.session_state[TOKEN_KEY] = world.clinic.auth.login(email, PASSWORD).token
    for key, value in query.items():
        app.query_params[key] = value
    if page is not None:
        app.switch_page(page)
    return app.run()


def texts(app: AppTest, *kinds: str) -> str:
    return "\n".join(str(element.value) for kind in kinds for element in getattr(app, kind))


def menu_titles(app: AppTest) -> list[str]:
    # AppTest keeps what st.navigation registered; the titles are the menu's labels.
    return [str(info.get("page_name")) for info in app._registered_pages.values()]


# -- patient -------------------------------------------------------------------------------------


def join_links(app) -> list:
    return [link.proto for link in app.get("page_link") if link.proto.label == "Join live consult"]


def test_the_patient_sees_the_notice_when_a_room_opens_and_joins_from_it(
    no_smtp_env: None, portal: Callable[[], World]
) -> None:

    world = portal()
    app = run_app(world, PATIENT_EMAIL)
    assert not app.exception, app.exception
    assert [t.value for t in app.title] == ["My consultations"]
    assert NOTICE not in texts(app, "success")
    assert not join_links(app)

    room = registry().open_room(world.physician, world.case_id)
    app.run()  # in the browser the timed fragment does this every few seconds, no reload
    assert NOTICE in texts(app, "success") and world.reference in texts(app, "success")
    joins = join_links(app)
    assert len(joins) == 1  # one link of that name on the page (the browser test clicks it by name)
    assert joins[0].page == "patient_live_consult" and joins[0].query_string == f"room={room.room_id}"

    registry().end_room(world.physician, room.room_id)
    app = run_app(world, PATIENT_EMAIL)
    assert NOTICE not in texts(app, "success")


def test_my_consultations_shows_a_timed_fragment_and_never_stops_a_run() -> None:
    from tests.ui.test_timed_fragments import _st_stop_lines, shows_timed_fragment

    for name in ("patient_my_consultations.py", "physician_queue.py"):
        page = REPO_ROOT / "pages" / name
        assert shows_timed_fragment(page) and _st_stop_lines(page.read_text()) == [], name


# -- physician -----------------------------------------------------------------------------------


def test_the_physician_sees_a_waiting_patient_on_the_queue_and_in_the_menu(
    no_smtp_env: None, portal: Callable[[], World]
) -> None:
    world = portal()
    app = run_app(world, PHYSICIAN_EMAIL)
    assert not app.exception, app.exception
    assert [t.value for t in app.title] == ["Case queue"]
    assert "waiting in a live consult" not in texts(app, "warning")
    assert "Live consult" in menu_titles(app)  # plain title when nobody waits (browser tests use it)

    room = registry().open_room(world.physician, world.case_id)
    registry().join(world.patient, room.room_id)
    app = run_app(world, PHYSICIAN_EMAIL)
    assert not app.exception, app.exception
    assert "1 patient waiting in a live consult" in texts(app, "warning")
    titles = menu_titles(app)
    assert "Live consult (1 waiting)" in titles
    assert titles.count("Live consult") == 1  # the patients' page of that title (hidden) is untouched
    links = [link.proto for link in app.get("page_link") if "live consult" in link.proto.label]
    assert len(links) == 1 and "Pat Example" in links[0].label
    assert links[0].page == "physician_live_consult" and links[0].query_string == f"room={room.room_id}"

    registry().admit(world.physician, room.room_id, world.patient.user_id)
    app = run_app(world, PHYSICIAN_EMAIL)
    assert "waiting in a live consult" not in texts(app, "warning")
    assert "Live consult" in menu_titles(app) and "Live consult (1 waiting)" not in menu_titles(app)


# -- the launcher's invitation ---------------------------------------------------------------------


def _launcher_script(case_id: str) -> None:
    from components.ar_panel import render_live_consult_launcher
    from components.session import get_clinic

    clinic = get_clinic()
    principal = clinic.auth.login("doc@example.test", "Long-Enough-Pass-123").principal
    render_live_consult_launcher(clinic, principal, case_id)


def _launcher(world: World) -> AppTest:
    return AppTest.from_function(_launcher_script, args=(world.case_id,), default_timeout=60).run()


def test_starting_a_live_consult_e_mails_the_invitation_once(
    smtp_env: MailBox, portal: Callable[[], World]
) -> None:
    world = portal()
    app = _launcher(world)
    app.button(key=f"live-start-{world.case_id}").click().run()
    # (switch_page to the live page is not available to a function script; the room exists now)
    room = registry().room_for_case(world.physician, world.case_id)
    assert room is not None
    assert smtp_env.wait(1)
    (recipients, message), = smtp_env.received  # fmt: skip
    assert recipients == [PATIENT_EMAIL] and f"?room={room.room_id}" in parts(message)[0]

    app = _launcher(world)
    assert not app.exception, app.exception
    assert any("Invitation e-mailed to the patient" in s.value for s in app.success)
    assert len(smtp_env.received) == 1  # once per room, however often the page runs
    app.button(key=f"live-reinvite-{world.case_id}").click().run()
    assert smtp_env.wait(2) and len(smtp_env.received) == 2
    assert any("Invitation e-mailed to the patient" in s.value for s in app.success)


def test_without_e_mail_the_launcher_says_to_give_the_code(
    no_smtp_env: None, portal: Callable[[], World]
) -> None:
    world = portal()
    room = registry().open_room(world.physician, world.case_id)
    app = _launcher(world)
    assert not app.exception, app.exception
    captions = texts(app, "caption")
    assert "E-mail is not set up on this server: give the patient the invitation code" in captions
    assert room.room_id in [str(code.value) for code in app.code]
    assert not [b for b in app.button if b.label == "Send the invitation again"]


def test_a_failed_invitation_is_shown_in_words(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, portal: Callable[[], World]
) -> None:
    from tests.notifications.conftest import free_port

    monkeypatch.setenv("CLINIC_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLINIC_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("CLINIC_SMTP_TLS", "none")
    world = portal()
    _launcher(world).button(key=f"live-start-{world.case_id}").click().run()
    app = _launcher(world)
    assert not app.exception, app.exception
    warning = texts(app, "warning")
    assert "could not be sent: the mail server could not be reached" in warning
    assert "Give the patient the invitation code" in warning


# -- the e-mailed link survives the log-in ---------------------------------------------------------


def test_the_join_link_leads_to_the_room_after_logging_in(
    no_smtp_env: None, portal: Callable[[], World]
) -> None:
    from components.session import CURRENT_PAGE_KEY, GO_HOME_KEY, RETURN_TO_KEY, TOKEN_KEY

    world = portal()
    room = registry().open_room(world.physician, world.case_id)
    # A fresh browser opens <public url>/patient_live_consult?room=<id>: not logged in yet.
    # (AppTest runs a chosen page without app.py, so the url path app.py records is set here.)
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    app.session_state[CURRENT_PAGE_KEY] = "patient_live_consult"
    app.query_params["room"] = room.room_id
    app.switch_page("pages/patient_live_consult.py").run()
    assert "Please log in" in texts(app, "warning")
    assert app.session_state[RETURN_TO_KEY] == ("patient_live_consult", {"room": room.room_id})
    # The menu's "Log in" link drops the query; log in there.
    app.switch_page("pages/login.py").run()
    app.text_input(key="login_email").input(PATIENT_EMAIL)
    app.text_input(key="login_password").input(PASSWORD)
    next(b for b in app.button if b.label == "Log in").click().run()
    assert not app.exception, app.exception
    # AppTest re-runs only the page file after the first run: app.py's next run (which goes to
    # the page asked for first) is a fresh app run with the same session state.
    after = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    for key in (TOKEN_KEY, GO_HOME_KEY, RETURN_TO_KEY):
        after.session_state[key] = app.session_state[key]
    after.run()
    assert not after.exception, after.exception
    assert [t.value for t in after.title] == ["Live video consult"]
    assert after.query_params.get("room") in (room.room_id, [room.room_id])
    assert any(b.label == "Join the waiting room" for b in after.button)
