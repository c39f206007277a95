"""OMoE, CGC / PLE and ESMM-style cascades: routing, capacity, the entire-space loss, real data."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from torch.nn import functional as F

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.datasets import make_ctr_cvr_data
from sklearn_mtl.losses import MultiTaskLoss
from sklearn_mtl.metrics import per_task_scores
from sklearn_mtl.nets import MLP, CascadeNet, ESMMNet, ExpertBank, MMoENet, OMoENet, PLENet
from sklearn_mtl.tuning import default_search_space

FAST = dict(hidden_units=(16,), tower_units=(8,), n_experts=3, max_epochs=6, batch_size=256, lr=1e-2)
NO_CAT = torch.zeros(6, 0, dtype=torch.long)


def _outputs_after_perturbing(net, params, x):
    """Outputs of ``net`` on ``x`` before and after adding noise to ``params``."""
    before = net.task_outputs(x, NO_CAT)
    with torch.no_grad():
        for p in params:
            p.add_(torch.randn_like(p))
    after = net.task_outputs(x, NO_CAT)
    return before, after


def _ple(n_levels, **kw):
    torch.manual_seed(0)
    return PLENet(5, [], [], n_outputs=[1, 1], hidden_units=(8,), tower_units=(4,),
                  n_levels=n_levels, n_shared_experts=2, n_task_experts=1, **kw)


def test_cgc_task_sees_only_its_own_and_the_shared_experts():
    net, x = _ple(1), torch.randn(6, 5)
    other = list(net.levels[0].task_experts[1].parameters())
    before, after = _outputs_after_perturbing(net, other, x)
    torch.testing.assert_close(after[0], before[0])  # task 0 cannot see task 1's expert
    assert not torch.allclose(after[1], before[1])
    shared = list(net.levels[0].shared_experts.parameters())
    before, after = _outputs_after_perturbing(net, shared, x)
    assert not torch.allclose(after[0], before[0]) and not torch.allclose(after[1], before[1])


def test_ple_shared_gate_carries_task_experts_to_the_next_level_only():
    net, x = _ple(2), torch.randn(6, 5)
    # Level 0's shared gate mixes task 1's expert into level 1's shared experts, which task 0 reads.
    before, after = _outputs_after_perturbing(net, list(net.levels[0].task_experts[1].parameters()), x)
    assert not torch.allclose(after[0], before[0])
    # On the last level there is no shared gate: task 1's expert stays invisible to task 0.
    assert net.levels[1].shared_gate is None
    before, after = _outputs_after_perturbing(net, list(net.levels[1].task_experts[1].parameters()), x)
    torch.testing.assert_close(after[0], before[0])
    assert not torch.allclose(after[1], before[1])


def test_ple_gate_weights_layout_and_parameter_count():
    d, h, tower = 5, 8, 4
    net = _ple(2)
    levels = net.gate_weights(torch.randn(6, d), NO_CAT)
    assert [tuple(lv["tasks"].shape) for lv in levels] == [(6, 2, 3), (6, 2, 3)]
    assert tuple(levels[0]["shared"].shape) == (6, 4) and levels[1]["shared"] is None
    for lv in levels:
        torch.testing.assert_close(lv["tasks"].sum(dim=2), torch.ones(6, 2))
    # Per level: 2 shared + 2 x 1 task experts, a 3-way gate per task, a 4-way shared gate
    # on level 0 only; then two towers.
    expected = (4 * (d * h + h) + 2 * (d * 3 + 3) + (d * 4 + 4)
                + 4 * (h * h + h) + 2 * (h * 3 + 3)
                + 2 * (h * tower + tower + tower + 1))
    assert sum(p.numel() for p in net.parameters()) == expected


def test_omoe_is_mmoe_with_one_gate():
    torch.manual_seed(0)
    omoe = OMoENet(5, [], [], n_outputs=[1, 1, 1], hidden_units=(8,), n_experts=4)
    mmoe = MMoENet(5, [], [], n_outputs=[1, 1, 1], hidden_units=(8,), n_experts=4)
    gates = omoe.gate_weights(torch.randn(6, 5), NO_CAT)
    torch.testing.assert_close(gates[:, 0], gates[:, 2])
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(mmoe) - n(omoe) == 2 * (5 * 4 + 4)  # two gates fewer


@pytest.mark.parametrize("units", [(8,), (8, 5), (6, 4, 3)])
@pytest.mark.parametrize("n_experts", [0, 1, 3])
def test_expert_bank_is_a_list_of_expert_mlps(units, n_experts):
    # Same draws, same weights, same outputs as one MLP per expert.
    torch.manual_seed(0)
    mlps = torch.nn.ModuleList(MLP(5, units, dropout=0.1) for _ in range(n_experts)).eval()
    torch.manual_seed(0)
    bank = ExpertBank(5, units, n_experts, dropout=0.1).eval()
    x = torch.randn(7, 5)
    expected = torch.stack([m(x) for m in mlps], dim=1) if n_experts else torch.zeros(7, 0, units[-1])
    torch.testing.assert_close(bank(x), expected)
    assert sum(p.numel() for p in bank.parameters()) == sum(p.numel() for p in mlps.parameters())


def test_expert_bank_trains_each_expert_on_its_own_weights():
    torch.manual_seed(0)
    bank = ExpertBank(4, (6, 3), 3)
    bank(torch.randn(10, 4))[:, 1].sum().backward()
    for grads in ([w.grad for w in bank.weights], [b.grad for b in bank.biases]):
        for g in grads:
            assert g[1].abs().sum() > 0
            assert g[0].abs().sum() == 0 and g[2].abs().sum() == 0


def test_cascade_loss_is_the_entire_space_product_loss():
    torch.manual_seed(0)
    inner = ESMMNet(3, [], [], n_outputs=[1, 1], hidden_units=(4,))
    net = CascadeNet(inner, [(1, 0)])
    x = torch.randn(64, 3)
    y = torch.tensor(np.random.default_rng(0).integers(0, 2, size=(64, 2)), dtype=torch.float32)
    y[:, 1] *= y[:, 0]  # purchase only after a click
    loss = MultiTaskLoss(["binary", "binary"], [1, 1])(net(x, torch.zeros(64, 0, dtype=torch.long)), y)
    cond = torch.sigmoid(inner(x, torch.zeros(64, 0, dtype=torch.long)))
    p_ctr, p_ctcvr = cond[:, 0], cond[:, 0] * cond[:, 1]
    expected = F.binary_cross_entropy(p_ctr, y[:, 0]) + F.binary_cross_entropy(p_ctcvr, y[:, 1])
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_cascade_trains_the_conditional_tower_on_unclicked_rows():
    """ESMM's point: rows without a click still train the conversion tower (label 0)."""
    X = np.random.default_rng(0).normal(size=(64, 3))
    unclicked = np.column_stack([np.zeros(64), np.full(64, np.nan)])
    grads = {}
    for cascade in (None, {"task_1": "task_0"}):
        model = MultiTaskRecommender("esmm" if cascade else "single", cascade=cascade,
                                     hidden_units=(4,), max_epochs=1, random_state=0,
                                     validation_fraction=None)
        Y = unclicked.copy()
        Y[:10, 0], Y[:10, 1] = 1, np.arange(10) % 2  # ten clicked rows, five purchases
        model.fit(X, Y)
        net = model.net_
        net.module_.zero_grad()
        x = {"x_num": torch.tensor(X[1:], dtype=torch.float32),
             "x_cat": torch.zeros(63, 0, dtype=torch.long)}
        y_enc = torch.tensor(np.column_stack([np.zeros(63), np.zeros(63)]), dtype=torch.float32)
        if cascade is None:
            y_enc[:, 1] = float("nan")  # without a cascade these rows carry no purchase label
        net.get_loss(net.infer(x), {"y": y_enc}, training=True).backward()
        inner = net.module_.module if cascade else net.module_
        head = inner.heads[1] if cascade else inner.columns[1].head
        grads[bool(cascade)] = head.out.weight.grad.abs().sum().item()
    assert grads[True] > 0
    assert grads[False] == 0


