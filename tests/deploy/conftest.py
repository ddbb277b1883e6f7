"""The production profile on loopback: the portal (Streamlit on 127.0.0.1) behind Caddy with its
internal CA, rendered from deploy/templates exactly as deploy/install.sh renders it (only the
ports, the admin address and the storage directory differ).

Fixtures:
- `caddy_binary`: /usr/bin/caddy, or skip (fail under CI) when Debian's caddy is absent.
- `https_profile` (module scope): a `HttpsProfile`; its `https` is a `PortalServer` whose base_url
  is Caddy's https://127.0.0.1:PORT, so tests/browser/conftest.py's `login` etc. go through HTTPS.
  The portal holds the seeded accounts and a case of the patient's (tests/browser/live_harness.py).
- `browser`, `chromium_extra_args`: Debian Chromium, from tests/browser/conftest.py.

A failing test shows the Caddy and Streamlit logs and the screenshots in the profile's folder.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.render import Profile, render_caddyfile
from tests.browser.conftest import (  # noqa: F401 - fixtures shared with the browser tests
    PortalServer,
    browser,
    chromium_extra_args,
    free_port,
    stop_process,
)
from tests.browser.live_harness import consult_pairs, start_live_portal

CADDY = Path("/usr/bin/caddy")
CADDY_START_TIMEOUT_S = 60.0


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def caddy_binary() -> Path:
    if not CADDY.exists():
        message = f"{CADDY} is absent: install Debian's caddy package to test the production profile"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return CADDY


@dataclass
class HttpsProfile:
    https: PortalServer  # the portal as the browser sees it, through Caddy
    upstream: PortalServer  # Streamlit itself on loopback
    caddyfile: Path
    caddy_log: Path
    caddy_root_cert: Path
    workdir: Path
    caddy: subprocess.Popen = dataclasses.field(repr=False)
    other_upstreams: tuple[PortalServer, ...] = ()  # several app servers behind the same Caddy

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies Caddy's certificate against its internal CA (as a clinic device would)."""
        return ssl.create_default_context(cafile=str(self.caddy_root_cert))

    def caddy_output(self) -> str:
        return self.caddy_log.read_text(errors="replace") if self.caddy_log.exists() else ""


def caddy_env(workdir: Path) -> dict[str, str]:
    """Caddy keeps its autosave and (without `storage`) its data under HOME/XDG dirs: all temp."""
    env = dict(os.environ)
    env.update(
        HOME=str(workdir / "caddy-home"),
        XDG_DATA_HOME=str(workdir / "caddy-home" / "data"),
        XDG_CONFIG_HOME=str(workdir / "caddy-home" / "config"),
    )
    return env


def two_consecutive_free_ports() -> int:
    """A port p with p and p+1 free (the profile numbers its app servers consecutively)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no two consecutive free ports")


def loopback_profile(workdir: Path, portal_port: int, https_port: int) -> Profile:
    """The LAN profile (tls internal) moved onto free loopback ports and a temp storage dir."""
    return Profile(
        sites=(f"127.0.0.1:{https_port}",),
        lan=True,
        caddy_storage=workdir / "caddy-storage",
        caddy_admin=f"127.0.0.1:{free_port()}",
        portal_port=portal_port,
        http_port=free_port(),
        https_port=https_port,
    )


def start_caddy(caddyfile: Path, workdir: Path, log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    try:
        return subprocess.Popen(
            [str(CADDY), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            cwd=workdir,
            env=caddy_env(workdir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop_process ends it and only it
        )
    finally:
        log.close()


def wait_for_https(url: str, context: ssl.SSLContext | None, process: subprocess.Popen, log: Path) -> None:
    """Until Caddy answers `url` with 200 over verified TLS (its CA and certificate come first)."""
    deadline = time.monotonic() + CADDY_START_TIMEOUT_S
    last_error: object = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"caddy exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=3, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError) as error:
            last_error = error
        time.sleep(0.3)
    raise RuntimeError(f"caddy did not serve {url} ({last_error}):\n{log.read_text()[-4000:]}")


@dataclass
class CaddyFront:
    """Caddy started with a profile's rendered Caddyfile, serving HTTPS with its internal CA."""

    process: subprocess.Popen
    caddyfile: Path
    log: Path
    root_cert: Path
    base_url: str

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.root_cert))


def start_caddy_front(workdir: Path, profile: Profile, ready_path: str = "_stcore/health") -> CaddyFront:
    """Render `profile`'s Caddyfile into `workdir`, start Caddy and wait until it serves
    `ready_path` over TLS verified with its own CA; the caller stops `process`."""
    caddyfile = workdir / "Caddyfile"
    caddyfile.write_text(render_caddyfile(profile))
    log = workdir / "caddy.log"
    caddy = start_caddy(caddyfile, workdir, log)
    try:
        base_url = f"https://127.0.0.1:{profile.https_port}"
        root_cert = profile.caddy_storage / "pki" / "authorities" / "local" / "root.crt"
        # The root certificate appears once Caddy has made its CA; wait for it, then verify with it.
        deadline = time.monotonic() + CADDY_START_TIMEOUT_S
        while not root_cert.exists() and time.monotonic() < deadline and caddy.poll() is None:
            time.sleep(0.2)
        context = ssl.create_default_context(cafile=str(root_cert)) if root_cert.exists() else None
        wait_for_https(f"{base_url}/{ready_path}", context, caddy, log)
    except BaseException:
        stop_process(caddy)
        raise
    return CaddyFront(caddy, caddyfile, log, root_cert, base_url)


@pytest.fixture(scope="module")
def https_profile(tmp_path_factory: pytest.TempPathFactory, caddy_binary: Path) -> Iterator[HttpsProfile]:
    workdir = tmp_path_factory.mktemp("https-profile")
    # A physician and a patient with a case: the live consult (and so the call widget) can open.
    upstream = start_live_portal(workdir, consult_pairs(1), {})
    front: CaddyFront | None = None
    try:
        profile = loopback_profile(workdir, int(upstream.base_url.rsplit(":", 1)[1]), free_port())
        front = start_caddy_front(workdir, profile)
        yield HttpsProfile(
            https=dataclasses.replace(upstream, base_url=front.base_url),
            upstream=upstream,
            caddyfile=front.caddyfile,
            caddy_log=front.log,
            caddy_root_cert=front.root_cert,
            workdir=workdir,
            caddy=front.process,
        )
    finally:
        if front is not None:
            stop_process(front.process)
        stop_process(upstream.process)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failing profile test shows Caddy's and Streamlit's logs and where its screenshots are."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if not isinstance(value, HttpsProfile):
            continue
        report.sections.append((f"caddy log (tail of {value.caddy_log})", value.caddy_output()[-8000:]))
        for upstream in (value.upstream, *value.other_upstreams):
            report.sections.append(
                (f"streamlit log (tail of {upstream.log_path})", upstream.server_log()[-8000:])
            )
        shots = sorted(value.workdir.glob("*.png"))
        report.sections.append(
            ("screenshots", "\n".join(str(path) for path in shots) or f"none in {value.workdir}")
        )
