"""How many concurrent patient sessions one server carries at acceptable page times.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_sessions.py [--sessions 1 5 10 20 40] [--seconds 30] [--think 1.0]

Starts the real portal (`streamlit run portal.py` on loopback, the embedded DuckDB default; the
browser tests' `start_portal`), seeded before it starts with one patient account per session,
each with a submitted case (the demo's photos), its AI pre-assessment done and the physician's
report sent, so "My consultations" shows a status timeline and a report. Then, for each N, N
concurrent sessions speak Streamlit's own websocket protocol (`/_stcore/stream`, the BackMsg and
ForwardMsg protobufs that ship in the streamlit package) as a browser tab does: open the portal,
log in through the log-in form's widgets, then alternately open "My consultations" and
"New consultation" (the patient has no separate case page: a case's timeline and report are on
"My consultations") with `--think` seconds between requests, and run the timed fragments the
server asks for (`auto_rerun`) while they wait, as the browser does. A page time is from sending
the request to the server's `script_finished` for the page's full run (switch_page/rerun hops
included); images and the browser's own paint are not in it. Prints median/p95 per N, the
portal process's CPU use (and its CPU time per page opened, timed fragments included), and the largest N whose p95 stays under `--limit-ms` (2 s).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

PASSWORD = "Bench-Session-Pass-123"
PAGES = ("My consultations", "New consultation")  # the pages opened, by their menu titles
REQUEST_TIMEOUT_S = 120.0


def patient_email(k: int) -> str:
    return f"bench-patient-{k}@example.test"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


# -- seeding (a child process: DuckDB lets one process hold the file, and the portal is next) -------
def seed(patients: int, physician_email: str, physician_password: str) -> None:
    from core.clinic import Clinic
    from core.config import Settings
    from core.consult.reports import PhysicianReport
    from core.demo import demo_intake, demo_intake_photos

    clinic = Clinic.open(Settings.from_env())
    try:
        photos = demo_intake_photos()
        intake = demo_intake()
        physician = clinic.auth.login(physician_email, physician_password).principal
        for k in range(patients):
            clinic.auth.register_patient(
                patient_email(k),
                PASSWORD,
                f"Bench Patient {k}",
                date(1985, 6, 15),
                "en",
                "Europe/Amsterdam",
                True,
            )
            patient = clinic.auth.login(patient_email(k), PASSWORD).principal
            case_id = clinic.cases.submit_example_case(patient, intake, photos)
            clinic.reports.save_draft(
                physician,
                case_id,
                PhysicianReport(
                    findings="Fine forehead lines and mild melasma on both cheeks.",
                    assessment="Early photo-ageing; epidermal melasma.",
                    recommended_treatments="Botulinum toxin for the forehead lines; a course of chemical peels.",
                    home_care="Daily broad-spectrum sunscreen SPF 50.",
                ),
            )
            clinic.reports.send(physician, case_id)
        if not clinic.assessments.wait_idle(timeout=1800):
            raise SystemExit("the seeded cases' assessments did not finish")
    finally:
        clinic.close()
    os._exit(0)  # skip teardown of the assessment engine's native threads


# -- one browser tab, in Streamlit's websocket protocol ---------------------------------------------
@dataclass
class Session:
    """One session on `/_stcore/stream`: sends `rerun_script` BackMsgs, reads ForwardMsgs."""

    ws_url: str
    pages: dict[str, str] = field(default_factory=dict)  # page title -> page_script_hash
    widgets: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (kind, widget id)
    fragments: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> (interval s, next due)
    exceptions: int = 0
    current_page: str = ""
    _ws: Any = None

    def connect(self) -> None:
        from websockets.sync.client import connect
        from websockets.typing import Subprotocol

        self._ws = connect(  # closed by `close()`, not a with-block: the socket lives across calls
            self.ws_url, subprotocols=[Subprotocol("streamlit")], max_size=None, open_timeout=60
        )

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()

    def _send(
        self,
        page_hash: str = "",
        widget_states: list[Any] | None = None,
        fragment_id: str = "",
    ) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        message = BackMsg()
        state = message.rerun_script
        state.query_string = ""
        state.page_script_hash = page_hash
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = True
        state.widget_states.widgets.extend(widget_states or [])
        self._ws.send(message.SerializeToString())

    def request(self, page_hash: str = "", widget_states: list[Any] | None = None) -> float:
        """Milliseconds from sending a full run's request to its `script_finished`."""
        started = time.perf_counter()
        self.widgets.clear()
        self._send(page_hash, widget_states)
        self._read_until(time.monotonic() + REQUEST_TIMEOUT_S, full_run=True)
        return (time.perf_counter() - started) * 1000

    def think(self, seconds: float) -> None:
        """Wait as an open tab does: run the timed fragments that fall due, read what comes."""
        until = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            for fragment_id, (interval, due) in list(self.fragments.items()):
                if due <= now:
                    self.fragments[fragment_id] = (interval, now + interval)
                    self._send(self.pages.get(self.current_page, ""), fragment_id=fragment_id)
            if now >= until:
                return
            next_due = min([until, *(due for _, due in self.fragments.values())])
            self._read_until(max(next_due, now + 0.01), full_run=False)

    def _read_until(self, deadline: float, *, full_run: bool) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if full_run:
                    raise TimeoutError("no script_finished within the request timeout")
                return
            try:
                data = self._ws.recv(timeout=remaining)
            except TimeoutError:
                if full_run:
                    raise
                return
            message = ForwardMsg.FromString(data if isinstance(data, bytes) else data.encode())
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                self._note_element(message.delta.new_element)
            elif kind == "navigation":
                # Titles, not url paths: a role's landing page is served at "" (its default).
                self.pages = {page.page_name: page.page_script_hash for page in message.navigation.app_pages}
                current = message.navigation.page_script_hash
                self.current_page = next((p for p, h in self.pages.items() if h == current), "")
                self.fragments.clear()  # a new page: its own fragments announce themselves again
            elif kind == "auto_rerun":
                interval = float(message.auto_rerun.interval)
                self.fragments[message.auto_rerun.fragment_id] = (interval, time.monotonic() + interval)
            elif kind == "stop_auto_rerun":
                self.fragments.clear()
            elif kind == "script_finished":
                status = message.script_finished
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise RuntimeError("the script did not compile")
                if status == ForwardMsg.FINISHED_SUCCESSFULLY and full_run:
                    return

    def _note_element(self, element: Any) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            self.exceptions += 1
        elif kind in ("text_input", "button"):
            widget = getattr(element, kind)
            self.widgets[widget.label] = (kind, widget.id)

    def log_in(self, email: str, password: str) -> float:
        """Fill and submit the log-in form; milliseconds until the landing page's run finished."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        states = []
        for label, value in (("Email", email), ("Password", password)):
            state = WidgetState(id=self.widgets[label][1])
            state.string_value = value
            states.append(state)
        states.append(WidgetState(id=self.widgets["Log in"][1], trigger_value=True))
        elapsed = self.request("", states)
        if self.current_page != PAGES[0]:
            raise RuntimeError(f"log-in landed on {self.current_page!r}, not {PAGES[0]!r}")
        return elapsed


# -- the ramp --------------------------------------------------------------------------------------
@dataclass
class StepResult:
    sessions: int
    page_ms: list[float]
    login_ms: list[float]
    errors: list[str]
    cpu_percent: float  # of one core, the portal process, during the window


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_step(ws_url: str, pid: int, sessions: int, seconds: float, think: float) -> StepResult:
    page_ms: list[float] = []
    login_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    window: dict[str, float] = {}

    def open_window() -> None:  # run once, by the last thread to arrive, before any goes on
        window["cpu"] = process_cpu_seconds(pid)
        window["end"] = time.monotonic() + seconds

    ready = threading.Barrier(sessions + 1, action=open_window)

    def tab(k: int) -> None:
        session = Session(ws_url)
        try:
            session.connect()
            session.request()  # the log-in page, as a new tab opens it
            login = session.log_in(patient_email(k), PASSWORD)
            with lock:
                login_ms.append(login)
        except Exception as error:  # noqa: BLE001 - reported with the figures
            with lock:
                errors.append(f"session {k} log-in: {error!r}"[:300])
            ready.abort()
            session.close()
            return
        try:
            ready.wait(timeout=600)
        except threading.BrokenBarrierError:
            session.close()
            return
        turn = k  # sessions start on different pages
        try:
            while time.monotonic() < window["end"]:
                page = PAGES[turn % len(PAGES)]
                turn += 1
                elapsed = session.request(session.pages[page])
                if session.current_page != page:
                    raise RuntimeError(f"asked for {page}, got {session.current_page!r}")
                if time.monotonic() <= window["end"]:
                    with lock:
                        page_ms.append(elapsed)
                session.think(think)
            if session.exceptions:
                with lock:
                    errors.append(f"session {k}: {session.exceptions} exception element(s) rendered")
        except Exception as error:  # noqa: BLE001 - reported with the figures
            with lock:
                errors.append(f"session {k}: {error!r}"[:300])
        finally:
            session.close()

    threads = [threading.Thread(target=tab, args=(k,), daemon=True) for k in range(sessions)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a log-in failed: the errors say which
        ready.wait(timeout=900)
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_S + think + 30)
    cpu = process_cpu_seconds(pid) - window["cpu"] if "cpu" in window else 0.0
    return StepResult(sessions, page_ms, login_ms, errors, 100 * cpu / seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 10, 20, 40])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per N")
    parser.add_argument("--think", type=float, default=1.0, help="seconds a session waits between pages")
    parser.add_argument("--limit-ms", type=float, default=2000.0, help="acceptable p95 page time")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--physician", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed is not None:
        seed(args.seed, *args.physician)
        return 0

    from tests.browser.conftest import TEST_ACCOUNTS, start_portal, stop_process

    physician = TEST_ACCOUNTS["physician"]

    def seed_cases(env: dict[str, str]) -> None:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--seed", str(max(args.sessions)), "--physician", physician.email,
             physician.password],
            cwd=REPO_ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"seeded {max(args.sessions)} patients with a case, its assessment and a sent report"
              f" in {time.perf_counter() - started:.0f} s")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as workdir:
        portal = start_portal(Path(workdir), before_start=seed_cases)
        try:
            ws_url = portal.base_url.replace("http://", "ws://") + "/_stcore/stream"
            print(
                f"portal {portal.base_url} (streamlit run portal.py, DuckDB); {os.cpu_count()} cores shared with"
                f" the {max(args.sessions)} client sessions; think time {args.think:.1f} s; {args.seconds:.0f} s per N"
            )
            results = []
            for sessions in args.sessions:
                result = run_step(ws_url, portal.process.pid, sessions, args.seconds, args.think)
                results.append(result)
                pages = result.page_ms
                print(
                    f"  N={sessions:3d}  pages {len(pages):5d}  median {statistics.median(pages) if pages else float('nan'):7.0f} ms"
                    f"  p95 {percentile(pages, 0.95):7.0f} ms  max {max(pages, default=float('nan')):7.0f} ms"
                    f"  log-in median {statistics.median(result.login_ms) if result.login_ms else float('nan'):6.0f} ms"
                    f"  portal CPU {result.cpu_percent:4.0f}% of a core"
                    f" ({result.cpu_percent * args.seconds * 10 / max(len(pages), 1):.0f} ms per page)"
                )
                for error in result.errors[:5]:
                    print(f"    error: {error}")
            carried = [
                r.sessions
                for r in results
                if r.page_ms and not r.errors and percentile(r.page_ms, 0.95) < args.limit_ms
            ]
            print(f"largest N with p95 under {args.limit_ms:.0f} ms: {max(carried) if carried else 'none'}")
        finally:
            stop_process(portal.process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
