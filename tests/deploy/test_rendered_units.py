"""The rendered production profile checked by the tools that will run it (issue 17).

Each profile (domain and LAN, one and two app servers) is rendered as deploy/install.sh renders
it, with the app directory pointed at this checkout (so the units' ExecStart finds a real
.venv/bin/python), and then:
- `systemd-analyze verify` reads every unit (the template's instances too): no unknown keys, no
  ExecStart that is not executable, nothing else it warns about;
- every unit a unit names (After=, Wants=, WantedBy=, the timer's service) is rendered or is
  one systemd ships, and every configuration file a unit names is one the profile renders;
- `caddy validate` accepts the Caddyfile without a warning;
- coturn runs the rendered turnserver.conf with the unit's own command line (on loopback): it
  reports no bad option, announces the profile's realm in its 401, and lets the portal's TURN
  credentials (portal.env's CLINIC_ICE_SERVERS) allocate a relay.
Each check skips with a message when its tool is absent (scripts/install_test_deps.sh installs
them), and fails instead under CI.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.render import Profile, write_profile
from tests.browser.conftest import free_port, stop_process
from tests.deploy.test_render import caddy_validate

REPO_ROOT = Path(__file__).resolve().parents[2]
TURNSERVER = Path("/usr/bin/turnserver")
TOOL_TIMEOUT_S = 60
TURN_START_TIMEOUT_S = 15.0


def _required_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is absent: install Debian's {package} package (scripts/install_test_deps.sh)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass(frozen=True)
class Rendered:
    profile: Profile
    out: Path
    files: dict[str, str]

    @property
    def units(self) -> list[str]:
        return sorted(name for name in self.files if name.endswith((".service", ".timer")))

    @property
    def unit_instances(self) -> list[str]:
        """The units as systemd loads them: the template as its instances (clinic-portal@8501...)."""
        names = [name for name in self.units if not name.endswith("@.service")]
        return sorted({*names, *self.profile.portal_units})


PROFILES = {
    "domain": dict(sites=("clinic.example.org",), external_ip="203.0.113.10"),
    "domain-2-servers": dict(sites=("clinic.example.org",), external_ip="203.0.113.10", app_servers=2),
    "lan": dict(sites=("clinic.lan", "192.168.1.10"), lan=True),
    "lan-2-servers": dict(sites=("clinic.lan", "192.168.1.10"), lan=True, app_servers=2),
}


@pytest.fixture(params=sorted(PROFILES))
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> Rendered:
    if not (REPO_ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv in the checkout (make setup): the units' ExecStart would point at nothing")
    profile = Profile(app_dir=REPO_ROOT, acme_email="ops@example.org", **PROFILES[request.param])
    out = tmp_path / "profile"
    files = {path.name: path.read_text(encoding="utf-8") for path in write_profile(profile, out)}
    return Rendered(profile, out, files)


def systemd_verify(analyze: str, unit_dir: Path, units: list[str]) -> tuple[int, list[str]]:
    """`systemd-analyze verify` over `units` in `unit_dir`: its exit status and what it says
    about these units (lines naming them or their files; other noise of the host is left out)."""
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(f"./{unit}" for unit in units)],
        cwd=unit_dir,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
    )
    output = (result.stdout + result.stderr).splitlines()
    ours = [line for line in output if "clinic-" in line or str(unit_dir) in line]
    return result.returncode, ours


def test_systemd_analyze_verify_accepts_every_unit(rendered: Rendered) -> None:
    analyze = _required_tool("systemd-analyze", "systemd")
    returncode, complaints = systemd_verify(analyze, rendered.out, rendered.unit_instances)
    assert (returncode, complaints) == (0, []), "\n".join(complaints)


def test_systemd_analyze_verify_catches_a_broken_unit(rendered: Rendered) -> None:
    """The check above is not vacuous: the same call reports a typo'd key and a missing program."""
    analyze = _required_tool("systemd-analyze", "systemd")
    name = next(name for name in rendered.units if name.startswith("clinic-portal"))
    path = rendered.out / name
    text = path.read_text().replace("Restart=on-failure", "Restart=on-failure\nRestartSecs=5")
    path.write_text(text.replace(f"{REPO_ROOT}/.venv/bin/python", "/nonexistent/python"))
    returncode, complaints = systemd_verify(analyze, rendered.out, rendered.unit_instances)
    assert returncode != 0
    assert any("Unknown key" in line and "RestartSecs" in line for line in complaints), complaints
    assert any("/nonexistent/python is not executable" in line for line in complaints), complaints


def _unit_list(text: str, *keys: str) -> list[str]:
    names = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in keys:
            names += value.split()
    return names


def _template_of(unit: str) -> str:
    """clinic-portal@8501.service -> clinic-portal@.service (other names unchanged)."""
    return re.sub(r"@[^.]+\.", "@.", unit)


def test_units_name_only_units_and_files_that_exist(rendered: Rendered) -> None:
    analyze = _required_tool("systemd-analyze", "systemd")
    paths = subprocess.run(
        [analyze, "unit-paths"], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=True
    ).stdout.split()
    profile = rendered.profile
    for name in rendered.units:
        text = rendered.files[name]
        named = _unit_list(text, "After", "Before", "Wants", "Requires", "BindsTo", "WantedBy", "Unit")
        if name.endswith(".timer") and not _unit_list(text, "Unit"):
            named.append(name.removesuffix(".timer") + ".service")  # a timer starts its namesake
        for unit in named:
            shipped = any((Path(directory) / _template_of(unit)).exists() for directory in paths)
            assert _template_of(unit) in rendered.files or shipped, f"{name} names {unit}: no such unit"

    # The configuration a unit reads is a file install.sh installs from this profile.
    installed = {
        str(profile.caddyfile): "Caddyfile",
        str(profile.config_dir / "portal.env"): "portal.env",
        str(profile.turn_config): "turnserver.conf",
    }
    config_paths = "|".join(
        re.escape(str(folder)) for folder in (profile.config_dir, profile.caddyfile.parent)
    )
    for name in rendered.units:
        for path in re.findall(rf"(?:{config_paths})/\S+", rendered.files[name]):
            if Path(path) == profile.key_dir:
                continue  # a directory install.sh creates (the master key's)
            assert installed.get(path) in rendered.files, (
                f"{name} reads {path}, which this profile does not render"
            )


