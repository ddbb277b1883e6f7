"""Render the production profile (Caddyfile, coturn config, portal.env, systemd units) from the
templates in deploy/templates/.

deploy/install.sh calls this with the server's choices; tests call `render_profile` directly and
check the result (`caddy validate`, the units' ExecStart). Standard library only, except that the
Content-Security-Policy's script hashes are read from the installed Streamlit and the portal's own
components when they can be imported.

    python -m deploy.render --domain clinic.example.org --out /tmp/profile
    python -m deploy.render --lan --site clinic.lan --site 192.168.1.10 --out /tmp/profile
    python -m deploy.render --domain clinic.example.org --app-servers 3 --out /tmp/profile

Several app servers (`--app-servers N`, on PostgreSQL): N Streamlit processes on the loopback
ports `--port` .. `--port`+N-1, one templated unit `clinic-portal@PORT.service` each, and Caddy
in front with sticky sessions (`lb_policy cookie`) and health checks (docs/DEPLOY.md).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

DEPLOY_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = DEPLOY_DIR / "templates"
REPO_ROOT = DEPLOY_DIR.parent

UNIT_NAMES = (
    "clinic-portal.service",
    "clinic-caddy.service",
    "clinic-turn.service",
    "clinic-backup.service",
    "clinic-backup.timer",
)
# Several app servers: one instance per loopback port (clinic-portal@8501.service, ...).
PORTAL_TEMPLATE_UNIT = "clinic-portal@.service"
STICKY_COOKIE = "clinic_server"
# Caddy asks every app server for Streamlit's health page this often; one that does not answer
# gets no new browsers, and those pinned to it are moved to another (a new log-in there is not
# needed: the session cookie resumes it).
HEALTH_INTERVAL = "5s"

# Only the portal's own origin may use the camera and microphone (the live consult, the photo
# guide); features the portal never uses are off for every origin.
PERMISSIONS_POLICY = "camera=(self), microphone=(self), geolocation=(), payment=(), usb=()"


@dataclass(frozen=True)
class Profile:
    """One clinic server's choices. `lan=True`: Caddy's internal CA, no TURN (not needed on a LAN)."""

    sites: tuple[str, ...]
    lan: bool = False
    acme_email: str | None = None
    app_dir: Path = Path("/opt/clinic-portal")
    data_dir: Path = Path("/var/lib/clinic-portal")
    config_dir: Path = Path("/etc/clinic-portal")
    backup_dir: Path = Path("/var/backups/clinic-portal")
    caddyfile: Path = Path("/etc/caddy/clinic-portal.Caddyfile")
    caddy_storage: Path = Path("/var/lib/caddy/clinic-portal")
    caddy_admin: str = "localhost:2019"
    user: str = "clinic"
    portal_host: str = "127.0.0.1"
    portal_port: int = 8501
    http_port: int | None = None  # None: Caddy's default (80); tests move it off privileged ports
    https_port: int | None = None
    backup_keep: int = 14
    backup_on_calendar: str = "*-*-* 03:30:00"
    turn_user: str = "clinic"
    turn_password: str = field(default_factory=lambda: secrets.token_hex(24), repr=False)
    external_ip: str | None = None  # coturn's external-ip: "PUBLIC" or "PUBLIC/PRIVATE" behind NAT
    relay_min_port: int = 49160
    relay_max_port: int = 49200
    app_servers: int = 1  # more than one: sticky sessions in Caddy, clinic-portal@PORT units
    sticky_secret: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)

    def __post_init__(self) -> None:
        if not self.sites:
            raise ValueError("give at least one site address (a domain, a LAN name or an IP)")
        for site in self.sites:
            if not re.fullmatch(r"(https://)?[A-Za-z0-9.:\[\]-]+", site):
                raise ValueError(f"not a plain host name, IP or host:port: {site!r}")
        if self.backup_keep < 1:
            raise ValueError("keep at least one backup")
        if self.app_servers < 1:
            raise ValueError("run at least one app server")

    @property
    def portal_ports(self) -> tuple[int, ...]:
        return tuple(range(self.portal_port, self.portal_port + self.app_servers))

    @property
    def upstreams(self) -> tuple[str, ...]:
        """Each app server's address exactly as Caddy dials it (also its CLINIC_SERVER_ID)."""
        return tuple(f"{self.portal_host}:{port}" for port in self.portal_ports)

    @property
    def portal_units(self) -> tuple[str, ...]:
        """The units that run the portal: the one service, or one template instance per port."""
        if self.app_servers == 1:
            return ("clinic-portal.service",)
        return tuple(f"clinic-portal@{port}.service" for port in self.portal_ports)

    @property
    def key_dir(self) -> Path:
        return self.config_dir / "key"

    @property
    def turn_config(self) -> Path:
        return self.config_dir / "turnserver.conf"

    @property
    def turn_host(self) -> str:
        return _host_of(self.sites[0])

    @property
    def public_url(self) -> str:
        site = self.sites[0]
        url = site if site.startswith("https://") else f"https://{site}"
        if self.https_port and self.https_port != 443 and ":" not in site.removeprefix("https://"):
            url += f":{self.https_port}"
        return url


