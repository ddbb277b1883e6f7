"""Physician's case queue: open cases oldest first, each linking to its case page, and a banner
(polled) while a patient waits in one of this physician's live video consults.

The page ends every run by returning, never with st.stop(): it shows a timed fragment (see
docs/ARCHITECTURE.md, "Timed fragments").
"""

from __future__ import annotations

import datetime as dt
import logging

import streamlit as st

from components.ar_panel import PHYSICIAN_LIVE_PAGE, WAITING_IN_MENU_KEY, waiting_live_consults
from components.i18n import _, ngettext, tr
from components.layout import concern_labels, format_when, plain, status_badge
from components.room_move import waiting_elsewhere
from components.session import get_clinic, signed_in_as
from core.access import Principal

WAITING_BANNER_SECONDS = 3
FULL_RUN_KEY = "queue_full_run"  # set by a whole-page run, so the fragment knows a tick from it


def render_waiting_banner(principal: Principal, clinic_timezone: str) -> None:
    """ "N patient(s) waiting in a live consult", a link per consult; keeps the menu's count true."""

    @st.fragment(run_every=WAITING_BANNER_SECONDS)
    def waiting_banner() -> None:
        whole_page_run = st.session_state.pop(FULL_RUN_KEY, False)
        try:
            rooms = waiting_live_consults(principal)
            elsewhere = waiting_elsewhere(principal)  # several app servers: rooms held by the others
        except Exception:  # noqa: BLE001 - the queue itself stays usable
            logging.getLogger(__name__).exception("cannot check the live consults' waiting rooms")
            st.caption(_("Live consult waiting rooms cannot be checked right now."))
            return
        count = sum(len(waiting) for _, waiting in rooms) + sum(host.waiting_patients for host in elsewhere)
        # The menu's title is built by app.py: a change seen on a tick reruns the whole app once.
        in_menu = st.session_state.get(WAITING_IN_MENU_KEY)
        if not whole_page_run and in_menu is not None and count != in_menu:
            st.rerun(scope="app")
        if not count:
            return
        with st.container(border=True):
            st.warning(
                ngettext(
                    "**{n} patient waiting in a live consult**",
                    "**{n} patients waiting in a live consult**",
                    count,
                ),
                icon=":material/hourglass_top:",
            )
            for room, waiting in rooms:
                names = tr().join([plain(patient.display_name) for patient in waiting])
                since = format_when(_utc(min(patient.joined_at for patient in waiting)), clinic_timezone)
                st.page_link(
                    PHYSICIAN_LIVE_PAGE,
                    label=_(
                        "Go to the live consult: {names} (waiting since {since})", names=names, since=since
                    ),
                    icon=":material/video_call:",
                    query_params={"room": room.room_id},
                )
            for host in elsewhere:  # names and times stay with the server holding the room
                st.page_link(
                    PHYSICIAN_LIVE_PAGE,
                    label=ngettext(
                        "Go to the live consult on another server ({n} patient waiting)",
                        "Go to the live consult on another server ({n} patients waiting)",
                        host.waiting_patients,
                    ),
                    icon=":material/video_call:",
                    query_params={"room": host.room_id},
                )

    st.session_state[FULL_RUN_KEY] = True
    with st.container():  # a fixed slot for the timed fragment
        waiting_banner()


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def render_queue(principal: Principal) -> None:
    clinic = get_clinic()
    st.title(_("Case queue"))
    render_waiting_banner(principal, clinic.settings.clinic_timezone)

    show_all = st.toggle(_("Include cases with a report sent"), key="queue_show_all")
    cases = clinic.cases.list_queue(principal, include_closed=show_all)
    if not cases:
        st.info(_("No cases are waiting. New consultations appear here as soon as patients send them."))
        return

    st.caption(ngettext("{n} case, oldest first.", "{n} cases, oldest first.", len(cases)))
    for case in cases:
        with st.container(border=True):
            col_main, col_status, col_open = st.columns([6, 2, 2], vertical_alignment="center")
            concerns = concern_labels(case.concerns)
            col_main.markdown(
                f"**{case.reference}** · {plain(case.patient_name)} · {concerns or _('no concern given')}"
            )
            col_main.caption(
                _("Submitted {when}", when=format_when(case.submitted_at, clinic.settings.clinic_timezone))
            )
            col_status.markdown(status_badge(case.status))
            col_open.page_link(
                "pages/physician_case.py",
                label=_("Open case"),
                icon=":material/open_in_new:",
                query_params={"case": case.case_id},
            )


signed_in = signed_in_as("physician")
if signed_in is not None:
    render_queue(signed_in)
