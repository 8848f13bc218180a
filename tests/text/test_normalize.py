"""Text clean-up on small inline frames: markup, entities, NFKC, control characters, whitespace."""

from __future__ import annotations

import random
import unicodedata

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobtagger.text.normalize import (
    MULTILINE,
    ONE_LINE,
    STRIP_HTML,
    _replace_all,
    clean_text,
    decode_and_fold,
    decode_and_fold_array,
    nfkc_may_change,
    normalize_text_columns,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (float("nan"), None),  # a null in a pandas batch
        ("plain ascii", "plain ascii"),
        ("R&amp;D", "R&D"),
        ("ｆｕｌｌ ﬁle", "full file"),
    ],
)
def test_decode_and_fold(value, expected):
    assert decode_and_fold(value) == expected


def test_html_columns_keep_lines_and_plain_columns_become_one_line(spark):
    df = spark.createDataFrame(
        [(
            "p1",
            "<p>Data&nbsp;engineer</p><script>x()</script><ul><li>Spark<li>SQL</ul><!-- note -->",
            "  ACME\r\n\tGmbH\u200b ",
        ), ("p2", "<br/>", "   ")],
        "posting_id string, description string, company string",
    )
    out = normalize_text_columns(df, html_columns=["description"], plain_columns=["company"])

    assert out.columns == ["posting_id", "description", "company"]
    rows = {row.posting_id: (row.description, row.company) for row in out.collect()}
    assert rows == {"p1": ("Data engineer\n\n- Spark\n- SQL", "ACME GmbH"), "p2": (None, None)}


def test_no_columns_leave_the_frame_as_it_is(spark):
    df = spark.createDataFrame([("p1", " x ")], "posting_id string, title string")
    assert normalize_text_columns(df, html_columns=[], plain_columns=[]) is df


# Values the line and space steps leave alone, and values one step changes (a space run, an end
# space, a control character, a tab, a line break, a non-ASCII space, a format character).
EDGE_VALUES = [
    "plain", "two words", "a  b", " lead", "trail ", " ", "", "x\ty", "x\ny", "x\r\ny", "a\n\n\nb",
    "a \n b", "del\x7fete", "nb\u00a0sp", "zero\u200bwidth", "line\u2028", "~!@#$%^*()_+{}|:?", None,
    "caf\u00e9", "caf\u00e9 ", "a\n\nb", "\u00e9\n\n\n\u00e9", "\u00e9 \n", "\nx", "x\n", "x \u2028", "x\u2028",
    "\u00e9\u3000\u00e9", "\u00e9\x85", "\u00e9\t", "\u00e9\u2029 ", "\u4e00\u200b",
]


@pytest.mark.parametrize("markup", [False, True])
def test_clean_text_skips_only_values_the_steps_leave_unchanged(markup):
    array = pa.array(EDGE_VALUES, pa.string())
    every_value_through_the_steps = _replace_all(array, MULTILINE if markup else ONE_LINE)
    expected = [value or None for value in every_value_through_the_steps.to_pylist()]

    assert clean_text(array, markup=markup).to_pylist() == expected


# Pieces of random values: entities (common, other, broken), markup, every kind of space and line
# break, characters NFKC changes or composes (a combining mark, Hangul jamo, '<' + U+0338), and
# non-ASCII characters it leaves alone.
ATOMS = [
    "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&amp;lt;", "&nbsp;", "&copy", "&#x27;", "&#10;", "&", "&#", "R&D", "& ",
    "&AMP;", "&Lt;", "<p>", "</p>", "<br>", "<li>", "<!-- c -->", "<script>x</script>", "<", ">", "a", "Z", " ", "  ",
    "\n", "\n\n\n", "\r\n", "\t", "\x0b", "\x85", "\x7f", "\u00a0", "\u3000", "\u200b", "\ufeff", "\u2028",
    "\u2029", "\u00e9", "e\u0301", "\u0301", "\u1100", "\u1161", "\u11a8", "\uac00", "\u0338", "\ufb01",
    "\uff26", "\u2460", "\u00bd", "\u4e00", "\u00df", "\u0130", "\U0001d400", "\U0001f600", "\u212b", "\u09c7",
    "\u09be",
]
values = st.lists(st.sampled_from(ATOMS), max_size=12).map("".join) | st.none()


def unguarded_clean_text(values: list[str | None], *, markup: bool) -> list[str | None]:
    """:func:`clean_text` with every step run on every value and Python decoding every value."""
    array = pa.array(values, pa.string())
    if markup:
        array = _replace_all(array, STRIP_HTML)
    array = pa.array([decode_and_fold(v) for v in array.to_pylist()], pa.string())
    return [value or None for value in _replace_all(array, MULTILINE if markup else ONE_LINE).to_pylist()]


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=40), st.booleans())
def test_clean_text_equals_every_step_on_every_value(batch, markup):
    assert clean_text(pa.array(batch, pa.string()), markup=markup).to_pylist() == unguarded_clean_text(batch, markup=markup)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=40))
def test_decode_and_fold_in_arrow_equals_python(batch):
    assert decode_and_fold_array(pa.array(batch, pa.string())).to_pylist() == [decode_and_fold(v) for v in batch]


def test_nfkc_may_change_needs_no_other_plane():
    assert nfkc_may_change(range(0x80, 0x110000)) == nfkc_may_change()


def test_text_without_those_characters_is_nfkc_already():
    changing = set(nfkc_may_change())
    assert {0x0301, 0x1161, 0x11A8, 0x0338, 0x09BE, 0xFB01, 0x00A0} <= changing and 0x00E9 not in changing
    stable = [chr(c) for c in range(0x80, 0x32000) if c not in changing and unicodedata.category(chr(c)) not in ("Cn", "Cs")]
    stable += ["<", "=", ">", "a", " "]
    rng = random.Random(17)
    texts = ["".join(rng.choices(stable, k=3)) for _ in range(100_000)]
    changed = [text for text in texts if unicodedata.normalize("NFKC", text) != text]
    assert changed == []
