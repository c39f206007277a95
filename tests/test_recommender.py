"""MultiTaskRecommender (sklearn_mtl._recommender) as a user drives it: census and MovieLens frames
straight into fit, Pipelines, searches, pickling, seeds, early stopping, callbacks, devices, batch
sizes, id dropout, the expert architectures and cascades, and bad parameters and data."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST, census_one_hot, ctr_split, slow_except
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.metrics import per_task_scores

ARCHITECTURES = ["hard", "soft", "mmoe", "single"]

@pytest.fixture(scope="module")
def split(census_small):
    X, Y = census_small
    return train_test_split(X, Y, test_size=0.3, random_state=0, stratify=Y["income"])


@pytest.mark.parametrize("architecture", ["hard", "soft", "mmoe", "single"])
def test_each_architecture_learns_census_in_a_pipeline(split, architecture):
    X_train, X_test, Y_train, Y_test = split
    model = make_pipeline(
        census_one_hot(X_train),
        MultiTaskRecommender(architecture, random_state=0, **FAST),
    )
    model.fit(X_train, Y_train)
    pred = model.predict(X_test)
    assert pred.shape == (len(X_test), 2)
    assert set(np.unique(pred)) <= {0, 1}
    proba = model.predict_proba(X_test)
    assert isinstance(proba, list) and len(proba) == 2
    assert all(p.shape == (len(X_test), 2) for p in proba)
    np.testing.assert_allclose(proba[0].sum(axis=1), 1.0, rtol=1e-6)
    est = model[-1]
    assert est.task_names_ == ["income", "never_married"]
    assert est.tasks_ == ["binary", "binary"]
    scores = per_task_scores(model, X_test, Y_test)
    # Six epochs on 3,500 rows: well above chance, far from the full-data figures.
    assert scores["income"] > 0.85
    assert scores["never_married"] > 0.9
    assert model.score(X_test, Y_test) == pytest.approx(np.mean(list(scores.values())))


def test_cross_validate_and_grid_search_over_architecture(census_small):
    X, Y = census_small
    X, Y = X.iloc[:2000], Y.iloc[:2000]
    pipe = make_pipeline(census_one_hot(X), MultiTaskRecommender(random_state=0, **FAST))
    cv = KFold(3, shuffle=True, random_state=0)
    result = cross_validate(pipe, X, Y, cv=cv)
    assert result["test_score"].shape == (3,)
    assert np.all((result["test_score"] > 0.5) & (result["test_score"] <= 1))

    search = GridSearchCV(
        pipe,
        {"multitaskrecommender__architecture": ["hard", "mmoe"], "multitaskrecommender__lr": [3e-3]},
        cv=cv,
    )
    search.fit(X, Y)
    assert search.best_params_["multitaskrecommender__architecture"] in {"hard", "mmoe"}
    assert search.best_estimator_[-1].architecture == search.best_params_[
        "multitaskrecommender__architecture"
    ]
    assert search.best_estimator_.predict(X.iloc[:5]).shape == (5, 2)


def test_clone_and_nested_set_params_keep_parameters_verbatim():
    est = MultiTaskRecommender("soft", hidden_units=[32, 16], task_weights=[1.0, 2.0])
    pipe = make_pipeline(est)
    pipe.set_params(multitaskrecommender__sharing_strength=0.5)
    assert est.sharing_strength == 0.5
    assert est.hidden_units == [32, 16]  # stored as given, not converted
    twin = clone(pipe)
    assert twin[-1].get_params() == est.get_params()


def test_pickle_round_trip_gives_identical_predictions(split, tmp_path):
    X_train, X_test, Y_train, _ = split
    model = make_pipeline(census_one_hot(X_train), MultiTaskRecommender("mmoe", random_state=0, **FAST))
    model.fit(X_train, Y_train)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    loaded = pickle.loads(path.read_bytes())
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    for a, b in zip(loaded.predict_proba(X_test), model.predict_proba(X_test)):
        np.testing.assert_array_equal(a, b)


def test_same_random_state_gives_identical_predictions(split):
    X_train, X_test, Y_train, _ = split
    pre = census_one_hot(X_train).fit(X_train)
    Xt, Xv = pre.transform(X_train), pre.transform(X_test)
    for arch in ("hard", "mmoe"):
        a = MultiTaskRecommender(arch, random_state=3, dropout=0.2, **FAST).fit(Xt, Y_train)
        b = MultiTaskRecommender(arch, random_state=3, dropout=0.2, **FAST).fit(Xt, Y_train)
        np.testing.assert_array_equal(
            a.predict_proba(Xv)[0], b.predict_proba(Xv)[0], err_msg=arch
        )
    c = MultiTaskRecommender("hard", random_state=4, dropout=0.2, **FAST).fit(Xt, Y_train)
    assert not np.array_equal(a.predict_proba(Xv)[0], c.predict_proba(Xv)[0])


def test_fit_leaves_the_global_torch_rng_alone():
    X = np.random.default_rng(0).normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MultiTaskRecommender("hard", random_state=0, max_epochs=2).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())


def _bottom_distance(model):
    module = model.net_.module_
    a, b = module.bottom_parameters(0), module.bottom_parameters(1)
    return float(sum((p - q).pow(2).sum() for p, q in zip(a, b)).detach())


def test_soft_sharing_strength_pulls_the_bottoms_together(split):
    X_train, _, Y_train, _ = split
    Xt = census_one_hot(X_train).fit_transform(X_train)
    params = dict(FAST, early_stopping=False, random_state=0)
    free = MultiTaskRecommender("soft", sharing_strength=0.0, **params).fit(Xt, Y_train)
    tied = MultiTaskRecommender("soft", sharing_strength=1.0, **params).fit(Xt, Y_train)
    assert _bottom_distance(tied) < 0.2 * _bottom_distance(free)


def test_mmoe_gate_weights_sum_to_one_per_row_and_task(split):
    X_train, X_test, Y_train, _ = split
    pre = census_one_hot(X_train).fit(X_train)
    model = MultiTaskRecommender("mmoe", random_state=0, **FAST).fit(pre.transform(X_train), Y_train)
    gates = model.gate_weights(pre.transform(X_test))
    assert gates.shape == (len(X_test), 2, 3)
    assert np.all(gates >= 0)
    np.testing.assert_allclose(gates.sum(axis=2), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match=r"gate_weights needs architecture in \('mmoe'"):
        MultiTaskRecommender("hard", **FAST).fit(pre.transform(X_train), Y_train).gate_weights(
            pre.transform(X_test)
        )


def test_one_d_target_string_labels_and_multiclass():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = np.where(X[:, 0] > 0, "click", "skip")
    model = MultiTaskRecommender("hard", random_state=0, max_epochs=10, lr=1e-2).fit(X, y)
    pred = model.predict(X)
    assert pred.shape == (600,)
    assert set(pred) <= {"click", "skip"}
    assert model.predict_proba(X).shape == (600, 2)
    assert model.classes_[0].tolist() == ["click", "skip"]
    assert model.score(X, y) > 0.9

    Y = pd.DataFrame(
        {"genre": np.select([X[:, 1] < -0.5, X[:, 1] > 0.5], ["a", "c"], "b"), "dwell": X[:, 2] * 30 + 60}
    )
    model = MultiTaskRecommender("mmoe", random_state=0, max_epochs=10, lr=1e-2).fit(X, Y)
    assert model.tasks_ == ["multiclass", "regression"]
    pred = model.predict(X)
    assert pred.dtype == object and pred.shape == (600, 2)
    proba = model.predict_proba(X)
    assert proba[0].shape == (600, 3) and proba[1] is None
    # The regression task is predicted on its own scale, not the standardized one.
    assert abs(np.mean(pred[:, 1].astype(float)) - 60) < 10


def test_early_stopping_restores_the_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 30))
    y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)  # few rows, many features: overfits
    model = MultiTaskRecommender(
        "hard", hidden_units=(128, 128), lr=1e-2, max_epochs=60, patience=3, random_state=0
    ).fit(X, y)
    valid = model.history_[:, "valid_loss"]
    assert model.n_epochs_ < 60
    best = int(np.argmin(valid))
    assert model.n_epochs_ == best + 1 + 3
    # The restored weights are the best epoch's: re-scoring the validation loss is not the last.
    assert model.history_[best, "valid_loss_best"]


def test_validation_fraction_none_and_no_early_stopping():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    m = MultiTaskRecommender("hard", validation_fraction=None, max_epochs=3, random_state=0).fit(X, y)
    assert "valid_loss" not in m.history_[-1]
    m = MultiTaskRecommender("hard", early_stopping=False, max_epochs=3, random_state=0).fit(X, y)
    assert m.n_epochs_ == 3 and "valid_loss" not in m.history_[-1]


def test_user_callbacks_run_and_are_not_mutated(capsys):
    class CountEpochs(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    cb = CountEpochs()
    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    model = MultiTaskRecommender(
        "hard", callbacks=[cb], max_epochs=3, early_stopping=False, verbose=1
    ).fit(X, y)
    assert not hasattr(cb, "epochs")  # the user's instance is not touched
    assert dict(model.net_.callbacks_)["CountEpochs"].epochs == 3
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out  # skorch's table with verbose=1


def test_cuda_trained_model_pickle_loads_on_cpu(tmp_path):
    """A pickle whose net says CUDA loads on a CPU-only machine through skorch's device mapping."""
    if torch.cuda.is_available():
        pytest.skip("this check simulates the CPU-only side")
    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    model = MultiTaskRecommender("hard", max_epochs=2, random_state=0).fit(X, y)
    expected = model.predict_proba(X)
    model.net_.device = "cuda"  # what a CUDA fit leaves in the pickle
    model.device_ = "cuda"
    with pytest.warns(Warning, match="CUDA"):
        loaded = pickle.loads(pickle.dumps(model))
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_predicts():
    X = np.random.default_rng(0).normal(size=(500, 3))
    y = (X[:, 0] > 0).astype(int)
    model = MultiTaskRecommender("mmoe", device="cuda", max_epochs=3, random_state=0).fit(X, y)
    assert model.device_.startswith("cuda")
    assert model.score(X, y) > 0.8


