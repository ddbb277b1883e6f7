"""Which app server holds each open live consult room, and how a browser gets there.

Several app servers run behind Caddy with sticky sessions (`lb_policy cookie`, docs/DEPLOY.md):
Caddy pins each browser to one server with a cookie whose value is the HMAC-SHA256 (hex) of
that server's upstream dial address under a secret (Caddy 2.x; checked against the real binary in
tests/deploy/test_app_servers.py). A live consult's room lives in the memory of the server
process that opened it (`core.live.rooms.RoomRegistry`), so both participants must be on that
server. The registry records each open room here (`live_room_hosts`, migration 040); a page that
does not find a case's room in its own registry asks `held_elsewhere_*` and, with a `RoomMove`,
sets the sticky cookie to the holding server's value and reloads: the session cookie resumes the
log-in there.

Active only when the server knows its identity (`CLINIC_SERVER_ID`, its upstream address as
Caddy dials it); a single server (no id) records nothing and never moves a browser.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.access import PHYSICIAN, AccessDenied, Principal
from core.config import Settings
from core.db import Database, from_db_time, to_db_time, utcnow
from core.rows import fetch_all_as, fetch_one_as

log = logging.getLogger(__name__)


def sticky_cookie_value(secret: str, server_id: str) -> str:
    """Caddy's `lb_policy cookie` value for an upstream: hex HMAC-SHA256 of its dial address."""
    return hmac.new(secret.encode(), server_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StickyCookie:
    """The cookie Caddy pins browsers with (`lb_policy cookie <name> <secret>`)."""

    name: str
    secret: str = field(repr=False)

    def value_for(self, server_id: str) -> str:
        return sticky_cookie_value(self.secret, server_id)


@dataclass(frozen=True)
class RoomHost:
    """One open room and the server (its upstream address) whose memory holds it."""

    room_id: str
    case_id: str
    server_id: str
    opened_at: datetime
    waiting_patients: int = 0  # patients in the room's waiting room (the holding server keeps it)
    opened_by: str | None = None  # the user id of the physician who opened it


@dataclass(frozen=True)
class RoomMove:
    """What the page tells the browser: set this cookie, then load the room's page again."""

    room_id: str
    server_id: str
    cookie_name: str
    cookie_value: str


class RoomHeldElsewhere(RuntimeError):
    """The case already has an open room on another app server."""

    def __init__(self, host: RoomHost) -> None:
        super().__init__(f"the case's live consult is open on server {host.server_id}")
        self.host = host


class CaseGate(Protocol):
    def check_case_access(self, principal: Principal, case_id: str) -> object: ...


@dataclass(frozen=True)
class _HostRow:
    room_id: str
    case_id: str
    server_id: str
    opened_at: datetime
    waiting_patients: int | None
    opened_by: str | None

    def host(self) -> RoomHost:
        return RoomHost(
            self.room_id,
            self.case_id,
            self.server_id,
            from_db_time(self.opened_at),
            int(self.waiting_patients or 0),
            self.opened_by,
        )


_COLUMNS = "room_id, case_id, server_id, opened_at, waiting_patients, opened_by"


class RoomHostService:
    """`live_room_hosts` for one server. Disabled (records and finds nothing) without a server id."""

    def __init__(
        self,
        db: Database,
        cases: CaseGate,
        server_id: str | None,
        sticky: StickyCookie | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._cases = cases
        self.server_id = server_id or None
        self.sticky = sticky
        self._clock = clock

    @classmethod
    def for_settings(cls, db: Database, cases: CaseGate, settings: Settings) -> RoomHostService:
        sticky = None
        if settings.sticky_cookie and settings.sticky_secret:
            sticky = StickyCookie(settings.sticky_cookie, settings.sticky_secret)
        return cls(db, cases, settings.server_id, sticky)

    @property
    def enabled(self) -> bool:
        return self.server_id is not None

    # --- the registry's side (no principal: the registry checked access already) --------------
    def record_open(self, room_id: str, case_id: str, opened_by: str | None = None) -> None:
        """This server now holds `room_id`; RoomHeldElsewhere if another server holds the case's room."""
        if self.server_id is None:
            return
        # Our own row for the case is a room this process no longer holds (the registry only
        # opens a room when it has none for the case): it goes first.
        self._db.execute(
            "DELETE FROM live_room_hosts WHERE case_id = ? AND server_id = ?", [case_id, self.server_id]
        )
        # The UNIQUE case_id decides between two servers opening the same case at once.
        self._db.execute(
            "INSERT INTO live_room_hosts (room_id, case_id, server_id, opened_at, waiting_patients, opened_by)"
            " VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT DO NOTHING",
            [room_id, case_id, self.server_id, to_db_time(self._clock()), opened_by],
        )
        held = self._row_for_case(case_id)
        if held is not None and held.server_id != self.server_id:
            raise RoomHeldElsewhere(held.host())

    def record_waiting(self, room_id: str, count: int) -> None:
        """How many patients wait in this server's room now (join, admit, leave)."""
        if self.server_id is None:
            return
        self._db.execute(
            "UPDATE live_room_hosts SET waiting_patients = ? WHERE room_id = ? AND server_id = ?",
            [int(count), room_id, self.server_id],
        )

    def record_end(self, room_id: str) -> None:
        if self.server_id is None:
            return
        self._db.execute(
            "DELETE FROM live_room_hosts WHERE room_id = ? AND server_id = ?", [room_id, self.server_id]
        )

    def clear_own(self, keep: Iterable[str] = ()) -> int:
        """Delete this server's rows except the rooms in `keep` (at start: every row is stale)."""
        if self.server_id is None:
            return 0
        kept = set(keep)
        own = [
            row.room_id
            for row in fetch_all_as(
                self._db.cursor(),
                _HostRow,
                f"SELECT {_COLUMNS} FROM live_room_hosts WHERE server_id = ?",
                [self.server_id],
            )
            if row.room_id not in kept
        ]
        for room_id in own:
            self._db.execute(
                "DELETE FROM live_room_hosts WHERE room_id = ? AND server_id = ?", [room_id, self.server_id]
            )
        if own:
            log.info("cleared %d stale live room(s) of server %s", len(own), self.server_id)
        return len(own)

    # --- the pages' side ------------------------------------------------------------------------
    def held_elsewhere_for_case(self, principal: Principal, case_id: str) -> RoomHost | None:
        """The case's open room on another server, if any (AccessDenied for someone else's case)."""
        if self.server_id is None:
            return None
        self._cases.check_case_access(principal, case_id)
        held = self._row_for_case(case_id)
        return held.host() if held is not None and held.server_id != self.server_id else None

    def held_elsewhere_for_cases(self, principal: Principal, case_ids: Iterable[str]) -> list[RoomHost]:
        """Open rooms on other servers for any of `case_ids` (one query; access checked per room)."""
        wanted = sorted(set(case_ids))
        if self.server_id is None or not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        rows = fetch_all_as(
            self._db.cursor(),
            _HostRow,
            f"SELECT {_COLUMNS} FROM live_room_hosts WHERE case_id IN ({marks}) AND server_id <> ?"
            " ORDER BY opened_at",
            [*wanted, self.server_id],
        )
        for row in rows:
            self._cases.check_case_access(principal, row.case_id)
        return [row.host() for row in rows]

    def open_elsewhere(self, principal: Principal) -> list[RoomHost]:
        """Physicians: the open rooms other servers hold, oldest first, with their waiting counts
        (the live consult page's list, the waiting badge); each case's access checked."""
        if principal.role != PHYSICIAN:
            raise AccessDenied("only physicians list consult rooms")
        if self.server_id is None:
            return []
        rows = fetch_all_as(
            self._db.cursor(),
            _HostRow,
            f"SELECT {_COLUMNS} FROM live_room_hosts WHERE server_id <> ? ORDER BY opened_at",
            [self.server_id],
        )
        for row in rows:
            self._cases.check_case_access(principal, row.case_id)
        return [row.host() for row in rows]

    def held_elsewhere(self, principal: Principal, room_id: str) -> RoomHost | None:
        """The room by id when another server holds it (AccessDenied for someone else's case)."""
        if self.server_id is None:
            return None
        held = fetch_one_as(
            self._db.cursor(),
            _HostRow,
            f"SELECT {_COLUMNS} FROM live_room_hosts WHERE room_id = ?",
            [room_id],
        )
        if held is None or held.server_id == self.server_id:
            return None
        self._cases.check_case_access(principal, held.case_id)
        return held.host()

    def move_to(self, host: RoomHost) -> RoomMove | None:
        """How to reach `host`'s server; None when no sticky cookie is configured (nowhere to move)."""
        if self.sticky is None or host.server_id == self.server_id:
            return None
        return RoomMove(host.room_id, host.server_id, self.sticky.name, self.sticky.value_for(host.server_id))

    def _row_for_case(self, case_id: str) -> _HostRow | None:
        return fetch_one_as(
            self._db.cursor(),
            _HostRow,
            f"SELECT {_COLUMNS} FROM live_room_hosts WHERE case_id = ?",
            [case_id],
        )
