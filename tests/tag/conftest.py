"""Session-scoped tiny model for the tag tests (fitted once).

Python workers must run this interpreter (the Delta writer and the feature UDFs import
jobtagger): without PYSPARK_PYTHON Spark starts ``python3`` from PATH. Set at collection time,
before the session fixture creates the SparkContext that reads it.
"""

from __future__ import annotations

import os
import sys

import pytest
from pyspark.ml import PipelineModel
from tiny_world import fit_tiny_model

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def tiny_model(spark) -> PipelineModel:
    return fit_tiny_model(spark)