# ---------------------------------------------------------------- raw frames, labels, weights
# "hard" by default; the other architectures with the slow tests.
@pytest.mark.parametrize("architecture", slow_except(ARCHITECTURES, keep=("hard",)))
def test_movielens_frame_with_ids_straight_into_fit(movielens_12k, architecture):
    X, Y = movielens_12k
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.2, random_state=0)
    model = MultiTaskRecommender(
        architecture, tasks=["binary", "regression"], lr=5e-3, max_epochs=6, random_state=0,
        hidden_units=(32,), tower_units=(8,),
    ).fit(X_train, Y_train)
    assert list(model.feature_names_in_) == list(X.columns)
    assert model.task_names_ == ["liked", "rating"]
    enc = model._features
    assert {"user_id", "item_id", "gender", "occupation", "zip_code"} <= set(enc.categorical_columns_)
    users = X_train["user_id"].nunique()
    assert enc.cardinalities_[enc.categorical_columns_.index("user_id")] == users + 1
    pred = model.predict(X_test)
    # The rating is predicted on the 1-5 scale (the loss saw it standardized).
    assert 2.5 < pred[:, 1].mean() < 4.5
    scores = per_task_scores(model, X_test, Y_test, metric={"rating": "rmse"})
    assert scores["liked"] > 0.62  # chance is 0.5; 9,600 rows leave most ids rare
    assert scores["rating"] < 1.1


