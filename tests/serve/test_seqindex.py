"""The embedded backend's idempotency index: stored seqs per device as sorted runs, checked
against a plain set, and undone with the transaction that failed."""

from __future__ import annotations

import sqlite3
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.serve.backends.seqindex import SeqIndex
from twin.serve.backends.sqlite import SCHEMA, _insert_many, _load_index, select_samples
from twin.serve.validation import TelemetryBatch


def test_consecutive_batches_stay_one_run() -> None:
    index = SeqIndex()
    for first in range(0, 500, 50):
        assert index.stored("d", range(first, first + 50)) == set()
        index.add("d", range(first, first + 50))
    assert index.runs("d") == [(0, 500)]
    assert index.stored("d", [499, 500, 3]) == {499, 3}
    assert ("d", 0) in index and ("d", 500) not in index and ("e", 0) not in index


def test_runs_merge_from_both_sides() -> None:
    index = SeqIndex()
    index.add("d", [0, 1, 2, 8, 9])
    assert index.runs("d") == [(0, 3), (8, 10)]
    index.add("d", [5])
    assert index.runs("d") == [(0, 3), (5, 6), (8, 10)]
    index.add("d", [3, 4, 6, 7])
    assert index.runs("d") == [(0, 10)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 300), max_size=60, unique=True), max_size=12))
def test_the_index_agrees_with_a_set(batches: list[list[int]]) -> None:
    index, truth = SeqIndex(), set()
    for seqs in batches:
        if not seqs:
            continue
        assert index.stored("d", seqs) == truth & set(seqs)
        new = [s for s in seqs if s not in truth]
        index.add("d", new)
        truth.update(new)
    runs = index.runs("d")
    assert {s for a, b in runs for s in range(a, b)} == truth
    assert all(b < c for (_, b), (c, _) in pairwise(runs))  # disjoint, and apart


def _batch(device: str, seqs: list[int]) -> TelemetryBatch:
    docs = "[" + ",".join(f'{{"seq":{s}}}' for s in seqs) + "]"
    return TelemetryBatch(device, "c1", seqs, [0.0] * len(seqs), [100.0] * len(seqs), docs)


def test_a_group_commit_stores_one_row_per_batch_and_sees_earlier_batches() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(SCHEMA)
    index = SeqIndex()
    seen = _insert_many(conn, index, [_batch("d", [0, 1, 2]), _batch("d", [2, 3, 1, 4])])
    assert seen == [set(), {1, 2}]
    assert conn.execute("SELECT seqs, power_w FROM batches ORDER BY id").fetchall() == [
        ("[0,1,2]", 300.0),
        ("[3,4]", 200.0),
    ]
    assert select_samples(conn, "d") == [f'{{"seq":{s}}}' for s in range(5)]
    assert _load_index(conn).runs("d") == index.runs("d") == [(0, 5)]


def test_a_failed_transaction_is_forgotten_by_the_index() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(SCHEMA)
    index = SeqIndex()
    _insert_many(conn, index, [_batch("d", [0, 1])])
    conn.execute("DROP TABLE batches")  # the next insert fails mid-transaction
    with pytest.raises(sqlite3.OperationalError):
        _insert_many(conn, index, [_batch("d", [2, 3]), _batch("e", [0])])
    assert index.runs("d") == [(0, 2)] and index.runs("e") == [] and not conn.in_transaction
