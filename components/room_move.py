"""Several app servers: reaching a live consult's room that another server holds.

A room lives in the memory of one server (core/live/rooms.py); `core.live.room_hosts` knows which.
When a page does not find the room in its own server's registry, `move_to_room_host` asks the
page bridge (components/page_bridge.py; no inline script under the CSP) to set Caddy's sticky
cookie to the holding server's value and to load the page again with `?room=...`: Caddy then
sends the browser to that server, where the session cookie resumes the log-in. The person reads
"Connecting you to your consultation …" meanwhile.

`moved=<server id>` in the new address marks a move: a browser that still lands elsewhere (the
holding server is down, Caddy chose another) is told so instead of being moved in a circle.
One server (no sticky cookie configured): nothing here ever moves a browser.

A physician also sees the live consults other servers hold (`rooms_elsewhere`: the live consult
page's list, with their waiting counts; `waiting_elsewhere`: the menu's badge and the queue's
banner); opening one goes through the same move.
"""

from __future__ import annotations

import streamlit as st

from components.i18n import _
from core.access import Principal
from core.live.room_hosts import RoomHost, RoomMove

MOVE_KEY = "live_room_move"  # the pending move, for the page bridge
MOVED_PARAM = "moved"


def room_host_elsewhere(
    principal: Principal, *, room_id: str | None = None, case_id: str | None = None
) -> RoomHost | None:
    """The room (by id, or the case's) when another app server holds it; None on one server."""
    from components.video_room import room_registry

    hosts = room_registry().hosts
    if hosts is None or not hosts.enabled:
        return None
    if room_id is not None:
        return hosts.held_elsewhere(principal, room_id)
    if case_id is not None:
        return hosts.held_elsewhere_for_case(principal, case_id)
    return None


def rooms_elsewhere(principal: Principal) -> list[RoomHost]:
    """Physicians: the open live consults other app servers hold, oldest first; [] on one server."""
    from components.video_room import room_registry

    hosts = room_registry().hosts
    if hosts is None or not hosts.enabled:
        return []
    return hosts.open_elsewhere(principal)


def waiting_elsewhere(principal: Principal) -> list[RoomHost]:
    """Rooms this physician opened on other servers where patients wait (the badge, the banner)."""
    return [
        host
        for host in rooms_elsewhere(principal)
        if host.waiting_patients > 0 and host.opened_by == principal.user_id
    ]


def move_to_room_host(principal: Principal, room_id: str) -> bool:
    """When another server holds `room_id`: move the browser there (or say why not) and return
    True, and the page shows nothing else; False when no other server holds it."""
    from components.video_room import room_registry

    host = room_host_elsewhere(principal, room_id=room_id)
    hosts = room_registry().hosts
    move = hosts.move_to(host) if host is not None and hosts is not None else None
    if host is None:
        return False
    if move is None or st.query_params.get(MOVED_PARAM) == move.server_id:
        st.warning(
            _(
                "Your consultation is open on another server of the clinic, which cannot be reached right now. Please try again in a minute."
            ),
            icon=":material/cloud_off:",
        )
        return True
    st.info(_("Connecting you to your consultation …"), icon=":material/sync:")
    if st.session_state.get(MOVE_KEY) != _bridge_request(move):
        st.session_state[MOVE_KEY] = _bridge_request(move)
        st.rerun()  # the page bridge (drawn before the page) carries the move on the next run
    return True


def _bridge_request(move: RoomMove) -> dict[str, object]:
    return {
        "cookie": move.cookie_name,
        "value": move.cookie_value,
        "query": {"room": move.room_id, MOVED_PARAM: move.server_id},
    }


def pending_move() -> dict[str, object] | None:
    """The move the page bridge performs on this run (it sets the cookie and reloads)."""
    return st.session_state.get(MOVE_KEY)
