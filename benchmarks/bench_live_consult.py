"""Live consults under load: the real portal, two Chromium contexts per consult, AR on.

    .venv/bin/python benchmarks/bench_live_consult.py [--seconds 60] [--consults 1] [--no-ar]
                                                      [--json results.json]

Needs ../shared/testdata (the face video) and Debian's chromium. Each consult: a physician
opens it from a case, the patient joins and is admitted, the physician turns AR on (redness
60 %); then the calls run for --seconds while this script samples CPU. The patient's fake camera
plays the face video at 30 fps with its frame number stamped in a corner
(tests/browser/fake_camera.py); the call widget reads it where it is displayed.

Reported per consult, from the browsers' own measurements (requestVideoFrameCallback and
getStats, sent every 2 s through the stats hook):
- physician display fps (the AR view when AR is on, else the patient's direct video): median and
  5th percentile over the 2-s windows; the patient's display fps of the physician's camera;
- freezes: gaps of more than 500 ms between displayed frames, the longest gap, and Chrome's own
  freezeCount;
- glass-to-glass latency of what the physician sees: a frame number's display time on the
  physician's screen minus its display time in the patient's own preview (both browsers on one
  clock), median and p95 (the preview itself lags the camera by about a frame, not counted);
- connection trouble: ICE restarts, fresh connections, and states other than "connected" after
  the call was up;
- CPU as a share of one core over the run: the portal's server process with its AR media process,
  and the whole machine (browsers included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, stop_process  # noqa: E402
from tests.browser.live_harness import (  # noqa: E402
    admit,
    call_contexts,
    consult_pairs,
    frames_flow,
    open_consult,
    patient_waits,
    start_live_portal,
    stats_reports,
    turn_ar_on,
)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def process_tree_cpu_s(root_pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    tree = {root_pid}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(times.get(pid, 0.0) for pid in tree)


def machine_busy_s() -> float:
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def latency_ms(patient_reports: list[dict], physician_reports: list[dict], shown: str) -> list[float]:
    """Display time at the physician minus display time in the patient's preview, per frame number."""
    sent: dict[int, list[int]] = {}
    for report in patient_reports:
        for name, code, at in report.get("stamps", []):
            if name == "local":
                sent.setdefault(code, []).append(at)
    latencies: list[float] = []
    for report in physician_reports:
        for name, code, at in report.get("stamps", []):
            if name != shown:
                continue
            earlier = [t for t in sent.get(code, []) if 0 <= at - t < 3000]
            if earlier:
                latencies.append(at - max(earlier))
    return latencies


def window(reports: list[dict], start: float, end: float) -> list[dict]:
    return [report for report in reports if start <= report["t"] <= end]


def summarise(data_dir: Path, room_id: str, start: float, end: float, ar: bool) -> dict:
    physician = window(stats_reports(data_dir, room_id, "physician"), start, end)
    patient = window(stats_reports(data_dir, room_id, "patient"), start, end)
    server = window(stats_reports(data_dir, room_id, "server"), start, end)
    shown = "ar" if ar else "remote"

    def displayed(reports: list[dict], name: str) -> list[dict]:
        return [(report.get("displayed") or {}).get(name) or {} for report in reports]

    physician_shown = displayed(physician, shown)
    patient_shown = displayed(patient, "remote")
    fps = [entry.get("fps", 0.0) for entry in physician_shown]
    patient_fps = [entry.get("fps", 0.0) for entry in patient_shown]
    latencies = latency_ms(patient, physician, shown)
    troubles = [
        change
        for report in (physician[-1:] + patient[-1:])
        for change in report.get("counters", {}).get("state_changes", [])
        if start * 1000 <= change["t"] <= end * 1000 and change["state"] not in ("connected",)
    ]

    def counter_delta(reports: list[dict], name: str) -> int:
        if not reports:
            return 0
        return reports[-1].get("counters", {}).get(name, 0) - reports[0].get("counters", {}).get(name, 0)

    leg = "ar" if ar else "p2p"
    chrome_freezes = [
        ((report.get(leg) or {}).get("inbound") or {}).get("freeze_count", 0) for report in physician
    ]
    return {
        "physician_fps_median": statistics.median(fps) if fps else 0.0,
        "physician_fps_p5": percentile(fps, 0.05),
        "patient_fps_median": statistics.median(patient_fps) if patient_fps else 0.0,
        "freezes_over_500ms": sum(entry.get("freezes", 0) for entry in physician_shown),
        "longest_gap_ms": max((entry.get("longest_gap_ms", 0) for entry in physician_shown), default=0),
        "chrome_freeze_count": (chrome_freezes[-1] - chrome_freezes[0]) if chrome_freezes else 0,
        "latency_ms_median": statistics.median(latencies) if latencies else float("nan"),
        "latency_ms_p95": percentile(latencies, 0.95),
        "latency_samples": len(latencies),
        "resolution": f"{physician_shown[-1].get('width', 0)}x{physician_shown[-1].get('height', 0)}"
        if physician_shown
        else "-",
        "ice_restarts": counter_delta(physician, "ice_restarts"),
        "fresh_connections": counter_delta(physician, "fresh_connections"),
        "connection_changes": [f"{change['leg']}:{change['state']}" for change in troubles],
        "server_ar": {
            key: server[-1].get(key)
            for key in ("ar_frames", "dropped", "errors", "processing_ms_p50", "processing_ms_p95")
            if server and key in server[-1]
        },
        "reports": len(physician),
    }


