"""Text clean-up of posting fields: HTML to text, Unicode NFKC, control characters, whitespace.

Everything that Spark's built-in functions can do runs as SQL expressions (tag stripping,
paragraph breaks, control characters, whitespace, and the five common entities of ASCII text).
Only the rest of HTML entity decoding and NFKC need Python; they run in ONE Arrow UDF over all
text columns, and only for values that need it (non-ASCII, or an entity beyond the five):
the others reach Python as nulls.

Each regular expression step is a :class:`Step`: it runs only on values that its guard lets
through, and the guards are cheap byte tests (``contains``, ``startswith``, the UTF-8 length) that
hold for every value the expression could change, so skipping it changes nothing. A regular
expression costs Spark a decoding of the value to a Java string, a scan and an encoding back,
for every value and every step; most values need one or two of the steps, not all thirteen.
The steps run one projection each (over all columns), so a guard and its step read a computed
column, not the whole chain again. ``tests/ingest/reference_normalize.py`` keeps the unguarded
chain that sent every value to Python; a test compares the two on generated landing files and
hand-written edge values.
"""

from __future__ import annotations

import html
import itertools
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import arrow_udf
from pyspark.sql.types import StringType, StructField, StructType

# Block-level tags become paragraph breaks, <br> a line break, list items a new line.
_PARAGRAPH_TAGS = r"(?i)<\s*/?\s*(p|div|h[1-6]|ul|ol|table|tr|section|article|blockquote|pre)\b[^>]*>"
_LINE_BREAK_TAGS = r"(?i)<\s*br\s*/?\s*>"
_LIST_ITEM_TAGS = r"(?i)<\s*li\b[^>]*>"
_INVISIBLE_BLOCKS = r"(?is)<\s*(script|style)\b[^>]*>.*?<\s*/\s*\1\s*>"
_COMMENTS = r"(?s)<!--.*?-->"
_ANY_TAG = r"<\s*/?\s*[A-Za-z!][^<>]*>"
# Control and format characters except newline and tab (tabs become spaces below).
_CONTROL = r"[\p{Cc}\p{Cf}&&[^\n\t]]"
_HORIZONTAL_SPACE = r"[\t\p{Zs}]+"
# A run of newlines with the spaces around them -> one newline, or two for two or more
# (a group that took no part in the match is replaced by nothing).
_NEWLINE_RUN = r" *(\n) *(?:(\n) *)?(?:\n *)*"


def _contains(text: Column, *parts: str) -> Column:
    """``text`` holds one of ``parts`` (a byte search, no decoding). ``contains``, not ``instr``:
    ``instr`` counts characters and compares the whole part at every position, ``contains``
    compares a part only where its first byte occurs."""
    return reduce(lambda a, b: a | b, [text.contains(part) for part in parts])


def _any_case(letters: str) -> list[str]:
    """Every ASCII upper/lower case spelling of ``letters`` (``(?i)`` without the Unicode flag
    folds ASCII letters only)."""
    return ["".join(chars) for chars in itertools.product(*[(c.lower(), c.upper()) for c in letters])]


def _ascii(text: Column) -> Column:
    """Valid UTF-8 and ASCII only (one byte per character)."""
    return F.is_valid_utf8(text) & (F.octet_length(text) == F.length(text))


@dataclass(frozen=True)
class Step:
    """``regexp_replace(value, pattern, replacement)``, run only where ``guard`` holds. The guard
    must hold for every value the pattern matches; invalid UTF-8 always runs the step (Spark
    re-encodes the value), so skipping a step is exact. ``valid_input``: every value reaching the
    step is valid UTF-8 already (an earlier step ran on the invalid ones and re-encoded them), so
    that test is left out."""

    pattern: str
    replacement: str
    guard: Callable[[Column], Column] | None = None
    valid_input: bool = False

    def __call__(self, text: Column) -> Column:
        replaced = F.regexp_replace(text, self.pattern, self.replacement)
        if self.guard is None:
            return replaced
        runs = self.guard(text) if self.valid_input else ~F.is_valid_utf8(text) | self.guard(text)
        return F.when(runs, replaced).otherwise(text)


