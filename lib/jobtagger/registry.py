"""Model registry over the table layer: versions, thresholds, metrics, the current model and why.

``ml_models`` holds one row per model version (status ``current``, ``rejected`` or ``archived``
with a reason); ``ml_thresholds`` and ``ml_metrics`` hold that version's thresholds and metrics.
The fitted ``PipelineModel`` [feature stages, classifier, MultiLabelDecision] lives in
``{warehouse}/_models/{version}/model`` with its card beside it. It is saved and loaded without
pickle (Spark ML's JSON params and Parquet data; our stages' arrays as ``.npy`` with
``allow_pickle=False``). Saving also writes ``model.manifest.json`` beside the folder: the SHA-256
of every file in it. Loading checks the folder against it first, so a folder whose files were
changed, added or removed (or that has no manifest) fails with :class:`ModelIntegrityError`
naming the files, instead of loading something else.

Promotion: a challenger becomes current only if its micro-F1 and macro-F1 on the comparison test
set are each no more than ``tolerance`` below the champion's on the same rows; otherwise it is
recorded as rejected with the reason. ``force`` promotes anyway and says so in the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobtagger.errors import MissingInputError, ModelIntegrityError
from jobtagger.tables.base import TableStore
from jobtagger.tables.schemas import ML_METRICS, ML_MODELS, ML_MODELS_SCHEMA, ML_THRESHOLDS

Status = Literal["current", "rejected", "archived"]
MODELS_FOLDER = "_models"
MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class ModelRecord:
    """One row of ``ml_models``."""

    model_version: str
    run_id: str
    run_date: dt.date
    config_fingerprint: str
    strategy: str
    threshold_strategy: str
    labels: list[str]
    path: str
    micro_f1: float | None
    macro_f1: float | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    training_table: str | None = None
    training_table_version: int | None = None
    training_seconds: float | None = None
    status: Status = "rejected"
    status_reason: str = ""
    champion_version: str | None = None
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    def row(self, *, updated_at: dt.datetime) -> tuple:
        return (
            self.model_version, self.created_at, self.run_id, self.run_date, self.training_table,
            self.training_table_version, self.config_fingerprint, self.strategy, self.threshold_strategy,
            list(self.labels), len(self.labels), self.training_seconds, self.micro_f1, self.macro_f1,
            {k: float(v) for k, v in self.metrics.items() if v is not None}, self.status,
            self.status_reason, self.champion_version, self.path, updated_at,
        )

    @classmethod
    def from_row(cls, row) -> "ModelRecord":
        values = row.asDict()
        for derived in ("label_count", "updated_at"):
            values.pop(derived)
        values["labels"] = list(values["labels"])
        values["metrics"] = dict(values["metrics"] or {})
        return cls(**values)


@dataclass(frozen=True)
class PromotionDecision:
    status: Status
    reason: str


def decide_promotion(
    *,
    challenger: tuple[float, float],
    champion: tuple[float, float] | None,
    champion_version: str | None,
    tolerance: float,
    force: bool = False,
) -> PromotionDecision:
    """``challenger``/``champion``: (micro-F1, macro-F1) on the same test rows."""
    if champion is None:
        return PromotionDecision("current", "first model: no champion to compare with")
    names = ("micro-F1", "macro-F1")
    worse = [
        f"{name} {new:.4f} < champion {old:.4f} - tolerance {tolerance}"
        for name, new, old in zip(names, challenger, champion)
        if new < old - tolerance
    ]
    compared = ", ".join(f"{n} {new:.4f} vs {old:.4f}" for n, new, old in zip(names, challenger, champion))
    if not worse:
        return PromotionDecision("current", f"not worse than champion {champion_version} ({compared}; tolerance {tolerance})")
    if force:
        return PromotionDecision("current", f"forced over champion {champion_version} although {'; '.join(worse)}")
    return PromotionDecision("rejected", f"worse than champion {champion_version}: {'; '.join(worse)}")


class ModelRegistry:
    """Reads and writes ``ml_models``, ``ml_thresholds``, ``ml_metrics`` and the model folders."""

    def __init__(self, store: TableStore) -> None:
        self.store = store

    def model_dir(self, version: str) -> str:
        return f"{self.store.warehouse.rstrip('/')}/{MODELS_FOLDER}/{version}"

    def model_path(self, version: str) -> str:
        return f"{self.model_dir(version)}/model"

    def card_path(self, version: str) -> str:
        return f"{self.model_dir(version)}/model_card.html"

    def save_model(self, model: PipelineModel, version: str) -> str:
        """Save the fitted pipeline under :meth:`model_path` and write its manifest."""
        path = self.model_path(version)
        model.write().save(path)
        write_model_manifest(path)
        return path

    def load_model(self, spark: SparkSession, record: ModelRecord) -> PipelineModel:
        """The model of ``record``, after checking its folder against its manifest."""
        verify_model_folder(record.path)
        try:
            return PipelineModel.read().session(spark).load(record.path)
        except Exception as exc:  # noqa: BLE001 - any load failure gets one line naming the folder
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelIntegrityError(f"model {record.model_version} at {record.path} does not load: {first}") from None

    def models(self) -> list[ModelRecord]:
        if not self.store.exists(ML_MODELS):
            return []
        rows = self.store.read(ML_MODELS).orderBy("created_at").collect()
        return [ModelRecord.from_row(row) for row in rows]

    def current(self) -> ModelRecord | None:
        """The current model (the latest one marked current), or None before the first promotion."""
        current = [record for record in self.models() if record.status == "current"]
        return current[-1] if current else None

    def get(self, version: str) -> ModelRecord:
        for record in self.models():
            if record.model_version == version:
                return record
        raise MissingInputError(f"model version {version!r} is not in the registry")

    def register(
        self,
        record: ModelRecord,
        decision: PromotionDecision,
        *,
        thresholds: DataFrame,
        metrics: DataFrame,
        metadata: Mapping[str, str] | None = None,
    ) -> ModelRecord:
        """Write thresholds and metrics, then the model row (and archive the old champion) in one merge."""
        champion = self.current()
        now = dt.datetime.now(dt.timezone.utc)
        record = replace(
            record,
            status=decision.status,
            status_reason=decision.reason,
            champion_version=champion.model_version if champion else None,
        )
        # merge: tables written before the rule columns existed gain them (older rows null)
        self.store.write(thresholds, ML_THRESHOLDS, mode="append", schema_mode="merge", metadata=metadata)
        self.store.write(metrics, ML_METRICS, mode="append", metadata=metadata)
        rows = [record.row(updated_at=now)]
        if champion is not None and decision.status == "current":
            archived = replace(champion, status="archived", status_reason=f"superseded by {record.model_version}")
            rows.append(archived.row(updated_at=now))
        spark = self.store.spark
        self.store.merge(
            spark.createDataFrame(rows, ML_MODELS_SCHEMA), ML_MODELS, keys=["model_version"], metadata=metadata
        )
        return record

    def why_current(self) -> str:
        current = self.current()
        if current is None:
            return "no current model: train one with 'jobtagger train'"
        return f"{current.model_version} is current: {current.status_reason}"

    def thresholds(self, version: str) -> DataFrame:
        return self.store.read(ML_THRESHOLDS).where(F.col("model_version") == version)

    def metrics(self, version: str) -> DataFrame:
        return self.store.read(ML_METRICS).where(F.col("model_version") == version)


@dataclass(frozen=True)
class CurrentModel:
    model: PipelineModel
    record: ModelRecord

    @property
    def version(self) -> str:
        return self.record.model_version


def load_current_model(spark: SparkSession, store: TableStore) -> CurrentModel:
    """The current ``PipelineModel`` (loaded into ``spark``) and its registry row, for the tag stage."""
    registry = ModelRegistry(store)
    record = registry.current()
    if record is None:
        raise MissingInputError("no current model in the registry: run 'jobtagger train' first")
    return CurrentModel(model=registry.load_model(spark, record), record=record)


def _folder_digests(folder: str) -> dict[str, str]:
    """SHA-256 of every file below ``folder`` by relative path (Hadoop's ``.crc`` files included)."""
    digests = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            full = os.path.join(root, name)
            digest = hashlib.sha256()
            with open(full, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            digests[os.path.relpath(full, folder)] = digest.hexdigest()
    return dict(sorted(digests.items()))


def write_model_manifest(folder: str) -> str:
    """Write ``<folder>.manifest.json`` with the digests of the saved model's files."""
    target = folder.rstrip("/") + MANIFEST_SUFFIX
    with open(target, "w", encoding="utf-8") as handle:
        json.dump({"algorithm": "sha256", "files": _folder_digests(folder)}, handle, indent=1)
    return target


def verify_model_folder(folder: str) -> None:
    """Raise ModelIntegrityError unless ``folder`` holds exactly the files of its manifest."""
    manifest = folder.rstrip("/") + MANIFEST_SUFFIX
    if not os.path.isdir(folder):
        raise ModelIntegrityError(f"model folder {folder} is missing")
    try:
        with open(manifest, encoding="utf-8") as handle:
            expected = json.load(handle)["files"]
    except FileNotFoundError:
        raise ModelIntegrityError(f"model folder {folder} has no manifest {manifest}: retrain the model") from None
    except (ValueError, KeyError, TypeError):
        raise ModelIntegrityError(f"model manifest {manifest} is unreadable") from None
    actual = _folder_digests(folder)
    changed = sorted(name for name in expected.keys() & actual.keys() if expected[name] != actual[name])
    missing, added = sorted(expected.keys() - actual.keys()), sorted(actual.keys() - expected.keys())
    if changed or missing or added:
        parts = [f"{label} {names[:3]}{' ...' if len(names) > 3 else ''}"
                 for label, names in (("changed", changed), ("missing", missing), ("added", added)) if names]
        raise ModelIntegrityError(f"model folder {folder} does not match its manifest: {'; '.join(parts)}")
