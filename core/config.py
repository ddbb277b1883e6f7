"""Settings read once from the environment; every default suits a single-server clinic."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from core.paths import data_dir, model_dir

SMTP_TLS_MODES = ("starttls", "ssl", "none")


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


CALL_QUALITY_LOG_MODES = ("off", "on", "probe")


def _call_quality_log() -> str:
    mode = os.environ.get("CLINIC_CALL_QUALITY_LOG", "off").strip().lower() or "off"
    if mode not in CALL_QUALITY_LOG_MODES:
        raise ValueError(f"CLINIC_CALL_QUALITY_LOG must be one of {', '.join(CALL_QUALITY_LOG_MODES)}")
    return mode


def _ice_transport_policy() -> str:
    policy = os.environ.get("CLINIC_ICE_TRANSPORT_POLICY", "all").strip().lower() or "all"
    if policy not in {"all", "relay"}:
        raise ValueError("CLINIC_ICE_TRANSPORT_POLICY must be 'all' or 'relay'")
    return policy


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    model_dir: Path
    key_file: Path
    master_key_env: str | None  # CLINIC_MASTER_KEY, base64 or hex of 32 bytes, wins over the key file
    session_idle_minutes: int = 30
    session_max_hours: int = 12  # absolute lifetime of a session, however active
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    demo: bool = False
    clinic_name: str = "Clinic"
    clinic_timezone: str = "Europe/Amsterdam"
    # How many upcoming visits a patient may book themselves on one case (physicians book freely).
    max_patient_bookings_per_case: int = 1
    # A half-filled intake kept on the server (core/consult/drafts.py) expires this long after its
    # last change.
    draft_retention_days: int = 30
    # The letterhead of reports and the clinic's Organization in FHIR exports; unset lines are left out
    # (a letter never shows an invented address). Address lines are separated by "\n" or ";".
    clinic_address: str | None = None
    clinic_phone: str | None = None
    clinic_email: str | None = None
    # WebRTC ICE servers; empty works on a LAN. e.g. '[{"urls": ["stun:stun.example.org:3478"]}]'
    ice_servers: list[dict] = field(default_factory=list)
    # "relay" makes browsers send media only through the TURN servers above (proves the TURN path).
    ice_transport_policy: str = "all"
    # Troubleshooting a clinic's calls: "on" appends what both browsers and the AR process measure
    # (fps, freezes, route, round trip) to <data dir>/live_stats/; "probe" also reads frame numbers
    # stamped into a test video (glass-to-glass latency in benchmarks/bench_live_consult.py).
    call_quality_log: str = "off"
    # Outgoing e-mail (invitations, reminders); no host = nothing is ever sent.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)  # never in logs or tracebacks
    smtp_from: str | None = None
    smtp_tls: str = "starttls"  # starttls | ssl | none
    # The address patients open (e.g. https://portal.example.org), for links in e-mails.
    public_url: str | None = None
    # A clinic group: CLINIC_DATABASE_URL=postgresql://user:pass@host/db puts the data in PostgreSQL
    # (several app servers share it); unset = the embedded, encrypted DuckDB file in data_dir.
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    database_pool_size: int = 10  # PostgreSQL connections per app server
    # Several app servers behind Caddy (docs/DEPLOY.md "Several app servers"): this server's
    # upstream address exactly as Caddy dials it (e.g. 127.0.0.1:8502), and Caddy's sticky cookie
    # (`lb_policy cookie <name> <secret>`). Unset = one server: live rooms are never looked up
    # elsewhere and no browser is moved.
    server_id: str | None = None
    sticky_cookie: str | None = None
    sticky_secret: str | None = field(default=None, repr=False)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "clinic.duckdb"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @classmethod
    def from_env(cls) -> Settings:
        directory = data_dir()
        ice_raw = os.environ.get("CLINIC_ICE_SERVERS", "").strip()
        try:
            ice_servers = json.loads(ice_raw) if ice_raw else []
        except json.JSONDecodeError as error:
            raise ValueError(f"CLINIC_ICE_SERVERS is not valid JSON: {error}") from error
        if not isinstance(ice_servers, list):
            raise ValueError("CLINIC_ICE_SERVERS must be a JSON list of RTCIceServer objects")
        smtp_tls = os.environ.get("CLINIC_SMTP_TLS", "starttls").strip().lower() or "starttls"
        if smtp_tls not in SMTP_TLS_MODES:
            raise ValueError(f"CLINIC_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, not {smtp_tls!r}")
        # Port 465 is the SMTPS convention; 587 (submission with STARTTLS) otherwise.
        default_port = "465" if smtp_tls == "ssl" else "587"
        return cls(
            data_dir=directory,
            model_dir=model_dir(),
            key_file=Path(os.environ.get("CLINIC_KEY_FILE", directory / "master.key")),
            master_key_env=os.environ.get("CLINIC_MASTER_KEY") or None,
            session_idle_minutes=int(os.environ.get("CLINIC_SESSION_IDLE_MINUTES", "30")),
            session_max_hours=int(os.environ.get("CLINIC_SESSION_MAX_HOURS", "12")),
            max_failed_logins=int(os.environ.get("CLINIC_MAX_FAILED_LOGINS", "5")),
            lockout_minutes=int(os.environ.get("CLINIC_LOCKOUT_MINUTES", "15")),
            demo=_env_bool("CLINIC_DEMO", False),
            clinic_name=os.environ.get("CLINIC_NAME", "Aesthetic Dermatology Clinic"),
            clinic_timezone=os.environ.get("CLINIC_TIMEZONE", "Europe/Amsterdam"),
            max_patient_bookings_per_case=max(
                0, int(os.environ.get("CLINIC_MAX_PATIENT_BOOKINGS_PER_CASE", "").strip() or "1")
            ),
            draft_retention_days=max(
                1, int(os.environ.get("CLINIC_DRAFT_RETENTION_DAYS", "").strip() or "30")
            ),
            clinic_address=os.environ.get("CLINIC_ADDRESS", "").strip() or None,
            clinic_phone=os.environ.get("CLINIC_PHONE", "").strip() or None,
            clinic_email=os.environ.get("CLINIC_EMAIL", "").strip() or None,
            ice_servers=ice_servers,
            ice_transport_policy=_ice_transport_policy(),
            call_quality_log=_call_quality_log(),
            smtp_host=os.environ.get("CLINIC_SMTP_HOST", "").strip() or None,
            smtp_port=int(os.environ.get("CLINIC_SMTP_PORT", "").strip() or default_port),
            smtp_user=os.environ.get("CLINIC_SMTP_USER", "").strip() or None,
            smtp_password=os.environ.get("CLINIC_SMTP_PASSWORD") or None,
            smtp_from=os.environ.get("CLINIC_SMTP_FROM", "").strip() or None,
            smtp_tls=smtp_tls,
            public_url=os.environ.get("CLINIC_PUBLIC_URL", "").strip().rstrip("/") or None,
            database_url=os.environ.get("CLINIC_DATABASE_URL", "").strip() or None,
            database_pool_size=max(1, int(os.environ.get("CLINIC_DATABASE_POOL_SIZE", "").strip() or "10")),
            server_id=os.environ.get("CLINIC_SERVER_ID", "").strip() or None,
            sticky_cookie=os.environ.get("CLINIC_STICKY_COOKIE", "").strip() or None,
            sticky_secret=os.environ.get("CLINIC_STICKY_SECRET", "").strip() or None,
        )
