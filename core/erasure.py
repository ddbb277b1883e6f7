"""The erasure ledger: which patients were erased, kept outside the data a backup restores.

Restoring a backup made before an erasure would bring the erased patient back. So every erasure
is also written to a small ledger beside the key file (like the audit checkpoint
`audit-head.json`, see `core.audit.checkpoint_path`): never inside the database, never in a
backup, so a restore cannot roll it back. It holds ids and times only (no name, no e-mail), and
is sealed with a key derived from the master key, so an edited ledger is noticed, not trusted.

Biometric data: the same-person check's face embeddings (core.vision.identity) are never stored,
only computed again from the encrypted photos when needed, so deleting the photos (rows and
blobs) erases everything biometric; tests/foundation/test_same_person.py checks it.

The entry is written before the rows are deleted: a crash between the two leaves an erasure
that `Clinic.open` finishes. Every open (and `restore_backup`, right after it restores) erases
again each ledger patient the database still holds, as the system, with an audit row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.private_files import write_private

LEDGER_FORMAT = "clinic-erasure-ledger/1"
LEDGER_NAME = "erasure-ledger.json"
KEY_INFO = "erasure-ledger"  # HKDF label of the ledger's sealing key (core.crypto.derive_key)

log = logging.getLogger(__name__)
_LOCK = threading.Lock()  # one writer at a time in this process (read, append, replace)


class LedgerError(Exception):
    """The ledger file is unreadable or was altered."""


@dataclass(frozen=True)
class ErasureEntry:
    patient_id: str
    erased_at: str  # ISO 8601, UTC


def ledger_path(settings: Any) -> Path:  # settings: core.config.Settings
    """Beside the key file; a key directory shared by several data directories gets one ledger
    per data directory (named after it), as the audit checkpoint does."""
    key_dir = Path(settings.key_file).resolve().parent
    data_dir = Path(settings.data_dir).resolve()
    if key_dir == data_dir:
        return key_dir / LEDGER_NAME
    tag = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return key_dir / f"erasure-ledger-{tag}.json"


def _seal(key: bytes, entries: list[dict[str, str]]) -> str:
    body = json.dumps({"format": LEDGER_FORMAT, "entries": entries}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


class ErasureLedger:
    def __init__(self, path: Path, key: bytes) -> None:
        self.path = Path(path)
        self._key = key

    @classmethod
    def for_settings(cls, settings: Any, master_key: bytes) -> ErasureLedger:
        from core.crypto import derive_key

        return cls(ledger_path(settings), derive_key(master_key, KEY_INFO))

    def entries(self) -> list[ErasureEntry]:
        """Every recorded erasure, oldest first; [] without a ledger; LedgerError when altered."""
        return [ErasureEntry(e["patient_id"], e["erased_at"]) for e in self._read()]

    def erased_ids(self) -> set[str]:
        return {entry.patient_id for entry in self.entries()}

    def record(self, patient_id: str, at: datetime | None = None) -> None:
        """Add one erasure (kept once: the first time stays); durable before it returns."""
        with _LOCK:
            entries = self._read()
            if any(e["patient_id"] == patient_id for e in entries):
                return
            when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
            entries.append({"patient_id": str(patient_id), "erased_at": when})
            document = {"format": LEDGER_FORMAT, "entries": entries, "seal": _seal(self._key, entries)}
            write_private(self.path, json.dumps(document, indent=1).encode(), durable=True)

    def _read(self) -> list[dict[str, str]]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise LedgerError(f"the erasure ledger {self.path} cannot be read: {error}") from error
        if not isinstance(document, dict) or document.get("format") != LEDGER_FORMAT:
            raise LedgerError(f"the erasure ledger {self.path} has an unknown format")
        entries = document.get("entries")
        if not isinstance(entries, list) or not all(
            isinstance(e, dict)
            and isinstance(e.get("patient_id"), str)
            and isinstance(e.get("erased_at"), str)
            for e in entries
        ):
            raise LedgerError(f"the erasure ledger {self.path} is malformed")
        if not hmac.compare_digest(str(document.get("seal", "")), _seal(self._key, entries)):
            raise LedgerError(f"the erasure ledger {self.path} was altered (its seal does not match)")
        return [{"patient_id": e["patient_id"], "erased_at": e["erased_at"]} for e in entries]


def record_erasure(settings: Any, patient_id: str) -> None:
    """Write one erasure to the clinic's ledger (`CareExports.erase_patient`, before it deletes)."""
    from core import crypto

    master_key = crypto.load_or_create_master_key(settings.master_key_env, settings.key_file, create=False)
    ErasureLedger.for_settings(settings, master_key).record(patient_id)


def reapply_erasures(clinic: Any) -> list[str]:  # clinic: core.clinic.Clinic
    """Erase again every ledger patient the database holds (after a restore, or an erasure a
    crash cut short); returns their ids. An unreadable ledger is logged and erases nothing."""
    from core.access import SYSTEM_PRINCIPAL

    try:
        erased = clinic.erasure_ledger.erased_ids()
    except LedgerError:
        log.exception("the erasure ledger cannot be used; no erasure was re-applied")
        return []
    if not erased:
        return []
    ids = sorted(erased)
    placeholders = ", ".join("?" for _ in ids)
    present = [r[0] for r in clinic.db.fetchall(f"SELECT id FROM patients WHERE id IN ({placeholders})", ids)]
    for patient_id in present:
        log.warning("patient %s is in the erasure ledger but in the database again: erasing", patient_id)
        clinic.exports.erase_patient(SYSTEM_PRINCIPAL, patient_id)
    return present
