"""The AR leg of the live consult: the patient's camera in, AR on every frame, the result out.

Topology
    Plain video and sound go directly browser to browser. Only the stream the AR changes comes
    through the server, over two WebRTC connections per room (both answered here):

        patient browser --camera--> [media worker] --AR view--> physician browser
               ^                          |
               +-- shared simulation -----+   (only while the physician shares it)

    The physician's leg receives video only; the patient's leg sends its camera and, on the
    same m-line, receives the simulation while it is shared (no frames, so no encoding, else).

Why a separate process
    Per 640x480 frame the server decodes (~1 ms), composes the AR (~8-12 ms for one effect,
    ~20 ms for all, plus ~10-15 ms of landmarks in their own thread) and encodes one or two
    streams (~3 ms each for VP8). At 30 fps the worker uses ~22 % of a core for a pass-through
    leg, ~100 % with AR on (~75 % with `landmark_max_fps=15`), ~115 % when the simulation is
    also shared (benchmarks/bench_ar_media.py --e2e, 2-core machine, little other load). In the Streamlit process
    those threads would contend for the GIL with every page run and websocket message: the
    portal would stutter whenever a consult runs AR, and a slow page run would stall the video.
    So the media work runs in worker processes (multiprocessing "spawn", daemon, one per core by
    default, each room on one of them, started on first use, restarted by the next call after
    it died; it never re-runs the server's __main__, which under Streamlit is the app script),
    each with its own interpreter, GIL and asyncio loop for aiortc: one process cannot use much
    more than one core, and a consult with AR on needs about 2/3 of one. The Streamlit process
    talks to each over one Pipe: requests carry
    an id and a reader thread resolves them, so calls from several threads overlap; `answer`
    is async (the pipe round trip runs in a thread); `stats` reads counters the worker pushes
    twice a second, so it never waits on the pipe.

Per room in the worker
    - a task consumes the patient's decoded track and keeps only the newest frame;
    - with no view active (or nobody connected to see it), that decoded frame goes to the
      physician's track as it is (no conversion, no effect cost);
    - otherwise a compose thread takes the newest frame (older ones are dropped, never queued),
      converts it to a private BGR copy, hands it to the `LandmarkTracker` (landmarks + One Euro
      smoothing in a thread of their own, at whatever rate they manage) and composes THIS frame
      with the latest smoothed landmarks: effects, wiper / side-by-side layout, simulation mark.
      The physician thus sees AR at the camera's frame rate, not the landmark rate;
    - outgoing tracks hand the encoder the newest composed frame (fresh yuv420p frames: a
      frame shared between converters crashes libswscale), with pts from a 90 kHz wall clock.
      A composed view differs from the camera frame only around the face and in the mark's
      band: only those boxes are converted back to YUV, the rest is the decoded frame's own
      YUV (`_to_yuv_over`);
    - the effects reuse the face's region masks while the landmarks have not changed (the
      landmark rate is capped below the frame rate: core.ar.effects._face_context).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from core.ar.live import LiveView, VideoLandmarker
from core.ar.smoothing import OneEuroParams

logger = logging.getLogger(__name__)

ROLES = ("patient", "physician")
# Cheapest first. CPU per 640x480 frame in aiortc (benchmarks/bench_ar_media.py): VP8 encodes
# in ~3 ms (~10 % of a core at 30 fps), H.264 (libx264) in ~13 ms (~40 %); both decode in ~1 ms.
# The answer lists both in this order, so the browser sends and receives VP8.
PREFERRED_VIDEO_CODECS: tuple[str, ...] = ("video/VP8", "video/H264")
MAX_MEDIA_WORKERS = 4
ANSWER_TIMEOUT_S = 45.0  # spawning a fresh worker (imports) plus ICE gathering with STUN/TURN
CALL_TIMEOUT_S = 10.0
STATS_PUSH_PERIOD_S = 0.5
VIDEO_CLOCK_HZ = 90_000


class MediaWorkerError(RuntimeError):
    """The media worker did not answer (it died, or timed out); the next call restarts it."""


@dataclass(frozen=True)
class ARViews:
    """What each side should see; plain data, so it pickles across the process boundary."""

    physician: LiveView = field(default_factory=LiveView)
    patient: LiveView = field(default_factory=LiveView)  # no treatments: the patient gets no frames back


@dataclass(frozen=True)
class ProcessorOptions:
    """How the worker runs the AR. Everything must pickle (the worker is spawned)."""

    # A module-level callable (pickled by reference); None = MediaPipe in VIDEO mode.
    landmarker_factory: Callable[[], VideoLandmarker] | None = None
    smoothing: OneEuroParams | None = None
    max_landmark_age_s: float = 0.5  # older landmarks would misplace the effects: show raw instead
    # None: landmarks on the newest frame whenever the tracker is free. A cap saves CPU on a
    # small machine; every frame is still composed (with the latest landmarks).
    landmark_max_fps: float | None = None
    video_codecs: tuple[str, ...] = PREFERRED_VIDEO_CODECS
    opencv_threads: int = 1  # the codec and landmark threads need the other core
    # Worker processes; each room stays on one, new rooms go to the one with fewest rooms. Each
    # consult with AR on keeps about 2/3 of a core busy and one process cannot use more than about
    # one core (aiortc's loop holds the GIL), so a second consult on a 2-core server needs its
    # own process. None: one per core, at most MAX_MEDIA_WORKERS. Workers start on first use.
    workers: int | None = None
    window: int = 300  # frames behind the p50/p95 figures


def _room_stats_template() -> dict[str, Any]:
    return {
        "frames_in": 0,
        "frames_out_physician": 0,
        "frames_out_patient": 0,
        "ar_frames": 0,
        "dropped": 0,
        "dropped_compose": 0,
        "dropped_out_physician": 0,
        "dropped_out_patient": 0,
        "no_face_frames": 0,
        "errors": 0,
        "processing_ms_p50": None,
        "processing_ms_p95": None,
        "landmark_ms_last": None,
        "landmark_frames": 0,
        "server_latency_ms_p50": None,
        "server_latency_ms_p95": None,
        "patient_connection": "none",
        "physician_connection": "none",
        "patient_codec": None,
        "physician_codec": None,
        "physician_view_active": False,
        "patient_view_active": False,
    }


def _validated_ice_servers(ice_servers: Iterable[dict] | None) -> list[dict[str, Any]]:
    """RTCIceServer-shaped dicts (urls, username, credential), checked here, not in the worker."""
    servers: list[dict[str, Any]] = []
    for entry in ice_servers or []:
        if not isinstance(entry, dict):
            raise ValueError(f"an ICE server must be an object, not {entry!r}")
        urls = entry.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not urls or not all(isinstance(url, str) for url in urls):
            raise ValueError(f"an ICE server needs urls (a string or a list of strings): {entry!r}")
        server: dict[str, Any] = {"urls": urls}
        for key in ("username", "credential"):
            if entry.get(key) is not None:
                server[key] = str(entry[key])
        servers.append(server)
    return servers


def _checked_views(views: ARViews) -> ARViews:
    """`views` with plain-dict treatments (any Mapping must pickle); ValueError for an unknown one."""
    from core.ar.effects import normalise_treatments

    if not isinstance(views, ARViews):
        raise TypeError(f"expected ARViews, got {type(views).__name__}")
    plain = {}
    for side in ("physician", "patient"):
        view: LiveView = getattr(views, side)
        normalise_treatments(view.treatments)
        plain[side] = dataclasses.replace(
            view, treatments={str(k): float(v) for k, v in view.treatments.items()}
        )
    return ARViews(**plain)


# --- the Streamlit side ----------------------------------------------------------------------------


class ARMediaServer:
    """Handle to the media worker processes; thread-safe; every method may be called from any thread."""

    def __init__(
        self, ice_servers: list[dict] | None = None, *, processor_options: ProcessorOptions | None = None
    ) -> None:
        self._ice_servers = _validated_ice_servers(ice_servers)
        self._options = processor_options or ProcessorOptions()
        self._context = multiprocessing.get_context("spawn")
        self._start_lock = threading.Lock()  # worker starts and room placement, one at a time
        self._views_lock = threading.Lock()  # views reach the worker in the order they were set
        self._views: dict[str, ARViews] = {}
        self._workers: list[_WorkerHandle | None] = [None] * media_worker_count(self._options)
        self._room_slots: dict[str, int] = {}  # room -> index in _workers, until close_room
        self._restarts = 0
        self._last_exit_code: int | None = None

    # --- calls ------------------------------------------------------------------------------------
    async def answer(self, room_id: str, role: str, offer_sdp: str) -> str:
        """The complete answer SDP (ICE gathered) for a browser's offer; replaces that leg's previous one."""
        return await asyncio.to_thread(self.answer_blocking, room_id, role, offer_sdp)

    def answer_blocking(
        self, room_id: str, role: str, offer_sdp: str, timeout_s: float = ANSWER_TIMEOUT_S
    ) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        if not isinstance(offer_sdp, str) or not offer_sdp.startswith("v=0"):
            raise ValueError("the offer is not an SDP")
        return self._ensure_worker(self._place(room_id)).call("answer", (room_id, role, offer_sdp), timeout_s)

    def set_views(self, room_id: str, views: ARViews) -> None:
        """What each side sees from the worker's next frame on (kept, and re-sent after a restart)."""
        views = _checked_views(views)
        slot = self._place(room_id)
        with self._views_lock:
            self._views[room_id] = views
            worker = self._live_worker(slot)
            if worker is None:
                return  # the worker gets the views when it starts
            try:
                worker.call("set_views", (room_id, views), CALL_TIMEOUT_S)
            except MediaWorkerError:
                logger.warning("AR views for room %s not delivered: the media worker is down", room_id)

    def stats(self, room_id: str) -> dict[str, Any]:
        """The room's counters as last pushed by its worker (at most ~0.5 s old); never waits.

        frames_in (decoded from the patient), frames_out_physician / _patient (handed to the
        encoders), ar_frames (composed with a face), no_face_frames (AR on, no fresh landmarks:
        raw shown), dropped (= dropped_compose, newer frame arrived before composing, plus
        dropped_out_*, newer frame before the encoder took it), errors, processing_ms_p50/p95
        (per AR frame: convert, effects, layout, mark, convert back), landmark_ms_last,
        server_latency_ms_p50/p95 (received -> handed to the physician's encoder),
        patient/physician_connection and _codec, the views, and the room's worker: alive, pid,
        cpu_s; restarts (deaths noticed, all workers), last exit code.
        """
        stats = _room_stats_template()
        worker = self._room_worker(room_id)
        pushed = worker.pushed if worker is not None else {}
        stats.update(pushed.get("rooms", {}).get(room_id, {}))
        stats.update(
            worker_alive=worker is not None,
            worker_pid=worker.pid if worker is not None else None,
            worker_cpu_s=pushed.get("cpu_s"),
            worker_restarts=self._restarts,
            worker_last_exit_code=self._last_exit_code,
            stats_age_s=(
                round(time.monotonic() - pushed["received_at"], 2) if "received_at" in pushed else None
            ),
        )
        return stats

    def snapshot(self, room_id: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(newest raw patient frame, newest physician view WITH the simulation mark), BGR.

        Either is None when there is none: no patient video, or no simulation on screen.
        """
        worker = self._room_worker(room_id)
        if worker is None:
            return None, None
        try:
            return worker.call("snapshot", (room_id,), CALL_TIMEOUT_S)
        except MediaWorkerError:
            logger.warning("AR snapshot for room %s failed: the media worker is down", room_id)
            return None, None

    def close_room(self, room_id: str) -> None:
        with self._views_lock:
            self._views.pop(room_id, None)
        with self._start_lock:
            slot = self._room_slots.pop(room_id, None)
        worker = self._live_worker(slot) if slot is not None else None
        if worker is None:
            return
        try:
            worker.call("close_room", (room_id,), CALL_TIMEOUT_S)
        except MediaWorkerError:
            logger.warning("closing AR room %s: the media worker is down", room_id)
        else:  # pushes arrive in order: none after this reply still has the room
            worker.forget_room(room_id)

    def close(self) -> None:
        """Stops the worker processes (a later call starts new ones)."""
        with self._start_lock:
            workers = self._workers
            self._workers = [None for _ in workers]
            self._room_slots.clear()
        for worker in workers:
            if worker is not None:
                worker.stop()

    @property
    def worker_pid(self) -> int | None:
        """The first live worker's pid (the one a lone consult runs on)."""
        pids = self.worker_pids
        return pids[0] if pids else None

    @property
    def worker_pids(self) -> list[int]:
        return [worker.pid for slot in range(len(self._workers)) if (worker := self._live_worker(slot))]

    def room_worker_pid(self, room_id: str) -> int | None:
        worker = self._room_worker(room_id)
        return worker.pid if worker is not None else None

    # --- the worker processes ---------------------------------------------------------------------
    def _live_worker(self, slot: int) -> _WorkerHandle | None:
        worker = self._workers[slot]
        return worker if worker is not None and worker.alive() else None

    def _room_worker(self, room_id: str) -> _WorkerHandle | None:
        """The live worker of a placed room; None for a room never placed or closed."""
        slot = self._room_slots.get(room_id)
        return self._live_worker(slot) if slot is not None else None

    def _place(self, room_id: str) -> int:
        """The room's worker slot: kept while the room is open; else the slot with fewest rooms."""
        with self._start_lock:
            slot = self._room_slots.get(room_id)
            if slot is None:
                load = collections.Counter(self._room_slots.values())
                slot = min(range(len(self._workers)), key=lambda index: (load[index], index))
                self._room_slots[room_id] = slot
            return slot

    def _ensure_worker(self, slot: int) -> _WorkerHandle:
        with self._start_lock:
            worker = self._workers[slot]
            if worker is not None and worker.alive():
                return worker
            if worker is not None:  # it died: say so in the stats, then start a new one
                self._restarts += 1
                self._last_exit_code = worker.exit_code()
                logger.warning(
                    "AR media worker (pid %s) exited with %s; starting a new one",
                    worker.pid,
                    self._last_exit_code,
                )
                worker.stop(timeout_s=1.0)
            with self._views_lock:  # a set_views now waits, then reaches the new worker
                views = {
                    room: view for room, view in self._views.items() if self._room_slots.get(room) == slot
                }
                started = _WorkerHandle(self._context, self._ice_servers, self._options, views)
                self._workers[slot] = started
            return started


def media_worker_count(options: ProcessorOptions) -> int:
    if options.workers is not None:
        if options.workers < 1:
            raise ValueError("ProcessorOptions.workers must be at least 1")
        return options.workers
    return max(1, min(os.cpu_count() or 1, MAX_MEDIA_WORKERS))


_spawn_local = threading.local()
_spawn_patch_lock = threading.Lock()


@contextlib.contextmanager
def _bare_main_for_spawn() -> Iterator[None]:
    """Keep the parent's __main__ out of the spawned worker (this thread's starts only).

    A spawned child first re-runs the parent's main module. Under Streamlit that is the app
    script (its ScriptRunner installs a fake __main__ whose __file__ is the script): the worker
    would run the whole portal page, opening the database among other things. The worker needs
    nothing from __main__ (its target lives in this module), so the preparation data for the
    child is stripped of the main module while this thread starts one.
    """
    from multiprocessing import spawn

    with _spawn_patch_lock:
        if not getattr(spawn.get_preparation_data, "_clinic_bare_main", False):
            original = spawn.get_preparation_data

            def get_preparation_data(name: str) -> dict[str, Any]:
                data = original(name)
                if getattr(_spawn_local, "bare_main", False):
                    data.pop("init_main_from_path", None)
                    data.pop("init_main_from_name", None)
                return data

            get_preparation_data._clinic_bare_main = True  # type: ignore[attr-defined]
            spawn.get_preparation_data = get_preparation_data
    _spawn_local.bare_main = True
    try:
        yield
    finally:
        _spawn_local.bare_main = False


class _WorkerHandle:
    """One worker process and its pipe: requests by id, a reader thread resolving them."""

    def __init__(
        self,
        context: Any,
        ice_servers: list[dict[str, Any]],
        options: ProcessorOptions,
        views: dict[str, ARViews],
    ) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_worker_main,
            args=(child_end, ice_servers, options, views),
            name="ar-media-worker",
            daemon=True,
        )
        with _bare_main_for_spawn():
            self._process.start()
        child_end.close()  # only the child holds it now: its exit reads as EOF here
        self._conn = parent_end
        self._send_lock = threading.Lock()
        self._pending: dict[int, concurrent.futures.Future] = {}
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._dead = False
        self.pid = self._process.pid
        self.pushed: dict[str, Any] = {}
        self._reader = threading.Thread(target=self._read, name="ar-media-replies", daemon=True)
        self._reader.start()

    def alive(self) -> bool:
        return not self._dead and self._process.is_alive()

    def forget_room(self, room_id: str) -> None:
        pushed = dict(self.pushed)
        pushed["rooms"] = {key: value for key, value in pushed.get("rooms", {}).items() if key != room_id}
        self.pushed = pushed

    def exit_code(self) -> int | None:
        return self._process.exitcode

    def call(self, op: str, args: tuple, timeout_s: float) -> Any:
        future: concurrent.futures.Future = concurrent.futures.Future()
        request_id = next(self._ids)
        with self._pending_lock:
            if self._dead:
                raise MediaWorkerError("the AR media worker has exited")
            self._pending[request_id] = future
        try:
            with self._send_lock:
                self._conn.send((request_id, op, args))
        except (OSError, EOFError, ValueError) as error:
            self._fail_all(f"the AR media worker is unreachable: {error}")
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            with self._pending_lock:
                self._pending.pop(request_id, None)
            raise MediaWorkerError(
                f"the AR media worker did not answer {op!r} in {timeout_s:.0f} s"
            ) from None

    def _read(self) -> None:
        while True:
            try:
                request_id, ok, value = self._conn.recv()
            except (EOFError, OSError):
                break
            except Exception:  # a reply that does not unpickle: drop it, keep reading
                logger.exception("unreadable reply from the AR media worker")
                continue
            if request_id == 0:  # the worker's periodic counters
                self.pushed = {**value, "received_at": time.monotonic()}
                continue
            with self._pending_lock:
                future = self._pending.pop(request_id, None)
            if future is None:
                continue  # its caller gave up waiting
            if ok:
                future.set_result(value)
            else:
                kind, message = value
                future.set_exception(
                    ValueError(message) if kind == "ValueError" else MediaWorkerError(message)
                )
        self._fail_all("the AR media worker has exited")

    def _fail_all(self, reason: str) -> None:
        with self._pending_lock:
            self._dead = True
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(MediaWorkerError(reason))

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.alive():
            with contextlib.suppress(MediaWorkerError):
                self.call("shutdown", (), timeout_s)
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(2.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(2.0)
        self._reader.join(2.0)
        self._fail_all("the AR media worker was stopped")
        self._conn.close()


# --- the worker process ----------------------------------------------------------------------------


def _worker_main(
    conn: Any, ice_servers: list[dict[str, Any]], options: ProcessorOptions, views: dict[str, ARViews]
) -> None:
    # Ctrl+C in the server's terminal reaches the whole process group: the server stops this worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s ar-media-worker %(levelname)s %(message)s")
    if options.opencv_threads > 0:
        import cv2

        cv2.setNumThreads(options.opencv_threads)
    try:
        asyncio.run(_MediaWorker(conn, ice_servers, options, views).serve())
    finally:
        conn.close()


def _rtc_configuration(ice_servers: list[dict[str, Any]]) -> Any:
    from aiortc import RTCConfiguration, RTCIceServer

    # An explicit list, even when empty: aiortc's default (None) means Google's STUN server.
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(
                urls=server["urls"], username=server.get("username"), credential=server.get("credential")
            )
            for server in ice_servers
        ]
    )