# Tags removed, block tags turned into paragraph breaks (entities are decoded later). Every
# pattern needs a '<'; the invisible blocks need "script" (so "cr", "ip" and "pt") or "style"
# ("yl"), the line breaks "br" and the list items "li", in any ASCII case. The first step runs on
# every invalid value, so the later ones see valid UTF-8 only.
STRIP_HTML = (
    Step(_COMMENTS, "", lambda t: _contains(t, "<!--")),
    Step(_INVISIBLE_BLOCKS, "", lambda t: _contains(t, "<") & (
        (_contains(t, *_any_case("cr")) & _contains(t, *_any_case("ip")) & _contains(t, *_any_case("pt")))
        | _contains(t, *_any_case("yl"))
    ), valid_input=True),
    Step(_LINE_BREAK_TAGS, "\n", lambda t: _contains(t, "<") & _contains(t, *_any_case("br")), valid_input=True),
    Step(_LIST_ITEM_TAGS, "\n- ", lambda t: _contains(t, "<") & _contains(t, *_any_case("li")), valid_input=True),
    Step(_PARAGRAPH_TAGS, "\n\n", lambda t: _contains(t, "<"), valid_input=True),
    Step(_ANY_TAG, "", lambda t: _contains(t, "<"), valid_input=True),
)


def clean_whitespace_steps(*, multiline: bool) -> tuple[Step, ...]:
    """Control characters dropped, spaces collapsed, lines trimmed, at most one blank line
    (``multiline``; else one line). Guards, in order: ``\\r``; none for control characters;
    spaces: only a tab, two spaces in a row or a non-ASCII character (other space separators)
    can change; then only spaces and newlines are left as ``\\s``, so the line steps need a
    newline and the trim a space or newline at an end (or a final line separator). The control
    character step runs on every value, so the steps after it see valid UTF-8 only."""
    steps = [
        Step(r"\r\n?", "\n", lambda t: _contains(t, "\r")),
        Step(_CONTROL, ""),
        Step(_HORIZONTAL_SPACE, " ", lambda t: (F.octet_length(t) != F.length(t)) | _contains(t, "\t", "  "),
             valid_input=True),
        Step(_NEWLINE_RUN, "$1$2", lambda t: _contains(t, "\n"), valid_input=True) if multiline
        else Step(r"\s+", " ", lambda t: _contains(t, "\n"), valid_input=True),
        # without MULTILINE, Java's '$' also matches before a final line terminator: of those,
        # only '\n' and U+2028/U+2029 (not control characters) are left here
        Step(r"^\s+|\s+$", "", lambda t: F.startswith(t, F.lit(" ")) | F.startswith(t, F.lit("\n"))
             | reduce(lambda a, b: a | b, [F.endswith(t, F.lit(end)) for end in (" ", "\n", "\u2028", "\u2029")]),
             valid_input=True),
    ]
    return tuple(steps)


def run_steps(df: DataFrame, steps: Mapping[str, Sequence[Step]]) -> DataFrame:
    """Apply each column's steps in place, one projection per step index. A guard and its step
    read the computed column; chained as one expression, each step would repeat the whole chain
    before it three times or more (exponential in the number of steps)."""
    for index in range(max((len(s) for s in steps.values()), default=0)):
        df = df.withColumns({name: s[index](F.col(name)) for name, s in steps.items() if index < len(s)})
    return df


def decode_and_fold(value: str | None) -> str | None:
    """HTML entities decoded, then Unicode NFKC (full-width letters, ligatures, odd spaces)."""
    if not isinstance(value, str):  # None, or NaN for a null in a pandas batch
        return None
    if value.isascii() and "&" not in value:
        return value
    return unicodedata.normalize("NFKC", html.unescape(value))


