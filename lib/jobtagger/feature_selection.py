"""Which text features a model gets, chosen by validation on training data only.

The candidates are the configured features (words and word n-grams) and the same plus character
n-grams of the tokens (:data:`CHAR_NGRAM_CANDIDATE`): on short, informal or misspelled texts the
grams carry what unseen whole words lose; on a small corpus of long texts they mostly add noise.
Which one wins differs by corpus, so it is measured: each candidate gets its own feature pipeline
and its own ``training.reg_grid`` selection, and the candidate whose chosen strength has the better
held-out micro- + macro-F1 (the same figure that chose the strength, on the same held-out rows)
is kept. A tie keeps the words-only candidate, which is cheaper to fit and to tag with.

Each candidate costs a full fit, so the choice is made only where fits are cheap:
``features.select_char_ngrams: auto`` (the default) tries both while training postings x labels is at most
``features.select_max_cells`` and ``training.reg_grid`` gives held-out figures; otherwise (and
when ``features.char_ngrams`` is set by hand) the configured features are used as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from jobtagger.config import FeaturesConfig, JobtaggerConfig
from jobtagger.reg_selection import RegCandidate, RegSelection

CHAR_NGRAM_CANDIDATE = (3, 4, 5)


class FeatureCandidate(NamedTuple):
    """A feature configuration to fit, with the name its figures are recorded under."""

    name: str
    features: FeaturesConfig


@dataclass(frozen=True)
class FeatureSelection:
    """Each candidate's name and strength selection (aligned), and which candidate was kept."""

    names: tuple[str, ...]
    selections: tuple[RegSelection, ...]
    chosen: int

    @property
    def name(self) -> str:
        return self.names[self.chosen]

    def best(self) -> list[tuple[str, RegCandidate]]:
        """Each candidate's name with the figures of its chosen strength."""
        return [(name, s.candidates[s.chosen]) for name, s in zip(self.names, self.selections, strict=True)]

    def facts(self) -> dict[str, str]:
        """Model card facts: the choice and each candidate's held-out figures at its chosen strength."""
        held_out = self.selections[0].held_out
        return {"features (chosen by validation)": f"{self.name} of {len(self.names)} candidates", **{
            f"features {name}: {held_out} micro-F1 / macro-F1 (reg_param {c.reg_param:g})":
                f"{c.micro_f1:.4f} / {c.macro_f1:.4f}" for name, c in self.best()}}

    def metrics(self) -> dict[str, float]:
        """Registry metrics: which candidate was kept (its index) and each one's figures."""
        figures = {"selection_features": float(self.chosen)}
        for name, c in self.best():
            figures[f"validation_features_{name}_micro_f1"] = c.micro_f1
            figures[f"validation_features_{name}_macro_f1"] = c.macro_f1
        return figures

    def summary(self) -> str:
        """One line for the terminal."""
        tried = ", ".join(f"{name}: {c.micro_f1:.4f} / {c.macro_f1:.4f}" for name, c in self.best())
        return f"features {self.name} chosen by {self.selections[0].held_out} micro / macro-F1 ({tried})"


def feature_candidates(config: JobtaggerConfig, *, train_postings: int, labels: int) -> tuple[list[FeatureCandidate], str]:
    """The feature configurations to fit (one when there is no choice to make), and why."""
    features = config.features
    configured = [FeatureCandidate(_name(features.char_ngrams), features)]
    if features.select_char_ngrams == "never":
        return configured, "set by features.select_char_ngrams"
    if features.char_ngrams:
        return configured, "features.char_ngrams set by hand"
    if not config.training.reg_grid:
        return configured, "auto: no training.reg_grid, so no held-out figures to compare"
    if train_postings * labels > features.select_max_cells:
        return configured, (f"auto: {train_postings} training postings x {labels} labels, "
                            "over features.select_max_cells")
    with_chars = features.model_copy(update={"char_ngrams": list(CHAR_NGRAM_CANDIDATE)})
    return [*configured, FeatureCandidate(_name(with_chars.char_ngrams), with_chars)], "auto: both fitted"


def select_features(names: Sequence[str], selections: Sequence[RegSelection]) -> FeatureSelection:
    """Keep the candidate whose chosen strength validates best; the first one on a tie."""
    best = [s.candidates[s.chosen] for s in selections]
    chosen = max(range(len(best)), key=lambda n: (best[n].score, -n))
    return FeatureSelection(names=tuple(names), selections=tuple(selections), chosen=chosen)


def _name(char_ngrams: Sequence[int]) -> str:
    return "words_chars" + "".join(str(n) for n in char_ngrams) if char_ngrams else "words"