@pytest.mark.slow
def test_census_raw_frame_straight_into_fit(census_small):
    X, Y = census_small
    assert X.select_dtypes(exclude="number").shape[1] > 20  # category columns, no preprocessing
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.3, random_state=0)
    model = MultiTaskRecommender("mmoe", lr=5e-3, max_epochs=10, random_state=0).fit(X_train, Y_train)
    scores = per_task_scores(model, X_test, Y_test)
    assert scores["income"] > 0.85 and scores["never_married"] > 0.95


def test_missing_labels_are_masked(census_small):
    X, Y = census_small
    Y = Y.astype(float)
    rng = np.random.default_rng(1)
    hidden = rng.random(len(Y)) < 0.35
    Y_missing = Y.copy()
    Y_missing.loc[hidden, "income"] = np.nan
    model = MultiTaskRecommender("hard", lr=5e-3, max_epochs=5, random_state=0).fit(X, Y_missing)
    # Scored on the hidden labels, which the model never saw: it still ranks them.
    scores = per_task_scores(model, X[hidden], Y[hidden])
    assert scores["income"] > 0.85
    # Scoring skips rows whose label is missing instead of failing.
    assert np.isfinite(model.score(X, Y_missing))


def test_rows_without_any_label_warn():
    X = np.random.default_rng(0).normal(size=(200, 3))
    Y = np.column_stack([(X[:, 0] > 0).astype(float), X[:, 1]])
    Y[:7] = np.nan
    with pytest.warns(UserWarning, match="7 of 200 rows have no label for any task"):
        MultiTaskRecommender("hard", max_epochs=1).fit(X, Y)