def test_caddy_validates_the_caddyfile_without_warnings(
    rendered: Rendered, tmp_path: Path, caddy_binary: Path
) -> None:
    result = caddy_validate(rendered.files["Caddyfile"], tmp_path, caddy_binary)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Valid configuration" in output, output
    levels = [json.loads(line).get("level") for line in output.splitlines() if line.startswith("{")]
    assert not {"warn", "error"} & set(levels), output


# ------------------------------------------------------------------ coturn

STUN_MAGIC = 0x2112A442
ALLOCATE, ALLOCATE_SUCCESS, ALLOCATE_ERROR = 0x0003, 0x0103, 0x0113
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE, REALM, NONCE, REQUESTED_TRANSPORT = (
    0x0006,
    0x0008,
    0x0009,
    0x0014,
    0x0015,
    0x0019,
)


def _attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def _allocate_request(attributes: bytes, integrity_key: bytes | None = None) -> bytes:
    transaction = os.urandom(12)
    body = _attribute(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0])) + attributes  # 17: UDP
    if integrity_key is None:
        return struct.pack("!HHI", ALLOCATE, len(body), STUN_MAGIC) + transaction + body
    # MESSAGE-INTEGRITY: HMAC-SHA1 over the message whose length already counts the attribute.
    header = struct.pack("!HHI", ALLOCATE, len(body) + 24, STUN_MAGIC) + transaction
    digest = hmac.new(integrity_key, header + body, hashlib.sha1).digest()
    return header + body + _attribute(MESSAGE_INTEGRITY, digest)


def _parse(message: bytes) -> tuple[int, dict[int, bytes]]:
    kind, length = struct.unpack("!HH", message[:4])
    attributes: dict[int, bytes] = {}
    offset = 20
    while offset < 20 + length:
        attribute, size = struct.unpack("!HH", message[offset : offset + 4])
        attributes.setdefault(attribute, message[offset + 4 : offset + 4 + size])
        offset += 4 + size + (-size % 4)
    return kind, attributes


def _exchange(client: socket.socket, port: int, request: bytes) -> tuple[int, dict[int, bytes]] | None:
    """One request and its answer (None: no answer yet). coturn ties a nonce to the client's
    address, so the challenge and the signed request go through the same socket."""
    try:
        client.sendto(request, ("127.0.0.1", port))
        return _parse(client.recvfrom(4096)[0])
    except OSError:
        return None


def _portal_turn_credentials(env_text: str) -> tuple[str, str]:
    env = dict(line.split("=", 1) for line in env_text.splitlines() if line and not line.startswith("#"))
    ice = json.loads(shlex.split(env["CLINIC_ICE_SERVERS"])[0])
    relay = next(server for server in ice if "username" in server)
    return relay["username"], relay["credential"]


def test_coturn_runs_the_rendered_config(tmp_path: Path) -> None:
    turnserver = _required_tool(str(TURNSERVER), "coturn")
    profile = Profile(sites=("clinic.example.org",), external_ip="203.0.113.10", app_dir=REPO_ROOT)
    files = {path.name: path.read_text() for path in write_profile(profile, tmp_path / "profile")}
    # The server's config, listening on a free loopback port instead of 0.0.0.0:3478.
    port = free_port()
    config = re.sub(r"(?m)^listening-port=.*$", f"listening-port={port}", files["turnserver.conf"])
    config = re.sub(r"(?m)^listening-ip=.*$", "listening-ip=127.0.0.1", config)
    config_path = tmp_path / "turnserver.conf"
    config_path.write_text(config)
    # The unit's own command line, with the config moved to the test's copy.
    (exec_start,) = [
        line for line in files["clinic-turn.service"].splitlines() if line.startswith("ExecStart=")
    ]
    command = shlex.split(exec_start.removeprefix("ExecStart="))
    assert command[:3] == [str(TURNSERVER), "-c", str(profile.turn_config)]
    command[0], command[2] = turnserver, str(config_path)

    log_path = tmp_path / "turn.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(0.5)
    try:
        deadline = time.monotonic() + TURN_START_TIMEOUT_S
        challenge = _exchange(client, port, _allocate_request(b""))
        while challenge is None:
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
            challenge = _exchange(client, port, _allocate_request(b""))
        kind, attributes = challenge
        assert kind == ALLOCATE_ERROR and attributes[ERROR_CODE][2:4] == bytes([4, 1])  # 401
        assert attributes[REALM] == profile.turn_host.encode()

        username, password = _portal_turn_credentials(files["portal.env"])
        key = hashlib.md5(f"{username}:{profile.turn_host}:{password}".encode()).digest()
        signed = _attribute(USERNAME, username.encode()) + _attribute(REALM, attributes[REALM])
        answer = _exchange(
            client, port, _allocate_request(signed + _attribute(NONCE, attributes[NONCE]), key)
        )
        assert answer is not None and answer[0] == ALLOCATE_SUCCESS, (answer, log_path.read_text())
    finally:
        client.close()
        stop_process(process)
    log = log_path.read_text(errors="replace")
    problems = [
        line for line in log.splitlines() if re.search(r"Bad configuration|CONFIG ERROR|ERROR:", line)
    ]
    assert not problems, log
