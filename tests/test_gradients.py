"""Gradient surgery (sklearn_mtl.gradients): PCGrad and CAGrad, and the balanced training step
that every loss-balancing method goes through (GradNorm, DWA, PCGrad, CAGrad), on census and
MovieLens through MultiTaskRecommender, with masked labels and sample weights."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import small_net, three_tasks

from sklearn_mtl.gradients import balanced_backward, cagrad, pcgrad

METHODS = [
    {"task_weights": "gradnorm"},
    {"task_weights": "dwa"},
    {"gradient_method": "pcgrad"},
    {"gradient_method": "cagrad"},
    {"task_weights": "gradnorm", "gradient_method": "pcgrad"},
]
IDS = ["gradnorm", "dwa", "pcgrad", "cagrad", "gradnorm+pcgrad"]


@pytest.fixture(scope="module")
def movielens_slice(movielens):
    X, Y = movielens
    idx = np.random.default_rng(0).choice(len(X), size=2000, replace=False)
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


# ---------------------------------------------------------------- the combination rules
def test_pcgrad_projects_conflicting_gradients_on_the_normal_plane():
    g = torch.tensor([[2.0, 0.0, 1.0], [-1.0, 1.0, 0.0]])
    out = pcgrad(g, np.random.RandomState(0))
    # Two tasks: each projected gradient is orthogonal to the other's original gradient.
    p0 = g[0] - (g[0] @ g[1]) / (g[1] @ g[1]) * g[1]
    p1 = g[1] - (g[1] @ g[0]) / (g[0] @ g[0]) * g[0]
    assert torch.allclose(out, p0 + p1)
    assert abs(float(p0 @ g[1])) < 1e-6 and abs(float(p1 @ g[0])) < 1e-6
    # Gradients that do not conflict are summed untouched.
    agree = torch.tensor([[1.0, 0.5, 0.0], [0.2, 1.0, 0.3]])
    assert torch.allclose(pcgrad(agree), agree.sum(dim=0))


def test_pcgrad_order_is_random_and_seeded():
    g = torch.tensor([[1.0, 0.0], [-0.8, 0.6], [-0.6, -0.8]])
    outs = {tuple(np.round(pcgrad(g, np.random.RandomState(s)).numpy(), 5)) for s in range(20)}
    assert len(outs) > 1  # with three tasks the projection order matters
    assert torch.equal(pcgrad(g, np.random.RandomState(3)), pcgrad(g, np.random.RandomState(3)))


@pytest.mark.parametrize("c", [0.2, 0.5, 1.0])
def test_cagrad_solves_its_primal_problem(c):
    # max_d min_k g_k . d  s.t. ||d - g0|| <= c ||g0||, checked by brute force on the ball.
    g = torch.tensor([[1.0, 0.2], [-0.6, 1.0], [0.3, 0.4]], dtype=torch.float64)
    n = g.shape[0]
    d = cagrad(g, c) / n
    g0 = g.mean(dim=0)
    radius = c * float(g0.norm())
    assert float((d - g0).norm()) <= radius * (1 + 1e-6)
    angles = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    radii = np.linspace(0, radius, 60)
    grid = np.array([[r * np.cos(a), r * np.sin(a)] for r in radii for a in angles])
    candidates = torch.as_tensor(grid) + g0
    best = float((candidates @ g.T).min(dim=1).values.max())
    assert float((g @ d).min()) >= best - 1e-4


def test_cagrad_with_c_zero_is_the_plain_sum():
    g = torch.tensor([[1.0, -2.0], [-1.5, 0.5]])
    assert torch.allclose(cagrad(g, 0.0), g.sum(dim=0))


# ---------------------------------------------------------------- through the public API
@pytest.mark.parametrize("params", METHODS, ids=IDS)
def test_each_method_trains_on_census_reproducibly_and_pickles(census_1500, params):
    X, Y = census_1500
    model = small_net(**params).fit(X, Y)
    again = small_net(**params).fit(X, Y)
    np.testing.assert_array_equal(model.predict_proba(X)[0], again.predict_proba(X)[0])
    assert model.score(X, Y) > 0.6
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X)[1], model.predict_proba(X)[1])
    weights = np.array([model.history_[:, f"task_weight_{t}"] for t in model.task_names_])
    assert weights.shape == (2, model.n_epochs_)
    np.testing.assert_allclose(weights[:, -1], model.task_weights_)
    if params.get("task_weights") in ("gradnorm", "dwa"):
        np.testing.assert_allclose(weights.sum(axis=0), 2.0, rtol=1e-5)


@pytest.mark.parametrize("architecture", ["hard", "mmoe", "soft"])
@pytest.mark.parametrize("params", METHODS[:4], ids=IDS[:4])
def test_each_method_trains_on_movielens_with_every_architecture(movielens_slice, architecture,
                                                                  params):
    X, Y = movielens_slice
    model = small_net(architecture, **params).fit(X, Y)
    assert np.isfinite(model.predict(X).astype(float)).all()
    assert model.score(X, Y) > 0.0


@pytest.mark.parametrize("architecture", ["omoe", "cgc", "ple", "esmm"])
def test_surgery_and_gradnorm_reach_the_shared_parameters_of_every_architecture(census_1500,
                                                                                architecture):
    X, Y = census_1500
    with warnings.catch_warnings():
        # esmm chains never_married under income, which census does not respect (it warns).
        warnings.simplefilter("ignore", UserWarning)
        model = small_net(architecture, task_weights="gradnorm", gradient_method="cagrad").fit(X, Y)
        plain = small_net(architecture, task_weights="gradnorm").fit(X, Y)
    assert model.score(X, Y) > (0.5 if architecture == "esmm" else 0.6)
    assert model.net_.module_.shared_parameters()
    assert not np.allclose(model.task_weights_, 1.0)
    # The surgery changes the shared gradients, so the fit differs from plain GradNorm.
    assert not np.array_equal(model.predict_proba(X)[0], plain.predict_proba(X)[0])


def test_surgery_changes_nothing_without_shared_parameters(census_1500):
    X, Y = census_1500
    plain = small_net("soft").fit(X, Y)
    surgery = small_net("soft", gradient_method="pcgrad").fit(X, Y)
    # Equal to float32 rounding: without surgery the loss of fully labelled binary tasks is one
    # weighted BCE call, with it the sum of the per-task means (the same value, summed apart).
    np.testing.assert_allclose(plain.predict_proba(X)[0], surgery.predict_proba(X)[0],
                               rtol=0, atol=1e-6)


def test_cagrad_with_c_zero_trains_like_plain_sharing(census_1500):
    X, Y = census_1500
    plain = small_net("mmoe").fit(X, Y)
    cag = small_net("mmoe", gradient_method="cagrad", cagrad_c=0.0).fit(X, Y)
    np.testing.assert_allclose(plain.predict_proba(X)[0], cag.predict_proba(X)[0], atol=1e-4)


def _batch(model, X, Y, sample_weight=None):
    net = model.net_
    x_num, x_cat = model._features.transform(X)
    Xb = {"x_num": torch.as_tensor(x_num, dtype=torch.float32),
          "x_cat": torch.as_tensor(x_cat, dtype=torch.long)}
    yb = {"y": torch.as_tensor(model.target_encoder_.transform(Y), dtype=torch.float32)}
    if sample_weight is not None:
        yb["w"] = torch.as_tensor(sample_weight, dtype=torch.float32)
    return net, Xb, yb


def _grads(model, X, Y, sample_weight=None, method="pcgrad"):
    net, Xb, yb = _batch(model, X, Y, sample_weight)
    net.gradient_method = method
    net.module_.zero_grad()
    balanced_backward(net, net.module_(**Xb), yb, np.random.RandomState(0))
    return [p.grad.clone() for p in net.module_.shared_parameters()]


@pytest.mark.parametrize("method", ["pcgrad", "cagrad"])
def test_a_task_without_labels_in_the_batch_contributes_no_gradient(census_1500, method):
    X, Y = census_1500
    model = small_net(gradient_method=method).fit(X, Y)
    X_b, Y_b = X.iloc[:200], Y.iloc[:200].astype(float)
    masked = Y_b.copy()
    masked.iloc[:, 1] = np.nan
    with_surgery = _grads(model, X_b, masked, method=method)
    only_first = _grads(model, X_b, masked, method=None)
    for a, b in zip(with_surgery, only_first):
        torch.testing.assert_close(a, b)
    if method == "cagrad":
        # With both tasks labelled, CAGrad (c > 0) does change the shared gradient.
        both = _grads(model, X_b, Y_b, method=method)
        plain = _grads(model, X_b, Y_b, method=None)
        assert any(not torch.allclose(a, b) for a, b in zip(both, plain))


@pytest.mark.parametrize("method", ["pcgrad", "cagrad"])
def test_rows_with_zero_sample_weight_are_left_out_of_the_surgery(census_1500, method):
    X, Y = census_1500
    model = small_net(gradient_method=method).fit(X, Y)
    X_b, Y_b = X.iloc[:300], Y.iloc[:300].astype(float)
    weights = np.r_[np.full(150, 2.0), np.zeros(150)]
    weighted = _grads(model, X_b, Y_b, weights, method)
    kept = _grads(model, X_b.iloc[:150], Y_b.iloc[:150], None, method)
    for a, b in zip(weighted, kept):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, match",
    [
        ({"gradient_method": "mgda"},
         r"gradient_method='mgda' is not valid: use None or one of \('pcgrad', 'cagrad'\)"),
        ({"cagrad_c": -0.1}, r"cagrad_c=-0.1 is not valid: it must be a number in \[0, inf\)"),
        ({"dwa_temperature": 0}, r"dwa_temperature=0 is not valid: it must be a number in \(0, inf\)"),
        ({"gradnorm_alpha": "high"}, r"gradnorm_alpha='high' is not valid"),
        ({"task_weights": "nash"},
         r"task_weights='nash' is not valid: use None, one of \('uncertainty', 'gradnorm', 'dwa'\)"),
        ({"track_task_affinity": "yes"}, r"track_task_affinity='yes' is not valid: use True or False"),
    ],
)
def test_bad_balancing_parameters_name_the_parameter(params, match):
    X, Y = three_tasks(n=50)
    with pytest.raises(ValueError, match=match):
        small_net(**params).fit(X, Y)
