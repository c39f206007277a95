"""The fit kernel (sklearn_mtl._recommender._kernel) through fit: seeds and the global RNG, early
stopping and the validation split, callbacks, id dropout, sample weights and missing labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FAST, census_one_hot
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.metrics import per_task_scores


@pytest.fixture(scope="module")
def split(census_small):
    X, Y = census_small
    return train_test_split(X, Y, test_size=0.3, random_state=0, stratify=Y["income"])


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
    model = MultiTaskRecommender("hard", max_epochs=4, random_state=0).fit(X_tr, Y_tr)
    assert model.batch_size_ == 32
    assert per_task_scores(model, X_te, Y_te)["income"] > 0.85


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
