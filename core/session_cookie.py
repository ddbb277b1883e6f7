"""The log-in survives a reload: the session token also travels in an HttpOnly cookie.

Streamlit keeps its state per browser connection, so a reload (which phones do whenever the
patient switches to the camera or another app) or a new tab used to start logged out. After a
log-in the page asks the server, with a one-time code, to set the cookie `clinic_session`:
HttpOnly (no script can read it), SameSite=Strict (no other site can send it), Secure behind
HTTPS, for at most the session's absolute lifetime. A new connection reads it (Streamlit sees the
cookies of its WebSocket request) and resumes the session through `AuthService.resume`, so the
idle timeout and the absolute lifetime still apply. Logging out deletes the session and the
cookie.

The page never holds the token itself: only a code that is good once, for a minute.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

COOKIE_NAME = "clinic_session"
START_PATH = "/auth/session"
END_PATH = "/auth/session/end"
CODE_LIFETIME_S = 60.0


@dataclass
class CookieCodes:
    """One-time codes the page trades for the cookie (in this process: Streamlit and the routes
    run in one server process)."""

    lifetime_s: float = CODE_LIFETIME_S
    _codes: dict[str, tuple[str, int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, token: str, max_age_s: int) -> str:
        code = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._codes = {c: v for c, v in self._codes.items() if v[2] > now}  # drop the stale
            self._codes[code] = (token, max_age_s, now + self.lifetime_s)
        return code

    def redeem(self, code: str) -> tuple[str, int] | None:
        """(token, cookie lifetime) once per code, within its lifetime; None otherwise."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry[2] <= time.monotonic():
            return None
        return entry[0], entry[1]


codes = CookieCodes()


def _served_over_https(request: Request) -> bool:
    # Behind Caddy the portal sees plain HTTP on loopback; the proxy says what the browser used.
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


async def start(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "bad request"}, status_code=400)
    redeemed = codes.redeem(str(body.get("code", ""))) if isinstance(body, dict) else None
    if redeemed is None:
        return JSONResponse({"error": "unknown or expired code"}, status_code=403)
    token, max_age_s = redeemed
    response = JSONResponse({"ok": True})
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_served_over_https(request),
    )
    return response


async def end(request: Request) -> Response:
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    return [Route(START_PATH, start, methods=["POST"]), Route(END_PATH, end, methods=["POST"])]
