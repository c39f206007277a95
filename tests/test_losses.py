"""MultiTaskLoss (sklearn_mtl.losses): the adaptive task weights, DWA's loss ratios, GradNorm's
alpha and uncertainty weighting, alone and through MultiTaskRecommender."""

from __future__ import annotations

import numpy as np
import torch
from conftest import small_net

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.losses import MultiTaskLoss


def test_dwa_weights_follow_the_loss_ratios_of_the_last_two_epochs():
    loss = MultiTaskLoss(["regression", "regression", "binary"], [1, 1, 1], "dwa",
                         dwa_temperature=2.0)
    means = [np.array([1.0, 2.0, 0.5]), np.array([0.5, 1.8, 0.5])]
    for epoch in means:
        loss.epoch_sums.copy_(torch.as_tensor(epoch * 4))
        loss.epoch_counts.fill_(4)
        loss.end_epoch()
    r = means[1] / means[0]
    expected = 3 * np.exp(r / 2) / np.exp(r / 2).sum()
    np.testing.assert_allclose(loss.effective_weights(), expected, rtol=1e-6)


def test_dwa_keeps_weights_one_for_two_epochs_then_adapts(census_1500):
    X, Y = census_1500
    model = small_net(task_weights="dwa", max_epochs=4, early_stopping=False).fit(X, Y)
    w = np.array([model.history_[:, f"task_weight_{t}"] for t in model.task_names_])
    np.testing.assert_array_equal(w[:, :2], 1.0)
    assert not np.allclose(w[:, 2:], 1.0)


def test_gradnorm_alpha_changes_the_weights(census_1500):
    X, Y = census_1500
    low = small_net(task_weights="gradnorm", gradnorm_alpha=0.0, lr=1e-2).fit(X, Y)
    high = small_net(task_weights="gradnorm", gradnorm_alpha=3.0, lr=1e-2).fit(X, Y)
    assert not np.allclose(low.task_weights_, 1.0)
    assert not np.allclose(low.task_weights_, high.task_weights_)


def test_uncertainty_weighting_learns_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 4))
    Y = np.column_stack([(X[:, 0] > 0).astype(float), X[:, 1] + 2.0 * rng.normal(size=1000)])
    model = MultiTaskRecommender(
        "hard", task_weights="uncertainty", lr=1e-2, max_epochs=30, early_stopping=False,
        random_state=0,
    ).fit(X, Y)
    w = model.task_weights_
    assert w.shape == (2,) and np.all(np.isfinite(w)) and np.all(w > 0)
    assert not np.allclose(w, [1.0, 0.5])  # moved from the initial exp(0) * factor
    # The noisy regression task is trusted less than the clean classification task.
    assert w[1] < w[0]
    static = MultiTaskRecommender("hard", task_weights=[2.0, 0.5], max_epochs=1).fit(X, Y)
    np.testing.assert_allclose(static.task_weights_, [2.0, 0.5])
