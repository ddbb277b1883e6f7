"""Shared browser harness: a real `streamlit run portal.py` server (app.py + the live consult routes) plus Debian Chromium via Playwright.

Fixtures (reuse them in any tests/browser/test_*.py):
- `portal` (module scope): starts the portal on a free port with a fresh CLINIC_DATA_DIR that holds
  test accounts with known passwords; yields a `PortalServer` (base_url, data_dir, credentials,
  log_path); stops it afterwards (SIGTERM, SIGKILL after 10 s). Override `portal_extra_env`
  (module scope) in a test module to add server environment variables.
- `browser` (module scope): Debian Chromium, headless. Override `chromium_extra_args` (module scope)
  to add flags, e.g. FAKE_CAMERA_ARGS for camera tests. Skips when /usr/bin/chromium is absent,
  except under CI where that is a failure.
- `page` (function scope): a fresh browser context and page (1280x1000).
- Helpers: `login(page, portal, role)`, `logout(page)`, `wait_for_app(page)`, `open_page(page, portal, path)`,
  `click_menu(page, title)`,
  `fill_date(page, label, day, month, year)`.

Server output goes to `portal.log_path`; it is printed when a test using the portal fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.network import non_loopback_address

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A phone (390x844, touch) in Chromium's mobile emulation; the browser asks for English, so a
# test that wants another language chooses it on the page as a patient would.
PHONE: dict[str, object] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
    "locale": "en-US",
}


def arabic_words(message: str, **values: object) -> str:
    """`message` as an Arabic page shows it (the English message id where it has no translation yet)."""
    from core.i18n import translator

    return translator("ar").gettext(message, **values)


# Chromium's built-in fake camera: a moving test pattern, or a .y4m/.mjpeg file when given.
FAKE_CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def fake_face_camera_args(fps: int = 30, stamp: bool = False) -> list[str]:
    """Chromium flags for a fake camera playing the real face video, or skip with the reason."""
    from .fake_camera import face_camera_y4m

    if non_loopback_address() is None:
        pytest.skip("no non-loopback network interface: WebRTC ICE cannot connect here")
    try:
        video = face_camera_y4m(fps=fps, stamp=stamp)
    except FileNotFoundError as missing:
        pytest.skip(str(missing))
    return [*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={video}"]


TURNSERVER = Path("/usr/bin/turnserver")


@dataclass(frozen=True)
class TurnServer:
    port: int
    username: str
    password: str
    log_path: Path

    def ice_servers(self) -> list[dict[str, object]]:
        return [
            {
                "urls": [f"turn:127.0.0.1:{self.port}?transport=udp"],
                "username": self.username,
                "credential": self.password,
            }
        ]


def _stun_answers(port: int) -> bool:
    """True when a STUN binding request to 127.0.0.1:port gets an answer (coturn is up)."""
    request = struct.pack("!HHI12s", 0x0001, 0, 0x2112A442, os.urandom(12))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.sendto(request, ("127.0.0.1", port))
            return len(probe.recvfrom(2048)[0]) >= 20
        except OSError:
            return False


def start_turn_server(workdir: Path) -> tuple[TurnServer, subprocess.Popen]:
    """coturn on loopback with one long-term user; loopback peers allowed, since both browsers'
    relayed addresses are on 127.0.0.1 here. Skips (fails under CI) when coturn is absent."""
    if not TURNSERVER.exists():
        message = f"{TURNSERVER} is absent: install Debian's coturn package to test the TURN relay"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    relay_low = 49152 + (port % 1000) * 10
    turn = TurnServer(
        port=port, username="clinic-test", password="turn-test-pass", log_path=workdir / "turn.log"
    )
    process = subprocess.Popen(
        [
            str(TURNSERVER),
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            f"--min-port={relay_low}",
            f"--max-port={relay_low + 9}",
            "--allow-loopback-peers",
            "--lt-cred-mech",
            f"--user={turn.username}:{turn.password}",
            "--realm=clinic.test",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--fingerprint",
            "--log-file=stdout",
            "--pidfile=" + str(workdir / "turn.pid"),
        ],
        stdout=turn.log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while not _stun_answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(
                f"turnserver did not start:\n{turn.log_path.read_text(errors='replace')[-2000:]}"
            )
        time.sleep(0.2)
    return turn, process


SERVER_START_TIMEOUT_S = 90.0
UI_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str
    name: str


# Accounts seeded into every portal fixture, by role.
TEST_ACCOUNTS: dict[str, Credentials] = {
    "patient": Credentials("patient@example.test", "Patient-Test-Pass-123", "Pat Testpatient"),
    "physician": Credentials("physician@example.test", "Physician-Test-Pass-123", "Dr Phil Testdoctor"),
    "admin": Credentials("admin@example.test", "Admin-Test-Pass-123", "Ada Testadmin"),
}

# Seeding runs in a child process that exits before the server starts: DuckDB allows one
# process to hold the database file.
_SEED_SCRIPT = """
import datetime, json, sys
from core.access import SYSTEM_PRINCIPAL
from core.clinic import Clinic
from core.config import Settings

