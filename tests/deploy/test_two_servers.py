"""Two app servers on one PostgreSQL behind Caddy with sticky sessions, in Chromium (issue 17).

A throwaway PostgreSQL cluster; two Streamlit portals on loopback (A and B) with the same
`CLINIC_DATABASE_URL`, the same master key and one shared data directory (blobs); Caddy with its
internal CA in front, rendered by deploy/render.py with `app_servers=2` (`lb_policy cookie`).
Each browser context is pinned to a server through the sticky cookie, and every page says which
server served it (`<html data-clinic-server>`, set by the page bridge).

- The patient sends a case with photos through A, the physician reviews it and sends the report
  through B, the patient reads the report through A.
- The physician opens a live consult on B; the patient, pinned to A, follows "Join live consult"
  and is moved to B (the page sets the sticky cookie to B's value and reloads), where the session
  cookie keeps them logged in and they wait in B's waiting room; the physician sees them there.

A failure shows both servers' logs, Caddy's log and where the screenshots are (tests/deploy/conftest.py).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from core.live.room_hosts import sticky_cookie_value
from deploy.render import STICKY_COOKIE
from tests.browser.conftest import (
    PortalServer,
    click_menu,
    free_port,
    login,
    start_portal,
    stop_process,
    wait_for_app,
)
from tests.browser.test_consultation_e2e import (
    FINDINGS_TEXT,
    answer_as_physician,
    send_consultation,
    write_view_photos,
)
from tests.deploy.conftest import (
    CaddyFront,
    HttpsProfile,
    loopback_profile,
    start_caddy_front,
    two_consecutive_free_ports,
)
from tests.deploy.test_https_profile import new_context, screenshot_on_failure

pytestmark = pytest.mark.browser

PATIENT_NAME = "Pat Testpatient"  # tests/browser/conftest.py's seeded patient


@pytest.fixture(scope="module")
def two_servers(
    tmp_path_factory: pytest.TempPathFactory, caddy_binary: Path, postgres_server: object
) -> Iterator[HttpsProfile]:
    """Caddy in front of portals A (`upstream`) and B (`other_upstreams[0]`) on one PostgreSQL."""
    from tests.postgres_server import PostgresServer

    assert isinstance(postgres_server, PostgresServer)
    database, database_url = postgres_server.fresh_database()
    workdir = tmp_path_factory.mktemp("two-servers")
    base_port = two_consecutive_free_ports()
    profile = dataclasses.replace(loopback_profile(workdir, base_port, free_port()), app_servers=2)
    shared = {
        "CLINIC_DATABASE_URL": database_url,
        "CLINIC_DATA_DIR": str(workdir / "shared-data"),  # key file and blobs: one volume for both
        "CLINIC_STICKY_COOKIE": STICKY_COOKIE,
        "CLINIC_STICKY_SECRET": profile.sticky_secret,
    }
    servers: list[PortalServer] = []
    front: CaddyFront | None = None
    try:
        for index, (name, address) in enumerate(zip("ab", profile.upstreams, strict=True)):
            port = int(address.rsplit(":", 1)[1])
            env = {**shared, "CLINIC_SERVER_ID": address}
            # The first server seeds the accounts into the shared database; the second finds them.
            accounts = None if index == 0 else {}
            servers.append(start_portal(workdir / f"server-{name}", env, accounts, port=port))
        servers[1].credentials.update(servers[0].credentials)
        front = start_caddy_front(workdir, profile)
        yield HttpsProfile(
            https=dataclasses.replace(servers[0], base_url=front.base_url),
            upstream=servers[0],
            caddyfile=front.caddyfile,
            caddy_log=front.log,
            caddy_root_cert=front.root_cert,
            workdir=workdir,
            caddy=front.process,
            other_upstreams=tuple(servers[1:]),
        )
    finally:
        if front is not None:
            stop_process(front.process)
        for server in servers:
            stop_process(server.process)
        postgres_server.drop_database(database)


def server_id(server: PortalServer) -> str:
    return server.base_url.removeprefix("http://")


def pinned_page(browser, profile: HttpsProfile, server: PortalServer):
    """A browser context whose sticky cookie names `server` (as if Caddy had chosen it)."""
    context = new_context(browser)
    secret = _sticky_secret(profile)
    context.add_cookies(
        [
            {
                "name": STICKY_COOKIE,
                "value": sticky_cookie_value(secret, server_id(server)),
                "url": profile.https.base_url,
            }
        ]
    )
    return context, context.new_page()


def _sticky_secret(profile: HttpsProfile) -> str:
    match = re.search(rf"lb_policy cookie {STICKY_COOKIE} (\S+)", profile.caddyfile.read_text())
    assert match, "the rendered Caddyfile has no sticky cookie"
    return match.group(1)


def served_by(page) -> str:
    """The server that served the page, from the attribute the page bridge sets."""
    page.wait_for_function("() => document.documentElement.dataset.clinicServer !== undefined")
    return str(page.evaluate("() => document.documentElement.dataset.clinicServer"))


def sticky_cookie(context) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == STICKY_COOKIE), None)


def test_a_case_and_a_live_consult_across_two_app_servers(
    two_servers: HttpsProfile, browser, face_photo_bgr, tmp_path: Path
) -> None:
    a, b = two_servers.upstream, two_servers.other_upstreams[0]
    portal = two_servers.https  # through Caddy
    shots = two_servers.workdir
    photos = write_view_photos(face_photo_bgr, tmp_path)

    patient_context, patient = pinned_page(browser, two_servers, a)
    physician_context, physician = pinned_page(browser, two_servers, b)
    try:
        # The patient sends a case with photos through A (a reload in between stays on A).
        with screenshot_on_failure(patient, shots, "patient_send"):
            login(patient, portal, "patient")
            assert served_by(patient) == server_id(a)
            reference = send_consultation(patient, photos)
            assert served_by(patient) == server_id(a)

        # The physician reviews it and sends the report through B.
        with screenshot_on_failure(physician, shots, "physician_report"):
            answer_as_physician(physician, portal, reference)
            assert served_by(physician) == server_id(b)

        # The patient reads the report through A.
        with screenshot_on_failure(patient, shots, "patient_report"):
            patient.reload()
            wait_for_app(patient)
            click_menu(patient, "My consultations")
            patient.get_by_text(FINDINGS_TEXT).wait_for()
            assert served_by(patient) == server_id(a)
            patient.screenshot(path=str(shots / "patient_report_on_a.png"), full_page=True)

        # The physician opens a live consult on B: B's memory holds the room.
        with screenshot_on_failure(physician, shots, "physician_live"):
            physician.get_by_role("tab", name="AR preview").click()
            physician.get_by_role("button", name="Start live video consult").click()
            physician.get_by_role("heading", name="Live consult").wait_for()
            wait_for_app(physician)
            assert served_by(physician) == server_id(b)

        # The patient, pinned to A, sees the consult on A's page and is moved to B to join it.
        with screenshot_on_failure(patient, shots, "patient_live"):
            join = patient.get_by_role("link", name="Join live consult")
            join.wait_for(timeout=60_000)  # the notice checks every few seconds
            assert served_by(patient) == server_id(a)
            join.click()
            patient.get_by_role("button", name="Join the waiting room").wait_for()
            wait_for_app(patient)
            assert served_by(patient) == server_id(b)
            assert sticky_cookie(patient_context) == sticky_cookie_value(
                _sticky_secret(two_servers), server_id(b)
            )
            assert parse_qs(urlparse(patient.url).query).get("moved") == [server_id(b)]
            patient.get_by_role("button", name="Log out").wait_for()  # the session cookie logged them in on B
            patient.get_by_role("button", name="Join the waiting room").click()
            patient.get_by_text("You are in the waiting room").wait_for()
            patient.screenshot(path=str(shots / "patient_waiting_on_b.png"), full_page=True)

        with screenshot_on_failure(physician, shots, "physician_waiting_room"):
            physician.get_by_text(re.compile(rf"{PATIENT_NAME}\s*is waiting")).wait_for()
            physician.screenshot(path=str(shots / "physician_sees_patient_waiting.png"), full_page=True)
    finally:
        patient_context.close()
        physician_context.close()
