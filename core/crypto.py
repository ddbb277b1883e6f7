"""The master key and the keys derived from it; AES-256-GCM helpers.

One 32-byte master key protects everything: the DuckDB file key and the blob key-wrapping key
are derived from it with HKDF-SHA256 (distinct `info` labels), so leaking one derived key does
not reveal the others. The master key comes from `CLINIC_MASTER_KEY` (base64 or hex) or a key
file created with mode 0600 on first start; backups never contain it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12


class MasterKeyError(Exception):
    """The master key is missing, malformed or does not match the data."""


class DecryptionError(Exception):
    """Ciphertext failed authentication: tampered, truncated or the wrong key."""


def parse_master_key(text: str) -> bytes:
    """Decode a 32-byte key given as hex (64 chars) or base64 (standard or url-safe)."""
    value = text.strip()
    if len(value) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decoder(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            continue
        if len(raw) == KEY_BYTES:
            return raw
    raise MasterKeyError("the master key must be 32 bytes, written as 64 hex digits or base64")


def load_or_create_master_key(env_value: str | None, key_file: Path, create: bool = True) -> bytes:
    """The master key from the environment value if given, else from `key_file`.

    A missing key file is created (0600, written atomically) when `create` is true; an existing
    one is never overwritten, so a restart always finds the same key.
    """
    if env_value:
        return parse_master_key(env_value)
    if key_file.exists():
        return parse_master_key(key_file.read_text(encoding="ascii"))
    if not create:
        raise MasterKeyError(f"no master key: set CLINIC_MASTER_KEY or provide {key_file}")
    key = os.urandom(KEY_BYTES)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    temp = key_file.with_name(key_file.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temp, 0o600)
    # O_EXCL semantics via link: if another process created the key meanwhile, keep theirs.
    try:
        os.link(temp, key_file)
    except FileExistsError:
        os.unlink(temp)
        return parse_master_key(key_file.read_text(encoding="ascii"))
    os.unlink(temp)
    return key


def derive_key(master_key: bytes, info: str, length: int = KEY_BYTES) -> bytes:
    """HKDF-SHA256 sub-key for one purpose (e.g. "duckdb", "blob-kek")."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info.encode()).derive(master_key)


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (for rotation: which key wrapped this blob)."""
    return hashlib.sha256(b"clinic-key-id:" + key).hexdigest()[:16]


def encrypt(key: bytes, plaintext: bytes, associated_data: bytes | None = None) -> bytes:
    """AES-256-GCM; returns nonce || ciphertext || tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def encrypt_deterministic(
    key: bytes, index_key: bytes, plaintext: bytes, associated_data: bytes | None = None
) -> bytes:
    """AES-256-GCM whose nonce is HMAC-SHA256(index_key, plaintext): equal plaintexts give equal
    output (a keyed blind index, as in AES-SIV), so the database can match them and learns only
    equality. For look-up columns only (the log-in e-mail); `decrypt` opens it."""
    nonce = hmac.new(index_key, plaintext, hashlib.sha256).digest()[:NONCE_BYTES]
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def decrypt(key: bytes, sealed: bytes, associated_data: bytes | None = None) -> bytes:
    """Inverse of `encrypt`; raises `DecryptionError` instead of ever returning garbage."""
    if len(sealed) < NONCE_BYTES + 16:
        raise DecryptionError("ciphertext is truncated")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data)
    except InvalidTag as error:
        raise DecryptionError("ciphertext failed authentication (tampered or wrong key)") from error


# -- streams (backups of a clinic group's database: dumps may be larger than memory) -----------
STREAM_MAGIC = b"clinic-stream/1\n"
STREAM_CHUNK = 1 << 20  # plaintext bytes per sealed chunk
_STREAM_SALT = 32
_TAG = 16


def _read_full(source: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    while size > 0:
        part = source.read(size)
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _stream_nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(NONCE_BYTES - 1, "big") + (b"\x01" if final else b"\x00")


def _stream_aead(key: bytes, salt: bytes) -> AESGCM:
    file_key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=b"clinic-stream-v1").derive(
        key
    )
    return AESGCM(file_key)


def encrypt_stream(key: bytes, source: IO[bytes], target: IO[bytes], chunk_size: int = STREAM_CHUNK) -> int:
    """Seal `source` into `target` chunk by chunk (the STREAM construction over AES-256-GCM):
    a random salt gives this stream its own key, each chunk's nonce is its index and whether it
    is the last, so a reordered, dropped or cut-off chunk fails `decrypt_stream`. Returns the
    plaintext length; memory stays at two chunks whatever the size."""
    salt = os.urandom(_STREAM_SALT)
    header = STREAM_MAGIC + chunk_size.to_bytes(4, "big") + salt
    aead = _stream_aead(key, salt)
    target.write(header)
    index, total = 0, 0
    chunk = _read_full(source, chunk_size)
    while True:
        following = _read_full(source, chunk_size)
        final = not following
        target.write(aead.encrypt(_stream_nonce(index, final), chunk, header))
        total += len(chunk)
        if final:
            return total
        chunk, index = following, index + 1


def decrypt_stream(key: bytes, source: IO[bytes], target: IO[bytes]) -> int:
    """Inverse of `encrypt_stream`: writes a chunk only once it authenticated; raises
    `DecryptionError` for a wrong key, an altered chunk or a stream cut short."""
    magic = _read_full(source, len(STREAM_MAGIC))
    if magic != STREAM_MAGIC:
        raise DecryptionError("not a sealed stream")
    size_bytes = _read_full(source, 4)
    salt = _read_full(source, _STREAM_SALT)
    if len(size_bytes) != 4 or len(salt) != _STREAM_SALT:
        raise DecryptionError("sealed stream header is truncated")
    chunk_size = int.from_bytes(size_bytes, "big")
    header = magic + size_bytes + salt
    aead = _stream_aead(key, salt)
    index, total = 0, 0
    block = _read_full(source, chunk_size + _TAG)
    while True:
        following = _read_full(source, chunk_size + _TAG)
        final = not following
        try:
            plain = aead.decrypt(_stream_nonce(index, final), block, header)
        except InvalidTag as error:
            raise DecryptionError(
                f"sealed stream chunk {index} failed authentication (tampered, cut short or wrong key)"
            ) from error
        target.write(plain)
        total += len(plain)
        if final:
            return total
        block, index = following, index + 1
