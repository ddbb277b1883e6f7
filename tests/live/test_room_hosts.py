"""Which app server holds a live room (core/live/room_hosts.py), on DuckDB and on PostgreSQL.

Two `RoomHostService`s with different server ids on one database stand for two app servers;
each has its own `RoomRegistry` (rooms live in a server's memory). Cases, patients and access
come from the real clinic (tests/notifications/conftest.py's `populate`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.access import AccessDenied
from core.live.room_hosts import RoomHeldElsewhere, RoomHostService, StickyCookie, sticky_cookie_value
from core.live.rooms import RoomRegistry
from tests.notifications.conftest import PASSWORD, World, populate

SERVER_A = "127.0.0.1:8501"
SERVER_B = "127.0.0.1:8502"
SECRET = "0123456789abcdef" * 4


@pytest.fixture(params=["duckdb", "postgres"])
def engine(request: pytest.FixtureRequest, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        monkeypatch.setenv("CLINIC_DATABASE_URL", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.delenv("CLINIC_DATABASE_URL", raising=False)
    for name in ("CLINIC_SERVER_ID", "CLINIC_STICKY_COOKIE", "CLINIC_STICKY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return str(request.param)


@pytest.fixture
def world(engine: str) -> Iterator[World]:
    from core.clinic import Clinic
    from core.config import Settings

    clinic = Clinic.open(Settings.from_env())
    try:
        yield populate(clinic)
    finally:
        clinic.close()


@dataclass
class Server:
    hosts: RoomHostService
    rooms: RoomRegistry


def server(world: World, server_id: str | None) -> Server:
    clinic = world.clinic
    hosts = RoomHostService(clinic.db, clinic.cases, server_id, StickyCookie("clinic_server", SECRET))
    return Server(hosts, RoomRegistry(clinic, hosts=hosts))


def other_patient(world: World) -> Any:
    return world.clinic.auth.register_patient(
        email="other@example.test", password=PASSWORD, name="Other Patient",
        date_of_birth=dt.date(1990, 1, 1), language="en", timezone="Europe/Amsterdam",
        accepted_telemedicine_consent=True,
    )  # fmt: skip


def host_rows(world: World) -> list[tuple[str, str, str]]:
    return [
        (str(row[0]), str(row[1]), str(row[2]))
        for row in world.clinic.db.fetchall(
            "SELECT room_id, case_id, server_id FROM live_room_hosts ORDER BY room_id"
        )
    ]


def test_a_room_opened_on_one_server_is_found_and_reached_from_the_other(world: World) -> None:
    a, b = server(world, SERVER_A), server(world, SERVER_B)
    room = a.rooms.open_room(world.physician, world.case_id)
    assert host_rows(world) == [(room.room_id, world.case_id, SERVER_A)]

    # The holding server itself finds nothing "elsewhere"; its registry has the room.
    assert a.hosts.held_elsewhere(world.patient, room.room_id) is None
    assert a.hosts.held_elsewhere_for_case(world.patient, world.case_id) is None
    assert a.rooms.room_for_case(world.patient, world.case_id) is room

    # The other server: not in its memory, but found by room id, by case and by the patient's cases.
    assert b.rooms.room_for_case(world.patient, world.case_id) is None
    for host in (
        b.hosts.held_elsewhere(world.patient, room.room_id),
        b.hosts.held_elsewhere_for_case(world.physician, world.case_id),
        *b.hosts.held_elsewhere_for_cases(world.patient, [world.case_id, "no-such-case"]),
    ):
        assert host is not None
        assert (host.room_id, host.case_id, host.server_id) == (room.room_id, world.case_id, SERVER_A)
        assert host.opened_at.tzinfo is not None
    host = b.hosts.held_elsewhere(world.patient, room.room_id)
    assert host is not None
    move = b.hosts.move_to(host)
    assert move is not None
    assert (move.room_id, move.server_id, move.cookie_name) == (room.room_id, SERVER_A, "clinic_server")
    assert move.cookie_value == sticky_cookie_value(SECRET, SERVER_A)

    # A physician on the other server cannot open a second room for the case.
    with pytest.raises(RoomHeldElsewhere) as held:
        b.rooms.open_room(world.physician, world.case_id)
    assert held.value.host.room_id == room.room_id
    assert b.rooms.room_for_case(world.physician, world.case_id) is None
    assert host_rows(world) == [(room.room_id, world.case_id, SERVER_A)]

    # Ending the room clears its row: nobody is sent to it any more, and B may open the next one.
    a.rooms.end_room(world.physician, room.room_id)
    assert host_rows(world) == []
    assert b.hosts.held_elsewhere(world.patient, room.room_id) is None
    assert b.hosts.held_elsewhere_for_cases(world.patient, [world.case_id]) == []
    again = b.rooms.open_room(world.physician, world.case_id)
    assert host_rows(world) == [(again.room_id, world.case_id, SERVER_B)]
    assert a.hosts.held_elsewhere_for_case(world.patient, world.case_id) is not None


def test_another_patient_learns_nothing_about_the_room(world: World) -> None:
    a, b = server(world, SERVER_A), server(world, SERVER_B)
    room = a.rooms.open_room(world.physician, world.case_id)
    stranger = other_patient(world)
    with pytest.raises(AccessDenied):
        b.hosts.held_elsewhere(stranger, room.room_id)
    with pytest.raises(AccessDenied):
        b.hosts.held_elsewhere_for_case(stranger, world.case_id)
    with pytest.raises(AccessDenied):
        b.hosts.held_elsewhere_for_cases(stranger, [world.case_id])


def test_a_restarted_server_clears_only_its_own_rows(world: World) -> None:
    a, b = server(world, SERVER_A), server(world, SERVER_B)
    room = a.rooms.open_room(world.physician, world.case_id)
    second = populate_second_case(world)
    on_b = b.rooms.open_room(world.physician, second)
    assert len(host_rows(world)) == 2

    restarted = server(world, SERVER_A)  # a new process: its memory holds no room
    assert restarted.hosts.clear_own() == 1
    assert host_rows(world) == [(on_b.room_id, second, SERVER_B)]
    assert restarted.hosts.held_elsewhere(world.patient, room.room_id) is None
    # The case's next room opens on the restarted server even if a stale row of its own were left.
    restarted.hosts.record_open("stale-room", world.case_id)
    fresh = restarted.rooms.open_room(world.physician, world.case_id)
    assert (fresh.room_id, world.case_id, SERVER_A) in host_rows(world)
    assert "stale-room" not in {row[0] for row in host_rows(world)}


def populate_second_case(world: World) -> str:
    from core.consult.cases import IntakeForm
    from tests.notifications.conftest import jpeg
    from tests.photo_factory import checked_photo

    intake = IntakeForm(
        concerns=["pigmentation_melasma"], areas=["cheeks"], duration="1 year", consent_photo_storage=True
    )
    photos = [
        checked_photo(view, jpeg(10 + i)) for i, view in enumerate(("front", "left_oblique", "right_oblique"))
    ]
    return world.clinic.cases.submit_case(world.patient, intake, photos)


def test_one_server_records_nothing_and_moves_nobody(world: World) -> None:
    single = server(world, None)
    room = single.rooms.open_room(world.physician, world.case_id)
    assert not single.hosts.enabled
    assert host_rows(world) == []
    assert single.hosts.held_elsewhere(world.patient, room.room_id) is None
    assert single.hosts.held_elsewhere_for_cases(world.patient, [world.case_id]) == []
    assert single.hosts.clear_own() == 0
    # The clinic's own service, from the environment, is off without CLINIC_SERVER_ID.
    assert not world.clinic.room_hosts.enabled
    assert world.clinic.room_hosts.sticky is None


def test_the_clinic_reads_its_server_id_and_cookie_from_the_environment(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.clinic import Clinic
    from core.config import Settings

    monkeypatch.setenv("CLINIC_SERVER_ID", SERVER_B)
    monkeypatch.setenv("CLINIC_STICKY_COOKIE", "clinic_server")
    monkeypatch.setenv("CLINIC_STICKY_SECRET", SECRET)
    settings = Settings.from_env()
    assert SECRET not in repr(settings)
    with Clinic.open(settings) as clinic:
        world = populate(clinic)
        a = server(world, SERVER_A)
        room = a.rooms.open_room(world.physician, world.case_id)
        # The server starts: rows of its previous process go, the other server's stay.
        clinic.db.execute(
            "INSERT INTO live_room_hosts (room_id, case_id, server_id, opened_at) VALUES (?, ?, ?, ?)",
            ["left-over", "some-case", SERVER_B, dt.datetime(2026, 1, 1)],
        )
        clinic.start_background_work()
        assert host_rows(world) == [(room.room_id, world.case_id, SERVER_A)]
        hosts = clinic.room_hosts
        assert hosts.enabled and hosts.server_id == SERVER_B
        host = hosts.held_elsewhere(world.patient, room.room_id)
        assert host is not None
        move = hosts.move_to(host)
        assert move is not None and move.cookie_value == sticky_cookie_value(SECRET, SERVER_A)
        clinic.assessments.wait_idle(60)


def test_the_cookie_value_is_caddys_hmac_of_the_dial_address() -> None:
    # Values computed independently (`printf %s 127.0.0.1:8501 | openssl dgst -sha256 -hmac s3cret`)
    # and read from Caddy 2.6.2's Set-Cookie; tests/deploy/test_app_servers.py asks the binary.
    assert sticky_cookie_value("s3cret", "127.0.0.1:18081") == (
        "db52511dae8f295d9683062b3cfe7ece2ef2c99c2c2ec54d163d0b3350916b26"
    )
    assert StickyCookie("c", "s3cret").value_for("127.0.0.1:18082") == (
        "8b79997e5c03c09b1a0734e0a7480c1a449fd1522c4b4772c74489cb10bde1d3"
    )
    assert "s3cret" not in repr(StickyCookie("c", "s3cret"))


def test_other_servers_rooms_are_listed_with_their_waiting_count(world: World) -> None:
    a, b = server(world, SERVER_A), server(world, SERVER_B)
    room = a.rooms.open_room(world.physician, world.case_id)
    assert a.hosts.open_elsewhere(world.physician) == []  # its own room is in its registry

    def seen_from_b() -> list[tuple[str, str, int, str | None]]:
        return [
            (host.room_id, host.server_id, host.waiting_patients, host.opened_by)
            for host in b.hosts.open_elsewhere(world.physician)
        ]

    me = world.physician.user_id
    assert seen_from_b() == [(room.room_id, SERVER_A, 0, me)]
    a.rooms.join(world.patient, room.room_id)  # the patient waits
    assert seen_from_b() == [(room.room_id, SERVER_A, 1, me)]
    a.rooms.join(world.patient, room.room_id)  # the page polls: still one
    assert seen_from_b() == [(room.room_id, SERVER_A, 1, me)]
    a.rooms.admit(world.physician, room.room_id, world.patient.user_id)
    assert seen_from_b() == [(room.room_id, SERVER_A, 0, me)]
    a.rooms.leave(world.physician, room.room_id)  # the last physician left: the patient waits again
    assert seen_from_b() == [(room.room_id, SERVER_A, 1, me)]
    a.rooms.leave(world.patient, room.room_id)
    assert seen_from_b() == [(room.room_id, SERVER_A, 0, me)]

    with pytest.raises(AccessDenied):  # patients never list rooms
        b.hosts.open_elsewhere(world.patient)
    a.rooms.end_room(world.physician, room.room_id)
    assert seen_from_b() == []
    assert server(world, None).hosts.open_elsewhere(world.physician) == []  # one server: nothing
