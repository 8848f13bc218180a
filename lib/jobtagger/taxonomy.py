"""The label taxonomy shipped in ``conf/taxonomy/``: ids, kinds, names, parents, synonyms.

``load_taxonomy(folder)`` reads every ``labels*.csv`` in the folder (columns
``label,kind,name,parent,synonyms``; synonyms ``|``-separated) in file-name order, so the
hand-written ``labels.csv`` comes first and its order is kept (the generator treats the skill order
as popularity order), plus ``phrases.csv`` (job titles and seniority words per language).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jobtagger.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

LABEL_COLUMNS = ("label", "kind", "name", "parent", "synonyms")
PHRASE_COLUMNS = ("label", "language", "phrases")
PHRASES_FILE = "phrases.csv"
LABEL_ID = re.compile(r"^[a-z][a-z0-9_]*:[a-z0-9][a-z0-9_]*$")
SEPARATOR = "|"


def normalize_key(text: str) -> str:
    """Lookup form of a label, name or synonym: lowercase, trimmed, inner whitespace collapsed."""
    return " ".join(text.lower().split())


def normalize_key_column(column: "Column") -> "Column":
    """Spark twin of :func:`normalize_key`, for joining raw label text against the synonym map."""
    from pyspark.sql import functions as F

    return F.lower(F.trim(F.regexp_replace(column, r"\s+", " ")))


@dataclass(frozen=True)
class Taxonomy:
    """Labels in file order with their kind, display name, parent label and synonyms."""

    labels: tuple[str, ...]
    kinds: Mapping[str, str]
    names: Mapping[str, str]
    parents: Mapping[str, str | None]
    synonyms: Mapping[str, tuple[str, ...]]
    phrases: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    _lookup: Mapping[str | None, Mapping[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookups = {None: _first_claims(self, self.labels)}
        for kind in self.kinds_present():
            lookups[kind] = _first_claims(self, self.labels_of_kind(kind))
        object.__setattr__(self, "_lookup", lookups)

    def labels_of_kind(self, kind: str) -> tuple[str, ...]:
        return tuple(label for label in self.labels if self.kinds[label] == kind)

    def kinds_present(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.kinds[label] for label in self.labels))

    def canonical(self, text: str, *, kind: str | None = None) -> str | None:
        """The label id that ``text`` (an id, name or synonym, any case) stands for, else None.

        With ``kind``, only labels of that kind match and a bare value matches its id too
        (``canonical("senior", kind="seniority")`` -> ``seniority:senior``).
        """
        key = normalize_key(text)
        lookup = self._lookup.get(kind, {})
        if key in lookup:
            return lookup[key]
        return lookup.get(f"{kind}:{snake_case(key)}") if kind is not None else None

    def surface_forms(self, label: str) -> tuple[str, ...]:
        """Name then synonyms: the ways a text can mention the label."""
        return (self.names[label], *self.synonyms[label])

    def phrases_for(self, label: str, language: str) -> tuple[str, ...]:
        return self.phrases.get((label, language), ())


def snake_case(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _first_claims(taxonomy: Taxonomy, labels: tuple[str, ...]) -> dict[str, str]:
    """Key -> label; ids first, then names, then synonyms: the first label claiming a key wins."""
    lookup: dict[str, str] = {label: label for label in labels}
    for label in labels:
        lookup.setdefault(normalize_key(taxonomy.names[label]), label)
    for label in labels:
        for synonym in taxonomy.synonyms[label]:
            lookup.setdefault(normalize_key(synonym), label)
    return lookup


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Read ``labels*.csv`` (+ ``phrases.csv``) from a folder, or one labels CSV file."""
    path = Path(path)
    if path.is_dir():
        label_files = sorted(path.glob("labels*.csv"))
        phrase_file = path / PHRASES_FILE
    else:
        label_files, phrase_file = [path], path.parent / PHRASES_FILE
    if not label_files or not all(file.is_file() for file in label_files):
        raise ConfigError(f"taxonomy not found: no labels*.csv at {path}")
    labels: list[str] = []
    kinds: dict[str, str] = {}
    names: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    synonyms: dict[str, tuple[str, ...]] = {}
    for file in label_files:
        for line_no, row in _read_csv(file, LABEL_COLUMNS):
            label = row["label"].strip()
            where = f"{file.name}:{line_no}"
            if not LABEL_ID.match(label) or label.split(":", 1)[0] != row["kind"].strip():
                raise ConfigError(f"taxonomy {where}: bad label id {label!r} for kind {row['kind']!r}")
            if label in kinds:
                raise ConfigError(f"taxonomy {where}: duplicate label {label!r}")
            labels.append(label)
            kinds[label] = row["kind"].strip()
            names[label] = row["name"].strip() or label.split(":", 1)[1]
            parents[label] = row["parent"].strip() or None
            synonyms[label] = tuple(s.strip() for s in (row["synonyms"] or "").split(SEPARATOR) if s.strip())
    for label, parent in parents.items():
        if parent is not None and parent not in kinds:
            raise ConfigError(f"taxonomy: label {label!r} has unknown parent {parent!r}")
    phrases: dict[tuple[str, str], tuple[str, ...]] = {}
    if phrase_file.is_file():
        for line_no, row in _read_csv(phrase_file, PHRASE_COLUMNS):
            if row["label"] not in kinds:
                raise ConfigError(f"taxonomy {phrase_file.name}:{line_no}: unknown label {row['label']!r}")
            phrases[(row["label"], row["language"])] = tuple(
                p.strip() for p in row["phrases"].split(SEPARATOR) if p.strip()
            )
    return Taxonomy(
        labels=tuple(labels), kinds=kinds, names=names, parents=parents, synonyms=synonyms, phrases=phrases
    )


def _read_csv(file: Path, columns: tuple[str, ...]):
    with file.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(columns) - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(f"taxonomy {file.name}: missing column(s) {sorted(missing)}")
        for line_no, row in enumerate(reader, start=2):
            yield line_no, row


def synonym_map_df(spark: "SparkSession", taxonomy: Taxonomy, *, kinds: list[str] | None = None) -> "DataFrame":
    """(key, label, kind) rows: every id, name and synonym in :func:`normalize_key` form.

    A key maps to one label per kind (the first in file order), so ingest can join raw label
    text on ``normalize_key_column(raw) == key`` (and on kind when it knows the column's kind).
    """
    rows: dict[tuple[str, str], str] = {}
    for label in taxonomy.labels:
        kind = taxonomy.kinds[label]
        if kinds is not None and kind not in kinds:
            continue
        for key in (label, label.split(":", 1)[1], *map(normalize_key, taxonomy.surface_forms(label))):
            rows.setdefault((key, kind), label)
    data = [(key, label, kind) for (key, kind), label in rows.items()]
    return spark.createDataFrame(data, "key string, label string, kind string")
