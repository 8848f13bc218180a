"""Two ``jobtagger tag`` processes of one date started together (issue 18, item 2): the gold
partition never holds a posting twice; each run exits 0, or 6 with one line when the other won."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from jobtagger.config import StorageConfig
from jobtagger.registry import ModelRecord, ModelRegistry, decide_promotion
from jobtagger.session import JvmCapabilities
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, GOLD_POSTING_TAGS
from testkit import REPO_ROOT

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

    command = [
        sys.executable, "-m", "jobtagger.cli", "tag", "--conf", str(REPO_ROOT / "conf" / "local.yaml"),
        "--run-date", DAY_1.isoformat(), "--quiet", "--set", f"storage.warehouse={tmp_path / 'warehouse'}",
        "--set", "spark.driver_memory=1g", "--set", "spark.shuffle_partitions=2",
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    processes = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    results = [(process.wait(timeout=900), process.stderr.read()) for process in processes]

    codes = [code for code, _ in results]
    assert set(codes) <= {0, 6} and 0 in codes, [stderr[-2000:] for _, stderr in results]
    for code, stderr in results:
        if code == 6:
            reason = [line for line in stderr.splitlines() if line.startswith("jobtagger tag:")]
            assert len(reason) == 1 and "another writer committed version" in reason[0], stderr[-2000:]
    ids = Counter(row.posting_id for row in store.read(GOLD_POSTING_TAGS).select("posting_id").collect())
    assert len(ids) == 300 and set(ids.values()) == {1}
