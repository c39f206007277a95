"""Recommender data at the defaults (issue 13): integer ids, small data, cold start, threads.

Each test reproduces a problem measured on real data before the fix, on a small slice of it.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM
from sklearn_mtl.features import categorical_columns, is_id_name
from sklearn_mtl.metrics import per_task_scores


def click_purchase_events(movielens, n=2000):
    """An event-log CSV as a user exports it: int64 ids, click = rating >= 4, purchase = 5."""
    X, Y = movielens
    users = X["user_id"].value_counts().index[:60]
    items = X["item_id"].value_counts().index[:150]
    keep = X["user_id"].isin(users) & X["item_id"].isin(items)
    rows = X[keep].sample(n, random_state=0).index
    events = pd.DataFrame({
        "user_id": X.loc[rows, "user_id"].astype(np.int64).to_numpy(),
        "item_id": X.loc[rows, "item_id"].astype(np.int64).to_numpy(),
        "age": X.loc[rows, "age"].to_numpy(),
    })
    labels = pd.DataFrame({"click": (Y.loc[rows, "rating"] >= 4).astype(int).to_numpy(),
                           "purchase": (Y.loc[rows, "rating"] == 5).astype(int).to_numpy()})
    return events, labels


def test_integer_id_columns_are_embedded_by_default(movielens):
    X, Y = click_purchase_events(movielens)
    assert X["user_id"].dtype == np.int64
    model = MultiTaskRecommender("hard", max_epochs=2, random_state=0).fit(X, Y)
    assert model.categorical_features_ == ["user_id", "item_id"]
    # Two users with the same age and item get different predictions only through the embedding.
    pair = pd.DataFrame({"user_id": X["user_id"].unique()[:2], "item_id": X["item_id"].iloc[0],
                         "age": 30})
    proba = model.predict_proba(pair)[0][:, 1]
    assert proba[0] != proba[1]
    assert MultiTaskRecommender("hard", categorical_features=None, max_epochs=1).fit(
        X, Y).categorical_features_ == []
    assert MultiTaskRecommender("hard", categorical_features=["age"], max_epochs=1).fit(
        X, Y).categorical_features_ == ["age"]


def test_the_id_rule_reads_names_and_integer_dtypes():
    assert [is_id_name(n) for n in ("user_id", "itemId", "movieID", "ID", "item-id", "session id")] \
        == [True] * 6
    assert [is_id_name(n) for n in ("paid", "grid", "valid", "width", "idx", 7)] == [False] * 6
    X = pd.DataFrame({"user_id": [1, 2], "score_id": [0.5, 1.5], "flag_id": [True, False],
                      "count": [3, 4], "shop_id": pd.array([1, None], dtype="Int64")})
    # Floats and bools named like ids are measurements, not labels; nullable ints are ids.
    assert categorical_columns(X, "auto") == ["user_id", "shop_id"]
    assert categorical_columns(X.to_numpy(), "auto") == []


def test_verbose_fit_reports_what_it_embedded(movielens, capsys):
    X, Y = click_purchase_events(movielens, n=400)
    MultiTaskRecommender("hard", max_epochs=1, verbose=1, random_state=0).fit(X, Y)
    out = capsys.readouterr().out
    assert "embedded (2): user_id (" in out and "numeric (1): age" in out


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


def test_lightgbm_threads_never_exceed_half_the_cores(census_1500, monkeypatch):
    # LightGBM's default (every core, spinning OpenMP threads) took 84 s where 1 thread took 5.5 s.
    X, Y = census_1500
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    model = PerTaskLGBM(n_estimators=5).fit(X, Y)
    assert 1 <= model.n_jobs_ <= max(1, len(os.sched_getaffinity(0)) // 2)
    # Inside a joblib worker (loky sets OMP_NUM_THREADS to its share of the cores).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert PerTaskLGBM(n_estimators=5).fit(X, Y).n_jobs_ == 1
    assert PerTaskLGBM(n_estimators=5, n_jobs=2).fit(X, Y).n_jobs_ == 2


def test_compare_transfer_scores_binary_tasks_by_gauc_over_a_column(movielens):
    from sklearn_mtl import compare_transfer

    X, Y = movielens
    X, Y = X.iloc[:3000], Y.iloc[:3000]
    models = {"lgbm": PerTaskLGBM(tasks=["binary", "regression"], n_estimators=20, n_jobs=1)}
    reference = PerTaskLGBM(tasks=["binary", "regression"], n_estimators=10, n_jobs=1)
    with pytest.raises(ValueError, match="metric .* scores per user: pass groups="):
        compare_transfer(models, X, Y, reference=reference, cv=2, metric={"liked": "gauc"})
    report = compare_transfer(models, X, Y, reference=reference, cv=2, random_state=0,
                              metric={"liked": "gauc", "rating": "ndcg@5"}, groups="user_id",
                              return_estimators=True)
    assert report.metric == {"liked": "gauc", "rating": "ndcg@5"}
    # Fold 0's score is the GAUC of that fold's test rows, user by user.
    from sklearn.model_selection import KFold

    from sklearn_mtl.metrics import gauc_score

    _, test = next(KFold(2, shuffle=True, random_state=0).split(X))
    model = report.estimators[("lgbm", 0)]
    expected = gauc_score(Y["liked"].iloc[test], model.predict_proba(X.iloc[test])[0][:, 1],
                          X["user_id"].iloc[test])
    scores = report.scores
    got = scores[(scores["model"] == "lgbm") & (scores["fold"] == 0) & (scores["task"] == "liked")]
    assert got["score"].item() == pytest.approx(expected)


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
