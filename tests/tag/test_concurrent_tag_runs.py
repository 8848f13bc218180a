"""Two ``jobtagger tag`` processes of one date started together (issue 18, item 2): the gold
partition never holds a posting twice; each run exits 0, or 6 with one line when the other won."""

from __future__ import annotations

from collections import Counter

import pytest

from jobtagger.config import StorageConfig
from jobtagger.registry import ModelRecord, ModelRegistry, decide_promotion
from jobtagger.session import JvmCapabilities
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, GOLD_POSTING_TAGS
from testkit import assert_won_or_lost_loudly, start_together

from tiny_world import DAY_1, LABELS, bronze_rows

pytestmark = pytest.mark.reliability


def test_two_tag_runs_of_one_date_at_once_never_double_the_partition(spark, tmp_path, tiny_model):
    store = open_table_store(spark, StorageConfig(warehouse=tmp_path / "warehouse"),
                             capabilities=JvmCapabilities(delta_spark=False, spark_nlp=False))
    store.write(bronze_rows(spark, DAY_1, 300, prefix="a"), BRONZE_POSTINGS, partition_by=["run_date"])
    registry = ModelRegistry(store)
    path = registry.save_model(tiny_model, "m1")
    record = ModelRecord(model_version="m1", run_id="train", run_date=DAY_1, config_fingerprint="tiny",
                         strategy="one_vs_rest", threshold_strategy="fixed", labels=LABELS, path=path,
                         micro_f1=0.9, macro_f1=0.9)
    decision = decide_promotion(challenger=(0.9, 0.9), champion=None, champion_version=None, tolerance=0.01)
    empty = spark.createDataFrame([], "model_version string, label string, threshold double")
    registry.register(record, decision, thresholds=empty,
                      metrics=spark.createDataFrame([], "model_version string, metric string, value double"))

    results = start_together("tag", DAY_1.isoformat(), tmp_path)

    assert_won_or_lost_loudly(results, "tag")
    ids = Counter(row.posting_id for row in store.read(GOLD_POSTING_TAGS).select("posting_id").collect())
    assert len(ids) == 300 and set(ids.values()) == {1}