accounts = json.loads(sys.argv[1])
clinic = Clinic.open(Settings.from_env())
try:
    for role in ("admin", "physician"):
        account = accounts[role]
        clinic.auth.create_staff(
            SYSTEM_PRINCIPAL, role=role, email=account["email"], name=account["name"], password=account["password"]
        )
    patient = accounts["patient"]
    clinic.auth.register_patient(
        email=patient["email"], password=patient["password"], name=patient["name"],
        date_of_birth=datetime.date(1985, 4, 12), language="en", timezone="Europe/Amsterdam",
        accepted_telemedicine_consent=True,
    )
finally:
    clinic.close()
"""


@dataclass
class PortalServer:
    base_url: str
    data_dir: Path
    log_path: Path
    credentials: dict[str, Credentials]
    process: subprocess.Popen = field(repr=False)

    def url(self, path: str = "") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(data_dir: Path, extra_env: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLINIC_")}
    env.update(
        CLINIC_DATA_DIR=str(data_dir),
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    for key in ("CLINIC_MODEL_DIR", "CLINIC_SHARED_TESTDATA"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra_env)
    return env


def seed_accounts(data_dir: Path, env: dict[str, str], accounts: dict[str, Credentials]) -> None:
    import json

    payload = json.dumps({role: vars(account) for role, account in accounts.items()})
    result = subprocess.run(
        [sys.executable, "-c", _SEED_SCRIPT, payload],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"seeding the test accounts failed:\n{result.stdout}\n{result.stderr}")


def wait_for_health(base_url: str, process: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"streamlit did not become healthy in {timeout_s:.0f} s:\n{log_path.read_text()[-4000:]}"
    )


def stop_process(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the server's process group, SIGKILL it when it is still alive after `grace_s`."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def start_portal(
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    accounts: dict[str, Credentials] | None = None,
    before_start: Callable[[dict[str, str]], None] | None = None,
    port: int | None = None,
) -> PortalServer:
    """Start `streamlit run portal.py` against a fresh data dir in `workdir`; the caller stops it.

    `before_start(env)` runs after the accounts are seeded and before the server opens the
    database (one process at a time may hold it): seed cases there. `accounts={}` seeds none (a
    second app server on a database that has them); `port`: its port (default: a free one).
    """
    data_dir = workdir / "clinic-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    accounts = dict(TEST_ACCOUNTS if accounts is None else accounts)
    env = _server_env(data_dir, extra_env or {})
    if accounts:
        seed_accounts(data_dir, env, accounts)
    if before_start is not None:
        before_start(env)
    port = free_port() if port is None else port
    log_path = workdir / "streamlit.log"
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "portal.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--server.runOnSave",
            "false",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stopping it stops its children too
    )
    log_file.close()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, log_path, SERVER_START_TIMEOUT_S)
    except BaseException:
        stop_process(process)
        raise
    return PortalServer(base_url, data_dir, log_path, accounts, process)


@pytest.fixture(scope="module")
def portal_extra_env() -> dict[str, str]:
    """Override in a test module to give the server extra environment variables."""
    return {}


@pytest.fixture(scope="module")
def portal(
    tmp_path_factory: pytest.TempPathFactory, portal_extra_env: dict[str, str]
) -> Iterator[PortalServer]:
    server = start_portal(tmp_path_factory.mktemp("portal"), portal_extra_env)
    try:
        yield server
    finally:
        stop_process(server.process)


@pytest.fixture(scope="module")
def chromium_extra_args() -> list[str]:
    """Override in a test module to add Chromium flags (e.g. FAKE_CAMERA_ARGS)."""
    return []


@pytest.fixture(scope="module")
def browser(chromium_extra_args: list[str]) -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is absent: install Debian's chromium package to run browser tests"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + list(chromium_extra_args)
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


ARTIFACTS_KEY = pytest.StashKey[list[Path]]()


def record_artifact(request: pytest.FixtureRequest, path: Path) -> None:
    """Name a file (screenshot, browser log) in this test's failure report."""
    request.node.stash.setdefault(ARTIFACTS_KEY, []).append(path)


