"""The shipped taxonomy and its loader: kinds, ids, lookups, errors, the Spark synonym map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jobtagger.errors import ConfigError
from jobtagger.taxonomy import load_taxonomy, normalize_key_column, synonym_map_df

TAXONOMY = Path(__file__).resolve().parents[1] / "conf" / "taxonomy"
HEADER = "label,kind,name,parent,synonyms\n"


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(TAXONOMY)


def test_shipped_taxonomy_has_every_kind_in_the_expected_sizes(taxonomy):
    assert len(taxonomy.labels_of_kind("category")) == 30
    assert {label.split(":")[1] for label in taxonomy.labels_of_kind("seniority")} == {
        "intern", "junior", "mid", "senior", "lead", "director"}
    assert {"language:en", "language:de", "language:fr", "language:es"} <= set(taxonomy.labels_of_kind("language"))
    assert len(taxonomy.labels_of_kind("skill")) >= 5000
    assert len(set(taxonomy.labels)) == len(taxonomy.labels)
    assert all(re.fullmatch(r"[a-z]+:[a-z0-9_]+", label) for label in taxonomy.labels)
    assert all(parent in taxonomy.kinds for parent in taxonomy.parents.values() if parent)


def test_shipped_files_stay_small():
    assert sum(f.stat().st_size for f in TAXONOMY.glob("*.csv")) < 700_000


def test_every_category_and_seniority_has_phrases_in_every_language(taxonomy):
    for label in (*taxonomy.labels_of_kind("category"), *taxonomy.labels_of_kind("seniority")):
        for language in ("en", "de", "fr", "es"):
            assert taxonomy.phrases_for(label, language), (label, language)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("skill:python", None, "skill:python"),
        ("  PYTHON ", None, "skill:python"),
        ("golang", None, "skill:go"),
        ("Data   Scientist", None, "category:data_science"),
        ("jr", None, "seniority:junior"),
        ("senior", "seniority", "seniority:senior"),
        ("de", "language", "language:de"),
        ("German", "language", "language:de"),
        ("python", "category", None),
        ("no such thing", None, None),
    ],
)
def test_canonical_maps_ids_names_and_synonyms(taxonomy, text, kind, expected):
    assert taxonomy.canonical(text, kind=kind) == expected


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("skill:a,skill,A,,\nskill:a,skill,A again,,\n", "duplicate label"),
        ("Skill:A,skill,A,,\n", "bad label id"),
        ("skill:a,category,A,,\n", "bad label id"),
        ("skill:a,skill,A,category:missing,\n", "unknown parent"),
    ],
)
def test_invalid_taxonomies_fail_with_one_line(tmp_path, rows, message):
    (tmp_path / "labels.csv").write_text(HEADER + rows, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_taxonomy(tmp_path)


def test_missing_taxonomy_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="taxonomy not found"):
        load_taxonomy(tmp_path)


def test_synonym_map_joins_raw_label_text(spark, taxonomy):
    mapping = synonym_map_df(spark, taxonomy, kinds=["seniority", "skill"])
    raw = spark.createDataFrame([("1", " Sr "), ("2", "k8s"), ("3", "unknown"), ("4", "skill:python")], "id string, raw string")
    joined = raw.join(mapping, normalize_key_column(raw["raw"]) == mapping["key"], "left")
    assert {(r.id, r.label) for r in joined.collect()} == {
        ("1", "seniority:senior"), ("2", "skill:kubernetes"), ("3", None), ("4", "skill:python")}
    assert mapping.groupBy("key", "kind").count().filter("count > 1").count() == 0