def _host_of(site: str) -> str:
    host = site.removeprefix("https://")
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


# ------------------------------------------------------------------ Content-Security-Policy


def _script_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def inline_script_hashes(html_text: str) -> list[str]:
    """CSP hashes of the inline <script> blocks (no src) in an HTML page."""
    hashes = []
    for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html_text, flags=re.S):
        if "src=" not in attributes and body.strip():
            hashes.append(_script_hash(body))
    return hashes


def inline_handler_hashes(html_text: str) -> list[str]:
    """CSP hashes of inline event handlers (oninput="..."), allowed with 'unsafe-hashes'."""
    handlers = re.findall(r"\son[a-z]+=\"([^\"]*)\"", html_text)
    return [_script_hash(html.unescape(handler)) for handler in handlers]


def script_hashes() -> tuple[list[str], list[str]]:
    """(inline script hashes, inline handler hashes) the portal's pages need.

    - Streamlit's index.html has one small inline script (window.prerenderReady).
    - The before/after slider (components/before_after.py) is an st.components.v1.html srcdoc
      iframe: it inherits the page's CSP, and its slider moves through an oninput handler.
    Both are read from the code that is deployed, so a changed script changes the hash.
    """
    scripts: list[str] = []
    handlers: list[str] = []
    try:
        import streamlit

        index = Path(streamlit.__file__).parent / "static" / "index.html"
        scripts += inline_script_hashes(index.read_text(encoding="utf-8"))
    except (ImportError, OSError) as error:
        print(f"warning: no Streamlit to read inline script hashes from ({error})", file=sys.stderr)
    live_call = REPO_ROOT / "components" / "live_call" / "index.html"
    if live_call.is_file():
        scripts += inline_script_hashes(live_call.read_text(encoding="utf-8"))
    try:
        sys.path.insert(0, str(REPO_ROOT))
        from components.before_after import slider_html

        slider = slider_html(b"", b"")
        scripts += inline_script_hashes(slider)
        handlers += inline_handler_hashes(slider)
    except ImportError as error:
        print(f"warning: before/after slider not importable ({error})", file=sys.stderr)
    finally:
        sys.path.remove(str(REPO_ROOT))
    return sorted(set(scripts)), sorted(set(handlers))


