"""Predict with the standardization folded into the first layers
(sklearn_mtl._recommender._prescaled): the same outputs, stacked first layers, threads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FAST

from sklearn_mtl import MultiTaskRecommender


# ---------------------------------------------------------------- predict: folded first layers
def _scaled_batch_by_batch(model, X):
    """The module's outputs with the inputs standardized batch by batch (no folding)."""
    from sklearn_mtl._recommender._outputs import forward

    return forward(model.net_.module_, model._dataset(X), 512)


def _is_folded(model) -> bool:
    from sklearn_mtl._recommender._prescaled import _FOLDED

    kept = _FOLDED.get(model.net_.module_)
    return kept is not None and kept[3] is not None


@pytest.mark.parametrize("architecture", ["hard", "single", "soft", "mmoe", "omoe", "cgc", "ple",
                                          "esmm", "aitm"])
def test_predict_folds_the_standardization_into_the_first_layers(census_small, architecture):
    X, Y = census_small
    X, Y = X.iloc[:1200], Y.iloc[:1200]
    if architecture in ("esmm", "aitm"):  # a chain of binary tasks
        Y = Y.assign(income=Y["income"], never_married=Y["never_married"] * Y["income"])
    model = MultiTaskRecommender(architecture, **{**FAST, "max_epochs": 2},
                                 random_state=0).fit(X, Y)
    proba = model.predict_proba(X)
    assert _is_folded(model)
    assert all(p.dtype == np.float32 for p in proba)
    logits = _scaled_batch_by_batch(model, X)
    # The same outputs as scaling every batch (census embeddings and numeric columns).
    np.testing.assert_allclose(model._forward(model._dataset(X)), logits, atol=1e-5)


@pytest.mark.parametrize("architecture, n_layers", [("mmoe", 2), ("cgc", 5), ("ple", 6)])
def test_predict_stacks_first_layers_that_read_one_input(census_small, architecture, n_layers):
    from sklearn_mtl._recommender._prescaled import _FOLDED, _ProjectedLayer, _ProjectingInput

    X, Y = census_small
    X, Y = X.iloc[:1200], Y.iloc[:1200]
    model = MultiTaskRecommender(architecture, **{**FAST, "max_epochs": 2},
                                 random_state=0).fit(X, Y)
    out = model._forward(model._dataset(X))
    folded = _FOLDED[model.net_.module_][3]
    # One product of the features with every first layer's weights (the experts and gates of
    # every task, the shared ones), each layer reading its columns of it.
    assert sum(isinstance(m, _ProjectingInput) for m in folded.modules()) == 1
    assert sum(isinstance(m, _ProjectedLayer) for m in folded.modules()) == n_layers
    np.testing.assert_allclose(out, _scaled_batch_by_batch(model, X), atol=1e-5)


@pytest.mark.parametrize("architecture", ["mmoe", "hard"])
def test_predict_after_partial_fit_uses_the_trained_first_layers(census_small, architecture):
    # Adam's fused kernel steps the weights without bumping their version: the folded copy of
    # the first predict must not outlive the training that follows it.
    X, Y = census_small
    X, Y = X.iloc[:1200], Y.iloc[:1200]
    model = MultiTaskRecommender(architecture, **{**FAST, "max_epochs": 1, "lr": 0.05},
                                 random_state=0).fit(X, Y)
    before = model.predict_proba(X)[0]
    model.partial_fit(X, Y)
    after = model._forward(model._dataset(X))
    assert not np.allclose(before, model.predict_proba(X)[0])
    np.testing.assert_allclose(after, _scaled_batch_by_batch(model, X), atol=1e-5)


def test_the_first_predicts_of_several_threads_fold_the_model(census_small):
    from concurrent.futures import ThreadPoolExecutor

    X, Y = census_small
    model = MultiTaskRecommender("mmoe", **{**FAST, "max_epochs": 1}, random_state=0).fit(X, Y)
    with ThreadPoolExecutor(4) as pool:  # no predict before: the threads find the layers
        results = list(pool.map(lambda _: model.predict_proba(X.iloc[:500])[0], range(8)))
    assert _is_folded(model)
    for proba in results[1:]:
        np.testing.assert_array_equal(proba, results[0])


def test_predict_folding_follows_changed_weights_and_skips_large_offsets(census_small):
    X, Y = census_small
    X, Y = X.iloc[:1200], Y.iloc[:1200]
    model = MultiTaskRecommender("mmoe", **{**FAST, "max_epochs": 2}, random_state=0).fit(X, Y)
    before = model.predict_proba(X)[0]
    with torch.no_grad():  # what a later partial_fit or a loaded state does to the weights
        model.net_.module_.gate.weight.mul_(3.0)
    after = model.predict_proba(X)[0]
    assert not np.allclose(before, after)
    np.testing.assert_allclose(model._forward(model._dataset(X)),
                               _scaled_batch_by_batch(model, X), atol=1e-5)
    # A column far from zero in units of its spread (a timestamp) keeps the float64 centring.
    shifted = X.assign(age=X["age"] * 1e-3 + 1.7e9)
    model = MultiTaskRecommender("mmoe", **{**FAST, "max_epochs": 2},
                                 random_state=0).fit(shifted, Y)
    np.testing.assert_allclose(model._forward(model._dataset(shifted)),
                               _scaled_batch_by_batch(model, shifted), atol=1e-6)
    assert not _is_folded(model)
