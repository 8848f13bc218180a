"""Records per quarantine reason, observed while the records are checkpointed
(jobtagger.ingestion.observed_reasons / reason_counts)."""

from __future__ import annotations

from pyspark import StorageLevel

from jobtagger.ingestion import observed_reasons, reason_counts


def _counted(spark, rows):
    records, observation = observed_reasons(spark.createDataFrame(rows, "posting_id string, reason string"))
    kept = records.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
    return kept, observation


def test_counts_per_reason_come_from_the_checkpoint_job(spark):
    rows = [("a", None), ("b", None), ("c", "malformed"), (None, "missing_id"), ("d", "malformed"), ("e", None)]
    kept, observation = _counted(spark, rows)
    query = {row["reason"]: row["count"] for row in kept.groupBy("reason").count().collect()}
    assert reason_counts(observation) == query == {None: 3, "malformed": 2, "missing_id": 1}


def test_a_batch_of_only_rejected_records_has_no_good_count(spark):
    _, observation = _counted(spark, [("a", "bad_date"), ("b", "huge_text")])
    assert reason_counts(observation) == {"bad_date": 1, "huge_text": 1}


def test_a_reason_outside_the_known_ones_asks_for_a_query(spark):
    _, observation = _counted(spark, [("a", None), ("b", "a_new_reason"), ("c", "malformed")])
    assert reason_counts(observation) is None


def test_no_records_is_an_empty_count_not_a_query(spark):
    _, observation = _counted(spark, [])
    assert reason_counts(observation) == {}
