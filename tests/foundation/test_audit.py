"""The hash-chained audit log: intact chains verify, any SQL tampering is found and located."""

from __future__ import annotations

import threading

import pytest

from core.access import Principal
from core.clinic import Clinic

ACTOR = Principal("u-1", "physician", "doc@clinic.test", "Dr Doc")


@pytest.fixture
def filled(clinic: Clinic) -> Clinic:
    for n in range(6):
        clinic.audit.record(ACTOR, "case.read", "case", f"case-{n}", {"n": n})
    return clinic


def test_intact_chain_verifies(filled: Clinic) -> None:
    result = filled.audit.verify()
    assert result.ok and result.rows_checked == 6 and result.first_bad_row is None


def test_empty_chain_verifies(clinic: Clinic) -> None:
    assert clinic.audit.verify().ok


def test_edited_row_is_detected(filled: Clinic) -> None:
    filled.db.execute("UPDATE audit_log SET object_id = 'case-99' WHERE seq = 3")
    result = filled.audit.verify()
    assert not result.ok and result.first_bad_row == 3 and "edited" in result.reason


def test_edited_detail_or_actor_is_detected(filled: Clinic) -> None:
    filled.db.execute("UPDATE audit_log SET actor_id = 'someone-else' WHERE seq = 5")
    assert filled.audit.verify().first_bad_row == 5


def test_deleted_row_is_detected(filled: Clinic) -> None:
    filled.db.execute("DELETE FROM audit_log WHERE seq = 2")
    result = filled.audit.verify()
    assert not result.ok and result.first_bad_row == 3


def test_deleted_and_renumbered_rows_are_detected(filled: Clinic) -> None:
    filled.db.execute("DELETE FROM audit_log WHERE seq = 2")
    filled.db.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 2")
    result = filled.audit.verify()
    assert not result.ok and result.first_bad_row == 2


def test_reordered_rows_are_detected(filled: Clinic) -> None:
    filled.db.execute("UPDATE audit_log SET seq = 100 WHERE seq = 3")
    filled.db.execute("UPDATE audit_log SET seq = 3 WHERE seq = 4")
    filled.db.execute("UPDATE audit_log SET seq = 4 WHERE seq = 100")
    result = filled.audit.verify()
    assert not result.ok and result.first_bad_row == 3


def test_concurrent_appends_never_fork_the_chain(clinic: Clinic) -> None:
    def work(n: int) -> None:
        for i in range(15):
            clinic.audit.record(ACTOR, "photo.read", "photo", f"{n}-{i}", {})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = clinic.audit.verify()
    assert result.ok and result.rows_checked == 90


def test_recent_and_verify_chain_are_for_admins(filled: Clinic) -> None:
    from core.access import AccessDenied

    admin = Principal("a-1", "admin", "a@clinic.test", "Ada")
    entries = filled.audit.recent(admin, limit=3)
    assert [e.seq for e in entries] == [6, 5, 4] and entries[0].detail == {"n": 5}
    assert filled.audit.verify_chain(admin).ok
    with pytest.raises(AccessDenied):
        filled.audit.recent(ACTOR)


def test_an_append_inside_a_callers_rolled_back_transaction_still_chains(clinic: Clinic) -> None:
    with pytest.raises(RuntimeError), clinic.db.transaction():
        clinic.audit.record(ACTOR, "case.read", "case", "inside", {})
        raise RuntimeError("caller fails")
    clinic.audit.record(ACTOR, "case.read", "case", "after", {})
    result = clinic.audit.verify()
    assert result.ok and result.rows_checked == 2  # the attempt stays recorded
