"""Torch modules only: the architectures of ``MultiTaskRecommender`` and their building blocks."""

from __future__ import annotations

from collections.abc import Sequence

from .blocks import MLP, FeatureInput, MultiTaskModule, TaskHead
from .mmoe import MMoENet
from .per_task import PerTaskNet
from .shared_bottom import SharedBottomNet

ARCHITECTURES = ("hard", "soft", "mmoe", "single")

__all__ = [
    "ARCHITECTURES",
    "MLP",
    "FeatureInput",
    "MMoENet",
    "MultiTaskModule",
    "PerTaskNet",
    "SharedBottomNet",
    "TaskHead",
    "build_module",
]


def build_module(
    architecture: str,
    *,
    n_numeric: int,
    cardinalities: Sequence[int],
    embedding_dims: Sequence[int],
    n_outputs: Sequence[int],
    hidden_units: Sequence[int],
    tower_units: Sequence[int],
    dropout: float,
    n_experts: int,
) -> MultiTaskModule:
    """The torch module for ``architecture`` ("hard", "soft", "mmoe" or "single")."""
    common = dict(
        n_numeric=n_numeric,
        cardinalities=cardinalities,
        embedding_dims=embedding_dims,
        n_outputs=n_outputs,
        hidden_units=hidden_units,
        tower_units=tower_units,
        dropout=dropout,
    )
    if architecture == "hard":
        return SharedBottomNet(**common)
    if architecture == "mmoe":
        return MMoENet(**common, n_experts=n_experts)
    if architecture in ("soft", "single"):
        return PerTaskNet(**common, soft=architecture == "soft")
    raise ValueError(f"architecture={architecture!r} is not one of {ARCHITECTURES}.")