def _codec_preferences(preferred: tuple[str, ...]) -> list[Any]:
    """Every video codec aiortc has, `preferred` mime types first (nothing dropped: an offer
    without the preferred codec still negotiates), retransmission (rtx) last."""
    from aiortc import RTCRtpSender

    capabilities = RTCRtpSender.getCapabilities("video").codecs
    rank = {mime.lower(): index for index, mime in enumerate(preferred)}

    def key(codec: Any) -> tuple[int, int]:
        mime = codec.mimeType.lower()
        return (2 if mime == "video/rtx" else 0, rank.get(mime, len(rank)))

    return sorted(capabilities, key=key)  # stable: aiortc's own order within one mime type


def _percentiles(values: Iterable[float]) -> tuple[float | None, float | None]:
    array = np.fromiter(values, dtype=np.float64)
    if not array.size:
        return None, None
    p50, p95 = np.percentile(array, [50, 95])
    return round(float(p50), 2), round(float(p95), 2)


def _to_bgr(frame: Any, reformatter: Any) -> np.ndarray:
    """A private BGR copy of a decoded frame, converted by the calling thread's own reformatter.

    One thread per conversion: libswscale's default starts a slice thread per core, and their
    wake-ups cost more than they save beside the codec and landmark threads of every room."""
    converted = reformatter.reformat(frame, format="bgr24", threads=1)
    array = converted.to_ndarray()
    if converted is frame:  # nothing to convert: the array would be the shared frame's memory
        return np.array(array, copy=True, order="C")
    return np.ascontiguousarray(array)


