"""The fast text normalization and label resolution give exactly what the old ones gave
(``reference_normalize.py``, ``reference_labels.py``) on generated landing files, bad records
included, plus hand-written values at the edges of the Spark/Python split."""

from __future__ import annotations

import argparse
import datetime as dt
import random

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobtagger.ingestion import HTML_FIELDS, PLAIN_FIELDS, TEXT_FIELDS
from jobtagger.label_resolution import label_lookup, map_labels
from jobtagger.landing import read_landing
from jobtagger.runlog import RunContext
from jobtagger.stages import generate
from jobtagger.stages.ingest import landing_folder, taxonomy_of
from jobtagger.text.normalize import normalize_text_columns
from ingest_support import good_posting, write_jsonl
from reference_labels import map_labels as reference_map_labels
from reference_normalize import normalize_text_columns as reference_normalize_text_columns
from reference_normalize import strip_html as reference_strip_html

# Against the Java reference chain on generated files and random strings: run with -m slow.
pytestmark = pytest.mark.slow

DAY = dt.date(2026, 11, 1)
EDGE_TEXTS = [
    "Python &amp; Spark", "&amp;lt;b&amp;gt;", "&lt;p&gt; &quot;x&quot; &#39;y&#39;", "a & b", "AT&T", "&amp",
    "&copy; 2026", "&#x27;hex&#x27;", "&nbsp;x", "caf\u00e9 &amp; bar", "\uff26\uff55\uff4c\uff4c width", "\ufb01le",
    "plain ascii", "<p>one</p><p>two &amp; three</p>", "&AMP; &Lt;", "&#39", "tab\there", "", "   ",
    "x\u00a0y", "&lt;script&gt;", "<li>&gt;</li>", "&&amp;&",
    # where Java's regular expressions and RE2 (text/normalize.py) could part
    "a\r\nb\rc", "a\u200b  b", " lead", "trail ", "\nlead", "trail\n", "a\n\n\n\nb", " \n \n \n x \n",
    "a \n b", "x\t\ty", "x\ty", "a  b", "\u3000wide\u3000", "\u00a0\u00a0", "v\x0bw\x0cx", "nel\x85x", "del\x7fx",
    "<!-- c --><p>a</p>", "<!<!-- x -->-- y -->z", "b<!-- -->r", "<SCRIPT>x()</SCRIPT>t", "<ScRiPt src=a>x</sCrIpT>",
    "<sTyLe>p{}</style>s", "<BR/>x<Br>y", "<LI>one<lI>two", "<P>para</P>", "< br >", "<b<!-- -->r>", "<l<!---->i>x",
    "a < b > c", "<p>\u00e9t\u00e9 &amp; <br>x</p>", "&nbsp;&nbsp;x&nbsp;", "\r\n\r\n\r\n", "\t", "\n",
    "caf\u00e9\t \tbar", "&#10;&#10;&#10;x", "<DIV>a</DIV><div>b</div>", "\ufeffbom", "a\u2028b",
    "x \u2028", "a\n\u2029", "\u2028",
    "<\x0bp>a", "<\x0bbr>b", "<\x0bscript>c</\x0bscript>d", "<\x0bx>e", "<\u017fcript>f</script>g",
    "<\u017ftyle>h</style>i", "<\u017fection>j", "<SCRIPT>k</\u017fcript>l</script>m", "<p\u0301>n", "<p\u0663>o",
    "<p_>q", "<p\u00e9>r", "<pre\U0001f600>s", "<li\u4e00>t", "u \u2029", "v\u2028 ", "w\u2029\u2028",
]
# pieces of random strings: markup, tag names in every case, line terminators, spaces, control and
# format characters, and what Java's \b, \s and (?i) treat differently from RE2's (letters and
# digits beyond ASCII, a non-spacing mark, long s and the Kelvin sign, \x0B, a final U+2028)
FUZZ_ATOMS = [
    "<", "<!--", "-->", ">", "/", "p", "P", "br", "BR", "bR", "li", "LI", "script", "SCRIPT", "ScRiPt", "style", "STYLE",
    "s", "cr", "ip", "pt", "yl", "div", "h1", " ", "  ", "\n", "\r", "\r\n", "\t", "\u00a0", "\u3000", "\u200b",
    "\u0085", "\x0b", "\x7f", "a", "x", "\u00e9", "-", "!", "&amp;", "\u2028", "\u2029", "\x0c", "<p ", "</p>", "<!-- -->",
    "<pre", "<PRE", "<h1", "<li", "<br", "\u017f", "\u212a", "\u0301", "_", "1", "\u0663", "\u00c9", "\u4e00",
    "\u180e", "\ufeff", "\U0001f600", "&", "&lt;", "&nbsp;", "\uff10", "\ufb01", "k", "K", "</script>", "</style>",
    # the entities and characters the Arrow decoding sorts out from those Python decodes
    "&quot;", "&#39;", "&gt;", "&copy", "&#x27;", "&#", "&A", "\u0338", "\u1100", "\u1161", "\u11a8", "\u09c7", "\u09be",
    "\u00bd", "\u2460", "\u00df",
]


