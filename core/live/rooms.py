"""Live consultation rooms: who may join, the waiting room, AR settings, snapshots, audit.

One server process holds the room state in memory (a consult lives as long as the call);
what matters afterwards goes to the audit log and, for snapshots, into the case as photos.
With several app servers the registry records which server holds each open room
(`core.live.room_hosts`): a case has one open room across all servers, and a page on another
server moves the browser to it.

Rules enforced here (not in the UI):
- only a physician opens a room for a case (one open room per case); the room id is
  `secrets.token_urlsafe(24)` and never reused, even after the room ended;
- only the case's own patient and the clinic's physicians may join (AccessDenied otherwise);
- a patient waits until a physician who is in the room admits them, and goes back to waiting
  when the last physician leaves: a patient is never alone in the room;
- the AR settings live on the room; the patient sees the simulated stream only when the
  physician shares it;
- nothing is recorded unless the physician asks and the patient consented (asked at join).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from core.access import AccessDenied, Principal

if TYPE_CHECKING:
    from core.live.room_hosts import RoomHostService

PHYSICIAN_ROLE = "physician"
PATIENT_ROLE = "patient"


class RoomClosed(LookupError):
    """The room does not exist (any more): it ended, or the id is wrong."""


class RoomStateError(RuntimeError):
    """The action does not fit the room's current state (e.g. admitting someone not waiting)."""


@dataclass(frozen=True)
class ARSettings:
    """What the physician chose for the live preview; replaced as a whole on each change."""

    enabled: bool = False
    treatments: Mapping[str, float] = field(default_factory=dict)  # name -> intensity 0..1
    split_view: bool = False
    split_position: float = 0.5  # 0..1 across the frame: left of it "before", right "after"
    side_by_side: bool = False  # before | after as two half-size pictures
    shared_with_patient: bool = False

    def active_treatments(self) -> dict[str, float]:
        if not self.enabled:
            return {}
        return {name: float(value) for name, value in self.treatments.items() if float(value) > 0}


@dataclass
class Participant:
    user_id: str
    role: str
    display_name: str
    status: str  # "waiting" | "admitted" | "left"
    consent_recording: bool = False
    joined_at: float = 0.0


@dataclass
class Room:
    room_id: str
    case_id: str
    opened_by: str
    opened_at: float
    ar: ARSettings = field(default_factory=ARSettings)
    participants: dict[str, Participant] = field(default_factory=dict)
    recording_requested: bool = False
    ended_at: float | None = None
    snapshot_photo_ids: list[str] = field(default_factory=list)
    # Bumped whenever the patient's stream restarts, so viewers know to reconnect.

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def physicians_present(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.role == PHYSICIAN_ROLE and p.status == "admitted"]

    def waiting_patients(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.role == PATIENT_ROLE and p.status == "waiting"]

    def admitted_patients(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.role == PATIENT_ROLE and p.status == "admitted"]

    @property
    def recording_allowed(self) -> bool:
        """Recording only when the physician asked and every admitted patient consented."""
        patients = self.admitted_patients()
        return self.recording_requested and bool(patients) and all(p.consent_recording for p in patients)


def _user_id(principal: Principal) -> str:
    return str(principal.user_id)


def _display_name(principal: Principal) -> str:
    return str(
        getattr(principal, "display_name", None) or getattr(principal, "username", None) or principal.user_id
    )


