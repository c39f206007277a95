"""MultiTaskRecommender's parameters (sklearn_mtl._recommender._params): bad values named with
the parameter, batch_size="auto", devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ctr_split

from sklearn_mtl import MultiTaskRecommender


@pytest.mark.parametrize("n, expected", [(500, 32), (7_560, 64), (50_000, 256), (125_000, 1024)])
def test_auto_batch_size_gives_about_100_steps_an_epoch(n, expected):
    from sklearn_mtl._recommender._params import resolve_batch_size as _resolve_batch_size

    assert _resolve_batch_size("auto", n) == expected
    assert _resolve_batch_size(300, n) == 300


def test_id_dropout_is_validated():
    X, Y = np.zeros((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match=r"id_dropout=1.5 is not valid"):
        MultiTaskRecommender(id_dropout=1.5).fit(X, Y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"cascade": {"purchase": "view"}},
         r"parent 'view' is not a task; the tasks are \['click', 'purchase', 'spend'\]"),
        ({"cascade": {"spend": "click"}}, r"child 'spend' is a regression task; both ends"),
        ({"cascade": {"purchase": "spend"}}, r"parent 'spend' is a regression task"),
        ({"cascade": {"purchase": "click", "click": "purchase"}},
         r"it has a cycle 'purchase' -> 'click' -> 'purchase'"),
        ({"cascade": {"click": "click"}}, r"it has a cycle 'click' -> 'click'"),
        ({"cascade": ["click", "purchase"]},
         r"cascade=\['click', 'purchase'\] is not valid: use None or a dict"),
        ({"architecture": "esmm"},
         r"architecture='esmm' with cascade=None chains the tasks .* \['spend'\] are not binary"),
        ({"architecture": "ple", "n_levels": 0}, r"n_levels=0 is not valid"),
        ({"architecture": "cgc", "n_shared_experts": 0, "n_task_experts": 0},
         r"n_shared_experts=0 and n_task_experts=0 are not valid together"),
        ({"architecture": "ple", "hidden_units": ()}, r"hidden_units=\(\) is not valid"),
    ],
)
def test_bad_cascade_and_expert_parameters(params, match):
    data, train, _ = ctr_split(n=500)
    Y = data.target.copy()
    Y["spend"] = np.random.default_rng(0).normal(size=len(Y))
    with pytest.raises(ValueError, match=match):
        MultiTaskRecommender(**{"max_epochs": 1, **params}).fit(data.data, Y)


# ---------------------------------------------------------------- bad input
X_OK = np.random.default_rng(0).normal(size=(50, 3))


Y_OK = np.column_stack([(X_OK[:, 0] > 0).astype(int), X_OK[:, 1]])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"architecture": "deep"}, r"architecture='deep' is not valid"),
        ({"hidden_units": (0, 4)}, r"hidden_units=\(0, 4\) is not valid"),
        ({"architecture": "mmoe", "hidden_units": ()}, r"hidden_units=\(\) is not valid"),
        ({"tower_units": "wide"}, r"tower_units='wide' is not valid"),
        ({"n_experts": 0}, r"n_experts=0 is not valid"),
        ({"dropout": 1.0}, r"dropout=1.0 is not valid"),
        ({"lr": -1}, r"lr=-1 is not valid"),
        ({"batch_size": 2.5}, r"batch_size=2.5 is not valid"),
        ({"max_epochs": 0}, r"max_epochs=0 is not valid"),
        ({"validation_fraction": 1.0}, r"validation_fraction=1.0 is not valid"),
        ({"sharing_strength": -0.1}, r"sharing_strength=-0.1 is not valid"),
        ({"early_stopping": "yes"}, r"early_stopping='yes' is not valid"),
        ({"device": "tpu"}, r"device='tpu' is not valid"),
        ({"tasks": ["binary"]}, r"tasks has 1 entries but Y has 2 task columns"),
        ({"tasks": ["binary", "ranking"]}, r"kind 'ranking' for task 'task_1'"),
        ({"task_weights": [1.0]}, r"task_weights=\[1.0\] has 1 entries but Y has 2 tasks"),
        ({"task_weights": [1.0, -1.0]}, r"weights must be finite, >= 0"),
        ({"task_weights": "equal"}, r"task_weights='equal' is not valid"),
        ({"embedding_dim": 0, "categorical_features": [2]}, r"embedding_dim=0 is not valid"),
        ({"categorical_features": [7]}, r"categorical_features names 7"),
    ],
)
def test_bad_parameters_name_the_parameter_and_value(params, match):
    with pytest.raises(ValueError, match=match):
        MultiTaskRecommender(**{"max_epochs": 1, **params}).fit(X_OK, Y_OK)


def test_cuda_requested_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    with pytest.raises(ValueError, match="device='cuda' was requested but CUDA is not available"):
        MultiTaskRecommender(device="cuda").fit(X_OK, Y_OK)
