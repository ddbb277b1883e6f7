"""Call signalling for the live consult: call passes, per-role mailboxes, the call state, client stats.

Plain video and sound go directly between the patient's and the physician's browsers (WebRTC,
DTLS-SRTP end to end); the server only carries their signalling. The browsers talk to this
module through the HTTP routes in `core/live/http.py`:

- a **call pass** (`issue_pass`) is an HMAC-signed, short-lived token naming the room, the user
  and the role. The page that renders the call issues it after its own access checks, so the
  HTTP routes need no Streamlit session; the room's current state is still checked on every call
  (a patient who is not admitted, or a room that ended, gets no signalling).
- **mailboxes**: each side posts offers, answers and ICE candidates for the other side, and
  long-polls its own mailbox. Messages are numbered; a fresh client starts at the newest number
  (it never replays an old call's offers).
- **call state** (`CallState`): admitted or waiting, whether the other side is present, whether
  the call has ended, and what the AR leg should do. A poll returns early when it changes, so
  "End" reaches the other page within a poll, not a page refresh.
- **client stats**: what each browser measures (displayed frames per second, freezes, connection
  state changes, camera and microphone working) for the pages, the tests and the benchmark.

One `CallHub` per server process, like the rooms it serves (`core.live.rooms.RoomRegistry`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from core.live.rooms import PATIENT_ROLE, PHYSICIAN_ROLE, Room, RoomRegistry

PASS_TTL_S = 12 * 3600  # a consult day; the room's own state ends a call long before that
MAILBOX_LIMIT = 400  # messages kept per recipient (a call exchanges a few dozen)
MAX_MESSAGE_BYTES = 64 * 1024  # an SDP with many candidates stays far below this
ROLES = (PATIENT_ROLE, PHYSICIAN_ROLE)


class PassError(PermissionError):
    """The call pass is missing, forged, expired, or names a room this user may no longer use."""


@dataclass(frozen=True)
class CallPass:
    room_id: str
    user_id: str
    role: str
    expires_at: float

    @property
    def other_role(self) -> str:
        return PATIENT_ROLE if self.role == PHYSICIAN_ROLE else PHYSICIAN_ROLE


@dataclass(frozen=True)
class ARLeg:
    """What the AR leg through the server should carry right now."""

    physician_view: bool = False  # the physician watches the simulated stream
    patient_upload: bool = False  # the patient's camera must reach the server (AR on for anyone)
    patient_shared: bool = False  # the patient is shown the simulation too


@dataclass(frozen=True)
class CallState:
    status: str  # "waiting" | "admitted" | "left" | "ended"
    other_present: bool  # the other side is admitted and in the room
    ar: ARLeg = field(default_factory=ARLeg)

    @property
    def in_call(self) -> bool:
        return self.status == "admitted" and self.other_present

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "in_call": self.in_call}


@dataclass
class _Mailbox:
    messages: deque[tuple[int, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=MAILBOX_LIMIT))


def ar_leg_for(room: Room, role: str) -> ARLeg:
    """The AR leg from the room's AR settings: it runs only while the physician has AR on."""
    active = bool(room.ar.active_treatments())
    return ARLeg(
        physician_view=active and role == PHYSICIAN_ROLE,
        patient_upload=active and role == PATIENT_ROLE,
        patient_shared=active and room.ar.shared_with_patient and role == PATIENT_ROLE,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CallHub:
    """Signalling and call state of every live consult of this server process; thread-safe."""

    def __init__(
        self,
        registry: RoomRegistry,
        ar_leg: Callable[[Room, str], ARLeg] = ar_leg_for,
        clock: Callable[[], float] = time.time,
        secret: bytes | None = None,
    ) -> None:
        self.registry = registry
        self._ar_leg = ar_leg
        self._clock = clock
        self._secret = secret or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._seq = 0
        self._mailboxes: dict[tuple[str, str], _Mailbox] = {}
        self._client_stats: dict[tuple[str, str], dict[str, Any]] = {}

    # --- call passes -------------------------------------------------------------------------------
    def issue_pass(self, room_id: str, user_id: str, role: str, ttl_s: float = PASS_TTL_S) -> str:
        """A pass for one user in one room; the page calls this after its own access checks."""
        if role not in ROLES:
            raise ValueError(f"no calls for role {role!r}")
        body = json.dumps(
            {"r": room_id, "u": str(user_id), "o": role, "e": round(self._clock() + ttl_s)},
            separators=(",", ":"),
        ).encode()
        signature = hmac.new(self._secret, body, hashlib.sha256).digest()
        return f"{_b64(body)}.{_b64(signature)}"

    def verify(self, token: str | None) -> CallPass:
        """The pass's contents; PassError when it is forged, expired or the user left the room."""
        try:
            body_text, signature_text = (token or "").split(".", 1)
            body = _unb64(body_text)
            expected = hmac.new(self._secret, body, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature_text)):
                raise PassError("this call link is not valid")
            claims = json.loads(body)
            call_pass = CallPass(str(claims["r"]), str(claims["u"]), str(claims["o"]), float(claims["e"]))
        except (ValueError, KeyError, TypeError) as error:
            raise PassError("this call link is not valid") from error
        if call_pass.expires_at < self._clock():
            raise PassError("this call link has expired: open the consult page again")
        if call_pass.role not in ROLES:
            raise PassError("this call link is not valid")
        return call_pass

    # --- state -------------------------------------------------------------------------------------
    def state(self, call_pass: CallPass) -> CallState:
        room = self.registry.peek(call_pass.room_id)
        if room is None or not room.active:
            return CallState(status="ended", other_present=False)
        me = room.participants.get(call_pass.user_id)
        status = me.status if me is not None else "left"
        if call_pass.role == PHYSICIAN_ROLE:
            other_present = bool(room.admitted_patients())
        else:
            other_present = bool(room.physicians_present())
        admitted = status == "admitted" and other_present
        ar = self._ar_leg(room, call_pass.role) if admitted else ARLeg()
        return CallState(status=status, other_present=other_present, ar=ar)

    # --- mailboxes ---------------------------------------------------------------------------------
    def post(self, call_pass: CallPass, message: dict[str, Any]) -> int:
        """Deliver a signalling message to the other side of the call; returns its number."""
        if len(json.dumps(message)) > MAX_MESSAGE_BYTES:
            raise ValueError("signalling message too large")
        if self.state(call_pass).status != "admitted":
            raise PassError("you are not in this call (waiting, left, or the consult ended)")
        with self._lock:
            self._seq += 1
            box = self._mailboxes.setdefault((call_pass.room_id, call_pass.other_role), _Mailbox())
            box.messages.append((self._seq, {**message, "from": call_pass.role}))
            return self._seq

    def latest_seq(self) -> int:
        with self._lock:
            return self._seq

    def messages_after(self, call_pass: CallPass, after: int) -> list[dict[str, Any]]:
        """Messages for this pass's role numbered above `after`, oldest first, each with its `seq`."""
        with self._lock:
            box = self._mailboxes.get((call_pass.room_id, call_pass.role))
            if box is None:
                return []
            return [{**message, "seq": seq} for seq, message in box.messages if seq > after]

    # --- client stats --------------------------------------------------------------------------------
    def record_client_stats(self, call_pass: CallPass, stats: dict[str, Any]) -> None:
        with self._lock:
            self._client_stats[(call_pass.room_id, call_pass.role)] = {**stats, "received_at": self._clock()}

    def client_stats(self, room_id: str, role: str) -> dict[str, Any]:
        """The newest stats the browser of `role` sent for this room ({} before the first)."""
        with self._lock:
            return dict(self._client_stats.get((room_id, role), {}))

    def forget_room(self, room_id: str) -> None:
        with self._lock:
            for key in [key for key in self._mailboxes if key[0] == room_id]:
                del self._mailboxes[key]
            for key in [key for key in self._client_stats if key[0] == room_id]:
                del self._client_stats[key]
