"""Rebuild ``labels_esco_skills.csv`` from the full ESCO skills list (run once, output is shipped).

Usage: ``python conf/taxonomy/build_esco_skills.py ../shared/data/taxonomies/esco_skills.csv``

The source has one ``description`` per skill that runs the preferred label, the alternative labels
and the definition together. ESCO alternative labels usually restart with the preferred label's
first word ("manage musical staff manage staff of music ..."), so the preferred label is the text
up to the first repeat of its first word (trimmed to end like the next label, which is kept as a
synonym). Labels that this
rule cannot split are skipped, as are those whose snake_case id collides with ``labels.csv``.
"""

from __future__ import annotations

import csv
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "labels_esco_skills.csv"
MAX_LABEL_WORDS = 6
STOPWORDS = {"of", "and", "to", "in", "for", "with", "the", "a", "an", "on", "or", "by"}


def snake_case(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def clean_phrase(words: list[str]) -> str:
    """Cut at the first word that repeats an earlier one (spelling variants) and drop stopword ends."""
    kept: list[str] = []
    for word in words:
        if any(word.lower()[:5] == seen.lower()[:5] for seen in kept):
            break
        kept.append(word)
    while kept and kept[-1].lower() in STOPWORDS:
        kept.pop()
    return re.sub(r"\s*\(.*?\)\s*", " ", " ".join(kept)).strip()


def split_labels(description: str) -> tuple[str, str] | None:
    words = description.split()
    cuts = [k for k in range(1, min(len(words), 3 * MAX_LABEL_WORDS)) if words[k] == words[0]]
    if not cuts or cuts[0] > MAX_LABEL_WORDS:
        return None
    name_words = words[: cuts[0]]
    end = cuts[1] if len(cuts) > 1 and cuts[1] - cuts[0] <= MAX_LABEL_WORDS else None
    synonym = clean_phrase(words[cuts[0] : end]) if end else ""
    if synonym and synonym.split()[-1] in name_words[:-1]:  # labels end alike: drop a spill-over
        name_words = name_words[: name_words.index(synonym.split()[-1]) + 1]
    name = clean_phrase(name_words)
    return (name, synonym if synonym.lower() != name.lower() else "") if name else None


def main(source: str) -> None:
    taken = {row["label"] for row in csv.DictReader((HERE / "labels.csv").open(encoding="utf-8"))}
    rows = []
    with open(source, encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            split = split_labels(record["description"])
            if split is None:
                continue
            name, synonym = split
            label = f"skill:{snake_case(name)}"
            if label == "skill:" or label in taken:
                continue
            taken.add(label)
            rows.append({"label": label, "kind": "skill", "name": name, "parent": "", "synonyms": synonym})
    rows.sort(key=lambda row: row["label"])
    with OUTPUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["label", "kind", "name", "parent", "synonyms"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} skills to {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv[1])