@pytest.fixture(scope="module")
def landing(spark, tmp_path_factory):
    from jobtagger.config import load_config
    from ingest_support import REPO_ROOT

    root = tmp_path_factory.mktemp("reference")
    config = load_config(REPO_ROOT / "conf" / "local.yaml", overrides=[
        f"storage.warehouse={root / 'warehouse'}", f"paths.landing={root / 'landing'}",
        f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}", "generate.rows=600", "generate.bad_records.rate=0.05",
        "generate.files_per_format=1", "ingest.unknown_labels=keep",
    ])
    generate.run(spark, config, RunContext(job="generate", run_date=DAY), argparse.Namespace(run_date=DAY))
    folder = landing_folder(config, DAY)
    write_jsonl(folder, "edges.jsonl", [
        good_posting(f"edge-{i}", title=text, description=text, company=text, location=text,
                     labels=["Skill:Python", "skill : SQL", "nonsense:x", " seniority:jr ", "", "category:nursing"])
        for i, text in enumerate(EDGE_TEXTS)
    ])
    return config, read_landing(spark, folder, config=config.ingest).cache()


def test_normalization_equals_the_reference_path(landing):
    config, raw = landing
    keep = ["source_file", "raw_payload", *TEXT_FIELDS]
    new = normalize_text_columns(raw, html_columns=HTML_FIELDS, plain_columns=PLAIN_FIELDS).select(keep)
    old = reference_normalize_text_columns(raw, html_columns=HTML_FIELDS, plain_columns=PLAIN_FIELDS).select(keep)
    assert new.count() > 600
    assert_df_equality(new, old, ignore_row_order=True)


def test_label_resolution_equals_the_reference_path(landing):
    config, raw = landing
    lookup = label_lookup(taxonomy_of(config))
    keep = ["source_file", "raw_payload", "labels", "unknown_labels"]
    new = map_labels(raw, config=config.ingest, lookup=lookup).select(keep)
    old = reference_map_labels(raw, config=config.ingest, lookup=lookup).select(keep)
    assert new.where("size(unknown_labels) > 0").count() > 0 and new.where("size(labels) > 2").count() > 0
    assert_df_equality(new, old, ignore_row_order=True, ignore_nullable=True)


def test_arrow_clean_up_equals_the_java_chain_on_random_strings(spark):
    rng = random.Random(19)
    texts = EDGE_TEXTS + ["".join(rng.choices(FUZZ_ATOMS, k=rng.randrange(16))) for _ in range(6000)]
    df = spark.createDataFrame([(i, t, t, t) for i, t in enumerate(texts)], "i int, t string, markup string, plain string")
    new = normalize_text_columns(df, html_columns=["markup"], plain_columns=["plain"])
    old = reference_normalize_text_columns(df, html_columns=["markup"], plain_columns=["plain"])
    assert df.where(reference_strip_html(F.col("t")) != F.col("t")).count() > 500  # the markup steps did run
    assert_df_equality(new.orderBy("i"), old.orderBy("i"))