def test_sample_weight_changes_the_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=600) > 0).astype(int)
    params = dict(architecture="hard", max_epochs=5, random_state=0)
    plain = MultiTaskRecommender(**params).fit(X, y).predict_proba(X)
    ones = MultiTaskRecommender(**params).fit(X, y, sample_weight=np.ones(600)).predict_proba(X)
    np.testing.assert_allclose(plain, ones, rtol=1e-5, atol=1e-6)
    w = np.where(X[:, 1] > 0, 5.0, 0.2)
    weighted = MultiTaskRecommender(**params).fit(X, y, sample_weight=w).predict_proba(X)
    assert np.abs(weighted - plain).max() > 1e-3


# ---------------------------------------------------------------- batch size, id dropout
def test_small_census_learns_in_four_epochs_at_the_default_batch_size(census_small):
    # 1024-row batches gave 5,000 rows 4 optimizer steps an epoch: income AUC 0.43-0.60 after 4.
    X, Y = census_small
    X_tr, X_te, Y_tr, Y_te = train_test_split(X, Y, test_size=0.3, random_state=0,
                                              stratify=Y["income"])
    torch.set_num_threads(1)
    model = MultiTaskRecommender("hard", max_epochs=4, random_state=0).fit(X_tr, Y_tr)
    assert model.batch_size_ == 32
    assert per_task_scores(model, X_te, Y_te)["income"] > 0.85


@pytest.mark.parametrize("n, expected", [(500, 32), (7_560, 64), (50_000, 256), (125_000, 1024)])
def test_auto_batch_size_gives_about_100_steps_an_epoch(n, expected):
    from sklearn_mtl._recommender._params import resolve_batch_size as _resolve_batch_size

    assert _resolve_batch_size("auto", n) == expected
    assert _resolve_batch_size(300, n) == 300


class UnknownRowGradient(Callback):
    """Records whether the unknown row (index 0) of the first embedding received a gradient."""

    def __init__(self):
        self.touched = []

    def on_grad_computed(self, net, named_parameters, **kwargs):
        for name, p in named_parameters:
            if "embeddings.0.weight" in name and p.grad is not None:
                self.touched.append(bool(p.grad[0].abs().sum() > 0))


@pytest.mark.parametrize("id_dropout, trained", [(0.0, False), (0.05, True)])
def test_id_dropout_trains_the_unknown_embedding(movielens, id_dropout, trained):
    X, Y = movielens
    X, Y = X.iloc[:3000], Y.iloc[:3000]
    probe = UnknownRowGradient()
    model = MultiTaskRecommender("hard", tasks=["binary", "regression"], id_dropout=id_dropout,
                                 max_epochs=1, random_state=0, callbacks=[probe]).fit(X, Y)
    recorded = model.net_.callbacks_[[n for n, _ in model.net_.callbacks_].index(
        "UnknownRowGradient")][1].touched
    assert any(recorded) is trained


def test_id_dropout_is_validated():
    X, Y = np.zeros((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match=r"id_dropout=1.5 is not valid"):
        MultiTaskRecommender(id_dropout=1.5).fit(X, Y)


def test_readme_example_learns_the_click_rate():
    # README's third example: with 1024-row batches the click probabilities stayed at ~0.505
    # for a 30 % click rate after 5 epochs.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "user_id": rng.integers(0, 300, 5000).astype(str),
        "item_id": pd.Categorical(rng.integers(0, 100, 5000)),
        "price": np.where(rng.random(5000) < 0.1, np.nan, rng.gamma(2.0, 10.0, 5000)),
    })
    Y = pd.DataFrame({"click": (rng.random(5000) < 0.3).astype(float),
                      "dwell_seconds": rng.gamma(3.0, 20.0, 5000)})
    Y.loc[Y["click"] == 0, "dwell_seconds"] = np.nan
    model = MultiTaskRecommender("hard", max_epochs=5, random_state=0).fit(X, Y)
    proba = model.predict_proba(X)[0][:, 1]
    assert abs(proba.mean() - Y["click"].mean()) < 0.05


# ---------------------------------------------------------------- expert architectures, cascades
def test_esmm_label_semantics_predictions_and_pickle(tmp_path):
    data, train, test = ctr_split()
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
    data, train, _ = ctr_split(n=2000)
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
    data, train, _ = ctr_split(n=500)
    Y = data.target.copy()
    Y["spend"] = np.random.default_rng(0).normal(size=len(Y))
    with pytest.raises(ValueError, match=match):
        MultiTaskRecommender(**{"max_epochs": 1, **params}).fit(data.data, Y)