def content_security_policy(frame_ancestors: str, scripts: list[str], handlers: list[str]) -> str:
    """The CSP for the portal ('none') or its component iframes ('self').

    Streamlit needs: its own scripts and WebAssembly ('wasm-unsafe-eval' allows compiling wasm,
    not JavaScript eval); inline styles (emotion writes <style> at run time);
    images and media as data: and blob: URLs (st.image, camera snapshots); its WebSocket and
    fetches to the same origin ('self' covers wss: to the same host); same-origin iframes for
    custom components and srcdoc ones for components.v1.html. Nothing from other origins: the
    page icon Streamlit would fetch from fonts.gstatic.com for a :material/...: icon stays blocked
    (no third party learns who opens a clinic's portal; the browser shows its default icon).
    """
    script_src = ["'self'", "'wasm-unsafe-eval'", *scripts]
    if handlers:
        script_src += ["'unsafe-hashes'", *handlers]
    directives = [
        "default-src 'self'",
        "script-src " + " ".join(script_src),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "frame-src 'self' blob: data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ]
    return "; ".join(directives)


# ------------------------------------------------------------------ rendering


def _render(template: Path, values: dict[str, object]) -> str:
    # string.Template's ${name} does not collide with Caddy's {placeholders}; a missing value
    # raises KeyError instead of leaving a hole in the output.
    return Template(template.read_text(encoding="utf-8")).substitute(
        {key: str(value) for key, value in values.items()}
    )


def ice_servers(profile: Profile) -> list[dict[str, object]]:
    """CLINIC_ICE_SERVERS for the portal: our coturn (UDP and TCP), nothing on a LAN."""
    if profile.lan:
        return []
    host = profile.turn_host
    return [
        {"urls": [f"stun:{host}:3478"]},
        {
            "urls": [f"turn:{host}:3478?transport=udp", f"turn:{host}:3478?transport=tcp"],
            "username": profile.turn_user,
            "credential": profile.turn_password,
        },
    ]


def render_caddyfile(profile: Profile) -> str:
    scripts, handlers = script_hashes()
    global_extra = ""
    if profile.http_port is not None:
        global_extra += f"\thttp_port {profile.http_port}\n"
    if profile.https_port is not None:
        global_extra += f"\thttps_port {profile.https_port}\n"
    if profile.acme_email and not profile.lan:
        global_extra += f"\temail {profile.acme_email}\n"
    # LAN: certificates from Caddy's own CA (install its root on the clinic's devices). Domain:
    # Caddy's automatic HTTPS (Let's Encrypt / ZeroSSL over ACME; port 80 or 443 must be open).
    # (The directive and its blank line, or nothing: `caddy fmt` leaves the result as it is.)
    tls = "\ttls internal\n\n" if profile.lan else ""
    return _render(
        TEMPLATE_DIR / "Caddyfile",
        {
            "admin": profile.caddy_admin,
            "storage": profile.caddy_storage,
            "global_extra": global_extra,
            "sites": ", ".join(profile.sites),
            "tls": tls,
            "permissions_policy": PERMISSIONS_POLICY,
            "csp_component": content_security_policy("'self'", scripts, handlers),
            "csp_portal": content_security_policy("'none'", scripts, handlers),
            "upstream": reverse_proxy_upstreams(profile),
        },
    )


def reverse_proxy_upstreams(profile: Profile) -> str:
    """`reverse_proxy`'s arguments: one app server, or several with sticky sessions.

    Streamlit keeps each browser's session (its script state, uploads, media) in the memory of
    the server it connected to, so a browser stays on one server: Caddy's `lb_policy cookie` sets
    a cookie naming it (an HMAC of the upstream address under the secret). Active health checks
    take a stopped server out; its browsers then get another server and a new cookie, and their
    session cookie logs them in there. A failed connection is retried on another server for
    `lb_try_duration`.
    """
    if profile.app_servers == 1:
        return profile.upstreams[0]
    return (
        " ".join(profile.upstreams)
        + " {\n"
        + f"\t\tlb_policy cookie {STICKY_COOKIE} {profile.sticky_secret}\n"
        + "\t\tlb_try_duration 5s\n"
        + "\t\tfail_duration 30s\n"
        + "\t\thealth_uri /_stcore/health\n"
        + f"\t\thealth_interval {HEALTH_INTERVAL}\n"
        + "\t\thealth_timeout 3s\n"
        + "\t}"
    )


def render_turnserver_conf(profile: Profile) -> str:
    external = profile.external_ip or "127.0.0.1"
    allowed = "\n".join(f"allowed-peer-ip={ip}" for ip in external.split("/"))
    return _render(
        TEMPLATE_DIR / "turnserver.conf",
        {
            "external_ip": external,
            "realm": profile.turn_host,
            "turn_user": profile.turn_user,
            "turn_password": profile.turn_password,
            "allowed_peers": allowed,
            "relay_min_port": profile.relay_min_port,
            "relay_max_port": profile.relay_max_port,
        },
    )


def _values(profile: Profile) -> dict[str, object]:
    return {
        "user": profile.user,
        "app_dir": profile.app_dir,
        "data_dir": profile.data_dir,
        "config_dir": profile.config_dir,
        "key_dir": profile.key_dir,
        "backup_dir": profile.backup_dir,
        "backup_keep": profile.backup_keep,
        "backup_on_calendar": profile.backup_on_calendar,
        "caddyfile": profile.caddyfile,
        "turn_config": profile.turn_config,
        "portal_port": profile.portal_port,
    }


def render_env(profile: Profile) -> str:
    # Single quotes: systemd's EnvironmentFile and a shell both take the JSON verbatim.
    ice = json.dumps(ice_servers(profile), separators=(",", ":"))
    text = _render(
        TEMPLATE_DIR / "portal.env",
        {**_values(profile), "public_url": profile.public_url, "ice_servers": f"'{ice}'"},
    )
    if profile.app_servers > 1:
        # Each clinic-portal@PORT unit sets its own CLINIC_SERVER_ID; the cookie lets a page move
        # a browser to the server that holds a live consult's room (core/live/room_hosts.py).
        text += (
            "# Several app servers share one PostgreSQL database and one blob volume:\n"
            "# CLINIC_DATABASE_URL=postgresql://clinic@db.internal/clinic (required)\n"
            f"CLINIC_STICKY_COOKIE={STICKY_COOKIE}\n"
            f"CLINIC_STICKY_SECRET={profile.sticky_secret}\n"
        )
    return text


def render_units(profile: Profile) -> dict[str, str]:
    values = _values(profile)
    units = {name: _render(TEMPLATE_DIR / "systemd" / name, values) for name in UNIT_NAMES}
    if profile.lan:
        # No TURN on a LAN: no turnserver.conf either, so no unit that would start coturn with it.
        del units["clinic-turn.service"]
    if profile.app_servers > 1:
        units[PORTAL_TEMPLATE_UNIT] = portal_instance_unit(profile)
        del units["clinic-portal.service"]
        every = " ".join(profile.portal_units)  # units that start after the portal wait for each
        for name in [name for name in UNIT_NAMES[1:] if name in units]:
            units[name] = "\n".join(
                line.replace("clinic-portal.service", every) if line.startswith("After=") else line
                for line in units[name].split("\n")
            )
        # On PostgreSQL (required here) the backup is an online pg_dump snapshot: nothing pauses.
        units["clinic-backup.service"] = units["clinic-backup.service"].replace(
            " --pause-unit clinic-portal.service", ""
        )
    return units


def portal_instance_unit(profile: Profile) -> str:
    """clinic-portal@.service: the portal's unit with the instance name (%i) as its port and its
    server id (the address Caddy dials), so `clinic-portal@8502` is the app server on :8502."""
    unit = _render(
        TEMPLATE_DIR / "systemd" / "clinic-portal.service", {**_values(profile), "portal_port": "%i"}
    )
    unit = unit.replace(
        "Description=Clinic portal (Streamlit on loopback)",
        "Description=Clinic portal app server on 127.0.0.1:%i (Streamlit on loopback)",
    )
    environment_file = f"EnvironmentFile={profile.config_dir}/portal.env\n"
    assert environment_file in unit, "the portal unit template lost its EnvironmentFile line"
    return unit.replace(
        environment_file, environment_file + f"Environment=CLINIC_SERVER_ID={profile.portal_host}:%i\n"
    )


def render_profile(profile: Profile) -> dict[str, str]:
    """Every rendered file by its name: Caddyfile, portal.env, turnserver.conf (not on a LAN), units."""
    files = {"Caddyfile": render_caddyfile(profile), "portal.env": render_env(profile)}
    if not profile.lan:
        files["turnserver.conf"] = render_turnserver_conf(profile)
    files.update(render_units(profile))
    return files


def write_profile(profile: Profile, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_profile(profile).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)  # portal.env and turnserver.conf hold passwords; install.sh sets owners
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.render", description=(__doc__ or "").split("\n\n")[0]
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--domain", help="public domain name: automatic certificates, TURN for the media")
    mode.add_argument("--lan", action="store_true", help="LAN only: Caddy's internal CA, no TURN")
    parser.add_argument("--site", action="append", default=[], help="(LAN) a name or IP the clinic opens")
    parser.add_argument("--email", help="ACME account e-mail (certificate expiry notices)")
    parser.add_argument("--external-ip", help="coturn external-ip: PUBLIC or PUBLIC/PRIVATE behind NAT")
    parser.add_argument("--turn-password", help="TURN password (default: a new random one)")
    parser.add_argument("--sticky-secret", help="secret of Caddy's sticky cookie (default: a new random one)")
    parser.add_argument("--app-dir", type=Path, default=Profile.app_dir)
    parser.add_argument("--data-dir", type=Path, default=Profile.data_dir)
    parser.add_argument("--config-dir", type=Path, default=Profile.config_dir)
    parser.add_argument("--backup-dir", type=Path, default=Profile.backup_dir)
    parser.add_argument("--keep", type=int, default=Profile.backup_keep, help="backups to keep")
    parser.add_argument("--user", default=Profile.user)
    parser.add_argument("--port", type=int, default=Profile.portal_port, help="Streamlit's loopback port")
    parser.add_argument(
        "--app-servers",
        type=int,
        default=1,
        help="Streamlit processes behind Caddy with sticky sessions (more than 1 needs PostgreSQL)",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write the files into")
    args = parser.parse_args(argv)
    sites = tuple(args.site) if args.lan else (args.domain, *args.site)
    if not sites:
        parser.error("--lan needs at least one --site (a LAN name or the server's IP)")
    options: dict[str, object] = {}
    if args.turn_password:
        options["turn_password"] = args.turn_password
    if args.sticky_secret:
        options["sticky_secret"] = args.sticky_secret
    profile = Profile(
        sites=sites,
        lan=args.lan,
        acme_email=args.email,
        external_ip=args.external_ip,
        app_dir=args.app_dir,
        data_dir=args.data_dir,
        config_dir=args.config_dir,
        backup_dir=args.backup_dir,
        backup_keep=args.keep,
        user=args.user,
        portal_port=args.port,
        app_servers=args.app_servers,
        **options,  # type: ignore[arg-type]
    )
    for path in write_profile(profile, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
