"""The ONNX filter bank: deterministic build, verified load, correct colour maths, responsive filters."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest

from core.assessment.filterbank import (
    FILTERBANK_NAME,
    FILTERBANK_VERSION,
    OUTPUT_NAMES,
    FilterBankError,
    filterbank_bytes,
    load_filterbank,
    write_filterbank,
)


def test_build_is_byte_identical_and_carries_its_version():
    first, second = filterbank_bytes(), filterbank_bytes()
    assert first == second
    model = onnx.load_from_string(first)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["version"] == FILTERBANK_VERSION
    assert [o.name for o in model.graph.output] == list(OUTPUT_NAMES)
    assert model.graph.input[0].name == "image"


def test_load_builds_when_missing_and_refuses_a_tampered_file(tmp_path):
    bank = load_filterbank(tmp_path)
    path = tmp_path / FILTERBANK_NAME
    assert path.is_file()
    assert (
        bank.sha256
        == hashlib.sha256(path.read_bytes()).hexdigest()
        == hashlib.sha256(filterbank_bytes()).hexdigest()
    )
    assert bank.version == FILTERBANK_VERSION

    other = tmp_path / "other"
    write_filterbank(other)
    tampered = bytearray((other / FILTERBANK_NAME).read_bytes())
    tampered[-5] ^= 0xFF
    (other / FILTERBANK_NAME).write_bytes(bytes(tampered))
    with pytest.raises(FilterBankError, match="make setup"):
        load_filterbank(other)


def test_lab_matches_scikit_image(tmp_path):
    from skimage.color import rgb2lab

    rng = np.random.default_rng(1)
    image = rng.random((40, 48, 3)).astype(np.float32)
    maps = load_filterbank(tmp_path).run(image)
    assert np.abs(maps["lab"] - rgb2lab(image.astype(np.float64))).max() < 0.02
    # Erythema index rises with red over green, melanin index with darker red reflectance.
    assert maps["erythema"].shape == (40, 48)


def test_filters_respond_to_lines_spots_and_texture(tmp_path):
    bank = load_filterbank(tmp_path)
    flat = np.full((96, 96, 3), 0.7, np.float32)
    line = flat.copy()
    line[47:49, 10:86] = 0.45  # a thin dark horizontal line
    spot = flat.copy()
    yy, xx = np.mgrid[0:96, 0:96]
    spot[(yy - 48) ** 2 + (xx - 48) ** 2 <= 16] = 0.4  # a dark disc, radius 4
    noisy = flat + np.random.default_rng(0).normal(0, 0.03, flat.shape).astype(np.float32)

    m_flat, m_line, m_spot, m_noisy = (bank.run(x) for x in (flat, line, spot, noisy))
    assert m_flat["ridge"].max() < 1e-3 and m_flat["blob_dark"].max() < 1e-3
    assert m_line["ridge"][48, 48] > 5.0
    # Across-line orientation of a horizontal line points along y: |angle| close to pi/2.
    assert abs(abs(float(m_line["ridge_orientation"][48, 48])) - np.pi / 2) < 0.2
    assert m_spot["blob_dark"][48, 48] > 2.0 and m_line["blob_dark"][48, 48] < m_spot["blob_dark"][48, 48] / 2
    assert m_noisy["roughness"].mean() > 5 * max(m_flat["roughness"].mean(), 1e-3)
