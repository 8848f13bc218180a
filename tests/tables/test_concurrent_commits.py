"""Optimistic concurrency of the delta-rs engine on real Delta tables: a write that read the table
fails loudly (ConcurrentWriteError, nothing committed) when another commit changed what it read
after it read it; blind appends and writes to other partitions still both land. Staged writes
fix the interleaving (both plan against the same version), the commits then race in threads."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from deltalake import DeltaTable

from jobtagger.errors import ConcurrentWriteError
from jobtagger.tables import Txn

SCHEMA = "id long, name string, run_date date"
NOV1, NOV2, NOV3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)


def frame(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def day_rows(first: int, count: int, day: dt.date, name: str = "x"):
    return [(first + offset, name, day) for offset in range(count)]


def ids(store, name="t"):
    return Counter(row.id for row in store.read(name).collect())


def commit_together(*staged):
    """Commit staged writes from one thread each, released at once; returns results or errors."""
    outcomes: list = [None] * len(staged)
    gate = threading.Barrier(len(staged))

    def commit(index: int) -> None:
        gate.wait()
        try:
            outcomes[index] = staged[index].commit()
        except BaseException as exc:  # noqa: BLE001 - inspected by the caller
            outcomes[index] = exc

    threads = [threading.Thread(target=commit, args=(index,)) for index in range(len(staged))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_replaces_of_one_partition_planned_together_commit_once(spark, store):
    store.write(frame(spark, day_rows(0, 3, NOV1, "old")), "t", partition_by=["run_date"])
    first = store.stage(frame(spark, day_rows(10, 4, NOV1, "a")), "t", mode="replace_where",
                        replace_where="run_date = '2026-11-01'")
    second = store.stage(frame(spark, day_rows(10, 4, NOV1, "b")), "t", mode="replace_where",
                         replace_where="run_date = '2026-11-01'")

    outcomes = commit_together(first, second)

    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], ConcurrentWriteError), outcomes
    assert "after this write read version 0" in str(errors[0]) and "\n" not in str(errors[0])
    assert ids(store) == Counter(range(10, 14))  # one run's rows, once
    assert store.version("t") == 1
    assert len(DeltaTable(store.path("t")).file_uris()) == len(store.read("t").inputFiles())


def test_a_replace_fails_when_an_append_landed_in_its_partition(spark, store):
    """delta-rs alone lets this commit through and both runs' rows stay (the doubled partition)."""
    store.write(frame(spark, day_rows(0, 2, NOV2)), "t", partition_by=["run_date"])
    replace = store.stage(frame(spark, day_rows(10, 2, NOV1)), "t", mode="replace_where",
                          replace_where="run_date = '2026-11-01'")
    store.write(frame(spark, day_rows(20, 2, NOV1)), "t", mode="append")

    with pytest.raises(ConcurrentWriteError, match="version 1 .*run_date = '2026-11-01'"):
        replace.commit()
    assert ids(store) == Counter([0, 1, 20, 21])
    assert store.version("t") == 1


def test_replaces_of_different_partitions_and_blind_appends_all_land(spark, store):
    store.write(frame(spark, day_rows(0, 2, NOV1)), "t", partition_by=["run_date"])
    day_one = store.stage(frame(spark, day_rows(10, 2, NOV1)), "t", mode="replace_where",
                          replace_where="run_date = '2026-11-01'")
    day_two = store.stage(frame(spark, day_rows(20, 2, NOV2)), "t", mode="replace_where",
                          replace_where="run_date = '2026-11-02'")
    appended = store.stage(frame(spark, day_rows(30, 2, NOV3)), "t", mode="append")

    outcomes = commit_together(day_one, day_two, appended)

    assert all(outcome.committed for outcome in outcomes), outcomes
    assert ids(store) == Counter([10, 11, 20, 21, 30, 31])
    assert store.version("t") == 3


