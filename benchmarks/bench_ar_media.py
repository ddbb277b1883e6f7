"""AR media server costs per 640x480 frame: VP8 vs H.264 in aiortc, the AR composition, end to end.

1. codecs: aiortc's own encoders/decoders (its settings: VP8 realtime cpu-used -6, libx264
   zerolatency baseline) on the same frames; wall ms (median, p95) and CPU ms per frame (process
   CPU time, so codec threads count), and the CPU share of one core for one stream at 30 fps.
2. AR: what the media worker's compose thread does per AR frame (decoded frame -> BGR, effects
   with the latest landmarks, layout + simulation mark, -> fresh yuv420p), and the landmarks
   (MediaPipe VIDEO mode + smoothing) that run beside it at their own rate.
3. --e2e SECONDS: a real ARMediaServer (worker process) with aiortc peers in this process at
   30 fps, pass-through then AR: the worker's CPU share, frames, processing and latency figures.
   The peers' own encode/decode runs on the same cores.
4. --consults N: N simultaneous consults on one ARMediaServer (as in the portal: one worker
   process per core, each consult on its own while there are enough; --workers 1 for all on one), each its own patient sender / physician receiver pair over real WebRTC, AR on for
   the physician, landmarks capped as the portal caps them. Per consult: the fps the physician
   receives, camera-to-physician latency p50/p95 (a frame number stamped into a corner of every
   camera frame, read back from the decoded frame), the server's own latency p50/p95; and the
   workers' CPU share of one core, plus the whole machine's busy share for context.

    OMP_NUM_THREADS=1 python benchmarks/bench_ar_media.py [--frames 150] [--e2e 10 [--landmark-fps 15]]
    OMP_NUM_THREADS=1 python benchmarks/bench_ar_media.py --consults 2 [--seconds 20] [--treatments all] [--workers 1]

Frames: ../shared/testdata's face video when present, else the astronaut moving slowly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import fractions
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from core.paths import shared_testdata_dir  # noqa: E402

VIDEO = "video/face_closeup_pexels_640x480.mp4"
FPS = 30
WARM_UP = 10  # frames left out of the figures (codec and model start-up)


def load_frames(count: int) -> tuple[list[np.ndarray], str]:
    path = shared_testdata_dir() / VIDEO
    frames: list[np.ndarray] = []
    if path.is_file():
        capture = cv2.VideoCapture(str(path))
        while len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                if not frames:
                    break
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            frames.append(cv2.resize(frame, (640, 480)) if frame.shape[:2] != (480, 640) else frame)
        if frames:
            return frames, str(path)
    from skimage import data

    face = cv2.cvtColor(np.ascontiguousarray(data.astronaut())[0:300, 90:340], cv2.COLOR_RGB2BGR)
    face = cv2.resize(face, (400, 480), interpolation=cv2.INTER_AREA)
    base = cv2.copyMakeBorder(face, 0, 0, 120, 120, cv2.BORDER_REPLICATE)
    for index in range(count):  # a slow sway, so the codecs see motion
        shift = np.array([[1, 0, 12 * np.sin(index / 15)], [0, 1, 4 * np.cos(index / 20)]], dtype=np.float32)
        frames.append(cv2.warpAffine(base, shift, (640, 480), borderMode=cv2.BORDER_REPLICATE))
    return frames, "the astronaut (generated motion; ../shared/testdata absent)"


def summary(values: list[float]) -> tuple[float, float, float, float]:
    """(median, p95, mean, p10); p10 is close to the uncontended cost on a busy machine."""
    array = np.asarray(values[WARM_UP:] if len(values) > 2 * WARM_UP else values)
    return (
        float(np.median(array)),
        float(np.percentile(array, 95)),
        float(np.mean(array)),
        float(np.percentile(array, 10)),
    )


def yuv_frames(frames: list[np.ndarray]) -> list:
    import av

    out = []
    for index, frame in enumerate(frames):
        video_frame = av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(format="yuv420p")
        video_frame.pts = index * 90000 // FPS
        video_frame.time_base = fractions.Fraction(1, 90000)
        out.append(video_frame)
    return out


def bench_codecs(frames: list[np.ndarray]) -> None:
    from aiortc.codecs.h264 import H264Decoder, H264Encoder, h264_depayload
    from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
    from aiortc.jitterbuffer import JitterFrame

    print(f"\n1. codecs in aiortc, {len(frames)} frames 640x480 (first {WARM_UP} left out)")
    print(
        f"{'':14}{'wall ms median':>15}{'p95':>8}{'CPU ms median':>15}{'p95':>8}{'p10':>8}"
        f"{'core share @30fps':>19}"
    )
    for name, encoder_class, decoder_class, depayload in (
        ("VP8", Vp8Encoder, Vp8Decoder, vp8_depayload),
        ("H.264", H264Encoder, H264Decoder, h264_depayload),
    ):
        encoder, decoder = encoder_class(), decoder_class()
        timings: dict[str, list[float]] = {"enc wall": [], "enc cpu": [], "dec wall": [], "dec cpu": []}
        sizes = []
        for video_frame in yuv_frames(frames):
            cpu, wall = time.process_time(), time.perf_counter()
            payloads, timestamp = encoder.encode(video_frame)
            timings["enc wall"].append((time.perf_counter() - wall) * 1000)
            timings["enc cpu"].append((time.process_time() - cpu) * 1000)
            data = b"".join(depayload(payload) for payload in payloads)
            sizes.append(len(data))
            cpu, wall = time.process_time(), time.perf_counter()
            decoder.decode(JitterFrame(data, timestamp))
            timings["dec wall"].append((time.perf_counter() - wall) * 1000)
            timings["dec cpu"].append((time.process_time() - cpu) * 1000)
        for step in ("enc", "dec"):
            wall_med, wall_p95, _, _ = summary(timings[f"{step} wall"])
            cpu_med, cpu_p95, cpu_mean, cpu_p10 = summary(timings[f"{step} cpu"])
            label = f"{name} {'encode' if step == 'enc' else 'decode'}"
            print(
                f"{label:14}{wall_med:15.2f}{wall_p95:8.2f}{cpu_med:15.2f}{cpu_p95:8.2f}{cpu_p10:8.2f}"
                f"{cpu_mean * FPS / 1000:18.0%}"
            )
        kbps = np.mean(sizes[WARM_UP:]) * 8 * FPS / 1000
        print(f"{'':14}({name} at aiortc's starting bitrate: {kbps:.0f} kbit/s at {FPS} fps)")


def bench_ar(frames: list[np.ndarray]) -> None:
    import av
    from av.video.reformatter import VideoReformatter

    from core.ar.effects import TREATMENTS
    from core.ar.live import LiveView, SmoothedLandmarks, compose_view, simulate_frame
    from core.live.media import _to_bgr, _to_yuv_over, _yuv_planes

    cv2.setNumThreads(1)  # as in the media worker
    landmarks = SmoothedLandmarks()
    decoded = yuv_frames(frames)
    faces, landmark_ms = [], []
    for index, frame in enumerate(frames):
        started = time.perf_counter()
        faces.append(landmarks(frame, index / FPS))
        landmark_ms.append((time.perf_counter() - started) * 1000)
    landmarks.close()
    found = sum(face is not None for face in faces)
    print(f"\n2. AR per 640x480 frame, one thread (face found on {found}/{len(frames)} frames)")
    median, p95, _, p10 = summary(landmark_ms)
    print(f"landmarks (own thread, own rate): median {median:6.2f} ms  p95 {p95:6.2f} ms  p10 {p10:6.2f} ms")
    reformatter = VideoReformatter()
    views = {
        "redness": LiveView(treatments={"redness": 1.0}),
        "redness, wiper": LiveView(treatments={"redness": 1.0}, split_view=True),
        "all effects": LiveView(treatments={name: 0.7 for name in TREATMENTS}),
    }
    for label, view in views.items():
        cost = []
        for index, (video_frame, face) in enumerate(zip(decoded, faces, strict=True)):
            if face is None:
                continue
            # As live: landmarks on every other frame (the portal caps them at 15/s of 30 fps).
            face = faces[index - index % 2] or face
            started = time.process_time()
            raw = _to_bgr(video_frame, reformatter)
            shown = compose_view(raw, simulate_frame(raw, face, view.treatments), view)
            out = _to_yuv_over(shown, raw, _yuv_planes(video_frame), reformatter)
            cost.append((time.process_time() - started) * 1000)
            assert isinstance(out, av.VideoFrame)
        median, p95, mean, p10 = summary(cost)
        print(
            f"compose {label:15} median {median:6.2f} ms  p95 {p95:6.2f} ms  p10 {p10:6.2f} ms  "
            f"(one core: {mean * FPS / 1000:.0%} at {FPS} fps)"
        )


async def _e2e(seconds: float, frames: list[np.ndarray], landmark_fps: float | None) -> None:
    import av
    from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from core.ar.live import LiveView
    from core.live.media import ARMediaServer, ARViews, ProcessorOptions

    class Camera(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._yuv = [
                av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(format="yuv420p").to_ndarray()
                for frame in frames
            ]
            self._start = time.monotonic()
            self.sent = 0

        async def recv(self):
            await asyncio.sleep(max(0.0, self._start + self.sent / FPS - time.monotonic()))
            frame = av.VideoFrame.from_ndarray(self._yuv[self.sent % len(self._yuv)], format="yuv420p")
            frame.pts, frame.time_base = self.sent * 90000 // FPS, fractions.Fraction(1, 90000)
            self.sent += 1
            return frame

    received = {"count": 0}

    async def consume(track) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                received["count"] += 1

    server = ARMediaServer([], processor_options=ProcessorOptions(landmark_max_fps=landmark_fps))
    peers = []
    try:
        for role in ("physician", "patient"):
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            if role == "patient":
                pc.addTransceiver(Camera(), direction="sendrecv")
            else:
                pc.addTransceiver("video", direction="recvonly")
                pc.on("track", lambda track: asyncio.ensure_future(consume(track)))
            await pc.setLocalDescription(await pc.createOffer())
            answer = await server.answer("bench", role, pc.localDescription.sdp)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            peers.append(pc)
        await asyncio.sleep(3)  # connect, warm up
        cap = f"landmarks at most {landmark_fps:g}/s" if landmark_fps else "landmarks uncapped"
        print(
            f"\n3. end to end, {FPS} fps camera, {cap}, {seconds:.0f} s per phase (worker = the server's cost)"
        )
        phases = {
            "pass-through": ARViews(),
            "AR redness": ARViews(physician=LiveView(treatments={"redness": 1.0})),
            "AR redness, shared": ARViews(
                physician=LiveView(treatments={"redness": 1.0}), patient=LiveView(treatments={"redness": 1.0})
            ),
        }
        for label, views in phases.items():
            server.set_views("bench", views)
            await asyncio.sleep(2)
            before, count_before, wall = server.stats("bench"), received["count"], time.monotonic()
            await asyncio.sleep(seconds)
            after, elapsed = server.stats("bench"), time.monotonic() - wall
            cpu_share = (after["worker_cpu_s"] - before["worker_cpu_s"]) / elapsed
            fps_in = (after["frames_in"] - before["frames_in"]) / elapsed
            fps_out = (after["frames_out_physician"] - before["frames_out_physician"]) / elapsed
            print(
                f"{label:20} worker CPU {cpu_share:5.0%} of a core  in {fps_in:4.1f} fps  "
                f"to physician {fps_out:4.1f} fps (received {(received['count'] - count_before) / elapsed:4.1f})  "
                f"AR p50/p95 {after['processing_ms_p50']}/{after['processing_ms_p95']} ms  "
                f"server latency p50/p95 {after['server_latency_ms_p50']}/{after['server_latency_ms_p95']} ms  "
                f"dropped {after['dropped'] - before['dropped']}  landmarks {after['landmark_ms_last']} ms"
            )
    finally:
        for pc in peers:
            await pc.close()
        server.close()


# --- N simultaneous consults ------------------------------------------------------------------------
PORTAL_LANDMARK_FPS = 15.0  # components/video_room.py AR_LANDMARK_MAX_FPS (not imported: it loads Streamlit)
STAMP_BITS, STAMP_BLOCK = 16, 16  # frame number in the top-left corner: 16 blocks of 16x16 luma


def stamp(yuv420p: np.ndarray, number: int) -> np.ndarray:
    """A copy of a yuv420p array (h*3/2, w) with `number` in black/white luma blocks (top row)."""
    stamped = yuv420p.copy()
    for bit in range(STAMP_BITS):
        value = 235 if (number >> bit) & 1 else 16
        stamped[:STAMP_BLOCK, bit * STAMP_BLOCK : (bit + 1) * STAMP_BLOCK] = value
    return stamped


def read_stamp(luma: np.ndarray) -> int:
    """The number `stamp` wrote, from a decoded frame's luma (block centres: codec edges ignored)."""
    quarter = STAMP_BLOCK // 4
    centres = luma[quarter : STAMP_BLOCK - quarter, : STAMP_BITS * STAMP_BLOCK].reshape(
        STAMP_BLOCK - 2 * quarter, STAMP_BITS, STAMP_BLOCK
    )[:, :, quarter : STAMP_BLOCK - quarter]
    bits = centres.mean(axis=(0, 2)) > 128
    return int(sum(1 << bit for bit in range(STAMP_BITS) if bits[bit]))


