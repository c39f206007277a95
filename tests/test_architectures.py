"""The architecture registry (sklearn_mtl/_architectures.py): the nets, the tuning spaces, the
estimator's checks and the CLI read every architecture from it."""

from __future__ import annotations

import pytest
import torch

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl._architectures import (
    ARCHITECTURES,
    CHAIN_ARCHITECTURES,
    EXPERT_ARCHITECTURES,
    REGISTRY,
    architecture_of,
)
from sklearn_mtl.cli import MODEL_CHOICES
from sklearn_mtl.nets import build_module
from sklearn_mtl.tuning import default_search_space

NET = dict(n_numeric=3, cardinalities=[5], embedding_dims=[2], n_outputs=[1, 1],
           hidden_units=(8,), tower_units=(4,), dropout=0.0, n_experts=3, n_levels=2,
           n_shared_experts=2, n_task_experts=1)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_entry_builds_its_net_with_the_parameters_it_names(name):
    spec = REGISTRY[name]
    module = build_module(name, **NET, cascade=[(1, 0)] if spec.chain else ())
    built = module.module if type(module).__name__ == "CascadeNet" else module
    assert type(built).__name__ == spec.net
    out = module(torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.long))
    assert out.shape == (4, 2)
    if spec.gates:  # a mixture of experts has gate weights to show
        assert hasattr(built, "gate_weights")


def test_cgc_is_ple_with_one_level_and_mmoe_reads_n_experts():
    assert len(build_module("cgc", **NET).levels) == 1
    assert len(build_module("ple", **{**NET, "n_levels": 3}).levels) == 3
    assert build_module("mmoe", **{**NET, "n_experts": 5}).n_experts == 5


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_the_default_search_space_adds_what_the_entry_names(name):
    spec = REGISTRY[name]
    space = set(default_search_space(MultiTaskRecommender(name)))
    specific = {p for a in REGISTRY.values() for p in a.search}
    assert space & specific == set(spec.search)
    assert ("gradient_method" in space) == spec.shared_parameters


def test_the_cli_and_the_derived_lists_follow_the_registry():
    assert MODEL_CHOICES == (*ARCHITECTURES, "lgbm")
    assert set(CHAIN_ARCHITECTURES) == {"esmm", "aitm"}
    assert set(EXPERT_ARCHITECTURES) == {"mmoe", "omoe", "cgc", "ple"}
    with pytest.raises(ValueError, match=r"architecture='deep' is not valid: use one of \['hard', "):
        architecture_of("deep")
