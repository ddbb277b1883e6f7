"""Several app servers (`--app-servers N`): the rendered files, and the real Caddy's sticky cookie.

The routing test runs Debian's Caddy with the profile's own Caddyfile (tls internal on loopback)
in front of two small HTTP servers that answer with their own address, and checks what
core/live/room_hosts.py relies on: Caddy's cookie value for an upstream is the hex HMAC-SHA256 of
its dial address under the secret, a browser that sends that value is served by that upstream,
and a stopped upstream's browsers are moved to another one with a new cookie.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from core.live.room_hosts import sticky_cookie_value
from deploy.render import STICKY_COOKIE, Profile, render_caddyfile
from tests.deploy.conftest import loopback_profile, start_caddy_front, two_consecutive_free_ports
from tests.deploy.test_render import caddy_validate, exec_start, render_with_install, unit_value

pytestmark = pytest.mark.usefixtures("caddy_binary")


def test_install_renders_one_unit_per_server_and_a_sticky_caddyfile(
    tmp_path: Path, caddy_binary: Path
) -> None:
    files = render_with_install(tmp_path / "out", "--lan", "--site", "clinic.lan", "--app-servers", "3")
    assert "clinic-portal.service" not in files
    unit = files["clinic-portal@.service"]
    assert exec_start(unit)[-2:] == ["--server.port", "%i"]
    assert unit_value(unit, "EnvironmentFile") == "/etc/clinic-portal/portal.env"
    assert "Environment=CLINIC_SERVER_ID=127.0.0.1:%i" in unit.splitlines()
    instances = "clinic-portal@8501.service clinic-portal@8502.service clinic-portal@8503.service"
    assert unit_value(files["clinic-caddy.service"], "After") == f"network-online.target {instances}"

    env = dict(
        line.split("=", 1) for line in files["portal.env"].splitlines() if line and not line.startswith("#")
    )
    secret = env["CLINIC_STICKY_SECRET"]
    assert env["CLINIC_STICKY_COOKIE"] == STICKY_COOKIE and len(secret) >= 32
    caddyfile = files["Caddyfile"]
    assert "reverse_proxy 127.0.0.1:8501 127.0.0.1:8502 127.0.0.1:8503 {" in caddyfile
    assert f"lb_policy cookie {STICKY_COOKIE} {secret}" in caddyfile
    assert "health_uri /_stcore/health" in caddyfile
    result = caddy_validate(caddyfile, tmp_path, caddy_binary)
    assert result.returncode == 0, result.stdout + result.stderr

    # One server (the default) renders exactly the single-server profile: no cookie, no id.
    single = render_with_install(tmp_path / "single", "--lan", "--site", "clinic.lan")
    assert "clinic-portal@.service" not in single and "clinic-portal.service" in single
    assert "STICKY" not in single["portal.env"] and "lb_policy" not in single["Caddyfile"]
    assert "CLINIC_SERVER_ID" not in single["clinic-portal.service"]


def test_a_kept_secret_stays_the_same() -> None:
    profile = Profile(sites=("clinic.lan",), lan=True, app_servers=2, sticky_secret="kept-secret-" * 4)
    assert f"lb_policy cookie {STICKY_COOKIE} {'kept-secret-' * 4}" in render_caddyfile(profile)


class _Named(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


def _named_server(port: int) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Named)
    server.name = f"127.0.0.1:{port}"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def caddy_in_front(tmp_path: Path) -> Iterator[tuple[Profile, str, ssl.SSLContext, dict[str, Any]]]:
    from dataclasses import replace

    from tests.browser.conftest import free_port, stop_process

    base = two_consecutive_free_ports()
    upstreams = [_named_server(base), _named_server(base + 1)]
    front = None
    try:
        profile = replace(loopback_profile(tmp_path, base, free_port()), app_servers=2)
        front = start_caddy_front(tmp_path, profile, ready_path="")
        named = {server.name: server for server in upstreams}  # type: ignore[attr-defined]
        yield profile, front.base_url + "/", front.ssl_context(), named
    finally:
        if front is not None:
            stop_process(front.process)
        for server in upstreams:
            server.shutdown()
            server.server_close()


def _get(url: str, context: ssl.SSLContext, cookie: str | None) -> tuple[str, str | None]:
    """(the upstream that answered, the sticky cookie value Caddy set, if any)."""
    request = urllib.request.Request(url, headers={"Cookie": f"{STICKY_COOKIE}={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, context=context, timeout=10) as reply:
        served = reply.read().decode()
        jar = SimpleCookie()
        for header in reply.headers.get_all("Set-Cookie") or []:
            jar.load(header)
    return served, (jar[STICKY_COOKIE].value if STICKY_COOKIE in jar else None)


def test_caddy_pins_by_the_hmac_of_the_dial_address_and_moves_off_a_stopped_server(
    caddy_in_front: tuple[Profile, str, ssl.SSLContext, dict[str, Any]],
) -> None:
    profile, url, context, servers = caddy_in_front
    first, second = profile.upstreams
    value = {server: sticky_cookie_value(profile.sticky_secret, server) for server in profile.upstreams}

    # No cookie: Caddy picks a server and names it in the cookie; the value is our HMAC of it.
    served, cookie = _get(url, context, None)
    assert served in profile.upstreams
    assert cookie == value[served]

    # Our value for a server pins the request to it, every time, and Caddy leaves the cookie be.
    for server in (first, second, first, second):
        assert _get(url, context, value[server]) == (server, None)

    # An unknown value: a server is chosen and the cookie replaced.
    served, cookie = _get(url, context, "0" * 64)
    assert cookie == value[served]

    # The first server stops: a browser pinned to it is served by the other and pinned there.
    servers[first].shutdown()
    servers[first].server_close()
    served, cookie = _get(url, context, value[first])
    assert (served, cookie) == (second, value[second])
    assert _get(url, context, value[second]) == (second, None)