# A value needs Python (entity decoding + NFKC) unless it is pure ASCII and every '&' starts one of
# the five entities decoded by Spark below: NFKC leaves ASCII as it is.
_ENTITY_FOR_PYTHON = r"&(?!(?:amp|lt|gt|quot|#39);)"
_SIMPLE_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"))


def needs_python(text: Column) -> Column:
    """Non-ASCII (or invalid UTF-8), or an '&' that does not start one of the five simple
    entities: the byte tests first, the regular expression only for ASCII values with an '&'."""
    return ~_ascii(text) | (_contains(text, "&") & text.rlike(_ENTITY_FOR_PYTHON))


def decode_simple_entities(column: Column) -> Column:
    """``html.unescape`` of an ASCII value whose every '&' starts ``&amp; &lt; &gt; &quot; &#39;``:
    ``&amp;`` is replaced last, so a decoded '&' is never decoded again (``&amp;lt;`` -> ``&lt;``)."""
    text = column
    for entity, char in _SIMPLE_ENTITIES:
        text = F.replace(text, F.lit(entity), F.lit(char))
    text = F.replace(text, F.lit("&amp;"), F.lit("&"))
    return F.when(_contains(column, "&"), text).otherwise(column)


def decode_and_fold_udf(columns: Sequence[str]):
    """ONE Arrow UDF applying :func:`decode_and_fold` to each of ``columns`` (a struct of them).
    Arrow in and out, no pandas: a scalar Arrow UDF also shares its Python worker and its round
    trip with the other Arrow UDFs of the same projection (the label lookup)."""
    out_schema = StructType([StructField(name, StringType(), True) for name in columns])
    names = list(columns)

    @arrow_udf(out_schema)
    def _decode_and_fold(*arrays: pa.Array) -> pa.Array:
        return pa.StructArray.from_arrays(
            [pa.array([decode_and_fold(v) for v in array.to_pylist()], array.type) for array in arrays], names=names
        )

    return _decode_and_fold


def normalize_text_columns(
    df: DataFrame, *, html_columns: Sequence[str], plain_columns: Sequence[str],
    alongside: Mapping[str, Column] | None = None,
) -> DataFrame:
    """Clean the given string columns in place.

    ``html_columns`` (title, description) may hold markup and keep their line structure;
    ``plain_columns`` (company, location...) become one trimmed line each. Empty results are null.

    Only values that need Python (:func:`needs_python`) are handed to the Arrow UDF; the others
    reach it as nulls (a cheap Arrow column) and are decoded by Spark, with the same result.
    ``alongside``: more columns to add in the projection of that UDF (other Arrow UDFs then run
    in the same Python pass: one worker and one copy of each row per task, not one per UDF).
    """
    columns = [*html_columns, *plain_columns]
    if not columns:
        return df.withColumns(dict(alongside)) if alongside else df
    _decode_and_fold = decode_and_fold_udf(columns)
    df = run_steps(df, {name: STRIP_HTML for name in html_columns})
    needs = {f"_jobtagger_n_{name}": needs_python(F.col(name)) for name in columns}
    df = df.withColumns(needs)
    folded = "_jobtagger_folded"
    df = df.withColumns({
        folded: _decode_and_fold(*[F.when(F.col(f"_jobtagger_n_{name}"), F.col(name)) for name in columns]),
        **(alongside or {}),
    })
    decoded = {
        name: F.when(F.col(f"_jobtagger_n_{name}"), F.col(f"{folded}.{name}")).otherwise(
            decode_simple_entities(F.col(name))
        )
        for name in columns
    }
    df = df.withColumns(decoded).drop(folded, *needs)
    df = run_steps(df, {name: clean_whitespace_steps(multiline=name in html_columns) for name in columns})
    return df.withColumns({name: F.when(F.col(name) == "", F.lit(None)).otherwise(F.col(name)) for name in columns})
