"""Typed configuration: YAML in ``conf/`` (base + environment) validated into one object.

``load_config("conf/local.yaml", overrides=["training.max_labels=500"])`` reads ``base.yaml`` from
the same folder, deep-merges the environment file over it, applies ``--set`` overrides, and
validates the result. Any unknown key or bad value raises :class:`ConfigError` with one line that
names the key and what was expected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jobtagger.errors import ConfigError

BASE_FILE_NAME = "base.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkConfig(_Section):
    """Session settings; ``master`` is ignored when the job is launched by spark-submit."""

    master: str = "local[2]"
    app_name: str = "jobtagger"
    shuffle_partitions: int = Field(8, ge=1)
    driver_memory: str = "4g"
    log_level: Literal["ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"] = "WARN"
    conf: dict[str, str] = Field(default_factory=dict)


class StorageConfig(_Section):
    """Where tables live and which Delta engine writes them."""

    engine: Literal["auto", "delta-spark", "delta-rs"] = "auto"
    warehouse: Path = Path("warehouse")
    database: str = Field("jobtagger", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class PathsConfig(_Section):
    landing: Path = Path("landing")
    taxonomy: Path = Path("conf/taxonomy")


BadRecordKind = Literal[
    "malformed", "missing_id", "empty_text", "wrong_type", "duplicate_id", "huge_text", "invalid_utf8", "bad_date"
]


class BadRecordsConfig(_Section):
    """Injected bad records: ``rate`` of the rows, kinds assigned round robin."""

    rate: float = Field(0.0, ge=0.0, le=0.5)
    kinds: list[BadRecordKind] = Field(min_length=1, default_factory=lambda: list(get_args(BadRecordKind)))


class GenerateConfig(_Section):
    """Synthetic postings for the demo, tests and benchmarks."""

    rows: int = Field(20_000, ge=1)
    seed: int = 42
    start_date: dt.date = dt.date(2026, 11, 1)
    days: int = Field(1, ge=1)
    formats: list[Literal["jsonl", "csv", "parquet"]] = Field(
        min_length=1, default_factory=lambda: ["jsonl", "csv", "parquet"]
    )
    compression: Literal["none", "gzip"] = "none"
    skills: int = Field(200, ge=10, le=5000)
    labelled_fraction: float = Field(1.0, ge=0.0, le=1.0)
    files_per_format: int = Field(2, ge=1)
    bad_records: BadRecordsConfig = Field(default_factory=BadRecordsConfig)

    @field_validator("formats")
    @classmethod
    def _formats_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each format may be listed once")
        return value


class IngestConfig(_Section):
    """Landing files -> bronze. External corpora are mapped by ``id_column``, ``text_columns``
    and ``label_columns``; the defaults fit the generated landing files."""

    max_text_chars: int = Field(100_000, ge=100)
    allowed_languages: list[str] = Field(default_factory=lambda: ["en", "de", "fr", "es"])
    min_posted_at: dt.date = dt.date(2000, 1, 1)
    max_future_days: int = Field(7, ge=0)
    max_quarantine_share: float = Field(
        0.5, ge=0.0, le=1.0,
        description="gate: most of a batch's records that may be quarantined as bad (older duplicate versions not counted)",
    )
    max_dropped_label_share: float = Field(
        0.5, ge=0.0, le=1.0,
        description="gate: most of the labels of a batch's postings that may be dropped as unknown (unknown_labels=drop)",
    )
    unknown_labels: Literal["keep", "drop", "quarantine"] = "drop"
    label_columns: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "source column -> label kind or label id. A kind ('category') makes a categorical "
            "column: value 'Data Scientist' gives 'category:data_scientist' (na/empty gives none). "
            "A label id ('skill:python') makes a flag column: the label is set when the value is "
            "1/true/yes."
        ),
    )
    id_column: str = "posting_id"
    text_columns: dict[str, str] = Field(
        default_factory=dict, description="canonical field -> source column renames"
    )
    labels_column: str = Field("labels", description="source column holding a label array ('|'-joined in CSV)")
    split_column: str = Field("split", description="source column with a corpus split (train/test), kept in bronze")
    csv_label_separator: str = Field("|", min_length=1)


class FeaturesConfig(_Section):
    engine: Literal["spark-ml", "spark-nlp"] = "spark-ml"
    vocabulary: Literal["hashing", "count"] = "count"
    num_features: int = Field(1 << 16, ge=64)
    min_doc_freq: int = Field(2, ge=1)
    ngram_max: int = Field(2, ge=1, le=3)
    title_weight: int = Field(2, ge=1, le=10)
    sublinear_tf: bool = True
    min_token_length: int = Field(2, ge=1)
    # Drop the stop words of en/de/fr/es. On short fields a stop word can be the signal ("IT
    # support", "US"), and the word n-grams are built after the drop.
    remove_stop_words: bool = True
    categorical: list[Literal["company", "country", "language"]] = Field(default_factory=list)
    # Character n-grams of each kept token, sizes e.g. [3, 4, 5] (empty: words only): they carry
    # misspellings, inflections and parts of compound words that whole tokens lose on short texts.
    # The vocabulary keeps the char_ngram_features most frequent grams besides the num_features
    # words, so the grams, far more frequent than most words, push no word out. The fused scorer
    # makes them too, though a model with them tags slower than a words-only one (more terms per
    # token).
    char_ngrams: list[int] = Field(default_factory=list)
    char_ngram_features: int = Field(1 << 16, ge=64)
    # "auto" (the default): when char_ngrams is empty, training also fits words + character
    # 3-5-grams and keeps whichever validates better on training data (jobtagger.feature_selection),
    # while training postings x labels is at most select_max_cells (each candidate is a full fit;
    # larger corpora keep the configured features). "never": as set (a grams model tags slower).
    select_char_ngrams: Literal["auto", "never"] = "auto"
    select_max_cells: int = Field(2_000_000, ge=0)

    @field_validator("char_ngrams")
    @classmethod
    def _char_ngram_sizes(cls, value: list[int]) -> list[int]:
        if any(not 3 <= size <= 6 for size in value) or len(set(value)) != len(value):
            raise ValueError("char_ngrams are distinct sizes from 3 to 6, e.g. [3, 4, 5]")
        return sorted(value)


class SplitConfig(_Section):
    validation: float = Field(0.15, gt=0.0, lt=0.5)
    test: float = Field(0.15, gt=0.0, lt=0.5)
    seed: int = 7


class TrainingConfig(_Section):
    strategy: Literal["one_vs_rest", "multi_output"] = "one_vs_rest"
    max_labels: int = Field(5000, ge=1)
    # 1: a label with a handful of postings is modelled; thresholds pool or rank-fall-back for it.
    min_support: int = Field(1, ge=1)
    max_iter: int = Field(50, ge=1, description="one_vs_rest: L-BFGS iterations per label")
    epochs: int = Field(10, ge=1, description="multi_output: passes of mini-batch Adam")
    reg_param: float = Field(1e-4, ge=0.0, description="L2 strength when reg_grid is empty")
    # Where an optimizer pass meets the cached training blocks: "auto" runs the passes in the
    # driver when the blocks are small (no Spark job per pass), else through shared files in
    # local mode or a broadcast + treeReduce on a cluster; the others force one way.
    pass_exchange: Literal["auto", "spark", "shared-files", "driver"] = "auto"
    # L2 strengths tried on training data only (the validation carve, or out-of-fold scores with
    # calibration.folds): the one whose held-out micro- + macro-F1 is best is kept. Fitted
    # strongest first, each warm-started from the previous one. Empty: reg_param, no selection.
    reg_grid: list[float] = Field(default_factory=lambda: [3e-6, 1e-6])
    # When the strongest or the weakest of reg_grid validates best, by more than
    # reg_extend_min_gain of held-out micro- + macro-F1 over its neighbour, one more strength a
    # grid step past that edge is fitted and judged, up to reg_extend times, while the edge keeps
    # winning so (jobtagger.reg_selection). 0: the grid only. Smaller gains are within the noise
    # of the held-out figures and not worth a fit.
    reg_extend: int = Field(2, ge=0)
    reg_extend_min_gain: float = Field(0.002, ge=0.0)
    # The model kept when thresholds come from out-of-fold scores (calibration.folds): "refit"
    # fits it again on all of train at the chosen strength; "fold_average" keeps the mean of the
    # fold models (weights, biases and logit offsets: the mean of their logits, one model of the
    # same size, no extra fit), whose scores are distributed like the out-of-fold scores the
    # thresholds were fitted on. Linear models only (hidden_units 0; else refit); without folds
    # the model fitted on train is kept either way.
    final_model: Literal["refit", "fold_average"] = "refit"
    learning_rate: float = Field(0.05, gt=0.0)
    batch_size: int = Field(256, ge=1)
    hidden_units: int = Field(0, ge=0)
    class_weight: Literal["none", "balanced"] = "balanced"
    negative_samples: int = Field(0, ge=0)
    tolerance: float = Field(1e-4, ge=0.0)
    split: SplitConfig = Field(default_factory=SplitConfig)

    @field_validator("reg_grid")
    @classmethod
    def _grid_strongest_first(cls, value: list[float]) -> list[float]:
        if any(reg <= 0 for reg in value):
            raise ValueError("reg_grid values must be > 0")
        return sorted(set(value), reverse=True)


AUTO_FOLDS = 5  # calibration.folds: auto


class CalibrationConfig(_Section):
    strategy: Literal["f1", "f_beta", "precision_at_least", "fixed"] = "f1"
    beta: float = Field(1.0, gt=0.0)
    min_precision: float = Field(0.8, gt=0.0, le=1.0)
    fixed_threshold: float = Field(0.5, gt=0.0, lt=1.0)
    min_positives: int = Field(3, ge=1)
    min_f1: float = Field(0.3, ge=0.0, le=1.0)
    # The per-label threshold rule of the f1 / f_beta strategies (labels with fewer than
    # min_positives validation positives share one threshold, see few_positives_rule):
    # "switch_off" the F-best threshold, or above every validation score when the best F1 is under
    #   min_f1 (SCutFBR.0: the label is in effect switched off);
    # "scut" the F-best threshold, always; "scut_rank" the F-best threshold, or when the best F1 is
    #   under min_f1 the top validation score (SCutFBR.1: the label fires on its top-ranked items);
    # "global" one threshold for all labels (pooled micro-F1);
    # "select" per label the one of scut_rank / scut / global with the best cross-fitted F on
    #   validation (threshold fitted on one half of the rows, measured on the other, both ways).
    #   A label with fewer than select_min_positives validation positives keeps scut_rank: with a
    #   handful of positives per half the cross-fitted figures are a coin flip, and the F-best
    #   threshold of one or two positives is as likely to sit among the negatives as above them.
    rule: Literal["switch_off", "scut", "scut_rank", "global", "select"] = "select"
    select_min_positives: int = Field(10, ge=2)
    # The one threshold shared by the labels under min_positives validation positives: "global" the
    # global micro-F1 threshold of all labels; "pooled_few" the micro-F1 threshold pooled over those
    # labels only; "select" the better of the two by cross-fitted micro-F1 over those labels
    # (global unless the pooled one wins by more than one standard error).
    few_positives_rule: Literal["global", "pooled_few", "select"] = "select"
    # 0: thresholds on a validation carve of train. k >= 2: on out-of-fold scores of k models
    # (every training posting held out once, so rare labels get their own threshold); the kept
    # model is then refitted on all of train or is the fold models' average (training.final_model);
    # costs k extra fits. "auto": AUTO_FOLDS folds when the
    # carve leaves a modelled label with fewer than min_positives validation positives and the
    # extra fits are cheap: training postings x labels at most auto_folds_max_cells (a fit costs
    # about that); the carve otherwise.
    folds: int | Literal["auto"] = "auto"
    auto_folds_max_cells: int = Field(2_000_000, ge=0)
    score_calibration: Literal["none", "platt", "isotonic"] = "none"
    isotonic_min_samples: int = Field(1000, ge=10)
    at_least_one: bool = True
    max_labels_per_posting: int = Field(20, ge=1)
    # A tag implies its taxonomy parent: "same_kind" only within a kind (skill -> broader skill);
    # "all" also across kinds (the shipped taxonomy gives skills a home category: usually too broad).
    parent_consistency: Literal["none", "same_kind", "all"] = "same_kind"

    @model_validator(mode="after")
    def _rule_needs_f_beta(self) -> "CalibrationConfig":
        if "rule" in self.model_fields_set and self.rule != "switch_off" and self.strategy not in ("f1", "f_beta"):
            raise ValueError(f"rule {self.rule!r} needs strategy f1 or f_beta (strategy {self.strategy!r} sets its own rule)")
        return self

    @property
    def effective_rule(self) -> str:
        """The rule thresholds follow: ``rule`` for f1 / f_beta, else the strategy's own."""
        return self.rule if self.strategy in ("f1", "f_beta") else self.strategy

    @field_validator("folds")
    @classmethod
    def _folds_zero_or_several(cls, value: int | str) -> int | str:
        if value != "auto" and (value == 1 or not 0 <= value <= 20):
            raise ValueError("folds must be 0 (a validation carve), 2 to 20, or auto")
        return value