class RoomRegistry:
    """All live rooms of this server process; thread-safe (Streamlit runs sessions in threads)."""

    def __init__(
        self, clinic: Any, clock: Callable[[], float] = time.time, hosts: RoomHostService | None = None
    ) -> None:
        self._clinic = clinic
        self._clock = clock
        self.hosts = hosts  # several app servers: where each open room lives (None: one server)
        self._lock = threading.RLock()
        self._rooms: dict[str, Room] = {}
        self._ended_ids: set[str] = set()
        self._open_by_case: dict[str, str] = {}
        self._access_granted: set[tuple[str, str, str]] = set()
        self._waiting_recorded: dict[str, int] = {}  # room id -> the count live_room_hosts holds

    # --- helpers ------------------------------------------------------------------------------
    def _audit(self, principal: Principal, action: str, room: Room, **details: Any) -> None:
        self._clinic.audit.record(
            actor=principal,
            action=action,
            target_type="consult_room",
            target_id=room.case_id,
            details={"room": room.room_id[:8], "case_id": room.case_id, **details},
        )

    def _record_waiting(self, room: Room) -> None:
        """Several app servers: keep the room's waiting count in `live_room_hosts` (written only
        when it changed; pages poll join every few seconds)."""
        if self.hosts is None or not room.active:
            return
        count = len(room.waiting_patients())
        if self._waiting_recorded.get(room.room_id, 0) != count:
            self.hosts.record_waiting(room.room_id, count)
            self._waiting_recorded[room.room_id] = count

    def _check_case_access(self, principal: Principal, case_id: str) -> None:
        """The case service decides who may see a case (own patient, the clinic's physicians)."""
        if principal.role not in (PHYSICIAN_ROLE, PATIENT_ROLE):
            raise AccessDenied("only the case's patient and the clinic's physicians join a consult")
        key = (_user_id(principal), principal.role, case_id)
        if key in self._access_granted:  # pages poll every second; ownership does not change
            return
        self._clinic.cases.check_case_access(principal, case_id)  # AccessDenied for anyone else
        self._access_granted.add(key)

    def _room(self, room_id: str) -> Room:
        room = self._rooms.get(room_id)
        if room is None or not room.active:
            raise RoomClosed("this consultation has ended or does not exist")
        return room

    def _member_room(self, principal: Principal, room_id: str) -> Room:
        room = self._room(room_id)
        self._check_case_access(principal, room.case_id)
        return room

    def _physician_room(self, principal: Principal, room_id: str) -> Room:
        if principal.role != PHYSICIAN_ROLE:
            raise AccessDenied("only a physician can do this")
        return self._member_room(principal, room_id)

    # --- lifecycle ------------------------------------------------------------------------------
    def open_room(self, principal: Principal, case_id: str) -> Room:
        """Start (or return the already open) live consult for a case; physicians only."""
        if principal.role != PHYSICIAN_ROLE:
            raise AccessDenied("only a physician can start a live consultation")
        self._check_case_access(principal, case_id)
        with self._lock:
            existing = self._open_by_case.get(case_id)
            if existing and self._rooms[existing].active:
                room = self._rooms[existing]
            else:
                room_id = secrets.token_urlsafe(24)
                while room_id in self._rooms or room_id in self._ended_ids:  # never reuse an id
                    room_id = secrets.token_urlsafe(24)
                if self.hosts is not None:  # RoomHeldElsewhere: the case's room is on another server
                    self.hosts.record_open(room_id, case_id, _user_id(principal))
                room = Room(
                    room_id=room_id, case_id=case_id, opened_by=_user_id(principal), opened_at=self._clock()
                )
                self._rooms[room_id] = room
                self._open_by_case[case_id] = room_id
                self._audit(principal, "consult.start", room)
            self._join_locked(principal, room, consent_recording=False)
            return room

    def room_for_case(self, principal: Principal, case_id: str) -> Room | None:
        """The open room of a case, if any (for the patient's "join" button)."""
        self._check_case_access(principal, case_id)
        with self._lock:
            room_id = self._open_by_case.get(case_id)
            room = self._rooms.get(room_id) if room_id else None
            return room if room is not None and room.active else None

    def waiting_for_physician(self, principal: Principal) -> list[tuple[Room, list[Participant]]]:
        """Open rooms this physician opened or joined where patients wait, with copies of the
        waiting patients, oldest room first (the queue's banner and the menu's count)."""
        if principal.role != PHYSICIAN_ROLE:
            raise AccessDenied("only physicians see who is waiting")
        me = _user_id(principal)
        with self._lock:
            return [
                (room, [replace(patient) for patient in waiting])
                for room in sorted(self._rooms.values(), key=lambda r: r.opened_at)
                if room.active
                and (room.opened_by == me or me in room.participants)
                and (waiting := room.waiting_patients())
            ]

    def open_rooms(self, principal: Principal) -> list[Room]:
        """Open rooms a physician may enter (for the live page's room picker)."""
        if principal.role != PHYSICIAN_ROLE:
            raise AccessDenied("only physicians list consult rooms")
        with self._lock:
            return sorted((r for r in self._rooms.values() if r.active), key=lambda r: r.opened_at)

    def peek(self, room_id: str) -> Room | None:
        """The room by id without an access check, for the call signalling, whose signed call
        pass was issued after the page's own checks (core/live/signalling.py)."""
        with self._lock:
            return self._rooms.get(room_id)

    def get_room(self, principal: Principal, room_id: str) -> Room:
        with self._lock:
            return self._member_room(principal, room_id)

    def join(self, principal: Principal, room_id: str, consent_recording: bool = False) -> Participant:
        """Enter a room: a physician is in at once, a patient waits to be admitted."""
        with self._lock:
            room = self._member_room(principal, room_id)
            participant = self._join_locked(principal, room, consent_recording)
            self._record_waiting(room)
            return participant

    def _join_locked(self, principal: Principal, room: Room, consent_recording: bool) -> Participant:
        user_id = _user_id(principal)
        participant = room.participants.get(user_id)
        if principal.role == PHYSICIAN_ROLE:
            if participant is None or participant.status != "admitted":
                participant = Participant(
                    user_id, PHYSICIAN_ROLE, _display_name(principal), "admitted", False, self._clock()
                )
                room.participants[user_id] = participant
                self._audit(principal, "consult.join", room, role=PHYSICIAN_ROLE)
            return participant
        if participant is not None and participant.status in ("waiting", "admitted"):
            participant.consent_recording = bool(consent_recording)
            return participant
        participant = Participant(
            user_id, PATIENT_ROLE, _display_name(principal), "waiting", bool(consent_recording), self._clock()
        )
        room.participants[user_id] = participant
        self._audit(principal, "consult.waiting", room, consent_recording=bool(consent_recording))
        return participant

    def admit(self, principal: Principal, room_id: str, patient_user_id: str) -> Participant:
        """A physician who is in the room lets a waiting patient in."""
        with self._lock:
            room = self._physician_room(principal, room_id)
            me = room.participants.get(_user_id(principal))
            if me is None or me.status != "admitted":
                raise RoomStateError("join the room before admitting the patient")
            patient = room.participants.get(str(patient_user_id))
            if patient is None or patient.role != PATIENT_ROLE or patient.status != "waiting":
                raise RoomStateError("that patient is not in the waiting room")
            patient.status = "admitted"
            self._audit(principal, "consult.admit", room, patient_user_id=patient.user_id)
            self._record_waiting(room)
            return patient

    def leave(self, principal: Principal, room_id: str) -> None:
        """Leave without ending; when the last physician leaves, patients go back to waiting."""
        with self._lock:
            room = self._member_room(principal, room_id)
            participant = room.participants.get(_user_id(principal))
            if participant is None or participant.status == "left":
                return
            participant.status = "left"
            self._audit(principal, "consult.leave", room, role=participant.role)
            if not room.physicians_present():
                for patient in room.admitted_patients():
                    patient.status = "waiting"
            self._record_waiting(room)

    def end_room(self, principal: Principal, room_id: str) -> None:
        """End the consult for everyone; the id is never valid again."""
        with self._lock:
            room = self._physician_room(principal, room_id)
            room.ended_at = self._clock()
            for participant in room.participants.values():
                participant.status = "left"
            self._ended_ids.add(room_id)
            if self._open_by_case.get(room.case_id) == room_id:
                del self._open_by_case[room.case_id]
            self._waiting_recorded.pop(room_id, None)
            if self.hosts is not None:
                self.hosts.record_end(room_id)
            self._audit(principal, "consult.end", room, duration_s=round(room.ended_at - room.opened_at, 1))

    # --- state for the pages ---------------------------------------------------------------------
    def participant(self, principal: Principal, room_id: str) -> Participant | None:
        with self._lock:
            room = self._member_room(principal, room_id)
            return room.participants.get(_user_id(principal))

    def may_exchange_video(self, principal: Principal, room_id: str) -> bool:
        """Video flows only for admitted participants, and for a patient only with a physician in."""
        with self._lock:
            try:
                room = self._member_room(principal, room_id)
            except RoomClosed:
                return False
            participant = room.participants.get(_user_id(principal))
            if participant is None or participant.status != "admitted":
                return False
            return principal.role == PHYSICIAN_ROLE or bool(room.physicians_present())

    def update_ar(self, principal: Principal, room_id: str, **changes: Any) -> ARSettings:
        """Physician changes the AR preview (enabled, treatments, split_view, split_position, shared)."""
        from core.ar.effects import normalise_treatments

        with self._lock:
            room = self._physician_room(principal, room_id)
            if "treatments" in changes:
                changes["treatments"] = normalise_treatments(changes["treatments"])
            if "split_position" in changes:
                changes["split_position"] = float(np.clip(float(changes["split_position"]), 0.0, 1.0))
            before = room.ar
            room.ar = replace(room.ar, **changes)
            if room.ar.shared_with_patient != before.shared_with_patient:
                self._audit(principal, "consult.ar_share", room, shared=room.ar.shared_with_patient)
            return room.ar

    def ar_for_patient(self, room: Room) -> ARSettings:
        """What the patient's own view shows: the simulation only when shared."""
        settings = room.ar
        if not settings.shared_with_patient:
            return ARSettings()
        return replace(settings, split_view=False, side_by_side=False)

    def request_recording(self, principal: Principal, room_id: str, requested: bool) -> bool:
        """Physician asks to record; returns whether recording is actually allowed (consent)."""
        with self._lock:
            room = self._physician_room(principal, room_id)
            room.recording_requested = bool(requested)
            self._audit(
                principal,
                "consult.recording_request",
                room,
                requested=bool(requested),
                allowed=room.recording_allowed,
            )
            return room.recording_allowed

    def snapshot(
        self,
        principal: Principal,
        room_id: str,
        frame_bgr: np.ndarray,
        view: str = "front",
        identity_override: str | None = None,
    ) -> tuple[Any, Any]:
        """Store a still of the patient's (raw, unsimulated) video in the case as a photo.

        The still goes through the same quality gate as an upload and is stored with its verdict.
        A still of someone else than the case's photos raises IdentityMismatch unless the physician
        gives a reason (`identity_override`, audited by the case store). Returns (photo, quality report).
        """
        from core.consult.photos import intake_frame

        with self._lock:
            room = self._physician_room(principal, room_id)
        if frame_bgr is None or getattr(frame_bgr, "ndim", 0) != 3:
            raise RoomStateError("no video frame from the patient yet")
        checked = intake_frame(frame_bgr, view, source="video_snapshot")
        report, verdict = checked.quality, checked.quality.verdict
        photo = self._clinic.cases.add_photo(
            principal, room.case_id, checked, identity_override=identity_override
        )
        with self._lock:
            room.snapshot_photo_ids.append(str(getattr(photo, "photo_id", getattr(photo, "id", ""))))
            self._audit(principal, "consult.snapshot", room, view=view, quality=verdict)
        return photo, report

    def save_simulation(
        self, principal: Principal, room_id: str, image_bgr: np.ndarray, view: str = "front"
    ) -> Any:
        """Store a still of the AR view (it carries the simulation mark) in the case as a simulation."""
        from core.consult.photos import intake_frame

        with self._lock:
            room = self._physician_room(principal, room_id)
        if image_bgr is None or getattr(image_bgr, "ndim", 0) != 3:
            raise RoomStateError("no AR picture to save")
        photo = self._clinic.cases.add_photo(
            principal, room.case_id, intake_frame(image_bgr, view, source="simulation", lossless=True)
        )
        with self._lock:
            self._audit(principal, "consult.snapshot", room, view=view, simulation=True)
        return photo
