"""The fused scorer's lower-casing against the JVM's: what the JVM hands the pass, lower-cased by
the pass, equals ``String.toLowerCase()`` of the text, for every script, the context-dependent
capital sigma, the dotted capital I and malformed UTF-8."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from jobtagger.fused.lowercase import JavaLowercase, Lowercaser, java_lowercase, jvm_lowercased
from jobtagger.fused.plan import probe_jvm_text

# Pieces random texts are made of: ASCII, accents, final-sigma contexts, Turkish and dotted I,
# letters whose lower case is longer or shorter in UTF-8, supplementary scripts with case, and
# Unicode 14 capitals Java 17 does not know.
PIECES = [
    "Python", "SQL", "C++", "node.JS", " ", "-", ".", "'", "1", "ÉCOLE", "Straße", "ẞ", "ǅ", "Ǆ",
    "ΟΔΥΣΣΕΥΣ", "ΑΣ-Β", "Σ", "σ", "ς", "ΑΣ1", "İ", "I", "ı", "i̇", "IŞIK", "Ⱥ", "Ⱦ", "K", "Ω", "Å",
    "Ⅻ", "Ⓐ", "ＡＢＣ", "ПРИВЕТ", "ᲐᲑᲒ", "𐐀𐐁", "𞤀", "𝐀", "Ⰿ", "Ꟁ", "😀", "日本",
]
# Byte strings that are not UTF-8 (each decoded by the JVM's replacement rules), and pieces of
# valid characters cut short.
MALFORMED = [
    b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xc3", b"\xc3A", b"\xe0\x80\x80", b"\xe0\xa0", b"\xe0\x9fA",
    b"\xe2\x82", b"\xe2\x82A", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xef\xbf\xbd", b"\xf0\x80\x80\x80",
    b"\xf0\x9f\x98", b"\xf0\x9f\x98A", b"\xf0\x9fA", b"\xf4\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf5\x80\x80\x80",
    b"\xf8\x88\x80\x80\x80", b"\xff", b"\xfe", b"\xf0", b"\xe1", b"\xf1\x80", b"\xf1\x80\x80",
]


def random_texts(count: int, seed: int) -> list[bytes]:
    """Texts of a few random pieces; every fourth holds a malformed byte string, some end with one."""
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(count):
        parts = [PIECES[k].encode() for k in rng.integers(0, len(PIECES), rng.integers(0, 8))]
        if i % 4 == 0:
            parts.insert(int(rng.integers(0, len(parts) + 1)), MALFORMED[i // 4 % len(MALFORMED)])
        texts.append(b"".join(parts))
    return texts


@pytest.fixture(scope="module")
def mapping(spark) -> JavaLowercase:
    lowercase = probe_jvm_text(spark).lowercase
    assert lowercase is not None, "the test JVM's default locale has lower-casing rules of its own"
    return lowercase


def test_the_pass_lowercases_what_the_jvm_hands_it_as_the_jvm(spark, mapping):
    texts = [*(piece.encode() for piece in PIECES), *MALFORMED, *random_texts(3000, seed=7), b""]
    frame = spark.createDataFrame(pa.table({"raw": pa.array(texts, pa.binary())})).select(
        F.col("raw").cast("string").alias("text"))
    both = frame.select(java_lowercase(F.col("text")).alias("expected"),
                        jvm_lowercased(F.col("text"), mapping).alias("handed")).toArrow()

    lowered = Lowercaser(mapping).lowercased(both.column("handed").combine_chunks())

    expected = both.column("expected").to_pylist()
    mismatches = [(texts[i], got, want) for i, (got, want) in enumerate(zip(lowered.to_pylist(), expected)) if got != want]
    assert not mismatches, mismatches[:5]


def test_the_jvm_keeps_only_the_texts_with_a_capital_sigma(spark, mapping):
    frame = spark.createDataFrame([("ΟΔΥΣΣΕΥΣ",), ("ÉCOLE İ",)], "text string")
    handed = [row.handed for row in frame.select(jvm_lowercased(F.col("text"), mapping).alias("handed")).collect()]
    assert handed == ["οδυσσευς", "ÉCOLE İ"]


def test_the_probed_mapping_holds_the_jvms_special_cases(mapping):
    table, _, _ = mapping.tables()
    assert table[ord("K")] == ord("k") and table[ord("Ⱥ")] == ord("ⱥ") and table[0x10400] == 0x10428
    assert dict(mapping.expanded) == {0x130: "i\u0307"}
    assert table[ord("Ꟁ")] == ord("Ꟁ")  # Unicode 14: Java 17 has no lower case for it, Python has


@pytest.mark.parametrize("locale", ["tr_TR", "az__#Latn", "lt", "tr"])
def test_a_locale_with_rules_of_its_own_leaves_lowercasing_to_the_jvm(locale):
    code_points = np.array([0x41, 0x49], np.uint32)
    assert JavaLowercase.of_probe(code_points, code_points + 0x20, expanded={}, locale=locale) is None
    assert JavaLowercase.of_probe(code_points, code_points + 0x20, expanded={}, locale="en_US") is not None


def test_a_mapping_that_would_lowercase_its_results_again_is_not_used():
    code_points = np.array([0x100, 0x101, 0x102], np.uint32)
    chained = np.array([0x101, 0x102, 0x102], np.uint32)  # 0x100 -> 0x101, which -> 0x102
    assert JavaLowercase.of_probe(code_points, chained, expanded={}, locale="en") is None
    assert JavaLowercase.of_probe(code_points, np.array([0x101, 0x101, 0x102], np.uint32), expanded={}, locale="en") is not None


def test_ascii_must_stay_ascii():
    code_points = np.array([0x41, 0x42], np.uint32)
    assert JavaLowercase.of_probe(code_points, np.array([0x131, 0x62], np.uint32), expanded={}, locale="en") is None
