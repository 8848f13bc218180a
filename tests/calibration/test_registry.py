"""Registry and promotion on a real warehouse (delta tables on disk)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from jobtagger.errors import MissingInputError
from jobtagger.registry import ModelRecord, ModelRegistry, decide_promotion, load_current_model
from jobtagger.tables import open_table_store


def test_decide_promotion_rules():
    first = decide_promotion(challenger=(0.5, 0.4), champion=None, champion_version=None, tolerance=0.01)
    assert first.status == "current" and "first model" in first.reason
    ok = decide_promotion(challenger=(0.795, 0.6), champion=(0.8, 0.6), champion_version="v1", tolerance=0.01)
    assert ok.status == "current"
    worse = decide_promotion(challenger=(0.80, 0.55), champion=(0.8, 0.6), champion_version="v1", tolerance=0.01)
    assert worse.status == "rejected" and "macro-F1 0.5500 < champion 0.6000" in worse.reason
    assert "micro" not in worse.reason.split(":", 1)[1]
    forced = decide_promotion(challenger=(0.7, 0.5), champion=(0.8, 0.6), champion_version="v1", tolerance=0.01, force=True)
    assert forced.status == "current" and forced.reason.startswith("forced over champion v1")


def record(version, micro, macro, path):
    return ModelRecord(
        model_version=version, run_id="r" + version, run_date=dt.date(2026, 11, 1), config_fingerprint="abc",
        strategy="one_vs_rest", threshold_strategy="f1", labels=["a", "b"], path=path, micro_f1=micro,
        macro_f1=macro, metrics={"micro_f1": micro, "macro_f1": macro}, training_table="bronze_postings",
        training_table_version=3, training_seconds=1.5,
    )


@pytest.mark.slow
def test_register_accept_reject_force(spark, make_config):
    config = make_config()
    store = open_table_store(spark, config.storage)
    registry = ModelRegistry(store)
    assert registry.current() is None
    with pytest.raises(MissingInputError):
        load_current_model(spark, store)
    thresholds = spark.createDataFrame([("x", "a", 0.5)], "model_version string, label string, threshold double")
    metrics = spark.createDataFrame([("x", "micro_f1", 0.8)], "model_version string, metric string, value double")

    def register(version, micro, macro, champion, force=False):
        decision = decide_promotion(
            challenger=(micro, macro), champion=champion, champion_version=registry.current() and registry.current().model_version,
            tolerance=config.promotion.tolerance, force=force,
        )
        return registry.register(record(version, micro, macro, registry.model_path(version)), decision,
                                 thresholds=thresholds, metrics=metrics)

    register("v1", 0.8, 0.6, None)
    assert registry.current().model_version == "v1"
    rejected = register("v2", 0.7, 0.6, (0.8, 0.6))
    assert rejected.status == "rejected" and registry.current().model_version == "v1"
    register("v3", 0.7, 0.5, (0.8, 0.6), force=True)
    statuses = {r.model_version: (r.status, r.status_reason) for r in registry.models()}
    assert statuses["v1"] == ("archived", "superseded by v3")
    assert statuses["v2"][0] == "rejected" and "micro-F1 0.7000" in statuses["v2"][1]
    assert statuses["v3"][0] == "current" and "forced" in statuses["v3"][1]
    assert registry.why_current().startswith("v3 is current: forced over champion v1")
    assert registry.get("v3").champion_version == "v1"
    assert registry.get("v3").labels == ["a", "b"] and registry.get("v3").training_table_version == 3
    assert store.read("ml_thresholds").count() == 3


def saved_model(spark, registry, version="v1"):
    from pyspark.ml import PipelineModel

    from jobtagger.calibration import MultiLabelDecision

    model = PipelineModel(stages=[MultiLabelDecision(labels=["a", "b"], thresholds=[0.4, 0.6], atLeastOne=True)])
    registry.save_model(model, version)
    return registry.model_path(version)


def test_models_load_without_pickle(spark, make_config, monkeypatch):
    import pickle
    from pathlib import Path

    registry = ModelRegistry(open_table_store(spark, make_config().storage))
    path = saved_model(spark, registry)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used to load a model")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    loaded = registry.load_model(spark, record("v1", 0.8, 0.6, path))
    assert loaded.stages[0].getOrDefault("thresholds") == [0.4, 0.6]
    files = [file for file in Path(path).rglob("*") if file.is_file()]
    assert files and not [file for file in files if file.read_bytes()[:1] == b"\x80"]  # no pickle stream


def test_saved_decision_keeps_the_class_path_of_models_saved_before_the_package_split(spark, make_config):
    """Saved metadata names jobtagger.calibration.MultiLabelDecision (the path older models hold)."""
    import json
    from pathlib import Path

    registry = ModelRegistry(open_table_store(spark, make_config().storage))
    path = saved_model(spark, registry)
    metadata = json.loads(next(Path(path).glob("stages/*/metadata/part-*")).read_text().splitlines()[0])
    assert metadata["class"] == "jobtagger.calibration.MultiLabelDecision"
    loaded = registry.load_model(spark, record("v1", 0.8, 0.6, path))
    assert type(loaded.stages[0]).__qualname__ == "MultiLabelDecision"


@pytest.mark.parametrize("tamper, message", [
    (lambda folder: (next(folder.glob("stages/*/metadata/part-*")).write_text('{"class": "evil"}')), "changed"),
    (lambda folder: (folder / "stages" / "extra.py").write_text("import os"), "added"),
    (lambda folder: next(folder.glob("stages/*/metadata/part-*")).unlink(), "missing"),
    (lambda folder: Path(str(folder) + ".manifest.json").unlink(), "has no manifest"),
])
def test_a_tampered_model_folder_fails_with_a_clear_error(spark, make_config, tamper, message):
    """What the tag stage loads through (``load_current_model`` -> ``ModelRegistry.load_model``)."""
    from jobtagger.errors import ModelIntegrityError

    registry = ModelRegistry(open_table_store(spark, make_config().storage))
    path = saved_model(spark, registry)
    assert registry.load_model(spark, record("v1", 0.8, 0.6, path)).stages

    tamper(Path(path))

    with pytest.raises(ModelIntegrityError, match=message) as failure:
        registry.load_model(spark, record("v1", 0.8, 0.6, path))
    assert path in str(failure.value) and "\n" not in str(failure.value)
