"""Encrypted blob store for photos and other binary patient data.

File format (version 1), all integers big-endian:
    magic "CLBS" | version u8 | key id (16 ascii) | wrapped data key (12 nonce + 32 + 16 tag)
    | payload (12 nonce + ciphertext + 16 tag)
Each blob gets its own random 32-byte data key, wrapped with AES-256-GCM by the key-encryption
key (derived from the master key); the key id says which KEK wrapped it, so keys can be rotated
later. The header and the blob id are associated data, so a blob renamed to another id, an
edited header, a truncated file or a wrong key all fail as `BlobIntegrityError`.
Writes go to a temp file, fsync, os.replace, fsync of the directory: a crash leaves either the
whole blob or nothing.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from core import crypto
from core.private_files import PRIVATE_DIR, write_private

MAGIC = b"CLBS"
FORMAT_VERSION = 1
_KEY_ID_LEN = 16
_WRAPPED_LEN = crypto.NONCE_BYTES + crypto.KEY_BYTES + 16
_HEADER_LEN = len(MAGIC) + 1 + _KEY_ID_LEN + _WRAPPED_LEN
_BLOB_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class BlobIntegrityError(Exception):
    """The blob cannot be decrypted: tampered, truncated, renamed or wrong key."""


class BlobNotFound(LookupError):
    """No blob with this id."""


class BlobStore:
    def __init__(
        self, directory: Path, master_key: bytes, old_master_keys: Mapping[str, bytes] | None = None
    ):
        self.directory = Path(directory)
        self.directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        kek = crypto.derive_key(master_key, "blob-kek")
        self.active_key_id = crypto.key_id(kek)
        self._keks: dict[str, bytes] = {self.active_key_id: kek}
        for old in (old_master_keys or {}).values():  # older master keys still decrypt their blobs
            old_kek = crypto.derive_key(old, "blob-kek")
            self._keks[crypto.key_id(old_kek)] = old_kek

    # -- paths ---------------------------------------------------------------------------------
    def path_for(self, blob_id: str) -> Path:
        if not _BLOB_ID.match(blob_id):  # also keeps ids from escaping the directory
            raise BlobNotFound(f"invalid blob id {blob_id!r}")
        return self.directory / blob_id[:2] / f"{blob_id}.blob"

    # -- public API ----------------------------------------------------------------------------
    def put(self, data: bytes) -> str:
        """Encrypt and store `data`; returns the new blob id."""
        blob_id = secrets.token_urlsafe(18)
        self._write_atomic(self.path_for(blob_id), self.seal(blob_id, data))
        return blob_id

    def get(self, blob_id: str) -> bytes:
        path = self.path_for(blob_id)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError as error:
            raise BlobNotFound(f"blob {blob_id} does not exist") from error
        return self.open(blob_id, sealed)

    def delete(self, blob_id: str) -> bool:
        """Remove a blob; returns False when it was already gone."""
        try:
            self.path_for(blob_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, blob_id: str) -> bool:
        return self.path_for(blob_id).exists()

    def list_ids(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*/*.blob"))

    # -- format --------------------------------------------------------------------------------
    def seal(self, blob_id: str, data: bytes) -> bytes:
        data_key = os.urandom(crypto.KEY_BYTES)
        key_id = self.active_key_id.encode("ascii")
        wrapped = crypto.encrypt(self._keks[self.active_key_id], data_key, b"wrap:" + blob_id.encode())
        header = MAGIC + bytes([FORMAT_VERSION]) + key_id + wrapped
        return header + crypto.encrypt(data_key, data, header + blob_id.encode())

    def open(self, blob_id: str, sealed: bytes) -> bytes:
        if len(sealed) < _HEADER_LEN + crypto.NONCE_BYTES + 16:
            raise BlobIntegrityError(f"blob {blob_id} is truncated")
        if sealed[:4] != MAGIC:
            raise BlobIntegrityError(f"blob {blob_id} is not a clinic blob")
        if sealed[4] != FORMAT_VERSION:
            raise BlobIntegrityError(f"blob {blob_id} has unknown format version {sealed[4]}")
        key_id = sealed[5 : 5 + _KEY_ID_LEN].decode("ascii", "replace")
        kek = self._keks.get(key_id)
        if kek is None:
            raise BlobIntegrityError(f"blob {blob_id} was written with another master key ({key_id})")
        header = sealed[:_HEADER_LEN]
        try:
            data_key = crypto.decrypt(kek, header[5 + _KEY_ID_LEN :], b"wrap:" + blob_id.encode())
            return crypto.decrypt(data_key, sealed[_HEADER_LEN:], header + blob_id.encode())
        except crypto.DecryptionError as error:
            raise BlobIntegrityError(f"blob {blob_id} failed its integrity check: {error}") from error

    @staticmethod
    def _write_atomic(path: Path, payload: bytes) -> None:
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        write_private(path, payload)  # 0600, temp file + fsync + rename + directory fsync