def _portal_servers(funcargs: dict[str, object]) -> list[PortalServer]:
    servers: list[PortalServer] = []
    for value in funcargs.values():
        candidates = value if isinstance(value, tuple) else (value,)
        servers.extend(item for item in candidates if isinstance(item, PortalServer))
    return servers


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failing browser test shows the server's log and where its screenshots are."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for server in _portal_servers(getattr(item, "funcargs", {})):
        report.sections.append((f"server log (tail of {server.log_path})", server.server_log()[-8000:]))
        shots = sorted(server.log_path.parent.glob("*.png"))
        if shots:
            report.sections.append(("screenshots", "\n".join(str(path) for path in shots)))
    artifacts = item.stash.get(ARTIFACTS_KEY, [])
    existing = [path for path in artifacts if path.exists()]
    if existing:
        report.sections.append(("test artifacts", "\n".join(str(path) for path in existing)))


# ---------------------------------------------------------------- helpers for tests


def wait_for_app(page, timeout_ms: int = UI_TIMEOUT_MS) -> None:
    """Wait until Streamlit is connected and no script run is in progress.

    stApp carries data-test-script-state ("initial", "running", "notRunning", ...). A click
    starts a rerun asynchronously, so give it a moment to begin before waiting for the end.
    """
    page.wait_for_timeout(300)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app !== null && app.getAttribute('data-test-script-state') === 'notRunning';
        }""",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(150)  # let the last deltas paint


def choose_arabic(page, picker, *, tap: bool = False, attempts: int = 3) -> None:
    """Pick Arabic in a language select box and wait until the page reads right to left.

    The option list opens asynchronously and a timed fragment's rerun can redraw it under the
    pointer, so a pick is sometimes lost (the box still says English): pick again, as a person
    would, and fail only when the page never turns.
    """
    for attempt in range(1, attempts + 1):
        option = page.get_by_role("option", name="العربية")
        for target in (picker, option):
            if tap:
                target.tap()
            else:
                target.click()
        try:
            page.wait_for_function("() => document.documentElement.dir === 'rtl'", timeout=10_000)
        except Exception:
            if attempt == attempts:
                raise
            page.keyboard.press("Escape")  # a list left open would catch the next pick
            wait_for_app(page)
            continue
        wait_for_app(page)
        return


def fill_date(page, label: str, day: int, month: int, year: int) -> None:
    """Type a date into st.date_input (segmented field: day, month, year as in its format)."""
    field = page.get_by_role("group", name=label)
    field.get_by_role("spinbutton").first.click()
    page.keyboard.type(f"{day:02d}{month:02d}{year:04d}")
    page.keyboard.press("Tab")


def click_menu(page, title: str) -> None:
    """Open a page through the sidebar menu (st.navigation) by its title."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    wait_for_app(page)


def open_page(page, portal: PortalServer, path: str = "") -> None:
    page.goto(portal.url(path))
    wait_for_app(page)


def login(
    page, portal: PortalServer, role: str | None = None, email: str | None = None, password: str | None = None
) -> None:
    """Log in through the UI as a seeded role (or explicit email/password) and wait for the menu."""
    if role is not None:
        account = portal.credentials[role]
        email, password = account.email, account.password
    assert email and password, "give a role or an email and password"
    open_page(page, portal)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for()
    wait_for_app(page)


def logout(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Log in").wait_for()
    wait_for_app(page)
