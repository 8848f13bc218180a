"""Fixtures of the table-layer tests: a delta-rs store on a fresh warehouse per test."""

from __future__ import annotations

import pytest

from jobtagger.config import StorageConfig
from jobtagger.session import JvmCapabilities
from jobtagger.tables import open_table_store

NO_JARS = JvmCapabilities(delta_spark=False, spark_nlp=False)


@pytest.fixture
def store(spark, tmp_path):
    return open_table_store(spark, StorageConfig(warehouse=tmp_path / "warehouse"), capabilities=NO_JARS)
