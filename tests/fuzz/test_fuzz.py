"""Issue 12, tests that stay: Hypothesis fuzzing of the upload intake, the intake form and the
operator's CLI. Every input ends either in success or in the one error a person can act on
(`UploadRejected`, `ValidationError`, a one-line CLI error or argparse's usage exit), never a
traceback; a refused submission leaves no partial records (no case, photo or blob row) and no
refused photo reaches storage. Kept fast: 40-80 examples each, no deadline (CI machines vary).

The counts (tried / crashed / partial records / leaks) are printed at the end of the module
(`pytest -s tests/fuzz`).
"""

from __future__ import annotations

import io
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.access import AccessDenied, ValidationError
from core.consult.photos import UploadRejected, normalise_upload, verify_clean

COUNTS: Counter[str] = Counter()
FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@pytest.fixture(scope="module", autouse=True)
def _report() -> object:
    yield
    lines = [f"{k}: {v}" for k, v in sorted(COUNTS.items())]
    sys.__stdout__.write("\nfuzz counts: " + ", ".join(lines) + "\n")


def _image_bytes(fmt: str, width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


BASE_IMAGES = {fmt: _image_bytes(fmt, 240, 260, 1) for fmt in ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")}


@st.composite
def uploads(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["random", "mutated", "truncated", "header"]))
    if kind == "random":
        return draw(st.binary(max_size=4096))
    base = BASE_IMAGES[draw(st.sampled_from(sorted(BASE_IMAGES)))]
    if kind == "truncated":
        return base[: draw(st.integers(0, len(base)))]
    if kind == "header":
        return base[:64] + draw(st.binary(max_size=512))
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 16))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    return bytes(data)


@FAST
@given(data=uploads())
def test_normalise_upload_accepts_or_rejects_cleanly(data: bytes) -> None:
    COUNTS["uploads tried"] += 1
    try:
        clean = normalise_upload(data)
    except UploadRejected:
        COUNTS["uploads rejected"] += 1
        return
    except Exception:
        COUNTS["uploads crashed"] += 1
        raise
    # What is accepted is a clean photo (no metadata) the storage accepts as it is.
    assert verify_clean(clean.image_bytes)[:2] == (clean.width, clean.height)
    COUNTS["uploads accepted"] += 1


@settings(max_examples=15, deadline=None, database=None)
@given(data=uploads(), view=st.sampled_from(["front", "left_oblique", "close-up", "sideways", ""]))
def test_intake_photo_accepts_or_rejects_cleanly(data: bytes, view: str) -> None:
    from core.consult.photos import intake_photo

    COUNTS["intake_photo tried"] += 1
    try:
        checked = intake_photo(data, view)
    except (UploadRejected, ValueError):  # ValueError: an unknown view name
        return
    except Exception:
        COUNTS["intake_photo crashed"] += 1
        raise
    assert checked.source == "upload" and checked.quality.verdict in ("pass", "warn", "fail")


# -- the intake form through submission ------------------------------------------------------------
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=50),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.text(min_size=4001, max_size=4005),
    st.lists(st.text(max_size=20), max_size=4),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    st.lists(
        st.dictionaries(
            st.sampled_from(["treatment", "date", "x"]), st.one_of(st.text(max_size=300), st.integers())
        ),
        max_size=25,
    ),
)
FIELDS = (
    "concerns",
    "areas",
    "duration",
    "goals",
    "concern_other_text",
    "medications",
    "allergies",
    "pregnant_or_breastfeeding",
    "isotretinoin_last_6_months",
    "prior_treatments",
    "skin_type_self_assessment",
    "consent_photo_storage",
    "consent_anonymised_use",
)


def _rows(clinic) -> tuple[int, int, int]:
    return (
        clinic.db.scalar("SELECT count(*) FROM cases"),
        clinic.db.scalar("SELECT count(*) FROM photos"),
        len(list(clinic.blobs.list_ids())),
    )