def test_cascade_chains_multiply_along_the_chain():
    data, _, _ = ctr_split(n=1500)
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
    data, train, test = ctr_split(n=1500)
    esmm = MultiTaskRecommender("esmm", **{**FAST, "max_epochs": 2})
    assert esmm._reference_params() == {"architecture": "single", "cascade": None}
    assert MultiTaskRecommender("ple")._reference_params() == {"architecture": "single"}
    reference = clone(esmm).set_params(**esmm._reference_params())
    reference.fit(data.data.iloc[train], data.target.iloc[train])
    assert reference.cascade_ == {}
    assert reference.predict_proba(data.data.iloc[test])[1].shape == (len(test), 2)


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


def test_bad_data_messages():
    est = MultiTaskRecommender("hard", max_epochs=1)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[50, 49\]"):
        est.fit(X_OK, Y_OK[:49])
    with pytest.raises(ValueError, match=r"Task 'task_0' has only one class \(1.0\)"):
        est.fit(X_OK, np.column_stack([np.ones(50), Y_OK[:, 1]]))
    with pytest.raises(ValueError, match="Task 'task_1' has no labels"):
        est.fit(X_OK, np.column_stack([Y_OK[:, 0], np.full(50, np.nan)]))
    X_inf = pd.DataFrame(X_OK, columns=["age", "price", "score"])
    X_inf.loc[3, "price"] = np.inf
    with pytest.raises(ValueError, match=r"infinity in column\(s\) \['price'\]"):
        est.fit(X_inf, Y_OK)
    with pytest.raises(ValueError, match="requires y to be passed"):
        est.fit(X_OK, None)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(50,\)"):
        est.fit(X_OK, Y_OK, sample_weight=[1, 2, 3])


def test_predict_checks_fitted_and_feature_count():
    est = MultiTaskRecommender("hard", max_epochs=1)
    with pytest.raises(NotFittedError):
        est.predict(X_OK)
    est.fit(X_OK, Y_OK)
    with pytest.raises(ValueError, match="X has 2 features, but MultiTaskRecommender is expecting 3"):
        est.predict(X_OK[:, :2])
    frame = pd.DataFrame(X_OK, columns=["a", "b", "c"])
    est.fit(frame, Y_OK)
    with pytest.raises(ValueError, match="The feature names should match those that were passed"):
        est.predict(frame.rename(columns={"c": "d"}))


def test_predict_with_renamed_columns_is_scikit_learns_error():
    X = pd.DataFrame({"a": np.arange(20.0), "b": ["u", "v"] * 10})
    model = MultiTaskRecommender("hard", max_epochs=1).fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
        model.predict(X.rename(columns={"b": "c"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert model.predict(X.to_numpy()).shape == (20,)


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


def test_predict_from_several_threads_at_once_gives_each_its_own_rows(census_small):
    from concurrent.futures import ThreadPoolExecutor

    X, Y = census_small
    model = MultiTaskRecommender("mmoe", **{**FAST, "max_epochs": 1}, predict_batch_size=64,
                                 random_state=0).fit(X, Y)
    parts = [X.iloc[i : i + 1000] for i in range(0, 4000, 1000)]
    alone = [model.predict_proba(part)[0] for part in parts]
    # The stacked product of the folded copy is per thread: concurrent calls on one model
    # must not read each other's batches.
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda part: model.predict_proba(part)[0], parts * 3))
    for i, proba in enumerate(together):
        np.testing.assert_array_equal(proba, alone[i % 4])


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


def test_predict_batch_size_is_independent_of_training(census_small):
    X, Y = census_small
    X, Y = X.iloc[:1200], Y.iloc[:1200]
    model = MultiTaskRecommender("hard", **{**FAST, "max_epochs": 2}, random_state=0).fit(X, Y)
    reference = model.predict_proba(X)[0]
    for size in (1, 7, 100_000):
        model.set_params(predict_batch_size=size)
        np.testing.assert_allclose(model.predict_proba(X)[0], reference, atol=1e-6)
    model.set_params(predict_batch_size=0)
    with pytest.raises(ValueError, match="predict_batch_size=0 is not valid"):
        model.predict(X)
    with pytest.raises(ValueError, match="predict_batch_size"):
        MultiTaskRecommender(predict_batch_size=-3).fit(X, Y)
