"""Text clean-up on small inline frames: markup, entities, NFKC, control characters, whitespace."""

from __future__ import annotations

import pyarrow as pa
import pytest

from jobtagger.text.normalize import MULTILINE, ONE_LINE, _replace_all, clean_text, decode_and_fold, normalize_text_columns


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
]


@pytest.mark.parametrize("markup", [False, True])
def test_clean_text_skips_only_values_the_steps_leave_unchanged(markup):
    array = pa.array(EDGE_VALUES, pa.string())
    every_value_through_the_steps = _replace_all(array, MULTILINE if markup else ONE_LINE)
    expected = [value or None for value in every_value_through_the_steps.to_pylist()]

    assert clean_text(array, markup=markup).to_pylist() == expected