def _ctr_split(n=6000, seed=0):
    data = make_ctr_cvr_data(n_samples=n, random_state=seed, return_bunch=True)
    idx_train, idx_test = train_test_split(np.arange(n), test_size=0.3, random_state=seed)
    return data, idx_train, idx_test


def test_esmm_label_semantics_predictions_and_pickle(tmp_path):
    data, train, test = _ctr_split()
    X, Y = data.data, data.target
    assert Y["purchase"].isna().sum() == (Y["click"] == 0).sum()
    model = MultiTaskRecommender("esmm", random_state=0, **FAST).fit(X.iloc[train], Y.iloc[train])
    assert model.cascade_ == {"purchase": "click"}
    # NaN and 0 on unclicked rows are the same label.
    zeros = Y.iloc[train].fillna(0.0)
    same = clone(model).fit(X.iloc[train], zeros)
    X_test = X.iloc[test]
    np.testing.assert_allclose(same.predict_proba(X_test)[1], model.predict_proba(X_test)[1])
    # predict_proba is the entire-space P(click and purchase); the conditional one divides it out.
    entire = model.predict_proba(X_test)
    conditional = model.predict_conditional_proba(X_test)
    np.testing.assert_allclose(conditional[0], entire[0])
    np.testing.assert_allclose(entire[1][:, 1], entire[0][:, 1] * conditional[1][:, 1], rtol=1e-4)
    assert np.all(entire[1][:, 1] <= entire[0][:, 1] + 1e-7)
    # The conditional pCVR ranks the latent conversion of every test impression (6 epochs on
    # 4,200 rows: above chance, far from the 0.80 of the true pCVR; bench_esmm.py measures it).
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(data.conversion[test], conditional[1][:, 1]) > 0.5
    path = tmp_path / "esmm.pkl"
    path.write_bytes(pickle.dumps(model))
    loaded = pickle.loads(path.read_bytes())
    np.testing.assert_allclose(loaded.predict_conditional_proba(X_test)[1], conditional[1])


