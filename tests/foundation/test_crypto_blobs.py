"""Master key handling and the encrypted blob store (round trip, tamper, truncate, wrong key, atomicity)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from core import crypto
from core.blobstore import BlobIntegrityError, BlobNotFound, BlobStore
from core.clinic import Clinic


def test_master_key_parses_hex_and_base64_and_rejects_garbage() -> None:
    key = os.urandom(32)
    assert crypto.parse_master_key(key.hex()) == key
    assert crypto.parse_master_key(base64.b64encode(key).decode()) == key
    assert crypto.parse_master_key(base64.urlsafe_b64encode(key).decode().rstrip("=")) == key
    for bad in ("", "abc", base64.b64encode(os.urandom(16)).decode(), "zz" * 32):
        with pytest.raises(crypto.MasterKeyError):
            crypto.parse_master_key(bad)


def test_key_file_is_created_0600_once_and_env_key_wins(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "master.key"
    first = crypto.load_or_create_master_key(None, key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert crypto.load_or_create_master_key(None, key_file) == first
    other = os.urandom(32)
    assert crypto.load_or_create_master_key(other.hex(), key_file) == other
    with pytest.raises(crypto.MasterKeyError):
        crypto.load_or_create_master_key(None, tmp_path / "absent.key", create=False)


def test_derived_keys_differ_per_purpose() -> None:
    master = os.urandom(32)
    assert crypto.derive_key(master, "duckdb") != crypto.derive_key(master, "blob-kek")
    assert crypto.derive_key(master, "duckdb") == crypto.derive_key(master, "duckdb")


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", os.urandom(32))


def test_blob_round_trip_and_delete(store: BlobStore) -> None:
    payload = os.urandom(100_000)
    blob_id = store.put(payload)
    assert store.get(blob_id) == payload
    assert payload[:64] not in store.path_for(blob_id).read_bytes()
    assert store.path_for(blob_id).read_bytes()[:5] == b"CLBS\x01"  # magic + format version
    assert store.delete(blob_id) is True and store.delete(blob_id) is False
    with pytest.raises(BlobNotFound):
        store.get(blob_id)


@pytest.mark.parametrize("offset", [4, 6, 30, 60, 100, -1])
def test_any_flipped_byte_is_detected(store: BlobStore, offset: int) -> None:
    blob_id = store.put(b"photo bytes" * 100)
    path = store.path_for(blob_id)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BlobIntegrityError):
        store.get(blob_id)


@pytest.mark.parametrize("keep", [0, 10, 80, 120])
def test_truncated_blob_is_detected(store: BlobStore, keep: int) -> None:
    blob_id = store.put(b"x" * 1000)
    path = store.path_for(blob_id)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(BlobIntegrityError):
        store.get(blob_id)


def test_wrong_key_and_renamed_blob_are_detected(store: BlobStore, tmp_path: Path) -> None:
    blob_id = store.put(b"secret")
    stranger = BlobStore(store.directory, os.urandom(32))
    with pytest.raises(BlobIntegrityError, match="another master key"):
        stranger.get(blob_id)
    other_id = store.put(b"other")
    store.path_for(other_id).write_bytes(store.path_for(blob_id).read_bytes())  # swap contents
    with pytest.raises(BlobIntegrityError):
        store.get(other_id)


def test_old_master_key_still_decrypts_after_rotation(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    blob_id = BlobStore(tmp_path, old).put(b"before rotation")
    rotated = BlobStore(tmp_path, new, old_master_keys={"old": old})
    assert rotated.get(blob_id) == b"before rotation"


def test_failed_write_leaves_no_partial_file(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.put(b"y" * 5000)
    monkeypatch.undo()
    assert [p for p in store.directory.rglob("*") if p.is_file()] == []


def test_invalid_blob_ids_cannot_escape_the_directory(store: BlobStore) -> None:
    for bad in ("../../etc/passwd", "short", "a/b" * 10):
        with pytest.raises(BlobNotFound):
            store.get(bad)


def test_clinic_creates_its_key_file_and_reopens_with_it(data_dir: Path) -> None:
    Clinic.open().close()
    key_file = data_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Clinic.open().close()  # the same key opens the same database


def test_missing_key_file_for_an_existing_database_is_an_error_not_a_new_key(data_dir: Path) -> None:
    Clinic.open().close()
    (data_dir / "master.key").unlink()
    with pytest.raises(crypto.MasterKeyError):
        Clinic.open()
    assert not (data_dir / "master.key").exists()


def _seal_stream(key: bytes, data: bytes, chunk_size: int) -> bytes:
    import io

    sealed = io.BytesIO()
    assert crypto.encrypt_stream(key, io.BytesIO(data), sealed, chunk_size=chunk_size) == len(data)
    return sealed.getvalue()


def _open_stream(key: bytes, sealed: bytes) -> bytes:
    import io

    out = io.BytesIO()
    crypto.decrypt_stream(key, io.BytesIO(sealed), out)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 3000, 4321])
def test_sealed_streams_round_trip_whatever_the_length(size: int) -> None:
    key = os.urandom(32)
    data = os.urandom(size)
    sealed = _seal_stream(key, data, chunk_size=1000)
    if size >= 16:  # a random byte or two turns up in any ciphertext by chance; 16 never do
        assert data[:64] not in sealed
    assert _open_stream(key, sealed) == data


def test_a_sealed_stream_cut_reordered_or_opened_with_another_key_is_refused() -> None:
    key = os.urandom(32)
    sealed = _seal_stream(key, os.urandom(3500), chunk_size=1000)
    header, block = len(crypto.STREAM_MAGIC) + 4 + 32, 1000 + 16
    chunks = [sealed[header + i * block : header + (i + 1) * block] for i in range(4)]
    cut_at_a_chunk = sealed[: header + 2 * block]  # whole chunks, the last one missing
    swapped = sealed[:header] + chunks[1] + chunks[0] + chunks[2] + chunks[3]
    flipped = bytearray(sealed)
    flipped[header + 5] ^= 1
    for bad in (cut_at_a_chunk, swapped, bytes(flipped), sealed[:-1]):
        with pytest.raises(crypto.DecryptionError):
            _open_stream(key, bad)
    with pytest.raises(crypto.DecryptionError):
        _open_stream(os.urandom(32), sealed)