@FAST
@given(overrides=st.dictionaries(st.sampled_from(FIELDS), ANY_VALUE, max_size=3))
def test_intake_fields_validate_or_store_never_crash_or_leave_partial_records(
    fuzz_world, overrides: dict
) -> None:
    from tests.foundation.conftest import required_photos, valid_intake

    clinic, patient, other = fuzz_world
    COUNTS["intake tried"] += 1
    before = _rows(clinic)
    try:
        case_id = clinic.cases.submit_case(patient, valid_intake(**overrides), required_photos())
    except ValidationError:
        COUNTS["intake refused"] += 1
        if _rows(clinic) != before:
            COUNTS["intake partial records"] += 1
            pytest.fail("a refused intake left rows or blobs behind")
        return
    except Exception:
        COUNTS["intake crashed"] += 1
        raise
    COUNTS["intake stored"] += 1
    after = _rows(clinic)
    assert after == (before[0] + 1, before[1] + 3, before[2] + 3)
    # The stored case reads back, and stays the patient's own.
    clinic.cases.get_case(patient, case_id)
    try:
        clinic.cases.get_case(other, case_id)
        COUNTS["intake leaks"] += 1
        pytest.fail("another patient could read the case")
    except AccessDenied:
        pass


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory):
    import datetime as dt

    from core.clinic import Clinic
    from core.config import Settings

    directory = tmp_path_factory.mktemp("fuzz-clinic")
    patch = pytest.MonkeyPatch()
    patch.setenv("CLINIC_DATA_DIR", str(directory))
    patch.delenv("CLINIC_MASTER_KEY", raising=False)
    patch.delenv("CLINIC_KEY_FILE", raising=False)
    clinic = Clinic.open(Settings.from_env())
    clinic.case_submitted_listeners.clear()
    password = "Fuzz-Patient-Pass-123!"
    for email, name in (("fuzz@example.test", "Fuzz Patient"), ("other@example.test", "Other Patient")):
        clinic.auth.register_patient(
            email, password, name, dt.date(1990, 1, 1), "en", "Europe/Amsterdam", True
        )
    patient = clinic.auth.login("fuzz@example.test", password).principal
    other = clinic.auth.login("other@example.test", password).principal
    yield clinic, patient, other
    clinic.close()
    patch.undo()


# -- registration ------------------------------------------------------------------------------------
@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=ANY_VALUE, email=st.one_of(st.emails(), ANY_VALUE))
def test_registration_validates_any_name_and_email(fuzz_world, name: object, email: object) -> None:
    import datetime as dt

    clinic, _, _ = fuzz_world
    COUNTS["registration tried"] += 1
    try:
        clinic.auth.register_patient(
            email, "Fuzz-Patient-Pass-123!", name, dt.date(1990, 1, 1), "en", "Europe/Amsterdam", True
        )
    except ValidationError:
        return
    except Exception:
        COUNTS["registration crashed"] += 1
        raise


# -- the operator's CLI ------------------------------------------------------------------------------
CLI_WORDS = st.one_of(
    st.sampled_from(
        [
            "list-patients",
            "list-cases",
            "audit-verify",
            "backup",
            "restore",
            "--json",
            "--patient",
            "--case",
            "--force",
            "C-260101-ABCD",
            "fuzz@example.test",
            "",
            "-",
            "--",
            "/",
            "..",
            "C-",
        ]
    ),  # fmt: skip
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12),
)


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    argv=st.tuples(
        st.sampled_from(["list-patients", "list-cases", "audit-verify", "backup", "restore", "init-typo"]),
        st.lists(CLI_WORDS, max_size=3),
    ).map(lambda parts: [parts[0], *parts[1]]),
    with_clinic=st.booleans(),
)
def test_cli_never_shows_a_traceback(
    cli_dirs: tuple[Path, Path, Path], argv: list[str], with_clinic: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.__main__ import main

    clinic_dir, empty_parent, work = cli_dirs
    COUNTS["cli tried"] += 1
    # Paths land in a scratch folder, never the repository or the clinic's own directory.
    argv = argv[:1] + [
        str(work / word) if word and word[0] not in "-C" and "@" not in word else word for word in argv[1:]
    ]
    target = clinic_dir if with_clinic else empty_parent / "missing"
    patch = pytest.MonkeyPatch()
    patch.setenv("CLINIC_DATA_DIR", str(target))
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse: usage errors exit 2 with a usage line
        code = stop.code
    except Exception:
        COUNTS["cli crashed"] += 1
        raise
    finally:
        patch.undo()
        out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert isinstance(code, int)
    if not with_clinic:
        assert not target.exists(), "a command created a clinic"
        assert code != 0, "a command reported success without a clinic"
    COUNTS[f"cli exit {code}"] += 1


@pytest.fixture(scope="module")
def cli_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    from core.__main__ import main

    root = tmp_path_factory.mktemp("fuzz-cli")
    clinic_dir, empty, work = root / "clinic", root / "empty", root / "work"
    empty.mkdir()
    work.mkdir()
    patch = pytest.MonkeyPatch()
    patch.setenv("CLINIC_DATA_DIR", str(clinic_dir))
    patch.delenv("CLINIC_MASTER_KEY", raising=False)
    patch.delenv("CLINIC_KEY_FILE", raising=False)
    assert main(["init"]) == 0
    yield clinic_dir, empty, work
    patch.undo()
