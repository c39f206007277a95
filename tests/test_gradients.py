"""Loss balancing (GradNorm, DWA), gradient surgery (PCGrad, CAGrad) and task affinity."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.affinity import gradient_cosine_matrix, propose_task_groups
from sklearn_mtl.gradients import balanced_backward, cagrad, pcgrad
from sklearn_mtl.losses import MultiTaskLoss

METHODS = [
    {"task_weights": "gradnorm"},
    {"task_weights": "dwa"},
    {"gradient_method": "pcgrad"},
    {"gradient_method": "cagrad"},
    {"task_weights": "gradnorm", "gradient_method": "pcgrad"},
]
IDS = ["gradnorm", "dwa", "pcgrad", "cagrad", "gradnorm+pcgrad"]


def _small(architecture="hard", **params):
    defaults = dict(hidden_units=(16,), tower_units=(8,), n_experts=2, max_epochs=3,
                    batch_size=256, random_state=0)
    return MultiTaskRecommender(architecture, **{**defaults, **params})


@pytest.fixture(scope="module")
def census_slice(census_small):
    X, Y = census_small
    return X.iloc[:1500].reset_index(drop=True), Y.iloc[:1500].reset_index(drop=True)


@pytest.fixture(scope="module")
def movielens_slice(movielens):
    X, Y = movielens
    idx = np.random.default_rng(0).choice(len(X), size=2000, replace=False)
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


# ---------------------------------------------------------------------- the combination rules
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


# ---------------------------------------------------------------------- through the public API
@pytest.mark.parametrize("params", METHODS, ids=IDS)
def test_each_method_trains_on_census_reproducibly_and_pickles(census_slice, params):
    X, Y = census_slice
    model = _small(**params).fit(X, Y)
    again = _small(**params).fit(X, Y)
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
    model = _small(architecture, **params).fit(X, Y)
    assert np.isfinite(model.predict(X).astype(float)).all()
    assert model.score(X, Y) > 0.0


@pytest.mark.parametrize("architecture", ["omoe", "cgc", "ple", "esmm"])
def test_surgery_and_gradnorm_reach_the_shared_parameters_of_every_architecture(census_slice,
                                                                                architecture):
    X, Y = census_slice
    with warnings.catch_warnings():
        # esmm chains never_married under income, which census does not respect (it warns).
        warnings.simplefilter("ignore", UserWarning)
        model = _small(architecture, task_weights="gradnorm", gradient_method="cagrad").fit(X, Y)
        plain = _small(architecture, task_weights="gradnorm").fit(X, Y)
    assert model.score(X, Y) > (0.5 if architecture == "esmm" else 0.6)
    assert model.net_.module_.shared_parameters()
    assert not np.allclose(model.task_weights_, 1.0)
    # The surgery changes the shared gradients, so the fit differs from plain GradNorm.
    assert not np.array_equal(model.predict_proba(X)[0], plain.predict_proba(X)[0])


def test_dwa_keeps_weights_one_for_two_epochs_then_adapts(census_slice):
    X, Y = census_slice
    model = _small(task_weights="dwa", max_epochs=4, early_stopping=False).fit(X, Y)
    w = np.array([model.history_[:, f"task_weight_{t}"] for t in model.task_names_])
    np.testing.assert_array_equal(w[:, :2], 1.0)
    assert not np.allclose(w[:, 2:], 1.0)


def test_gradnorm_alpha_changes_the_weights(census_slice):
    X, Y = census_slice
    low = _small(task_weights="gradnorm", gradnorm_alpha=0.0, lr=1e-2).fit(X, Y)
    high = _small(task_weights="gradnorm", gradnorm_alpha=3.0, lr=1e-2).fit(X, Y)
    assert not np.allclose(low.task_weights_, 1.0)
    assert not np.allclose(low.task_weights_, high.task_weights_)


def test_surgery_changes_nothing_without_shared_parameters(census_slice):
    X, Y = census_slice
    plain = _small("soft").fit(X, Y)
    surgery = _small("soft", gradient_method="pcgrad").fit(X, Y)
    np.testing.assert_array_equal(plain.predict_proba(X)[0], surgery.predict_proba(X)[0])


def test_cagrad_with_c_zero_trains_like_plain_sharing(census_slice):
    X, Y = census_slice
    plain = _small("mmoe").fit(X, Y)
    cag = _small("mmoe", gradient_method="cagrad", cagrad_c=0.0).fit(X, Y)
    np.testing.assert_allclose(plain.predict_proba(X)[0], cag.predict_proba(X)[0], atol=1e-4)


def _batch(model, X, Y, sample_weight=None):
    net = model.net_
    x_num, x_cat = model._features.transform(X)
    Xb = {"x_num": torch.as_tensor(x_num, dtype=torch.float32),
          "x_cat": torch.as_tensor(x_cat, dtype=torch.long)}
    yb = {"y": torch.as_tensor(model._targets.transform(Y), dtype=torch.float32)}
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
def test_a_task_without_labels_in_the_batch_contributes_no_gradient(census_slice, method):
    X, Y = census_slice
    model = _small(gradient_method=method).fit(X, Y)
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
def test_rows_with_zero_sample_weight_are_left_out_of_the_surgery(census_slice, method):
    X, Y = census_slice
    model = _small(gradient_method=method).fit(X, Y)
    X_b, Y_b = X.iloc[:300], Y.iloc[:300].astype(float)
    weights = np.r_[np.full(150, 2.0), np.zeros(150)]
    weighted = _grads(model, X_b, Y_b, weights, method)
    kept = _grads(model, X_b.iloc[:150], Y_b.iloc[:150], None, method)
    for a, b in zip(weighted, kept):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------- task affinity
def _three_tasks(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    a = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)
    c = np.cos(2 * X[:, 7]) - X[:, 8] * X[:, 9] + 0.1 * rng.normal(size=n)
    return X, pd.DataFrame({"a": a, "b": a.copy(), "c": c})


def test_affinity_groups_two_identical_tasks_apart_from_an_unrelated_one():
    X, Y = _three_tasks()
    model = MultiTaskRecommender("hard", hidden_units=(32,), tower_units=(8,), max_epochs=8,
                                 batch_size=128, track_task_affinity=True, random_state=0,
                                 lr=3e-3).fit(X, Y)
    Z = model.task_affinity_
    assert Z.shape == (3, 3)
    assert Z[0, 1] > max(Z[0, 2], Z[2, 0]) and Z[1, 0] > max(Z[1, 2], Z[2, 1])
    groups = propose_task_groups(Z, n_groups=2, names=model.task_names_)
    assert ("a", "b") in groups
    assert ("c",) in groups
    assert len(model.history_[0, "task_affinity"]) == 9


def test_affinity_tracking_does_not_change_the_fit(census_slice):
    X, Y = census_slice
    plain = _small("mmoe", dropout=0.2).fit(X, Y)
    tracked = _small("mmoe", dropout=0.2, track_task_affinity=True).fit(X, Y)
    np.testing.assert_array_equal(plain.predict_proba(X)[0], tracked.predict_proba(X)[0])
    assert np.isfinite(tracked.task_affinity_).all()


def test_groups_from_gradient_cosines():
    history = [{"grad_cosine": {"a|b": 0.6, "a|c": -0.2, "b|c": -0.3}},
               {"grad_cosine": {"a|b": 0.4, "a|c": -0.4, "b|c": -0.1}}]
    cos = gradient_cosine_matrix(history, ["a", "b", "c"])
    np.testing.assert_allclose(cos[0, 1], 0.5)
    assert propose_task_groups(cos, 2, names=["a", "b", "c"]) == [("a", "b"), ("c",)]
    # One network: everything together.
    assert propose_task_groups(cos, 1, names=["a", "b", "c"]) == [("a", "b", "c")]


def test_groups_may_overlap_as_in_the_paper():
    # c helps a and b, but a and b hurt each other: two networks {a, c} and {b, c}.
    Z = np.array([[0.0, -0.5, 0.0], [-0.5, 0.0, 0.0], [0.4, 0.4, 0.0]])
    groups, score = propose_task_groups(Z, 2, names=["a", "b", "c"], return_score=True)
    assert sorted(groups) == [("a", "c"), ("b", "c")]
    np.testing.assert_allclose(score, 0.8)


# ---------------------------------------------------------------------- bad input
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
    X, Y = _three_tasks(n=50)
    with pytest.raises(ValueError, match=match):
        _small(**params).fit(X, Y)


def test_propose_task_groups_bad_input():
    with pytest.raises(ValueError, match=r"affinity of shape \(2, 3\) is not valid"):
        propose_task_groups(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="n_groups=0 is not valid"):
        propose_task_groups(np.zeros((2, 2)), 0)
    with pytest.raises(ValueError, match="names has 3 entries but affinity is 2 x 2"):
        propose_task_groups(np.zeros((2, 2)), 1, names=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"tol=-1 is not valid: it must be a number in \[0, inf\)"):
        propose_task_groups(np.zeros((2, 2)), 1, tol=-1)
    with pytest.raises(ValueError, match="lower n_groups"):
        propose_task_groups(np.zeros((10, 10)), 4)


# ---------------------------------------------------------------------- in the comparison
def test_compare_transfer_carries_the_affinity_matrix(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn_mtl import compare_transfer

    X, Y = _three_tasks(n=1500)
    models = {"hard": _small("hard", track_task_affinity=True, max_epochs=2),
              "plain": _small("hard", max_epochs=2)}
    report = compare_transfer(models, X, Y, cv=2, random_state=0)
    matrix = report.affinity_matrix()
    assert list(matrix.index) == ["a", "b", "c"] and list(matrix.columns) == ["a", "b", "c"]
    assert np.isfinite(matrix.to_numpy()).all()
    expected = report.task_affinity.query("source == 'a' and target == 'b'")
    np.testing.assert_allclose(matrix.loc["a", "b"],
                               expected.groupby("fold")["affinity"].mean().mean())
    assert len(propose_task_groups(matrix, n_groups=2)) <= 2
    assert "task_affinity.csv" in [p.name for p in report.to_csv(tmp_path)]
    assert report.plot_affinity().get_title().startswith("hard: lookahead affinity")
    with pytest.raises(ValueError, match=r"model='plain' has no recorded task affinity"):
        report.affinity_matrix("plain")
    plain = compare_transfer({"plain": _small("hard", max_epochs=1)}, X, Y, cv=2)
    with pytest.raises(ValueError, match="no task affinity was recorded"):
        plain.affinity_matrix()


def test_cli_compare_with_balancing_switches(tmp_path, capsys):
    from sklearn_mtl.cli import main

    X, Y = _three_tasks(n=600)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).join(Y)
    path = tmp_path / "three.csv"
    frame.to_csv(path, index=False)
    code = main(["compare", "--data", str(path), "--targets", "a,b,c", "--models", "hard",
                 "--max-epochs", "2", "--cv", "2", "--task-weights", "dwa",
                 "--gradient-method", "pcgrad", "--task-affinity", "--out", str(tmp_path / "out")])
    assert code == 0
    assert "hard: proposed task groups (at most 2 networks): [" in capsys.readouterr().out
    assert (tmp_path / "out" / "task_affinity.png").stat().st_size > 5000
    with pytest.raises(SystemExit):
        main(["compare", "--gradient-method", "mgda"])
