"""Server-side render time of the main portal pages (Streamlit AppTest, no browser).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_ui_pages.py [--cases 30] [--runs 15]

Seeds a fresh encrypted clinic in a temp dir (one physician, one patient with `--cases` cases of
three photos each), then times full script runs of: the physician's queue, one case page (all
tabs, three decrypted photos) and the patient's "My consultations" (every case). Prints median
and p95 per page. This is the Python side of a page view; the browser adds transfer and paint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    os.environ["CLINIC_DATA_DIR"] = str(workdir / "clinic-data")
    os.environ.pop("CLINIC_MASTER_KEY", None)

    import cv2
    import numpy as np
    from skimage import data
    from streamlit.testing.v1 import AppTest

    from components.session import TOKEN_KEY, get_clinic
    from core.access import SYSTEM_PRINCIPAL
    from core.consult.cases import IntakeForm
    from core.consult.photos import intake_photo

    clinic = get_clinic()
    clinic.auth.create_staff(SYSTEM_PRINCIPAL, "physician", "doc@bench.test", "Dr Bench", "Bench-pass-123")
    clinic.auth.register_patient(
        "pat@bench.test", "Bench-pass-123", "Pat Bench", dt.date(1980, 1, 1), "en", "Europe/Amsterdam", True
    )
    patient = clinic.auth.login("pat@bench.test", "Bench-pass-123").principal
    face = cv2.resize(
        cv2.cvtColor(np.ascontiguousarray(data.astronaut()[0:300, 90:340]), cv2.COLOR_RGB2BGR), (820, 984)
    )
    # One face for every view (like the demo's example case): the side views fail the gate.
    photos = [
        intake_photo(cv2.imencode(".jpg", face)[1].tobytes(), v)
        for v in ("front", "left_oblique", "right_oblique")
    ]
    intake = IntakeForm(["pigmentation_melasma"], ["cheeks"], "1 to 3 years", consent_photo_storage=True)
    case_ids = [clinic.cases.submit_example_case(patient, intake, photos) for _ in range(args.cases)]

    def timed(script: str, email: str, query: dict[str, str] | None = None) -> list[float]:
        token = clinic.auth.login(email, "Bench-pass-123").token
        samples = []
        for _ in range(args.runs):
            app = AppTest.from_file(str(REPO_ROOT / script), default_timeout=60)
            app.session_state[TOKEN_KEY] = token
            for key, value in (query or {}).items():
                app.query_params[key] = value
            start = time.perf_counter()
            app.run()
            samples.append((time.perf_counter() - start) * 1000)
            assert not app.exception, app.exception
        return samples

    pages = {
        f"physician queue ({args.cases} open cases, app.py)": timed("app.py", "doc@bench.test"),
        "physician case page (3 photos, all tabs)": timed(
            "pages/physician_case.py", "doc@bench.test", {"case": case_ids[0]}
        ),
        f"patient my consultations ({args.cases} cases)": timed(
            "pages/patient_my_consultations.py", "pat@bench.test"
        ),
    }
    print(f"AppTest full script runs, {args.runs} runs each, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    for name, samples in pages.items():
        print(
            f"  {name:55s} median {statistics.median(samples):7.1f} ms   p95 {percentile(samples, 0.95):7.1f} ms"
        )
    clinic.close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Skip interpreter teardown: native libraries loaded by background case-submitted listeners
    # (MediaPipe, onnxruntime threads) can abort while being torn down, after the figures are out.
    os._exit(code)
