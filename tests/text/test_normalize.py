"""Text clean-up on small inline frames: markup, entities, NFKC, control characters, whitespace."""

from __future__ import annotations

import pytest

from jobtagger.text.normalize import decode_and_fold, normalize_text_columns


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