class PromotionConfig(_Section):
    tolerance: float = Field(0.01, ge=0.0, le=1.0)


class TaggingConfig(_Section):
    mode: Literal["daily", "backfill"] = "daily"
    top_candidates: int = Field(5, ge=0)
    drift_bound: float = Field(0.2, ge=0.0, le=1.0)
    drift_min_share: float = Field(0.01, ge=0.0, le=1.0)
    drift_min_z: float = Field(
        4.0, ge=0.0,
        description=(
            "a share change counts as drift only when its two-proportion z-statistic reaches this "
            "(4: about 6 in 100,000 tags of a clean day flagged by chance); 0 checks the bound alone"
        ),
    )


class QualityConfig(_Section):
    """Great Expectations suites: results (JSON + Data Docs) go to ``{warehouse}/{results_dir}``."""

    results_dir: str = "_quality"
    max_title_chars: int = Field(500, ge=1)
    language_mostly: float = Field(
        0.99, gt=0.0, le=1.0, description="share of bronze rows whose language must be allowed (critical)"
    )


class JobtaggerConfig(_Section):
    spark: SparkConfig = Field(default_factory=SparkConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    tagging: TaggingConfig = Field(default_factory=TaggingConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)

    @field_validator("storage")
    @classmethod
    def _warehouse_not_empty(cls, value: StorageConfig) -> StorageConfig:
        if str(value.warehouse).strip() in ("", "."):
            raise ValueError("storage.warehouse must name a folder, not the working directory")
        return value

    def fingerprint(self) -> str:
        """Stable hash of the settings that shape a model (recorded in the registry)."""
        relevant = {k: self.model_dump(mode="json")[k] for k in ("features", "training", "calibration")}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

    def with_overrides(self, overrides: list[str]) -> "JobtaggerConfig":
        """This config with ``section.key=value`` overrides, validated as if they were in its file.

        Only the keys that were set are carried over, so a default stays a default: a validator
        that checks a combination the user chose (``calibration.rule`` with ``strategy``) does not
        see defaults as choices.
        """
        raw = self.model_dump(mode="json", exclude_unset=True)
        for item in overrides:
            _apply_override(raw, item)
        return validate_config(raw)


def load_config(path: str | Path, *, overrides: list[str] | None = None) -> JobtaggerConfig:
    """Read ``base.yaml`` beside ``path`` (if any), merge ``path`` over it, apply overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    raw: dict[str, Any] = {}
    base = path.parent / BASE_FILE_NAME
    if base.is_file() and base.resolve() != path.resolve():
        raw = _read_yaml(base)
    raw = _deep_merge(raw, _read_yaml(path))
    for item in overrides or []:
        _apply_override(raw, item)
    return validate_config(raw)


def validate_config(raw: dict[str, Any]) -> JobtaggerConfig:
    try:
        return JobtaggerConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "<root>"
    if first["type"] == "extra_forbidden":
        return f"config error: unknown key '{key}'"
    got = first.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    more = f"; {len(exc.errors()) - 1} more error(s)" if len(exc.errors()) > 1 else ""
    return f"config error: {key}: {first['msg']}{shown}{more}"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config error: {path} is not valid YAML: {exc}".replace("\n", " ")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config error: {path} must hold a mapping at the top level")
    return data


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` override; the value is parsed as YAML (so ``3`` is an int)."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"config error: override {item!r} must look like section.key=value")
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"config error: override {item!r}: '{part}' is not a section")
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        node[parts[-1]] = text
