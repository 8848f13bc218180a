"""Engine choice: auto falls back to delta-rs here; delta-spark without its jar fails fast."""

from __future__ import annotations

import pytest

from jobtagger.config import StorageConfig
from jobtagger.errors import EnvironmentProblem
from jobtagger.session import JvmCapabilities
from jobtagger.tables import choose_engine, open_table_store

WITH_DELTA = JvmCapabilities(delta_spark=True, spark_nlp=False)
WITHOUT_DELTA = JvmCapabilities(delta_spark=False, spark_nlp=False)


def test_auto_picks_delta_spark_only_when_its_classes_load():
    assert choose_engine(StorageConfig(engine="auto"), WITH_DELTA) == "delta-spark"
    assert choose_engine(StorageConfig(engine="auto"), WITHOUT_DELTA) == "delta-rs"
    assert choose_engine(StorageConfig(engine="delta-rs"), WITH_DELTA) == "delta-rs"


def test_auto_on_this_machine_opens_the_delta_rs_engine(spark, tmp_path):
    store = open_table_store(spark, StorageConfig(engine="auto", warehouse=tmp_path))
    assert store.engine_name == "delta-rs"


def test_delta_spark_without_its_jar_names_what_to_add(spark, tmp_path):
    with pytest.raises(EnvironmentProblem) as failure:
        open_table_store(spark, StorageConfig(engine="delta-spark", warehouse=tmp_path))
    message = str(failure.value)
    assert "--packages io.delta:delta-spark_4.1_2.13:" in message
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in message
    assert "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog" in message
    assert "\n" not in message