def test_a_merge_fails_when_another_merge_landed_after_it_read(spark, store):
    store.write(frame(spark, day_rows(0, 3, NOV1)), "t", partition_by=["run_date"])
    outcomes: list = []
    gate = threading.Barrier(2)

    def merge(name: str) -> None:
        gate.wait()
        try:
            outcomes.append(store.merge(frame(spark, day_rows(2, 3, NOV2, name)), "t", keys=["id"]))
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcomes.append(exc)

    threads = [threading.Thread(target=merge, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    committed = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
    assert committed, outcomes
    assert all(isinstance(outcome, ConcurrentWriteError) for outcome in outcomes if outcome not in committed)
    assert ids(store) == Counter(range(5))  # never a key twice, whichever order the merges ran in


def test_a_commit_carrying_the_same_app_id_wins_or_is_skipped(spark, store):
    store.write(frame(spark, day_rows(0, 2, NOV1)), "t", partition_by=["run_date"])
    older = store.stage(frame(spark, day_rows(10, 2, NOV1)), "t", mode="append", txn=Txn("job:2026-11-01", 1))
    newer = store.stage(frame(spark, day_rows(20, 2, NOV1)), "t", mode="append", txn=Txn("job:2026-11-01", 3))
    middle = store.stage(frame(spark, day_rows(30, 2, NOV1)), "t", mode="append", txn=Txn("job:2026-11-01", 2))

    assert newer.commit().committed
    skipped = older.commit()  # its app transaction is already covered: commits nothing
    assert (skipped.committed, skipped.version) == (False, 1)
    middle_table = DeltaTable(store.path("t"))
    assert middle_table.transaction_version("job:2026-11-01") == 3
    skipped_again = middle.commit()
    assert not skipped_again.committed
    assert ids(store) == Counter([0, 1, 20, 21])


def test_a_txn_commit_fails_when_a_later_version_of_its_app_id_is_not_yet_recorded(spark, store):
    """Same app id, higher version, but planned before the other run committed: loud."""
    store.write(frame(spark, day_rows(0, 2, NOV1)), "t", partition_by=["run_date"])
    late = store.stage(frame(spark, day_rows(10, 2, NOV1)), "t", mode="append", txn=Txn("job:2026-11-01", 5))
    store.write(frame(spark, day_rows(20, 2, NOV1)), "t", mode="append", txn=Txn("job:2026-11-01", 4))

    with pytest.raises(ConcurrentWriteError, match="same transaction key job:2026-11-01"):
        late.commit()
    assert ids(store) == Counter([0, 1, 20, 21])


def test_two_creates_of_one_table_commit_once(spark, store):
    first = store.stage(frame(spark, day_rows(0, 2, NOV1)), "t", partition_by=["run_date"])
    second = store.stage(frame(spark, day_rows(0, 2, NOV1)), "t", partition_by=["run_date"])

    outcomes = commit_together(first, second)

    assert sum(isinstance(outcome, ConcurrentWriteError) for outcome in outcomes) == 1, outcomes
    assert ids(store) == Counter([0, 1])


def test_replace_keys_moves_a_key_into_the_replaced_partition_in_one_commit(spark, store):
    store.write(frame(spark, [(1, "a", NOV1), (2, "b", NOV1), (3, "c", NOV1)]), "t", partition_by=["run_date"])
    result = store.write(frame(spark, [(2, "b again", NOV2), (4, "d", NOV2)]), "t", mode="replace_where",
                         replace_where="run_date = '2026-11-02'", replace_keys=["id"])

    assert result.committed and result.version == 1 and result.files_removed == 1
    rows = sorted((row.id, row.name, row.run_date) for row in store.read("t").collect())
    assert rows == [(1, "a", NOV1), (2, "b again", NOV2), (3, "c", NOV1), (4, "d", NOV2)]
    assert sorted(row.id for row in store.read("t", version=0).collect()) == [1, 2, 3]  # history kept
    # a rerun of the later date replaces its partition again and touches no other file
    day_one_files = {uri for uri in DeltaTable(store.path("t")).file_uris() if "2026-11-01" in uri}
    again = store.write(frame(spark, [(2, "b again", NOV2), (4, "d", NOV2)]), "t", mode="replace_where",
                        replace_where="run_date = '2026-11-02'", replace_keys=["id"])
    assert again.committed and ids(store) == Counter([1, 2, 3, 4])
    assert day_one_files <= set(DeltaTable(store.path("t")).file_uris())