def test_a_purchase_without_a_click_is_read_as_zero_with_a_warning():
    data, train, _ = _ctr_split(n=2000)
    X, Y = data.data.iloc[train], data.target.iloc[train].copy()
    Y.loc[Y["click"] == 0, "purchase"] = 0.0
    Y.iloc[np.flatnonzero(Y["click"].to_numpy() == 0)[:3], 1] = 1.0
    model = MultiTaskRecommender("hard", cascade={"purchase": "click"}, **{**FAST, "max_epochs": 1})
    with pytest.warns(UserWarning, match=r"3 rows have 'purchase' = 1 where its cascade parent "
                                         r"'click' = 0; a cascade reads them as 0\."):
        model.fit(X, Y)


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
    data, train, _ = _ctr_split(n=500)
    Y = data.target.copy()
    Y["spend"] = np.random.default_rng(0).normal(size=len(Y))
    with pytest.raises(ValueError, match=match):
        MultiTaskRecommender(**{"max_epochs": 1, **params}).fit(data.data, Y)


def test_cascade_chains_multiply_along_the_chain():
    data, _, _ = _ctr_split(n=1500)
    X, Y = data.data, data.target.copy()
    Y["repeat"] = np.where(Y["purchase"] == 1, np.random.default_rng(0).integers(0, 2, len(Y)), 0)
    model = MultiTaskRecommender("mmoe", cascade={"repeat": "purchase", "purchase": "click"},
                                 **{**FAST, "max_epochs": 2}).fit(X, Y)
    p, q = model.predict_proba(X.iloc[:50]), model.predict_conditional_proba(X.iloc[:50])
    np.testing.assert_allclose(p[2][:, 1], q[0][:, 1] * q[1][:, 1] * q[2][:, 1], rtol=1e-4)


