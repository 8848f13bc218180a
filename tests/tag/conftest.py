"""Session-scoped tiny model for the tag tests (fitted once)."""

from __future__ import annotations

import pytest
from pyspark.ml import PipelineModel
from tiny_world import fit_tiny_model


@pytest.fixture(scope="session")
def tiny_model(spark) -> PipelineModel:
    return fit_tiny_model(spark)
