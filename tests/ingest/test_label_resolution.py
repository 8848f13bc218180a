"""Label resolution in one Arrow pass (``jobtagger.label_resolution``): the batch function on
hand-built arrays, and the Spark path against the Spark expressions it replaced
(``reference_labels.py``) on labels at the edges of the Java/Arrow split."""

from __future__ import annotations

import pyarrow as pa
import pytest
from chispa import assert_df_equality

from jobtagger.config import IngestConfig
from jobtagger.label_resolution import label_keys, label_lookup, map_labels, resolve_label_arrays
from jobtagger.taxonomy import load_taxonomy
from ingest_support import REPO_ROOT
from reference_labels import map_labels as reference_map_labels

LOOKUP = {"skill:python": "skill:python", "skill:python3": "skill:python", "seniority:jr": "seniority:junior",
          "skill:sql": "skill:sql", "skill:\u00e9cole": "skill:ecole"}
KEYS = pa.array(sorted(LOOKUP))
IDS = pa.array([LOOKUP[key] for key in sorted(LOOKUP)])
EDGE_LABELS = [
    "Skill:Python", "skill : SQL", "skill :SQL", "skill: sql", "skill  :  sql", "nonsense:x", " seniority:jr ", "",
    "  ", "\tskill:python\n", "skill:\tpython3", "SKILL:PYTHON3", "skill:\u00c9cole", "SK\u0130LL:x", "\u00a0skill:sql",
    "skill:sql\u00a0", "a:b:c", ":", " : ", "python", "skill:py thon", "skill:\u00e9cole ", "x\u2028y", "\u03a3\u039f\u03a3",
    "category:Nursing", "category:nursing", "skill:PYTHON", "seniority : jr",
]


def lists(rows):
    return pa.array(rows, pa.list_(pa.string()))


def test_labels_are_trimmed_keyed_looked_up_sorted_and_distinct():
    given = lists([
        ["skill:Python3", "nonsense:x", " seniority:jr ", "Skill : python"],
        [],
        None,
        ["", "  "],
        ["b:y", "a:x", "b:y", "skill:python"],
    ])
    resolved = resolve_label_arrays(given, None, keys=KEYS, ids=IDS, keep_unknown=False).to_pylist()
    assert resolved == [
        {"labels": ["seniority:junior", "skill:python"], "unknown_labels": ["nonsense:x"]},
        {"labels": None, "unknown_labels": []},
        {"labels": None, "unknown_labels": []},
        {"labels": None, "unknown_labels": []},
        {"labels": ["skill:python"], "unknown_labels": ["a:x", "b:y"]},
    ]


def test_keep_policy_keeps_unknown_labels_and_extra_labels_are_added_as_given():
    given = lists([["nonsense:x", "skill:sql"], None, ["Zeta:1"]])
    extra = lists([["seniority:jr"], ["skill:python"], []])
    resolved = resolve_label_arrays(given, extra, keys=KEYS, ids=IDS, keep_unknown=True).to_pylist()
    assert resolved == [
        {"labels": ["nonsense:x", "seniority:junior", "skill:sql"], "unknown_labels": ["nonsense:x"]},
        {"labels": ["skill:python"], "unknown_labels": []},
        {"labels": ["Zeta:1"], "unknown_labels": ["Zeta:1"]},
    ]


def test_keys_follow_the_java_chain():
    keys = label_keys(pa.array(["Skill : Python", "a\t\n b", "\u00a0X", "SK\u0130LL:x", "k :v: w", None]))
    assert keys.to_pylist() == ["skill:python", "a b", "\u00a0x", "sk\u0069\u0307ll:x", "k:v: w", None]


def test_bytes_that_are_not_utf8_do_not_fail_the_batch():
    broken = pa.array([b"skill:python", b"skill:\xff\xfe", b"\xc3"], pa.binary()).view(pa.string())
    given = pa.ListArray.from_arrays(pa.array([0, 2, 3], pa.int32()), broken)
    resolved = resolve_label_arrays(given, None, keys=KEYS, ids=IDS, keep_unknown=False).to_pylist()
    assert resolved[0] == {"labels": ["skill:python"], "unknown_labels": ["skill:\ufffd\ufffd"]}
    assert resolved[1] == {"labels": [], "unknown_labels": ["\ufffd"]}


@pytest.mark.parametrize("policy", ["keep", pytest.param("drop", marks=pytest.mark.slow)])
def test_spark_path_equals_the_reference_expressions(spark, policy):
    lookup = {key: label for key, label in label_lookup(load_taxonomy(REPO_ROOT / "conf" / "taxonomy")).items()
              if key.startswith(("category:", "seniority:"))} | LOOKUP
    config = IngestConfig(unknown_labels=policy, label_columns={"level": "seniority", "remote": "work:remote"})
    rows = [(i, EDGE_LABELS[i: i + 5], {"level": level, "remote": remote})
            for i, (level, remote) in enumerate(zip(["Junior", "n/a", None, " Senior-Level "] * 8, ["yes", "0", "1", None] * 8))]
    rows += [(100, None, {}), (101, [], {"level": "lead"}), (102, [None, "skill:sql"], {})]
    raw = spark.createDataFrame(rows, "id int, labels array<string>, label_values map<string,string>").repartition(2)
    new = map_labels(raw, config=config, lookup=lookup).drop("label_values")
    old = reference_map_labels(raw, config=config, lookup=lookup, resolve="udf").drop("label_values")
    rows = new.collect()
    assert sum(len(row.unknown_labels) > 0 for row in rows) > 5 and sum(len(row.labels or []) > 2 for row in rows) > 5
    assert any(row.labels is None for row in rows)
    assert_df_equality(spark.createDataFrame(rows, new.schema), old, ignore_row_order=True, ignore_nullable=True)
