"""HTTP routes of the live consult (Starlette, served by the portal's own `st.App` in portal.py).

    POST /live/api/signal   {type, ...}            a signalling message for the other browser
    GET  /live/api/poll     ?after=N&state=DIGEST  long-poll: new messages and/or a changed call state
    POST /live/api/ar       {sdp}                  offer for the AR leg; the server's answer SDP
    POST /live/api/stats    {...}                  what the browser measured (fps, freezes, devices)

Every request carries the call pass (core/live/signalling.py) in the `X-Call-Pass` header, never
in the URL (URLs end up in logs). The routes run on the server's event loop: they never block it
(the AR answer is awaited from the media server, which runs in a process of its own).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.config import Settings
from core.live.signalling import CallHub, CallPass, PassError

if TYPE_CHECKING:
    import numpy as np

    from core.live.media import ARViews

logger = logging.getLogger(__name__)

PASS_HEADER = "X-Call-Pass"
POLL_MAX_WAIT_S = 20.0
POLL_STEP_S = 0.05


class ARAnswerer(Protocol):
    """What the routes need of the AR media server."""

    async def answer(self, room_id: str, role: str, offer_sdp: str) -> str: ...

    def stats(self, room_id: str) -> dict[str, Any]: ...


class ARMedia(ARAnswerer, Protocol):
    """The AR media server (core.live.media.ARMediaServer): the routes' part and the pages' part."""

    def set_views(self, room_id: str, views: ARViews) -> None: ...

    def snapshot(self, room_id: str) -> tuple[np.ndarray | None, np.ndarray | None]: ...

    def close_room(self, room_id: str) -> None: ...


@dataclass
class LiveServices:
    hub: CallHub
    media: ARMedia | None = None
    stats_dir: Path | None = None


_services: LiveServices | None = None


def install(services: LiveServices | None) -> None:
    """Called by the first page that shows a call (it owns the rooms); the routes use it."""
    global _services
    _services = services


def installed() -> LiveServices | None:
    return _services


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _authorise(request: Request) -> tuple[LiveServices, CallPass]:
    services = _services
    if services is None:
        raise LookupError("the live consult service is starting: try again in a moment")
    return services, services.hub.verify(request.headers.get(PASS_HEADER))


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def _state_digest(state: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


Handler = Callable[[Request, LiveServices, CallPass], Awaitable[Response]]


def _call_route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authorise the call pass, then run the handler; errors become answers in words."""

    async def endpoint(request: Request) -> Response:
        try:
            services, call_pass = _authorise(request)
            return await handler(request, services, call_pass)
        except PassError as error:
            return _error(403, str(error))
        except LookupError as error:
            return _error(503, str(error))
        except ValueError as error:
            return _error(400, str(error))

    return endpoint


@_call_route
async def signal(request: Request, services: LiveServices, call_pass: CallPass) -> Response:
    message = await _json_body(request)
    if not isinstance(message.get("type"), str):
        return _error(400, "a signalling message needs a type")
    return JSONResponse({"seq": services.hub.post(call_pass, message)})


@_call_route
async def poll(request: Request, services: LiveServices, call_pass: CallPass) -> Response:
    try:
        after = int(request.query_params.get("after", "-1"))
        wait_s = min(float(request.query_params.get("wait", POLL_MAX_WAIT_S)), POLL_MAX_WAIT_S)
    except ValueError:
        return _error(400, "after and wait must be numbers")
    known_state = request.query_params.get("state", "")
    hub = services.hub
    if after < 0:  # a fresh client starts now: an earlier call's offers are not for it
        after = hub.latest_seq()
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        messages = hub.messages_after(call_pass, after)
        state = hub.state(call_pass).as_json()
        digest = _state_digest(state)
        if messages or digest != known_state or time.monotonic() >= deadline or state["status"] == "ended":
            last = messages[-1]["seq"] if messages else after
            return JSONResponse({"messages": messages, "after": last, "state": state, "state_digest": digest})
        if await request.is_disconnected():
            return Response(status_code=204)
        await asyncio.sleep(POLL_STEP_S)


@_call_route
async def ar_offer(request: Request, services: LiveServices, call_pass: CallPass) -> Response:
    offer_sdp = (await _json_body(request)).get("sdp")
    if not isinstance(offer_sdp, str) or not offer_sdp.startswith("v=0"):
        return _error(400, "an AR offer needs an SDP")
    state = services.hub.state(call_pass)
    wanted = state.ar.physician_view if call_pass.role == "physician" else state.ar.patient_upload
    if not state.in_call or not wanted:
        return _error(409, "the AR preview is off")
    if services.media is None:
        return _error(503, "the AR preview is not available on this server")
    try:
        answer = await services.media.answer(call_pass.room_id, call_pass.role, offer_sdp)
    except Exception:
        logger.exception("AR answer failed")
        return _error(500, "the AR preview could not start")
    return JSONResponse({"type": "answer", "sdp": answer})


@_call_route
async def client_stats(request: Request, services: LiveServices, call_pass: CallPass) -> Response:
    stats = await _json_body(request)
    services.hub.record_client_stats(call_pass, stats)
    if services.stats_dir is not None:
        _append_stats(services, call_pass, stats)
    return Response(status_code=204)


def _append_stats(services: LiveServices, call_pass: CallPass, stats: dict[str, Any]) -> None:
    directory = services.stats_dir
    assert directory is not None
    directory.mkdir(parents=True, exist_ok=True)
    prefix = call_pass.room_id[:12]
    now = time.time()
    with (directory / f"{prefix}-{call_pass.role}.jsonl").open("a") as sink:
        sink.write(json.dumps({"t": now, **stats}) + "\n")
    if call_pass.role == "physician" and services.media is not None:
        try:
            media_stats = services.media.stats(call_pass.room_id)
        except Exception:  # the counters are diagnostics: never fail the report over them
            logger.exception("AR media stats failed")
            return
        with (directory / f"{prefix}-server.jsonl").open("a") as sink:
            sink.write(json.dumps({"t": now, **media_stats}, default=str) + "\n")


def call_quality_dir(settings: Settings) -> Path | None:
    """Where call-quality reports go when the clinic turned the log on (Settings.call_quality_log):
    <data dir>/live_stats/<room prefix>-<role>.jsonl, and the AR process's counters in -server.jsonl."""
    return settings.data_dir / "live_stats" if settings.call_quality_log != "off" else None


def routes() -> list[Route]:
    return [
        Route("/live/api/signal", signal, methods=["POST"]),
        Route("/live/api/poll", poll, methods=["GET"]),
        Route("/live/api/ar", ar_offer, methods=["POST"]),
        Route("/live/api/stats", client_stats, methods=["POST"]),
    ]
