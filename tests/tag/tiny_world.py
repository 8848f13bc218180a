"""Tiny bronze rows and a tiny real model (features + one-vs-rest + decision) for the tag tests."""

from __future__ import annotations

import datetime as dt

from pyspark.ml import PipelineModel

from jobtagger.calibration import MultiLabelDecision
from jobtagger.config import FeaturesConfig
from jobtagger.models.one_vs_rest import OneVsRestLogistic
from jobtagger.session import JvmCapabilities
from jobtagger.tables.schemas import BRONZE_POSTINGS_SCHEMA
from jobtagger.text.features import build_feature_pipeline

DAY_1 = dt.date(2026, 11, 1)
DAY_2 = dt.date(2026, 11, 2)
LABELS = ["category:data", "category:software_engineering", "skill:java", "skill:python", "skill:sql"]
# (title, description, labels): three families of postings the model separates easily.
KINDS = [
    ("python data engineer", "python pandas sql pipelines warehouse", ["category:data", "skill:python", "skill:sql"]),
    ("java backend developer", "java spring services microservices", ["category:software_engineering", "skill:java"]),
    ("sql analyst", "sql reporting dashboards warehouse", ["category:data", "skill:sql"]),
]


def bronze_rows(spark, day: dt.date, count: int, *, prefix: str, duplicate_first: bool = False):
    rows = []
    for i in range(count):
        title, description, labels = KINDS[i % len(KINDS)]
        rows.append((
            f"{prefix}{i:03d}", title, f"{description} number {i}", "acme", "berlin", "de", "en",
            dt.datetime.combine(day, dt.time(9)), "test", None, labels,
            day, "ingest-run", "part-0.jsonl", dt.datetime.combine(day, dt.time(10)), f"hash{prefix}{i}", False, None,
        ))
    if duplicate_first:
        rows.append(rows[0])
    return spark.createDataFrame(rows, BRONZE_POSTINGS_SCHEMA)


def fit_tiny_model(spark, *, threshold: float = 0.5) -> PipelineModel:
    training = bronze_rows(spark, DAY_1, 30, prefix="train")
    features = build_feature_pipeline(
        FeaturesConfig(min_doc_freq=1, num_features=256, ngram_max=1),
        capabilities=JvmCapabilities(delta_spark=False, spark_nlp=False),
    ).fit(training)
    classifier = OneVsRestLogistic(labelSpace=LABELS, maxIter=20, regParam=1e-3).fit(features.transform(training))
    decision = MultiLabelDecision(
        labels=list(classifier.labels), thresholds=[threshold] * len(classifier.labels), atLeastOne=True,
        parents={"skill:python": "category:data"},
    )
    return PipelineModel(stages=[*features.stages, classifier, decision])
