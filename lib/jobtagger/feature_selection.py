"""Which text features a model gets, chosen by validation on training data only.

The candidates are the configured features (words and word n-grams) and the same plus character
n-grams of the tokens (:data:`CHAR_NGRAM_CANDIDATE`): on short, informal or misspelled texts the
grams carry what unseen whole words lose; on a small corpus of long texts they mostly add noise.
Which one wins differs by corpus, so it is measured: each candidate gets its own feature pipeline
and its own ``training.reg_grid`` selection, and the candidate whose chosen strength has the better
held-out micro- + macro-F1 (the same figure that chose the strength, on the same held-out rows)
is kept. A tie keeps the words-only candidate, which is cheaper and tags through the fused scorer.

Each candidate costs a full fit, so the choice is made only where fits are cheap:
``features.select_char_ngrams: auto`` tries both while training postings x labels is at most
``features.select_max_cells`` and ``training.reg_grid`` gives held-out figures; otherwise (and
when ``features.char_ngrams`` is set by hand) the configured features are used as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jobtagger.config import FeaturesConfig, JobtaggerConfig
from jobtagger.reg_selection import RegSelection

CHAR_NGRAM_CANDIDATE = (3, 4, 5)


@dataclass(frozen=True)
class FeatureCandidate:
    name: str
    features: FeaturesConfig


@dataclass(frozen=True)
class FeatureFigures:
    name: str
    reg_param: float
    micro_f1: float
    macro_f1: float


@dataclass(frozen=True)
class FeatureSelection:
    candidates: tuple[FeatureFigures, ...]
    chosen: int  # index into candidates
    held_out: str  # what the figures were measured on

    @property
    def name(self) -> str:
        return self.candidates[self.chosen].name

    def facts(self) -> dict[str, str]:
        """Model card facts: the choice and each candidate's held-out figures at its chosen strength."""
        facts = {"features (chosen by validation)": f"{self.name} of {len(self.candidates)} candidates"}
        for c in self.candidates:
            facts[f"features {c.name}: {self.held_out} micro-F1 / macro-F1 (reg_param {c.reg_param:g})"] = (
                f"{c.micro_f1:.4f} / {c.macro_f1:.4f}"
            )
        return facts

    def metrics(self) -> dict[str, float]:
        """Registry metrics: which candidate was kept (its index) and each one's figures."""
        figures = {"selection_features": float(self.chosen)}
        for c in self.candidates:
            figures[f"validation_features_{c.name}_micro_f1"] = c.micro_f1
            figures[f"validation_features_{c.name}_macro_f1"] = c.macro_f1
        return figures

    def summary(self) -> str:
        """One line for the terminal."""
        tried = ", ".join(f"{c.name}: {c.micro_f1:.4f} / {c.macro_f1:.4f}" for c in self.candidates)
        return f"features {self.name} chosen by {self.held_out} micro / macro-F1 ({tried})"


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
    figures = []
    for name, selection in zip(names, selections, strict=True):
        best = selection.candidates[selection.chosen]
        figures.append(FeatureFigures(name=name, reg_param=best.reg_param, micro_f1=best.micro_f1,
                                      macro_f1=best.macro_f1))
    chosen = max(range(len(figures)), key=lambda n: (figures[n].micro_f1 + figures[n].macro_f1, -n))
    return FeatureSelection(candidates=tuple(figures), chosen=chosen, held_out=selections[0].held_out)


def _name(char_ngrams: Sequence[int]) -> str:
    return "words_chars" + "".join(str(n) for n in char_ngrams) if char_ngrams else "words"
