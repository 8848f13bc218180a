"""Fixtures of the model tests."""

from __future__ import annotations

import pytest
from model_toys import toy_rows


@pytest.fixture(scope="module")
def toy_df(spark):
    return spark.createDataFrame(toy_rows(600), ["posting_id", "features", "labels"]).cache()
