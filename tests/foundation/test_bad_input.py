"""Issue 12, bad input: a lone surrogate in a name, wrong-type intake fields and oversized
prior-treatment lists are field errors (never a crash); MPO phone photos are JPEGs; a very large
photo is decoded reduced."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from PIL import Image

from core.access import ValidationError
from core.consult.cases import MAX_PRIOR_TREATMENTS
from core.consult.photos import MAX_DECODED_PIXELS, normalise_upload
from tests.foundation.conftest import PASSWORD, required_photos, valid_intake


@pytest.mark.parametrize("name", ["Ann \ud800 Lee", "\udfff", "Bob\x00", "A" * 201, 42, None])
def test_registration_refuses_unstorable_names_as_a_field_error(clinic, name) -> None:
    with pytest.raises(ValidationError) as caught:
        clinic.auth.register_patient(
            "surrogate@example.test", PASSWORD, name, dt.date(1990, 1, 1), "en", "Europe/Amsterdam", True
        )
    assert "name" in caught.value.errors
    assert clinic.db.scalar("SELECT count(*) FROM users WHERE email = ?", ["surrogate@example.test"]) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("concerns", 5),
        ("concerns", [["nested"]]),
        ("concerns", {"a": 1}),
        ("areas", [1, 2]),
        ("areas", 3.5),
        ("duration", 12),
        ("goals", ["a"]),
        ("medications", {"x": 1}),
        ("allergies", "\ud800"),
        ("skin_type_self_assessment", ["I"]),
        ("prior_treatments", "botox"),
        ("prior_treatments", [["botox", "2020"]]),
        ("prior_treatments", [{"treatment": 5}]),
        ("prior_treatments", [{"treatment": "botox", "date": 2020}]),
        ("prior_treatments", [{"treatment": "botox", "extra": "x"}]),
        ("pregnant_or_breastfeeding", "no"),
        ("consent_anonymised_use", "yes"),
        ("consent_photo_storage", "true"),
    ],
)
def test_wrong_type_intake_fields_are_field_errors_without_partial_records(
    clinic, accounts, field, value
) -> None:
    with pytest.raises(ValidationError) as caught:
        clinic.cases.submit_case(accounts.patient_a, valid_intake(**{field: value}), required_photos())
    assert field in caught.value.errors
    assert clinic.db.scalar("SELECT count(*) FROM cases") == 0
    assert clinic.db.scalar("SELECT count(*) FROM photos") == 0


def test_prior_treatments_have_length_and_count_caps(clinic, accounts) -> None:
    row = {"treatment": "Botulinum toxin", "date": "2024-05"}
    too_many = [row] * (MAX_PRIOR_TREATMENTS + 1)
    with pytest.raises(ValidationError, match="at most"):
        valid_intake(prior_treatments=too_many).validate()
    with pytest.raises(ValidationError, match="200"):
        valid_intake(prior_treatments=[{"treatment": "x" * 201}]).validate()
    valid_intake(prior_treatments=[row] * MAX_PRIOR_TREATMENTS).validate()


def test_mpo_phone_photo_is_accepted_as_jpeg() -> None:
    rng = np.random.default_rng(3)
    first = Image.fromarray(rng.integers(0, 255, (500, 400, 3), dtype=np.uint8))
    second = Image.fromarray(rng.integers(0, 255, (250, 200, 3), dtype=np.uint8))
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"
    clean = normalise_upload(out.getvalue(), "IMG_0001.JPG")
    assert clean.mime == "image/jpeg" and (clean.width, clean.height) == (400, 500)
    assert Image.open(io.BytesIO(clean.image_bytes)).format == "JPEG"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_very_large_photo_is_decoded_reduced(fmt: str) -> None:
    width, height = 7000, 5000  # 35 MP: over MAX_DECODED_PIXELS, under the 50 MP limit
    out = io.BytesIO()
    Image.new("RGB", (width, height), (150, 110, 90)).save(out, fmt)
    clean = normalise_upload(out.getvalue())
    assert clean.width * clean.height <= MAX_DECODED_PIXELS
    assert abs(clean.width / clean.height - width / height) < 0.01
    assert clean.width >= width // 2 - 1  # reduced once (1/2), not more than needed