def _machine_busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat (0, 0 where absent)."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


async def _consults(
    count: int, seconds: float, frames: list[np.ndarray], treatments: dict[str, float], workers: int | None
) -> None:
    import av
    from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from core.ar.live import LiveView
    from core.live.media import ARMediaServer, ARViews, ProcessorOptions

    base_yuv = [
        av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(format="yuv420p").to_ndarray()
        for frame in frames
    ]

    class StampedCamera(MediaStreamTrack):
        """The test video at FPS, each frame numbered; remembers when it handed out each number."""

        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._start = time.monotonic()
            self.sent = 0
            self.sent_at: dict[int, float] = {}

        async def recv(self):
            await asyncio.sleep(max(0.0, self._start + self.sent / FPS - time.monotonic()))
            number = self.sent % (1 << STAMP_BITS)
            frame = av.VideoFrame.from_ndarray(
                stamp(base_yuv[self.sent % len(base_yuv)], number), format="yuv420p"
            )
            frame.pts, frame.time_base = self.sent * 90000 // FPS, fractions.Fraction(1, 90000)
            self.sent_at[number] = time.monotonic()
            self.sent += 1
            return frame

    @dataclasses.dataclass
    class Consult:
        room: str
        camera: StampedCamera
        received: int = 0
        unreadable: int = 0
        latency_ms: list[float] = dataclasses.field(default_factory=list)

    async def consume(consult: Consult, track) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                consult.received += 1
                luma = frame.to_ndarray()[: frame.height]  # yuv420p: the luma plane comes first
                sent_at = consult.camera.sent_at.get(read_stamp(luma))
                if sent_at is None or now - sent_at > 5.0:
                    consult.unreadable += 1
                else:
                    consult.latency_ms.append((now - sent_at) * 1000.0)

    options = ProcessorOptions(landmark_max_fps=PORTAL_LANDMARK_FPS, workers=workers)
    server = ARMediaServer([], processor_options=options)
    peers: list = []
    consults: list[Consult] = []
    view = ARViews(physician=LiveView(treatments=treatments))
    try:
        for index in range(count):
            consult = Consult(room=f"bench-{index}", camera=StampedCamera())
            consults.append(consult)
            for role in ("physician", "patient"):
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                if role == "patient":
                    pc.addTransceiver(consult.camera, direction="sendrecv")
                else:
                    pc.addTransceiver("video", direction="recvonly")
                    pc.on(
                        "track",
                        lambda track, consult=consult: asyncio.ensure_future(consume(consult, track)),
                    )
                await pc.setLocalDescription(await pc.createOffer())
                answer = await server.answer(consult.room, role, pc.localDescription.sdp)
                await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
                peers.append(pc)
            server.set_views(consult.room, view)
        await asyncio.sleep(5)  # connect, model start-up, bitrate ramp
        for consult in consults:
            consult.received, consult.unreadable, consult.latency_ms = 0, 0, []

        def workers_cpu_s() -> dict[int, float]:  # per worker process (consults may share one)
            rooms = [server.stats(consult.room) for consult in consults]
            return {room["worker_pid"]: room["worker_cpu_s"] or 0.0 for room in rooms if room["worker_pid"]}

        before = workers_cpu_s()
        frames_before = sum(server.stats(consult.room)["frames_out_physician"] for consult in consults)
        busy_before, total_before = _machine_busy_jiffies()
        wall = time.monotonic()
        await asyncio.sleep(seconds)
        elapsed = time.monotonic() - wall
        busy_after, total_after = _machine_busy_jiffies()
        stats = [server.stats(consult.room) for consult in consults]
        after = workers_cpu_s()
        worker_share = sum(cpu_s - before.get(pid, 0.0) for pid, cpu_s in after.items()) / elapsed
        machine = (busy_after - busy_before) / max(1, total_after - total_before) * (os.cpu_count() or 1)
        label = ", ".join(f"{name} {value:g}" for name, value in treatments.items())
        print(
            f"\n4. {count} simultaneous consult(s), {FPS} fps cameras, AR on ({label}), landmarks at most "
            f"{PORTAL_LANDMARK_FPS:g}/s, {elapsed:.0f} s"
        )
        for consult, room in zip(consults, stats, strict=True):
            p50, p95 = (
                np.percentile(consult.latency_ms, [50, 95]) if consult.latency_ms else (float("nan"),) * 2
            )
            print(
                f"{consult.room}: physician receives {consult.received / elapsed:4.1f} fps  "
                f"camera-to-physician p50/p95 {p50:4.0f}/{p95:4.0f} ms  "
                f"server p50/p95 {room['server_latency_ms_p50']}/{room['server_latency_ms_p95']} ms  "
                f"AR {room['processing_ms_p50']}/{room['processing_ms_p95']} ms  "
                f"no face {room['no_face_frames']}  dropped {room['dropped']}  unreadable {consult.unreadable}"
            )
        frames_out = sum(room["frames_out_physician"] for room in stats) - frames_before
        print(
            f"media workers ({len(after)}) CPU {worker_share:5.0%} of one core ({worker_share / count:4.0%} per consult), "
            f"{worker_share * elapsed * 1000 / max(1, frames_out):.1f} ms per frame sent; "
            f"whole machine busy {machine:4.0%} of one core (this process's peers included)"
        )
    finally:
        for pc in peers:
            await pc.close()
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--e2e", type=float, default=0.0, help="seconds per end-to-end phase (0 = skip)")
    parser.add_argument("--landmark-fps", type=float, default=None, help="cap the landmark rate (end to end)")
    parser.add_argument("--skip-micro", action="store_true", help="only the end-to-end part")
    parser.add_argument("--consults", type=int, default=0, help="simultaneous consults end to end (0 = skip)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (--consults)")
    parser.add_argument(
        "--workers", type=int, default=None, help="media worker processes (--consults; default as the portal)"
    )
    parser.add_argument(
        "--treatments", default="redness", help="comma-separated physician treatments, or all (--consults)"
    )
    args = parser.parse_args()
    frames, source = load_frames(args.frames)
    load = os.getloadavg()[0]
    print(
        f"frames: {source}; load average {load:.1f} on {os.cpu_count()} cores "
        "(other work on the machine inflates the figures)"
    )
    if not (args.skip_micro or args.consults):
        bench_codecs(frames)
        bench_ar(frames)
    if args.e2e > 0:
        asyncio.run(_e2e(args.e2e, frames, args.landmark_fps))
    if args.consults > 0:
        from core.ar.effects import TREATMENTS

        names = TREATMENTS if args.treatments == "all" else tuple(args.treatments.split(","))
        asyncio.run(
            _consults(args.consults, args.seconds, frames, {name: 1.0 for name in names}, args.workers)
        )


if __name__ == "__main__":  # the media worker is spawned: this module is imported again there
    main()