def _to_yuv(image_bgr: np.ndarray, reformatter: Any) -> Any:
    """A fresh yuv420p frame (even size) from a BGR image."""
    import av

    height, width = image_bgr.shape[:2]
    bgr = np.ascontiguousarray(image_bgr[: height - height % 2, : width - width % 2], dtype=np.uint8)
    return reformatter.reformat(av.VideoFrame.from_ndarray(bgr, format="bgr24"), format="yuv420p", threads=1)


def _yuv_planes(frame: Any) -> np.ndarray | None:
    """A decoded frame's yuv420p planes, Y then U then V, as one flat uint8 copy; None when the
    frame is not yuv420p of an even size (then `_to_yuv_over` converts whole frames)."""
    if frame.format.name != "yuv420p" or frame.width % 2 or frame.height % 2:
        return None
    return frame.to_ndarray().reshape(-1)


def _changed_boxes(image_bgr: np.ndarray, raw_bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) boxes, even-aligned, holding every pixel where the two images differ:
    one above the simulation mark's band, one in it (a single box would span the frame's
    width from the face down to the band)."""
    from core.ar.effects import watermark_rows

    height, width = image_bgr.shape[:2]
    # Rows of B, G, R bytes: a byte-level bounding box, one OpenCV call per part.
    diff = cv2.absdiff(image_bgr, raw_bgr).reshape(height, width * 3)
    band_top = watermark_rows(height, width)[0]
    boxes = []
    for row0, row1 in ((0, band_top), (band_top, height)):
        if row1 <= row0:
            continue
        x, y, w, h = cv2.boundingRect(diff[row0:row1])
        if w == 0 or h == 0:
            continue
        y0, y1 = (row0 + y) & ~1, min(height, row0 + y + h + 1) & ~1
        x0, x1 = (x // 3) & ~1, min(width, -(-(x + w) // 3) + 1) & ~1
        boxes.append((y0, y1, x0, x1))
    return boxes


def _to_yuv_over(
    image_bgr: np.ndarray, raw_bgr: np.ndarray, planes: np.ndarray | None, reformatter: Any
) -> Any:
    """A fresh yuv420p frame of `image_bgr`, which differs from `raw_bgr` (the BGR of the decoded
    frame whose `planes` these are) only in places: the face and the mark's band.

    Only the boxes around the changed pixels are converted (BGR -> YUV is the slow direction in
    libswscale, ~2 ms a 640x480 frame; OpenCV's BT.601 conversion of the boxes takes ~0.1 ms and
    agrees with it to one level of luma); everything else is the decoded frame's own YUV, so it
    reaches the encoder without a colour round trip at all.
    """
    import av

    height, width = image_bgr.shape[:2]
    if planes is None or image_bgr.shape != raw_bgr.shape or planes.size != height * width * 3 // 2:
        return _to_yuv(image_bgr, reformatter)
    out = planes.copy()
    luma = out[: height * width].reshape(height, width)
    quarter = height * width // 4
    chroma = (
        out[height * width : height * width + quarter].reshape(height // 2, width // 2),
        out[height * width + quarter :].reshape(height // 2, width // 2),
    )
    for y0, y1, x0, x1 in _changed_boxes(image_bgr, raw_bgr):
        box_h, box_w = y1 - y0, x1 - x0
        if box_h < 2 or box_w < 2:
            continue
        i420 = cv2.cvtColor(np.ascontiguousarray(image_bgr[y0:y1, x0:x1]), cv2.COLOR_BGR2YUV_I420).reshape(-1)
        luma[y0:y1, x0:x1] = i420[: box_h * box_w].reshape(box_h, box_w)
        box_quarter = box_h * box_w // 4
        for index, plane in enumerate(chroma):
            start = box_h * box_w + index * box_quarter
            plane[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = i420[start : start + box_quarter].reshape(
                box_h // 2, box_w // 2
            )
    return av.VideoFrame.from_ndarray(out.reshape(height * 3 // 2, width), format="yuv420p")


@functools.cache
def _newest_frame_track_class() -> type:
    """The outgoing track class (built on first use: aiortc is imported in the worker only)."""
    from aiortc import MediaStreamTrack
    from aiortc.mediastreams import VIDEO_TIME_BASE, MediaStreamError

    class NewestFrameTrack(MediaStreamTrack):
        """Hands the encoder the newest frame put since its last recv(); older ones are dropped.

        Loop thread only. Nothing put = recv() waits = nothing is encoded.
        """

        kind = "video"

        def __init__(self, on_sent: Callable[[float], None], on_dropped: Callable[[], None]) -> None:
            super().__init__()
            self._pending: tuple[Any, float] | None = None
            self._ready = asyncio.Event()
            self._origin = time.monotonic()
            self._last_pts = -1
            self._reading = False
            self._on_sent = on_sent
            self._on_dropped = on_dropped

        def put(self, frame: Any, received_at: float) -> None:
            if self.readyState != "live":
                return
            if self._pending is not None and self._reading:  # before the encoder starts: not a drop
                self._on_dropped()
            self._pending = (frame, received_at)
            self._ready.set()

        async def recv(self) -> Any:
            self._reading = True
            while self._pending is None and self.readyState == "live":
                self._ready.clear()
                await self._ready.wait()
            if self._pending is None or self.readyState != "live":
                raise MediaStreamError
            frame, received_at = self._pending
            self._pending = None
            now = time.monotonic()
            # Wall-clock pts: the browser paces playback by them, whatever rate frames come at.
            self._last_pts = max(int((now - self._origin) * VIDEO_CLOCK_HZ), self._last_pts + 1)
            frame.pts = self._last_pts
            frame.time_base = VIDEO_TIME_BASE
            self._on_sent(now - received_at)
            return frame

        def stop(self) -> None:
            super().stop()
            self._ready.set()

    return NewestFrameTrack


@dataclass
class _Leg:
    role: str
    pc: Any  # RTCPeerConnection
    out_track: Any = None  # NewestFrameTrack, when this leg receives video from us
    consumer: asyncio.Task | None = None
    codec: str | None = None


class _Room:
    """One consult's AR leg in the worker: two peer connections, a compose thread, a tracker."""

    def __init__(self, room_id: str, loop: asyncio.AbstractEventLoop, options: ProcessorOptions) -> None:
        from core.ar.live import LandmarkTracker

        self.room_id = room_id
        self._loop = loop
        self._options = options
        self.views = ARViews()
        self.legs: dict[str, _Leg] = {}
        self._states: dict[str, str] = {}
        self._codecs: dict[str, str | None] = {}
        self.tracker = LandmarkTracker(
            options.landmarker_factory, smoothing=options.smoothing, max_age_s=options.max_landmark_age_s
        )
        self.latest_frame: Any = None  # newest decoded patient frame (never converted in place)
        self._latest_view: np.ndarray | None = None  # newest physician view with the mark
        self._counts: collections.Counter[str] = collections.Counter()
        self._counts_lock = threading.Lock()
        self._processing_ms: collections.deque[float] = collections.deque(maxlen=options.window)
        self._latency_ms: collections.deque[float] = collections.deque(maxlen=options.window)
        self._cond = threading.Condition()
        self._slot: tuple[Any, float] | None = None
        self._closed = False
        self._composer: threading.Thread | None = None
        self._landmarks_submitted_at = float("-inf")

    def _count(self, name: str, amount: int = 1) -> None:
        with self._counts_lock:
            self._counts[name] += amount

    # --- signalling (loop thread) -----------------------------------------------------------------
    async def open_leg(self, role: str, offer_sdp: str, ice_servers: list[dict[str, Any]]) -> str:
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from aiortc.exceptions import InvalidAccessError, OperationError
        from aiortc.sdp import SessionDescription

        try:
            offer = SessionDescription.parse(offer_sdp)
        except Exception as error:
            raise ValueError(f"the offer SDP does not parse: {error}") from error
        old = self.legs.pop(role, None)
        if old is not None:  # a reconnect: the new offer replaces the old connection
            await self._close_leg(old)

        pc = RTCPeerConnection(_rtc_configuration(ice_servers))
        leg = _Leg(role=role, pc=pc)
        self.legs[role] = leg
        self._states[role] = "new"
        pc.on("connectionstatechange", lambda: self._on_state(leg))
        try:
            camera = self._add_transceivers(leg, offer)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            except (InvalidAccessError, OperationError) as error:  # e.g. no codec in common
                raise ValueError(f"the offer cannot be answered: {error}") from error
            await pc.setLocalDescription(await pc.createAnswer())  # aiortc gathers ICE here
        except BaseException:
            if self.legs.get(role) is leg:
                del self.legs[role]
            await self._close_leg(leg)
            raise
        answer_sdp = pc.localDescription.sdp
        leg.codec = _first_video_codec(answer_sdp)
        self._codecs[role] = leg.codec
        if camera is not None and camera.receiver.track is not None:
            leg.consumer = self._loop.create_task(self._consume(leg, camera.receiver.track))
        return answer_sdp

    def _add_transceivers(self, leg: _Leg, offer: Any) -> Any:
        """One transceiver per offered m-line, in order, so aiortc pairs them with the offer
        and the codec preference applies to the answer. Returns the camera's transceiver."""
        preferences = _codec_preferences(self._options.video_codecs)
        camera = None
        sending = False
        for media in offer.media:
            if media.kind == "audio":  # sound goes browser to browser: decline it
                leg.pc.addTransceiver("audio", direction="inactive")
                continue
            if media.kind != "video":
                continue
            offered = media.direction or "sendrecv"
            receive = leg.role == "patient" and camera is None and offered in ("sendrecv", "sendonly")
            send = not sending and offered in ("sendrecv", "recvonly")
            if send:
                leg.out_track = _newest_frame_track_class()(
                    on_sent=functools.partial(self._on_sent, leg.role),
                    on_dropped=functools.partial(self._count, f"dropped_out_{leg.role}"),
                )
            direction = {
                (True, True): "sendrecv",
                (True, False): "recvonly",
                (False, True): "sendonly",
                (False, False): "inactive",
            }[(receive, send)]
            transceiver = leg.pc.addTransceiver(leg.out_track if send else "video", direction=direction)
            transceiver.setCodecPreferences(preferences)
            if receive:
                camera = transceiver
            sending = sending or send
        if leg.role == "patient" and camera is None:
            raise ValueError("the patient's offer sends no video")
        if leg.role == "physician" and not sending:
            raise ValueError("the physician's offer receives no video")
        return camera

    def _on_state(self, leg: _Leg) -> None:
        try:
            state = leg.pc.connectionState
            if self.legs.get(leg.role) is leg:
                self._states[leg.role] = state
                if state in ("failed", "closed"):  # the browser went: stop working for it
                    self.legs.pop(leg.role, None)
                    self._loop.create_task(self._close_leg(leg))
        except Exception:  # never into aiortc's event emitter
            self._count("errors")
            logger.exception("AR leg state change failed")

    async def _close_leg(self, leg: _Leg) -> None:
        if leg.out_track is not None:
            leg.out_track.stop()
        if leg.consumer is not None:
            leg.consumer.cancel()
        try:
            await leg.pc.close()
        except Exception:
            self._count("errors")
            logger.exception("closing an AR peer connection failed")
        if leg.role not in self.legs and self._states.get(leg.role) != "failed":
            self._states[leg.role] = "closed"
        if leg.role == "patient" and "patient" not in self.legs:
            self.latest_frame = None

    async def close(self) -> None:
        for leg in list(self.legs.values()):
            await self._close_leg(leg)
        self.legs.clear()
        with self._cond:
            self._closed = True
            self._slot = None
            self._cond.notify_all()
        composer = self._composer
        if composer is not None:
            await asyncio.to_thread(composer.join, 2.0)
        await asyncio.to_thread(self.tracker.stop)

    def set_views(self, views: ARViews) -> None:
        self.views = views
        if not (views.physician.active or views.patient.active):
            self.tracker.clear()  # the next view starts from a fresh face track
        if not views.physician.active:
            self._latest_view = None

    # --- frames in (loop thread: cheap) ---------------------------------------------------------
    async def _consume(self, leg: _Leg, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if self.legs.get("patient") is not leg:
                return  # replaced by a newer connection
            try:
                self._on_frame(frame)
            except Exception:
                self._count("errors")
                logger.exception("AR frame intake failed")

    def _on_frame(self, frame: Any) -> None:
        received_at = time.monotonic()
        self._count("frames_in")
        self.latest_frame = frame
        if not self._composing():
            self._deliver("physician", frame, received_at)  # as decoded: no conversion, no effects
            return
        with self._cond:
            if self._slot is not None:
                self._count("dropped_compose")
            self._slot = (frame, received_at)
            self._cond.notify()
        if self._composer is None or not self._composer.is_alive():
            self._composer = threading.Thread(target=self._compose_loop, name="ar-compose", daemon=True)
            self._composer.start()

    def _composing(self) -> bool:
        """True while an active view has someone to show it to (else composing is wasted work)."""
        views = self.views
        return any(
            view.active and role in self.legs and self.legs[role].out_track is not None
            for role, view in (("physician", views.physician), ("patient", views.patient))
        )

    # --- frames out -------------------------------------------------------------------------------
    def _deliver(self, role: str, frame: Any, received_at: float) -> None:
        """Loop thread: the newest frame to the role's current track (if it has one)."""
        leg = self.legs.get(role)
        if leg is not None and leg.out_track is not None:
            leg.out_track.put(frame, received_at)

    def _post(self, role: str, frame: Any, received_at: float) -> None:
        """Compose thread: `_deliver` on the loop."""
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._deliver, role, frame, received_at)

    def _on_sent(self, role: str, latency_s: float) -> None:
        self._count(f"frames_out_{role}")
        if role == "physician":
            self._latency_ms.append(latency_s * 1000.0)

    # --- composing (its own thread) --------------------------------------------------------------
    def _compose_loop(self) -> None:
        from av.video.reformatter import VideoReformatter

        reformatter = VideoReformatter()  # this thread's own swscale context
        while True:
            with self._cond:
                while self._slot is None and not self._closed:
                    self._cond.wait(timeout=1.0)
                if self._closed:
                    return
                frame, received_at = self._slot  # type: ignore[misc]
                self._slot = None
            try:
                self._compose(frame, received_at, reformatter)
            except Exception:
                self._count("errors")
                logger.exception("AR composition failed")
                self._post("physician", frame, received_at)  # the raw frame rather than none

    def _compose(self, frame: Any, received_at: float, reformatter: Any) -> None:
        from core.ar.effects import normalise_treatments
        from core.ar.live import compose_view, simulate_frame

        views = self.views
        if not (views.physician.active or views.patient.active):  # turned off meanwhile
            self._post("physician", frame, received_at)
            return
        started = time.perf_counter()
        raw = _to_bgr(frame, reformatter)
        planes = _yuv_planes(frame)
        cap = self._options.landmark_max_fps
        if not cap or received_at - self._landmarks_submitted_at >= 1.0 / cap:
            self._landmarks_submitted_at = received_at
            self.tracker.submit(raw, received_at)
        face = self.tracker.latest()
        if face is None:  # no face (yet): the raw frame, unmarked, as nothing is simulated
            self._count("no_face_frames")
            self._latest_view = None
            self._post("physician", frame, received_at)
            if views.patient.active:
                self._post("patient", _to_yuv_over(raw, raw, planes, reformatter), received_at)
            return
        simulated: dict[tuple, np.ndarray] = {}

        def shown(view: LiveView) -> np.ndarray:
            key = tuple(sorted(normalise_treatments(view.treatments).items()))
            if key not in simulated:  # both sides with the same treatments: simulated once
                simulated[key] = simulate_frame(raw, face.landmarks, view.treatments)
            return compose_view(raw, simulated[key], view)

        if views.physician.active:
            physician_view = shown(views.physician)
            self._latest_view = physician_view
            self._post("physician", _to_yuv_over(physician_view, raw, planes, reformatter), received_at)
        else:
            self._latest_view = None
            self._post("physician", frame, received_at)
        if views.patient.active:
            self._post("patient", _to_yuv_over(shown(views.patient), raw, planes, reformatter), received_at)
        self._count("ar_frames")
        self._processing_ms.append((time.perf_counter() - started) * 1000.0)

    # --- reading -----------------------------------------------------------------------------------
    def snapshot(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        from av.video.reformatter import VideoReformatter

        frame = self.latest_frame
        raw = _to_bgr(frame, VideoReformatter()) if frame is not None else None
        view = self._latest_view if self.views.physician.active else None
        return raw, (None if view is None else view.copy())

    def stats(self) -> dict[str, Any]:
        with self._counts_lock:
            counts = dict(self._counts)
        stats = _room_stats_template()
        stats.update({name: value for name, value in counts.items() if name in stats})
        stats["dropped"] = sum(counts.get(name, 0) for name in ("dropped_compose", *_DROPPED_OUT))
        tracker = self.tracker.stats
        stats["errors"] = counts.get("errors", 0) + tracker.errors
        stats["landmark_frames"] = tracker.processed_frames
        if tracker.processed_frames:
            stats["landmark_ms_last"] = round(tracker.last_processing_ms, 2)
        stats["processing_ms_p50"], stats["processing_ms_p95"] = _percentiles(list(self._processing_ms))
        stats["server_latency_ms_p50"], stats["server_latency_ms_p95"] = _percentiles(list(self._latency_ms))
        for role in ROLES:
            stats[f"{role}_connection"] = self._states.get(role, "none")
            stats[f"{role}_codec"] = self._codecs.get(role)
        stats["physician_view_active"] = self.views.physician.active
        stats["patient_view_active"] = self.views.patient.active
        return stats


_DROPPED_OUT = ("dropped_out_physician", "dropped_out_patient")


def _first_video_codec(sdp_text: str) -> str | None:
    from aiortc.sdp import SessionDescription

    for media in SessionDescription.parse(sdp_text).media:
        if media.kind == "video" and media.direction != "inactive" and media.rtp.codecs:
            return media.rtp.codecs[0].mimeType
    return None


class _MediaWorker:
    """The worker's request loop: requests arrive on a reader thread, run on the asyncio loop."""

    def __init__(
        self,
        conn: Any,
        ice_servers: list[dict[str, Any]],
        options: ProcessorOptions,
        views: dict[str, ARViews],
    ) -> None:
        self._conn = conn
        self._send_lock = threading.Lock()
        self._ice_servers = ice_servers
        self._options = options
        self._initial_views = views
        self._rooms: dict[str, _Room] = {}
        self._tasks: set[asyncio.Task] = set()

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for room_id, views in self._initial_views.items():  # kept across a restart by the server
            self._room(room_id).set_views(views)
        threading.Thread(target=self._read_requests, name="ar-media-requests", daemon=True).start()
        pusher = self._loop.create_task(self._push_stats())
        await self._stop.wait()
        pusher.cancel()
        for room_id in list(self._rooms):
            await self._op_close_room(room_id)

    def _room(self, room_id: str) -> _Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = _Room(room_id, self._loop, self._options)
        return room

    # --- pipe ------------------------------------------------------------------------------------
    def _read_requests(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):  # the server process is gone: shut down
                break
            except Exception:
                logger.exception("unreadable request")
                continue
            try:
                self._loop.call_soon_threadsafe(self._dispatch, message)
            except RuntimeError:
                return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._stop.set)

    def _send(self, message: tuple) -> None:
        try:
            with self._send_lock:
                self._conn.send(message)
        except (OSError, EOFError, ValueError):
            self._stop.set()
        except Exception:
            logger.exception("reply could not be sent")

    def _dispatch(self, message: tuple) -> None:
        task = self._loop.create_task(self._handle(*message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, request_id: int, op: str, args: tuple) -> None:
        try:
            handler = getattr(self, f"_op_{op}")
            result = await handler(*args)
        except ValueError as error:
            self._send((request_id, False, ("ValueError", str(error))))
        except Exception as error:
            logger.exception("AR media request %r failed", op)
            self._send((request_id, False, (type(error).__name__, f"{type(error).__name__}: {error}")))
        else:
            self._send((request_id, True, result))

    async def _push_stats(self) -> None:
        while True:
            try:
                rooms = {room_id: room.stats() for room_id, room in self._rooms.items()}
                self._send(
                    (0, True, {"rooms": rooms, "cpu_s": round(time.process_time(), 3), "pid": os.getpid()})
                )
            except Exception:
                logger.exception("AR stats push failed")
            await asyncio.sleep(STATS_PUSH_PERIOD_S)

    # --- operations ------------------------------------------------------------------------------
    async def _op_answer(self, room_id: str, role: str, offer_sdp: str) -> str:
        return await self._room(room_id).open_leg(role, offer_sdp, self._ice_servers)

    async def _op_set_views(self, room_id: str, views: ARViews) -> None:
        self._room(room_id).set_views(views)

    async def _op_snapshot(self, room_id: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        room = self._rooms.get(room_id)
        return room.snapshot() if room is not None else (None, None)

    async def _op_close_room(self, room_id: str) -> None:
        room = self._rooms.pop(room_id, None)
        if room is not None:
            await room.close()

    async def _op_shutdown(self) -> None:
        self._loop.call_soon(self._stop.set)  # after this reply has gone
