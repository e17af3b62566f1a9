"""The one retry layer: which errors pass, how often, and within a read's budget."""

from __future__ import annotations

import pytest

from genreclf.tracking import retry
from genreclf.tracking.retry import POLICY, passing_kind, retried, unreachable
from genreclf.tracking.spool import PATIENT


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    """The pauses :func:`retried` takes (none is slept)."""
    taken: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", taken.append)
    return taken


def failing(errors: list[Exception], value: str = "ok"):
    """A call that raises each of ``errors`` in turn, then returns ``value``."""
    calls = []

    def call() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return value

    return call, calls


def test_a_locked_sqlite_store_is_tried_20_times_a_little_longer_apart(pauses):
    call, calls = failing([RuntimeError("(sqlite3.OperationalError) database is locked")] * 25)
    with pytest.raises(RuntimeError, match="database is locked"):
        retried(call)
    assert len(calls) == POLICY["locked"].tries == 20
    assert pauses[:3] == pytest.approx([0.2, 0.4, 0.6]) and len(pauses) == 19


def test_a_write_to_a_store_that_does_not_answer_is_tried_twice_2_s_apart(pauses):
    call, calls = failing([ConnectionError("Connection refused")] * 3)
    with pytest.raises(ConnectionError):
        retried(call, kinds=PATIENT)
    assert len(calls) == POLICY["unreachable"].tries == 2
    assert pauses == [2.0]


def test_a_plain_call_to_a_store_that_does_not_answer_fails_at_once(pauses):
    call, calls = failing([ConnectionError("Connection refused")] * 3)
    with pytest.raises(ConnectionError):
        retried(call)
    assert len(calls) == 1 and pauses == []


def test_both_kinds_pass_in_one_call_each_within_its_own_tries(pauses):
    locked = RuntimeError("database is locked")
    away = RuntimeError("Max retries exceeded with url: /api/2.0/mlflow/runs/create")
    call, calls = failing([locked, away, locked])
    assert retried(call, kinds=PATIENT) == "ok"
    assert len(calls) == 4 and pauses == pytest.approx([0.2, 2.0, 0.4])


def test_any_other_error_raises_at_once(pauses):
    call, calls = failing([ValueError("RESOURCE_ALREADY_EXISTS")])
    with pytest.raises(ValueError):
        retried(call)
    assert len(calls) == 1 and pauses == []


def test_no_try_is_started_that_would_end_past_the_budget(pauses, monkeypatch):
    clock = iter([0.0, 0.0, 60.0])  # start, the try began, it failed after 60 s
    monkeypatch.setattr(retry.time, "monotonic", lambda: next(clock))
    call, calls = failing([TimeoutError("read timed out")])
    with pytest.raises(TimeoutError):
        retried(call, budget_s=90.0, kinds=PATIENT)  # 60 s + 2 s + 60 s would end at 122 s
    assert len(calls) == 1 and pauses == []


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(111, "refused"), "unreachable"),
        (RuntimeError("HTTPConnectionPool: Read timed out. (read timeout=20)"), "unreachable"),
        (RuntimeError("503 Service Unavailable"), "unreachable"),
        (RuntimeError("(sqlite3.OperationalError) database is locked"), "locked"),
        (RuntimeError("INVALID_PARAMETER_VALUE: bad metric"), None),
    ],
)
def test_the_kind_of_an_error(error, kind):
    assert passing_kind(error) == kind
    assert unreachable(error) == (kind == "unreachable")
