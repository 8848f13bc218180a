"""A plain-Python tokenizer: TOKEN_PATTERN with the JVM's letter class through ``re``, then the
length filter (UTF-16 units) and the stop words. The fused text features are compared with it, and
it is compared with Spark's RegexTokenizer + StopWordsRemover on the hard scripts (test_text_vectors.py)."""

from __future__ import annotations

import re
from functools import lru_cache

from jobtagger.text.features import TOKEN_PATTERN


@lru_cache(maxsize=8)
def _token_regex(letter_ranges: tuple[tuple[int, int], ...]) -> re.Pattern[str]:
    letters = "".join(f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in letter_ranges)
    return re.compile(TOKEN_PATTERN.replace(r"[\p{L}\p{N}]", f"[{letters}]"))


def reference_tokens(text: str | None, *, letter_ranges, min_token_length: int, stop_words) -> list[str]:
    """Spark's tokens of one lower-cased text (None reads as empty)."""
    found = (match.group() for match in _token_regex(tuple(map(tuple, letter_ranges))).finditer(text or ""))
    removed = set(stop_words)
    return [token for token in found if len(token.encode("utf-16-le")) // 2 >= min_token_length and token not in removed]
