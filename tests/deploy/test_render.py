"""The production profile's rendered files: what deploy/install.sh writes onto a server."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.render import Profile, inline_handler_hashes, inline_script_hashes, render_profile

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL = REPO_ROOT / "deploy" / "install.sh"


def render_with_install(out: Path, *args: str) -> dict[str, str]:
    """The files `deploy/install.sh ... --render-only OUT` writes (its own argument handling)."""
    result = subprocess.run(
        ["bash", str(INSTALL), *args, "--render-only", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {path.name: path.read_text() for path in out.iterdir()}


def caddy_validate(caddyfile_text: str, workdir: Path, caddy: Path) -> subprocess.CompletedProcess[str]:
    # Validation provisions the TLS app, which creates its storage: keep that in workdir.
    text = re.sub(r"storage file_system \S+", f"storage file_system {workdir / 'storage'}", caddyfile_text)
    path = workdir / "Caddyfile"
    path.write_text(text)
    home = workdir / "home"
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}
    return subprocess.run(
        [str(caddy), "validate", "--adapter", "caddyfile", "--config", str(path)],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def exec_start(unit_text: str) -> list[str]:
    (line,) = [line for line in unit_text.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def unit_value(unit_text: str, key: str) -> str:
    (line,) = [line for line in unit_text.splitlines() if line.startswith(f"{key}=")]
    return line.split("=", 1)[1]


@pytest.mark.parametrize(
    "args",
    [
        ("--domain", "clinic.example.org", "--email", "ops@example.org", "--external-ip", "203.0.113.10"),
        ("--lan", "--site", "clinic.lan", "--site", "192.168.1.10"),
    ],
    ids=["domain", "lan"],
)
def test_rendered_caddyfile_is_valid(args: tuple[str, ...], tmp_path: Path, caddy_binary: Path) -> None:
    files = render_with_install(tmp_path / "out", *args)
    result = caddy_validate(files["Caddyfile"], tmp_path, caddy_binary)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


def test_domain_profile(tmp_path: Path) -> None:
    files = render_with_install(
        tmp_path,
        "--domain",
        "clinic.example.org",
        "--email",
        "ops@example.org",
        "--external-ip",
        "203.0.113.10",
    )
    caddyfile = files["Caddyfile"]
    assert re.search(r"^clinic\.example\.org \{$", caddyfile, flags=re.M)
    assert "tls internal" not in caddyfile  # automatic certificates over ACME
    assert "email ops@example.org" in caddyfile
    assert "reverse_proxy 127.0.0.1:8501" in caddyfile

    # The portal and coturn share one TURN user; the browsers get it through CLINIC_ICE_SERVERS.
    turn = files["turnserver.conf"]
    (user_line,) = [line for line in turn.splitlines() if line.startswith("user=")]
    username, password = user_line.removeprefix("user=").split(":", 1)
    assert len(password) >= 32
    assert "external-ip=203.0.113.10" in turn and "allowed-peer-ip=203.0.113.10" in turn
    env = dict(
        line.split("=", 1) for line in files["portal.env"].splitlines() if line and not line.startswith("#")
    )
    ice = json.loads(shlex.split(env["CLINIC_ICE_SERVERS"])[0])
    relay = next(server for server in ice if "username" in server)
    assert (relay["username"], relay["credential"]) == (username, password)
    assert all("clinic.example.org:3478" in url for url in relay["urls"])
    assert env["CLINIC_PUBLIC_URL"] == "https://clinic.example.org"
    assert env["CLINIC_DATA_DIR"] == "/var/lib/clinic-portal"
    # The key sits outside the data directory (backups of the data never hold it).
    assert not env["CLINIC_KEY_FILE"].startswith(env["CLINIC_DATA_DIR"])


def test_lan_profile_uses_the_internal_ca_and_no_turn(tmp_path: Path) -> None:
    files = render_with_install(tmp_path, "--lan", "--site", "clinic.lan", "--site", "192.168.1.10")
    assert re.search(r"^clinic\.lan, 192\.168\.1\.10 \{$", files["Caddyfile"], flags=re.M)
    assert "\ttls internal" in files["Caddyfile"]
    assert "turnserver.conf" not in files
    assert "CLINIC_ICE_SERVERS='[]'" in files["portal.env"]


def test_units_run_the_right_programs(tmp_path: Path) -> None:
    files = render_with_install(tmp_path, "--domain", "clinic.example.org", "--external-ip", "203.0.113.10")
    for name, text in files.items():
        assert "${" not in text, f"{name} has an unrendered placeholder"

    portal = files["clinic-portal.service"]
    assert exec_start(portal) == [
        "/opt/clinic-portal/.venv/bin/python", "-m", "streamlit", "run", "portal.py", "--server.port", "8501",
    ]  # fmt: skip
    # No --server.address: .streamlit/config.toml in the working directory binds it to loopback.
    assert unit_value(portal, "WorkingDirectory") == "/opt/clinic-portal"
    assert unit_value(portal, "User") == "clinic"
    assert unit_value(portal, "EnvironmentFile") == "/etc/clinic-portal/portal.env"
    assert unit_value(portal, "UMask") == "0077"

    caddy = exec_start(files["clinic-caddy.service"])
    assert caddy[:2] == ["/usr/bin/caddy", "run"]
    assert caddy[caddy.index("--config") + 1] == "/etc/caddy/clinic-portal.Caddyfile"

    turn = exec_start(files["clinic-turn.service"])
    assert turn[:3] == ["/usr/bin/turnserver", "-c", "/etc/clinic-portal/turnserver.conf"]

    backup = exec_start(files["clinic-backup.service"])
    assert backup[:2] == ["/opt/clinic-portal/.venv/bin/python", "deploy/clinic_backup.py"]
    assert backup[backup.index("--backup-dir") + 1] == "/var/backups/clinic-portal"
    assert backup[backup.index("--keep") + 1] == "14"
    assert backup[backup.index("--run-as") + 1] == "clinic"
    assert backup[backup.index("--pause-unit") + 1] == "clinic-portal.service"
    assert unit_value(files["clinic-backup.service"], "Type") == "oneshot"
    timer = files["clinic-backup.timer"]
    assert unit_value(timer, "OnCalendar") == "*-*-* 03:30:00"
    assert unit_value(timer, "Persistent") == "true"


def test_streamlit_binds_to_loopback_by_its_own_config() -> None:
    """`streamlit run portal.py` without --server.address (the unit, or anyone) listens on 127.0.0.1."""
    probe = (
        "from streamlit import config\n"
        "config.get_config_options(force_reparse=True)\n"
        "print(config.get_option('server.address'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "127.0.0.1"


def test_security_headers_split_between_portal_and_components() -> None:
    caddyfile = render_profile(Profile(sites=("clinic.example.org",)))["Caddyfile"]
    portal_csp = re.search(r"header @portal \{.*?Content-Security-Policy \"([^\"]+)\"", caddyfile, re.S)
    component_csp = re.search(r"header @component \{.*?Content-Security-Policy \"([^\"]+)\"", caddyfile, re.S)
    assert portal_csp and component_csp
    assert "frame-ancestors 'none'" in portal_csp.group(1)
    assert "frame-ancestors 'self'" in component_csp.group(1)
    for csp in (portal_csp.group(1), component_csp.group(1)):
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]
        assert "'unsafe-eval'" not in csp
    assert 'Permissions-Policy "camera=(self), microphone=(self)' in caddyfile
    assert "@component path /component/* /_stcore/bidi-components/*" in caddyfile


def test_inline_script_and_handler_hashes() -> None:
    page = (
        '<script>\n  window.x = 1\n</script><script src="a.js"></script><input oninput="go(&quot;a&quot;)">'
    )
    # sha256 of the exact text between the tags, and of the handler after HTML unescaping.
    assert inline_script_hashes(page) == ["'sha256-9drQX42/rMuCwOCH/ydXOJ/IpVUloMeSNPc4MfJKROY='"]
    assert inline_handler_hashes(page) == inline_script_hashes('<script>go("a")</script>')