@pytest.mark.parametrize("architecture", ["omoe", "cgc", "ple"])
def test_expert_architectures_learn_census(census_small, architecture):
    X, Y = census_small
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.3, random_state=0,
                                                        stratify=Y["income"])
    model = MultiTaskRecommender(architecture, random_state=0, **FAST).fit(X_train, Y_train)
    scores = per_task_scores(model, X_test, Y_test)
    assert scores["income"] > 0.85 and scores["never_married"] > 0.9
    assert model.n_params_ == sum(p.numel() for p in model.net_.module_.parameters())
    gates = model.gate_weights(X_test)
    if architecture == "omoe":
        np.testing.assert_allclose(gates[:, 0], gates[:, 1])
    else:
        assert len(gates) == (2 if architecture == "ple" else 1)
        np.testing.assert_allclose(gates[0]["tasks"].sum(axis=2), 1.0, rtol=1e-5)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(loaded.predict_proba(X_test)[0], model.predict_proba(X_test)[0])


@pytest.mark.parametrize("architecture", ["ple", "omoe"])
def test_movielens_binary_and_regression(movielens, architecture):
    X, Y = movielens
    X, Y = X.iloc[:6000], Y.iloc[:6000]
    model = MultiTaskRecommender(architecture, tasks=["binary", "regression"], random_state=0,
                                 **{**FAST, "max_epochs": 3}).fit(X.iloc[:5000], Y.iloc[:5000])
    pred = model.predict(X.iloc[5000:])
    assert pred.shape == (1000, 2)
    assert np.isfinite(pred[:, 1].astype(float)).all()
    assert per_task_scores(model, X.iloc[5000:], Y.iloc[5000:])["liked"] > 0.55


def test_reference_params_drop_the_cascade():
    data, train, test = _ctr_split(n=1500)
    esmm = MultiTaskRecommender("esmm", **{**FAST, "max_epochs": 2})
    assert esmm._reference_params() == {"architecture": "single", "cascade": None}
    assert MultiTaskRecommender("ple")._reference_params() == {"architecture": "single"}
    reference = clone(esmm).set_params(**esmm._reference_params())
    reference.fit(data.data.iloc[train], data.target.iloc[train])
    assert reference.cascade_ == {}
    assert reference.predict_proba(data.data.iloc[test])[1].shape == (len(test), 2)


@pytest.mark.parametrize("architecture, extra", [
    ("omoe", {"n_experts"}),
    ("cgc", {"n_shared_experts", "n_task_experts"}),
    ("ple", {"n_shared_experts", "n_task_experts", "n_levels"}),
    ("esmm", set()),
])
def test_default_search_spaces(architecture, extra):
    space = set(default_search_space(MultiTaskRecommender(architecture)))
    base = set(default_search_space(MultiTaskRecommender("hard")))
    assert space - base == extra


def test_tune_ple_with_its_default_space(census_1500):
    from sklearn_mtl.tuning import tune

    X, Y = census_1500
    model = MultiTaskRecommender("ple", max_epochs=2, batch_size=256, random_state=0, device="cpu")
    result = tune(model, X.iloc[:600], Y.iloc[:600], n_trials=2, random_state=0)
    assert {"n_levels", "n_shared_experts", "n_task_experts"} <= set(result.best_params_)
    assert result.best_estimator_.n_levels == result.best_params_["n_levels"]
    assert len(result.best_estimator_.gate_weights(X.iloc[:5])) == result.best_params_["n_levels"]


def test_compare_transfer_with_esmm_and_its_reference():
    from sklearn_mtl import compare_transfer

    data, _, _ = _ctr_split(n=3000)
    X, Y = data.data, data.target.fillna(0.0)  # entire-space labels: scored on every impression
    esmm = MultiTaskRecommender("esmm", **{**FAST, "max_epochs": 3})
    # The default reference is the first net's single-task twin: "single" without the cascade.
    report = compare_transfer({"esmm": esmm, "omoe": MultiTaskRecommender("omoe", **FAST)}, X, Y,
                              cv=2, random_state=0, return_estimators=True)
    fitted = report.estimators[("reference", 0)]
    assert (fitted.architecture, fitted.cascade, fitted.cascade_) == ("single", None, {})
    assert report.shared == {"esmm": True, "omoe": True}
    summary = report.summary()
    assert {"esmm", "omoe"} <= set(summary.index.get_level_values(0))
    assert set(summary.index.get_level_values(1)) == {"click", "purchase"}
