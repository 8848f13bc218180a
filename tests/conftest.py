"""Shared fixtures: one local[2] SparkSession for the whole run, configs on temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobtagger.config import JobtaggerConfig, load_config
from jobtagger.session import build_session
from testkit import REPO_ROOT


@pytest.fixture(scope="session")
def spark():
    config = load_config(REPO_ROOT / "conf" / "local.yaml").spark.model_copy(
        update={
            "master": "local[2]",
            "shuffle_partitions": 2,
            "driver_memory": "3g",
            "log_level": "ERROR",
            # A long test run in one session: the status store keeps the last 1,000 SQL
            # executions with their plan descriptions even without the UI, and a plan holding
            # the taxonomy's label maps spells out ~30k literals (the heap filled up with them
            # two thirds into the run). Broadcasts of finished queries are dropped by the
            # ContextCleaner only once the JVM collects their handles (periodic GC: 30 min).
            "conf": {"spark.ui.enabled": "false", "spark.default.parallelism": "2",
                     "spark.sql.ui.retainedExecutions": "20", "spark.ui.retainedJobs": "50",
                     "spark.ui.retainedStages": "50", "spark.ui.retainedTasks": "1000",
                     "spark.cleaner.periodicGC.interval": "1min"},
        }
    )
    session = build_session(config, app_name="jobtagger-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module", autouse=True)
def release_cached_data():
    """Caches a test module leaves behind (its DataFrames and the models' cached RDDs) are
    dropped after it: cached blocks within spark.memory.storageFraction are not evicted for
    execution, so a long run would otherwise end in UNABLE_TO_ACQUIRE_MEMORY in an unrelated test."""
    yield
    session = SparkSession.getActiveSession()
    if session is None:
        return
    session.catalog.clearCache()
    for rdd in session.sparkContext._jsc.getPersistentRDDs().values():  # noqa: SLF001 - no Python API
        rdd.unpersist()
    session.sparkContext._jvm.System.gc()  # noqa: SLF001 - lets the ContextCleaner drop broadcasts and shuffles


@pytest.fixture
def make_config(tmp_path: Path):
    """Config of the local environment with warehouse and landing under ``tmp_path``."""

    def _make(*overrides: str) -> JobtaggerConfig:
        return load_config(
            REPO_ROOT / "conf" / "local.yaml",
            overrides=[
                f"storage.warehouse={tmp_path / 'warehouse'}",
                f"paths.landing={tmp_path / 'landing'}",
                f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}",
                "spark.shuffle_partitions=2",
                "training.reg_grid=[]",  # one fit at reg_param: tests do not pay the selection grid
                "calibration.folds=0",  # the validation carve: tests do not pay the auto folds
                *overrides,
            ],
        )

    return _make

