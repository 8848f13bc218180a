"""A feature pipeline of the default stages fitted on three postings, for the text stage tests."""

from __future__ import annotations

import pytest

from jobtagger.config import FeaturesConfig
from jobtagger.session import JvmCapabilities
from jobtagger.text.features import build_feature_pipeline


@pytest.fixture(scope="session")
def fitted_features(spark):
    """(postings, fitted feature PipelineModel) with every term kept."""
    postings = spark.createDataFrame(
        [("1", "Python Developer", "Python and Spark"), ("2", "Java Developer", "Java and Spark"),
         ("3", "Data Engineer", "Spark pipelines in Python")],
        "posting_id string, title string, description string",
    )
    features = FeaturesConfig(min_doc_freq=1, num_features=100)
    return postings, build_feature_pipeline(features, capabilities=JvmCapabilities(delta_spark=False, spark_nlp=False)).fit(postings)
