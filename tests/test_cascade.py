"""Cascades beyond ESMM's product: the counterfactual risk of ``cascade_debias`` (ESCM² IPS and
DR) and the ``"aitm"`` chain: the risk and the calibrator against hand computations, what they
train, fit / predict / save / load / ONNX round trips, and their bad parameters."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from conftest import FAST, ctr_split
from sklearn.base import clone

from sklearn_mtl import MultiTaskRecommender, load
from sklearn_mtl.nets import AITMNet, CascadeNet, SharedBottomNet

SMALL = dict(FAST, max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def ctr():
    data, train, test = ctr_split(n=3000)
    return data.data.iloc[train], data.target.iloc[train], data.data.iloc[test]


def _x(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g), torch.zeros(n, 0, dtype=torch.long)


Y_BATCH = torch.tensor([[1.0, 1.0], [0, 0], [1, 0], [0, 0], [1, 1], [float("nan"), 1]])


# ---------------------------------------------------------------- the risk, by hand
@pytest.mark.parametrize("debias", ["ips", "dr"])
def test_counterfactual_risk_matches_the_escm2_formulas(debias):
    torch.manual_seed(0)
    net = CascadeNet(SharedBottomNet(3, [], [], n_outputs=[1, 1], hidden_units=(4,)), [(1, 0)],
                     debias=debias, min_propensity=0.3, debias_weight=0.5).train()
    x = _x()
    net(*x)
    risk = float(net.training_penalty(Y_BATCH).detach())
    with torch.no_grad():
        cond = torch.sigmoid(net.conditional_outputs(*x)).numpy().astype(float)
        imputed = net.imputation[0](net.module.input(*x))[:, 0].numpy() if debias == "dr" else 0
    o, r = Y_BATCH[:5, 0].numpy(), Y_BATCH[:5, 1].numpy()  # row 5: parent unknown, not in D
    o_hat = np.maximum(cond[:5, 0], 0.3)
    p = cond[:5, 1]
    delta = -(r * np.log(p) + (1 - r) * np.log(1 - p))
    if debias == "ips":
        expected = np.mean(o * delta / o_hat)
    else:
        expected = (np.mean(imputed[:5] + o * (delta - imputed[:5]) / o_hat)
                    + np.mean(o * (delta - imputed[:5]) ** 2 / o_hat))
    assert risk == pytest.approx(0.5 * expected, rel=1e-5)
    assert net.training_penalty(Y_BATCH) is None  # one batch, one penalty


def test_propensity_is_detached_and_dr_trains_its_imputation_tower():
    torch.manual_seed(0)
    inner = SharedBottomNet(3, [], [], n_outputs=[1, 1], hidden_units=(4,))
    for debias in ("ips", "dr"):
        net = CascadeNet(inner, [(1, 0)], debias=debias).train()
        net.zero_grad()
        net(*_x())
        net.training_penalty(Y_BATCH).backward()
        # The risk reaches the child's tower, never the parent's: o_hat is a fixed estimate.
        assert inner.heads[1].out.weight.grad.abs().sum() > 0
        assert inner.heads[0].out.weight.grad is None or inner.heads[0].out.weight.grad.abs().sum() == 0
        if debias == "dr":
            assert net.imputation[0][1].out.weight.grad.abs().sum() > 0
    # Eval mode (predict, ONNX) keeps nothing for a penalty.
    net.eval()
    net(*_x())
    assert net.training_penalty(Y_BATCH) is None


# ---------------------------------------------------------------- the estimator
@pytest.mark.parametrize("architecture, params", [
    ("esmm", {"cascade_debias": "ips"}),
    ("esmm", {"cascade_debias": "dr"}),
    ("mmoe", {"cascade": {"purchase": "click"}, "cascade_debias": "dr"}),
    ("single", {"cascade": {"purchase": "click"}, "cascade_debias": "dr"}),
    ("aitm", {}),
])
def test_fit_predict_save_load_export_round_trip(ctr, tmp_path, architecture, params):
    X, Y, X_test = ctr
    model = MultiTaskRecommender(architecture, **params, **SMALL).fit(X, Y)
    assert model.cascade_ == {"purchase": "click"}
    proba, conditional = model.predict_proba(X_test), model.predict_conditional_proba(X_test)
    assert np.all(proba[1][:, 1] <= conditional[1][:, 1] + 1e-12)  # P(click, buy) <= P(buy | click)
    np.testing.assert_allclose(proba[0], conditional[0])
    assert model.n_params_ == sum(p.numel() for p in model.net_.module_.parameters())
    model.save(tmp_path / "m.skmtl")
    loaded = load(tmp_path / "m.skmtl")
    assert loaded.get_params() == model.get_params()
    assert loaded.n_params_ == model.n_params_
    for a, b in zip(loaded.predict_proba(X_test), proba):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    for a, b in zip(loaded.predict_conditional_proba(X_test), conditional):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict_proba(X_test)[1], proba[1], rtol=0, atol=1e-5)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from sklearn_mtl.export import onnx_inputs, to_onnx

    meta = to_onnx(model, tmp_path / "m.onnx")
    outputs = ort.InferenceSession(str(tmp_path / "m.onnx")).run(
        meta["outputs"], onnx_inputs(model, X_test))
    for a, b in zip(outputs, proba):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_debias_changes_the_training_and_not_the_validation_loss(ctr):
    X, Y, X_test = ctr
    plain = MultiTaskRecommender("esmm", **SMALL).fit(X, Y)
    ips = MultiTaskRecommender("esmm", cascade_debias="ips", **SMALL).fit(X, Y)
    # The same seeds draw the same weights and batches: only the loss differs.
    assert not np.allclose(plain.predict_conditional_proba(X_test)[1],
                           ips.predict_conditional_proba(X_test)[1])
    assert ips.history_[0, "train_loss"] > plain.history_[0, "train_loss"]
    # The single-task reference has neither the cascade nor its correction.
    assert ips._reference_params() == {"architecture": "single", "cascade": None,
                                       "cascade_debias": None}
    # The weight 0 is plain ESMM.
    zero = MultiTaskRecommender("esmm", cascade_debias="ips", debias_weight=0.0, **SMALL).fit(X, Y)
    np.testing.assert_allclose(zero.predict_proba(X_test)[1], plain.predict_proba(X_test)[1],
                               atol=1e-6)


def test_debias_with_gradient_surgery_and_chains(ctr):
    X, Y, X_test = ctr
    Y = Y.assign(repeat=np.where(Y["purchase"] == 1, (np.arange(len(Y)) % 2).astype(float), np.nan))
    cascade = {"repeat": "purchase", "purchase": "click"}
    model = MultiTaskRecommender("hard", cascade=cascade, cascade_debias="dr",
                                 gradient_method="pcgrad", **SMALL).fit(X, Y)
    p = model.predict_proba(X_test)
    assert np.all(p[2][:, 1] <= p[1][:, 1] + 1e-9) and np.all(p[1][:, 1] <= p[0][:, 1] + 1e-9)
    assert len(model.net_.module_.imputation) == 2


def test_aitm_chain_calibrator_and_reference(ctr):
    X, Y, X_test = ctr
    model = MultiTaskRecommender("aitm", **SMALL).fit(X, Y)
    assert isinstance(model.net_.module_, AITMNet) and model.net_.module_.links == [(1, 0)]
    assert model._reference_params() == {"architecture": "single", "cascade": None}
    ref = clone(model).set_params(**model._reference_params()).fit(X, Y)
    assert ref.cascade_ == {}
    # Longer chains and explicit cascades; a stronger calibrator leaves fewer children above
    # their parent.
    torch.manual_seed(0)
    net = AITMNet(3, [], [], n_outputs=[1, 1, 1], hidden_units=(4,), links=[(1, 0), (2, 1)],
                  calibration_strength=2.0).train()
    out = net(*_x())
    p = torch.sigmoid(out).detach().numpy()
    expected = 2.0 * np.mean(np.maximum(p[:, 1] - p[:, 0], 0) + np.maximum(p[:, 2] - p[:, 1], 0))
    assert float(net.training_penalty(torch.zeros(6, 3)).detach()) == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------- bad parameters
@pytest.mark.parametrize("params, match", [
    ({"architecture": "esmm", "cascade_debias": "ipw"},
     r"cascade_debias='ipw' is not valid: use None or one of \('ips', 'dr'\)"),
    ({"architecture": "esmm", "cascade_debias": "ips", "min_propensity": 0},
     r"min_propensity=0 is not valid"),
    ({"architecture": "esmm", "cascade_debias": "ips", "min_propensity": 1.5},
     r"min_propensity=1.5 is not valid"),
    ({"architecture": "esmm", "cascade_debias": "dr", "debias_weight": -1},
     r"debias_weight=-1 is not valid"),
    ({"architecture": "aitm", "calibration_strength": "high"},
     r"calibration_strength='high' is not valid"),
    ({"architecture": "hard", "cascade_debias": "ips"},
     r"cascade_debias='ips' needs a cascade: pass cascade=\{child: parent\}"),
    ({"architecture": "aitm", "cascade_debias": "dr"},
     r"cascade_debias='dr' is not valid with architecture='aitm'"),
])
def test_bad_debias_and_aitm_parameters(ctr, params, match):
    X, Y, _ = ctr
    with pytest.raises(ValueError, match=match):
        MultiTaskRecommender(**params, **SMALL).fit(X, Y)


def test_debias_without_a_cascade_on_one_task_is_refused(ctr):
    X, Y, _ = ctr
    with pytest.raises(ValueError, match=r"cascade_debias='dr' needs a cascade.*'esmm'"):
        MultiTaskRecommender("esmm", cascade_debias="dr", **SMALL).fit(X, Y["click"])
