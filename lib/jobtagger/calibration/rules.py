"""How thresholded labels become a posting's tags: at-least-one, a cap, and taxonomy parents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from jobtagger.errors import JobtaggerError


@dataclass(frozen=True)
class DecisionRules:
    """How thresholded labels become a posting's tags."""

    at_least_one: bool = True
    max_labels: int = 20
    top_candidates: int = 5
    parents: Mapping[str, str] = field(default_factory=dict)  # child label -> parent label


def parents_for_rule(parents: Mapping[str, str], rule: Literal["none", "same_kind", "all"]) -> dict[str, str]:
    """The child -> parent pairs the consistency rule applies (kind = the id's part before ':')."""
    if rule == "none":
        return {}
    if rule == "all":
        return dict(parents)
    return {child: parent for child, parent in parents.items() if child.split(":")[0] == parent.split(":")[0]}


def ancestors(parents: Mapping[str, str]) -> dict[str, list[str]]:
    """Every label's chain of parents (nearest first); a cycle raises."""
    chains: dict[str, list[str]] = {}
    for child in parents:
        chain, node = [], child
        while node in parents:
            node = parents[node]
            if node == child or node in chain:
                raise JobtaggerError(f"calibration: label parents form a cycle through {child!r}")
            chain.append(node)
        chains[child] = chain
    return chains
