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