def start_profile(pid: int, seconds: float, workdir: Path) -> tuple[subprocess.Popen, Path] | None:
    """py-spy sampling the server and its children (the AR process) for `seconds`."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy is not installed: no profile", file=sys.stderr)
        return None
    output = workdir / "server_profile.txt"
    command = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds))]
    command += ["--rate", "100", "--format", "raw", "--nonblocking", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), output


def summarise_profile(profile: tuple[subprocess.Popen, Path]) -> dict:
    """Where the server's samples went: the innermost function of this project or of a library."""
    process, output = profile
    process.wait(timeout=120)
    if not output.exists():
        return {"error": "py-spy wrote no profile (ptrace not permitted?)"}
    by_place: dict[str, int] = {}
    total = 0
    for line in output.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        # The innermost frame that names a file of ours or of a media library says what the time is for.
        place = next(
            (
                frame
                for frame in reversed(frames)
                if any(
                    key in frame
                    for key in ("core/", "components/", "aiortc", "av/", "streamlit", "mediapipe")
                )
            ),
            frames[-1],
        )
        by_place[place] = by_place.get(place, 0) + count
    top = sorted(by_place.items(), key=lambda item: -item[1])[:15]
    return {
        "samples": total,
        "file": str(output),
        "top": [{"share_percent": round(100 * count / total, 1), "where": place} for place, count in top],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="600 for the 10-minute target")
    parser.add_argument("--consults", type=int, default=1)
    parser.add_argument("--no-ar", action="store_true", help="plain video only (no AR leg)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sample the server and its AR process with py-spy (pip install py-spy) for this long",
    )
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is absent: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    from tests.browser.fake_camera import face_camera_y4m

    camera = face_camera_y4m(fps=30, stamp=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    pairs = consult_pairs(args.consults)
    portal = start_live_portal(workdir, pairs, {"CLINIC_CALL_QUALITY_LOG": "probe"})
    print(f"portal {portal.base_url}, log {portal.log_path}", flush=True)
    results: list[dict] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=[
                    *CHROMIUM_ARGS,
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={camera}",
                ],
            )
            rooms: list[str] = []
            for physician, patient_account in pairs:
                contexts = call_contexts(browser, with_camera=2)
                for context in contexts:
                    context.set_default_timeout(60_000)
                doctor, patient = (context.new_page() for context in contexts)
                room_id = open_consult(doctor, portal, physician, patient_account)
                patient_waits(patient, portal, patient_account)
                admit(doctor, patient, patient_account)
                frames_flow(doctor, "remote", within_s=60)
                if not args.no_ar:
                    turn_ar_on(doctor)
                    frames_flow(doctor, "ar", within_s=90)
                rooms.append(room_id)
                print(f"consult {len(rooms)} up (room {room_id[:8]})", flush=True)
            time.sleep(5)  # let bandwidth estimates settle before measuring
            start, server_cpu0, busy0 = time.time(), process_tree_cpu_s(portal.process.pid), machine_busy_s()
            profile = start_profile(portal.process.pid, args.profile, workdir) if args.profile else None
            while time.time() - start < args.seconds:
                time.sleep(min(10.0, args.seconds - (time.time() - start)))
                print(f"  {time.time() - start:5.0f} s", flush=True)
            end = time.time()
            elapsed = end - start
            server_share = (process_tree_cpu_s(portal.process.pid) - server_cpu0) / elapsed * 100
            machine_share = (machine_busy_s() - busy0) / elapsed * 100
            time.sleep(2.5)  # the last stats report
            for room_id in rooms:
                results.append(summarise(portal.data_dir, room_id, start, end, not args.no_ar))
            browser.close()
    finally:
        stop_process(portal.process)
    summary = {
        "server_profile": summarise_profile(profile) if profile else None,
        "seconds": round(elapsed, 1),
        "consults": args.consults,
        "ar": not args.no_ar,
        "server_cpu_percent_of_one_core": round(server_share, 1),
        "server_cpu_percent_per_consult": round(server_share / args.consults, 1),
        "machine_cpu_percent_of_one_core": round(machine_share, 1),
        "cores": os.cpu_count(),
        "per_consult": results,
    }
    print(json.dumps(summary, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
