"""Per-task scores and scorers, shared by both estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.model_selection import KFold, cross_validate, train_test_split

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM
from sklearn_mtl.metrics import make_multitask_scorer, per_task_scores


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=900), "b": rng.normal(size=900), "c": rng.normal(size=900)})
    Y = pd.DataFrame({
        "click": np.where(X["a"] + 0.5 * rng.normal(size=900) > 0, "yes", "no"),
        "genre": np.select([X["b"] < -0.4, X["b"] > 0.4], ["low", "high"], "mid"),
        "dwell": 60 + 20 * X["c"] + 5 * rng.normal(size=900),
    })
    return train_test_split(X, Y, test_size=0.3, random_state=0)


@pytest.fixture(scope="module")
def fitted(mixed):
    X_train, _, Y_train, _ = mixed
    return {
        "single": MultiTaskRecommender("single", lr=1e-2, max_epochs=15, random_state=0).fit(
            X_train, Y_train
        ),
        "lgbm": PerTaskLGBM(n_estimators=50, n_jobs=1, random_state=0).fit(X_train, Y_train),
    }


@pytest.mark.parametrize("name", ["single", "lgbm"])
def test_both_estimators_score_through_the_same_code(fitted, mixed, name):
    _, X_test, _, Y_test = mixed
    model = fitted[name]
    assert model.tasks_ == ["binary", "multiclass", "regression"]
    auto = per_task_scores(model, X_test, Y_test)
    proba = model.predict_proba(X_test)
    pred = model.predict(X_test)
    assert auto["click"] == pytest.approx(skm.roc_auc_score(Y_test["click"] == "yes", proba[0][:, 1]))
    assert auto["genre"] == pytest.approx(skm.accuracy_score(Y_test["genre"], pred[:, 1]))
    assert auto["dwell"] == pytest.approx(skm.r2_score(Y_test["dwell"], pred[:, 2].astype(float)))
    assert model.score(X_test, Y_test) == pytest.approx(np.mean(list(auto.values())))
    named = per_task_scores(
        model, X_test, Y_test, metric={"click": "log_loss", "genre": "roc_auc", "dwell": "rmse"}
    )
    assert named["click"] == pytest.approx(skm.log_loss(Y_test["click"], proba[0], labels=["no", "yes"]))
    assert named["dwell"] == pytest.approx(
        skm.root_mean_squared_error(Y_test["dwell"], pred[:, 2].astype(float))
    )
    assert 0.5 < named["genre"] <= 1.0  # one-vs-rest AUC on three classes
    assert auto["click"] > 0.8 and auto["genre"] > 0.7 and auto["dwell"] > 0.7


def test_missing_labels_are_skipped_per_task(fitted, mixed):
    _, X_test, _, Y_test = mixed
    Y = Y_test.copy()
    Y.loc[Y.index[:100], "dwell"] = np.nan
    Y["click"] = Y["click"].astype(object)
    Y.loc[Y.index[50:150], "click"] = None
    model = fitted["lgbm"]
    scores = per_task_scores(model, X_test, Y)
    keep = ~Y["dwell"].isna()
    pred = model.predict(X_test[keep])
    assert scores["dwell"] == pytest.approx(skm.r2_score(Y["dwell"][keep], pred[:, 2].astype(float)))


def test_scorers_negate_losses_and_pick_tasks(fitted, mixed):
    _, X_test, _, Y_test = mixed
    model = fitted["single"]
    rmse = make_multitask_scorer("rmse", task="dwell")(model, X_test, Y_test)
    assert rmse == pytest.approx(-per_task_scores(model, X_test, Y_test, metric={"dwell": "rmse"})["dwell"])
    by_index = make_multitask_scorer("accuracy", task=1)(model, X_test, Y_test)
    assert by_index == pytest.approx(per_task_scores(model, X_test, Y_test)["genre"])
    worst = make_multitask_scorer(aggregate="min")(model, X_test, Y_test)
    assert worst == pytest.approx(min(per_task_scores(model, X_test, Y_test).values()))


def test_cross_validate_with_multi_metric_scoring(mixed):
    X_train, _, Y_train, _ = mixed
    scoring = {
        "click_auc": make_multitask_scorer("roc_auc", task="click"),
        "dwell_mae": make_multitask_scorer("mae", task="dwell"),
        "mean": make_multitask_scorer(),
    }
    result = cross_validate(PerTaskLGBM(n_estimators=20, n_jobs=1), X_train, Y_train,
                            cv=KFold(3), scoring=scoring)
    assert np.all(result["test_click_auc"] > 0.7)
    assert np.all(result["test_dwell_mae"] < 0)  # negated: greater is better


def test_bad_metric_inputs(fitted, mixed):
    _, X_test, _, Y_test = mixed
    model = fitted["lgbm"]
    with pytest.raises(ValueError, match="metric='auc' is not known"):
        per_task_scores(model, X_test, Y_test, metric="auc")
    with pytest.raises(ValueError, match="metric 'rmse' does not apply to task 'click', which is binary"):
        per_task_scores(model, X_test, Y_test, metric="rmse")
    with pytest.raises(ValueError, match=r"metric names tasks \['views'\]"):
        per_task_scores(model, X_test, Y_test, metric={"views": "r2"})
    with pytest.raises(ValueError, match="Y has 2 task columns but the estimator was fitted on 3 tasks"):
        per_task_scores(model, X_test, Y_test.iloc[:, :2])
    with pytest.raises(ValueError, match=r"task='views' is not one of the estimator's tasks"):
        make_multitask_scorer("r2", task="views")(model, X_test, Y_test)
    with pytest.raises(ValueError, match="aggregate='median' is not valid"):
        make_multitask_scorer(aggregate="median")
    from sklearn.linear_model import LinearRegression

    plain = LinearRegression().fit(X_test, Y_test["dwell"])
    with pytest.raises(ValueError, match="LinearRegression is not a multi-task estimator"):
        per_task_scores(plain, X_test, Y_test)


def test_gauc_is_the_impression_weighted_mean_of_per_user_auc(movielens):
    from sklearn_mtl.metrics import gauc_score, ndcg_at_k_score

    X, Y = movielens
    X, Y = X.iloc[:4000], Y.iloc[:4000]
    X_tr, X_te, Y_tr, Y_te = train_test_split(X, Y, test_size=0.5, random_state=0)
    model = PerTaskLGBM(tasks=["binary", "regression"], n_estimators=30, n_jobs=1,
                        random_state=0).fit(X_tr, Y_tr)
    proba = model.predict_proba(X_te)[0][:, 1]
    users = X_te["user_id"].to_numpy()
    liked = Y_te["liked"].to_numpy()
    aucs, weights, skipped = [], [], 0
    for u in pd.unique(users):
        rows = users == u
        if len(np.unique(liked[rows])) < 2:
            skipped += 1
            continue
        aucs.append(skm.roc_auc_score(liked[rows], proba[rows]))
        weights.append(rows.sum())
    assert skipped > 0
    score, n_scored, n_skipped = gauc_score(liked, proba, users, return_counts=True)
    assert score == pytest.approx(np.average(aucs, weights=weights))
    assert (n_scored, n_skipped) == (len(aucs), skipped)
    scores = per_task_scores(model, X_te, Y_te, metric={"liked": "gauc", "rating": "ndcg@5"},
                             groups="user_id")
    assert scores["liked"] == pytest.approx(score)
    rating, pred = Y_te["rating"].to_numpy(), model.predict(X_te)[:, 1].astype(float)
    assert scores["rating"] == pytest.approx(ndcg_at_k_score(rating, pred, users, k=5))
    # Against scikit-learn user by user (scores without ties: tied items have no single order).
    pred = pred + 1e-9 * np.arange(len(pred))
    ndcg = [skm.ndcg_score([rating[users == u]], [pred[users == u]], k=5)
            for u in pd.unique(users) if (users == u).sum() > 1]
    singles = sum((users == u).sum() == 1 for u in pd.unique(users))  # one item: NDCG 1
    assert ndcg_at_k_score(rating, pred, users, k=5) == pytest.approx(np.mean(ndcg + [1.0] * singles))
    scorer = make_multitask_scorer("gauc", task="liked", group_by="user_id")
    assert scorer(model, X_te, Y_te) == pytest.approx(score)


def test_gauc_needs_groups_and_binary_tasks(fitted, mixed):
    _, X_test, _, Y_test = mixed
    model = fitted["lgbm"]
    with pytest.raises(ValueError, match="metric 'gauc' scores per user: pass groups="):
        per_task_scores(model, X_test, Y_test, metric={"click": "gauc"})
    with pytest.raises(ValueError, match="metric 'gauc' does not apply to task 'dwell'"):
        per_task_scores(model, X_test, Y_test, metric={"dwell": "gauc"}, groups="a")
    with pytest.raises(ValueError, match=r"groups='user' is not a column of X"):
        per_task_scores(model, X_test, Y_test, metric={"click": "gauc"}, groups="user")
    with pytest.raises(ValueError, match=r"groups has shape \(3,\) but X has 270 rows"):
        per_task_scores(model, X_test, Y_test, metric={"click": "gauc"}, groups=[1, 2, 3])


@pytest.mark.parametrize("name", ["gauc_score", "ndcg_at_k_score"])
def test_per_user_metrics_name_mismatched_lengths(name):
    import sklearn_mtl.metrics as metrics

    with pytest.raises(ValueError, match=r"y_true, y_score and groups must have the same length, "
                                         r"got \[3, 3, 2\]"):
        getattr(metrics, name)([1, 0, 1], [0.2, 0.4, 0.9], ["a", "a"])


def test_ndcg_gives_tied_scores_their_average_gain_whatever_the_row_order(movielens):
    from sklearn_mtl.metrics import ndcg_at_k_score

    # A constant score: the log's order (sorted by rating, or reversed) must not decide it.
    sorted_log = ndcg_at_k_score([3, 2, 1, 0], [0] * 4, ["u"] * 4, k=2)
    assert sorted_log == ndcg_at_k_score([0, 1, 2, 3], [0] * 4, ["u"] * 4, k=2)
    assert sorted_log == pytest.approx(skm.ndcg_score([[3, 2, 1, 0]], [[0, 0, 0, 0]], k=2))
    # Real ratings and coarse (heavily tied) predictions, user by user against scikit-learn.
    X, Y = movielens
    users = X["user_id"].to_numpy()[:3000]
    rating = Y["rating"].to_numpy()[:3000]
    pred = np.round(rating + np.random.default_rng(0).normal(size=3000))
    order = np.argsort(-rating, kind="stable")  # the log sorted by rating
    expected = np.mean([skm.ndcg_score([rating[users == u]], [pred[users == u]], k=3)
                        if (users == u).sum() > 1 else 1.0 for u in pd.unique(users)])
    for rows in (np.arange(3000), order, order[::-1]):
        assert ndcg_at_k_score(rating[rows], pred[rows], users[rows], k=3) == pytest.approx(expected)


def test_per_user_metrics_drop_missing_labels_and_refuse_bad_ones():
    from sklearn_mtl.metrics import gauc_score, ndcg_at_k_score

    users = ["a"] * 4
    # A missing label is no label: left out, never a positive.
    assert gauc_score([0, 1, np.nan, 1], [0.5, 0.9, 0.05, 0.2], users) == 0.5
    assert gauc_score(pd.array([0, 1, None, 1], dtype="Int64"), [0.5, 0.9, 0.05, 0.2],
                      users) == 0.5
    assert ndcg_at_k_score([1, 0, np.nan, 0], [0.9, 0.1, 0.95, 0.2], users, k=1) == 1.0
    with pytest.raises(ValueError, match=r"gauc needs binary labels \(0/1 or bool\) in y_true, "
                                         r"got 2.0"):
        gauc_score([0, 1, 2, 1], [0.1, 0.9, 0.5, 0.2], users)
    with pytest.raises(ValueError, match="y_true must hold numbers, got 'no'"):
        gauc_score(["no", "yes", "yes", "no"], [0.1, 0.9, 0.5, 0.2], users)
    with pytest.raises(ValueError, match=r"y_score must be finite, got nan at row 2"):
        ndcg_at_k_score([1, 0, 1, 0], [0.1, 0.9, np.nan, 0.2], users)
    with pytest.raises(ValueError, match=r"ndcg needs relevance values >= 0 in y_true, got -1.0"):
        ndcg_at_k_score([1, 0, -1, 0], [0.1, 0.9, 0.5, 0.2], users)


@pytest.mark.parametrize("k", ["3", 0, -1, 2.5, True])
def test_ndcg_k_must_be_a_positive_int(k):
    from sklearn_mtl.metrics import ndcg_at_k_score

    with pytest.raises(ValueError, match=rf"k={k!r} is not valid: use an int >= 1"):
        ndcg_at_k_score([1, 0], [0.2, 0.4], ["a", "a"], k=k)
