"""jobtagger train end to end on a small real warehouse: generate -> ingest -> train (x3)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest

from jobtagger.registry import ModelRegistry, load_current_model
from jobtagger.runlog import RunContext
from jobtagger.stages import generate, ingest, train
from jobtagger.tables import open_table_store

RUN_DATE = dt.date(2026, 11, 1)


def args(**extra):
    return argparse.Namespace(run_date=RUN_DATE, rows=None, days=None, bad_rate=None, landing_folder=None,
                              force=False, **extra)


@pytest.mark.slow
def test_train_registers_promotes_and_rejects(spark, make_config):
    config = make_config(
        "generate.rows=600", "generate.formats=[jsonl]", "generate.bad_records.rate=0", "generate.skills=20",
        f"generate.start_date={RUN_DATE}", "training.max_iter=20", "features.num_features=4096",
    )
    generate.run(spark, config, RunContext(job="generate", run_date=RUN_DATE), args())
    ingest.run(spark, config, RunContext(job="ingest", run_date=RUN_DATE), args())

    first = train.run(spark, config, RunContext(job="train", run_date=RUN_DATE), args())
    assert first["promotion_status"] == "current" and "first model" in first["promotion_reason"]
    assert first["metrics"]["micro_f1"] > first["baseline_metrics"]["micro_f1"] - 0.05
    assert first["metrics"]["micro_f1"] > 0.3
    folder = Path(first["model_path"]).parent
    assert (folder / "model_card.html").is_file() and (folder / "pr_curves.png").is_file()

    store = open_table_store(spark, config.storage)
    current = load_current_model(spark, store)
    assert current.version == first["model_version"]
    tagged = current.model.transform(store.read("bronze_postings").limit(20)).select("tags", "tag_scores").collect()
    assert all(len(row["tags"]) >= 1 for row in tagged)  # at least one tag per posting
    labels = current.record.labels
    assert store.read("ml_thresholds").where(f"model_version = '{current.version}'").count() == len(labels)
    assert store.read("ml_metrics").where("label is null and metric = 'macro_f1'").count() == 1

    # A model whose threshold tags almost nothing is rejected against the champion...
    bad = config.with_overrides(["calibration.strategy=fixed", "calibration.fixed_threshold=0.999",
                                 "calibration.at_least_one=false", "promotion.tolerance=0"])
    rejected = train.run(spark, bad, RunContext(job="train", run_date=RUN_DATE), args())
    assert rejected["promotion_status"] == "rejected" and "worse than champion" in rejected["promotion_reason"]
    assert ModelRegistry(store).current().model_version == first["model_version"]
    # ... unless forced.
    forced = train.run(spark, bad, RunContext(job="train", run_date=RUN_DATE), argparse.Namespace(**{**vars(args()), "force": True}))
    assert forced["promotion_status"] == "current" and forced["promotion_reason"].startswith("forced over champion")
    statuses = {r.model_version: r.status for r in ModelRegistry(store).models()}
    assert statuses == {first["model_version"]: "archived", rejected["model_version"]: "rejected",
                        forced["model_version"]: "current"}
