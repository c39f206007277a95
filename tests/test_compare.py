"""compare_transfer (sklearn_mtl/transfer/_compare.py) on real data and the generator: models,
metrics, task kinds, repeats and seeds, NaN fold scores, per-user metrics and bad inputs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_LGBM, TINY_NET, lgbm_compare, users_frame
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
from sklearn_mtl.datasets import make_multitask_data


def test_lower_is_better_metric_on_real_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    Y = np.column_stack([X[:, 0] + 0.1 * rng.normal(size=600), X[:, 1] + 0.1 * rng.normal(size=600)])
    # A model that cannot learn (one epoch at a tiny learning rate) has the larger RMSE.
    weak = MultiTaskRecommender("hard", lr=1e-5, max_epochs=1, random_state=0)
    good = MultiTaskRecommender("single", lr=1e-2, max_epochs=30, random_state=0)
    rep = compare_transfer({"weak": weak}, X, Y, reference=good, cv=KFold(4), metric="rmse")
    summary = rep.summary()
    assert (summary["delta"] > 0).all()  # higher error ...
    assert summary["negative_transfer"].all()  # ... is worse for rmse
    assert rep.metric == {"task_0": "rmse", "task_1": "rmse"}


@pytest.mark.slow
def test_sharing_hurts_more_for_unrelated_tasks():
    """The MMoE paper's effect: hard sharing's delta against single falls with task correlation.

    Each label depends on x through one projection w_k'x. A one-unit shared bottom carries one
    projection: enough for two tasks with the same w, not for orthogonal ones, while the
    reference gives each task its own unit. (With two or more units both projections fit and
    the effect vanishes at this size: measured delta -0.01 at both correlations.)
    """
    deltas = {}
    for corr in (1.0, 0.0):
        X, Y = make_multitask_data(n_samples=2000, n_features=10, task_correlation=corr, random_state=1)
        params = dict(hidden_units=(1,), tower_units=(8,), lr=1e-2, batch_size=128, max_epochs=40,
                      random_state=0)
        rep = compare_transfer({"hard": MultiTaskRecommender("hard", **params)}, X, Y, cv=3,
                               n_repeats=1, random_state=0)
        deltas[corr] = rep.summary()["delta"].mean()
    # Measured over 4 data x 2 model seeds: |delta| <= 0.009 at 1.0, -0.47 to -0.50 at 0.0 (R²).
    assert abs(deltas[1.0]) < 0.05, deltas
    assert deltas[0.0] < deltas[1.0] - 0.2, deltas


def test_one_task_pipeline_and_splitter():
    X, Y = make_multitask_data(n_samples=400, n_features=5, n_tasks=1, task_kinds="binary",
                               random_state=0)
    y = Y[:, 0]  # one task, 1-D
    pipe = make_pipeline(StandardScaler(), MultiTaskRecommender("hard", max_epochs=2, random_state=0))
    # StratifiedKFold needs y: it gets the first task's labels.
    rep = compare_transfer({"pipe": pipe}, X, y, cv=StratifiedKFold(3), return_estimators=True)
    assert rep.summary().index.tolist() == [("pipe", "task_0")]
    assert np.isfinite(rep.summary()["delta"]).all()
    reference = rep.estimators[("reference", 0)]
    assert [name for name, _ in reference.steps] == ["standardscaler", "multitaskrecommender"]
    assert reference[-1].architecture == "single" and pipe[-1].architecture == "hard"


def test_bad_inputs(census_1500):
    X, Y = census_1500
    net = MultiTaskRecommender("hard", **TINY_NET)
    with pytest.raises(ValueError, match="models must be a non-empty dict"):
        compare_transfer({}, X, Y)
    with pytest.raises(ValueError, match="models must be a non-empty dict"):
        compare_transfer([net], X, Y)
    with pytest.raises(ValueError, match=r"model 'logreg' \(LogisticRegression\) is not a multi-task"):
        compare_transfer({"logreg": LogisticRegression()}, X, Y["income"], reference=net)
    with pytest.raises(ValueError, match=r"model 'x' \(int\) is not a multi-task"):
        compare_transfer({"x": 3}, X, Y)
    with pytest.raises(ValueError, match="'reference' is taken"):
        compare_transfer({"reference": net}, X, Y)
    with pytest.raises(ValueError, match=r"reference \(LogisticRegression\) is not a multi-task"):
        compare_transfer({"hard": net}, X, Y, reference=LogisticRegression())
    with pytest.raises(ValueError, match="cv=2000 is not valid for 1500 rows"):
        compare_transfer({"hard": net}, X, Y, cv=2000)
    with pytest.raises(ValueError, match="needs a reference"):
        compare_transfer({"lgbm": PerTaskLGBM(n_estimators=5)}, X, Y)
    with pytest.raises(ValueError, match="metric 'rmse' does not apply to task 'income'"):
        compare_transfer({"hard": net}, X, Y, metric="rmse")  # before any fit
    with pytest.raises(ValueError, match=r"model 'one' was fitted on tasks \['income'\] but Y has tasks"):
        _different_task_sets(X, Y)


def _different_task_sets(X, Y):
    class OneTask(PerTaskLGBM):
        def fit(self, X, y, sample_weight=None):
            return super().fit(X, y.iloc[:, :1])

    return compare_transfer({"one": OneTask(**TINY_LGBM)}, X, Y, reference=PerTaskLGBM(**TINY_LGBM), cv=2)


def test_models_must_agree_on_task_kinds():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = np.column_stack([X[:, 0] > 0, np.clip(np.round(2 * X[:, 1] + 3), 1, 5)])  # ratings 1..5
    lgbm = PerTaskLGBM(**TINY_LGBM, tasks=["binary", "multiclass"])  # scored with accuracy
    reference = MultiTaskRecommender("single", tasks=["binary", "regression"], max_epochs=1)
    with pytest.raises(ValueError, match=r"model 'lgbm' treats the tasks as \['binary', 'multiclass'\]"):
        compare_transfer({"lgbm": lgbm}, X, Y, reference=reference, cv=2)
    # Declared the same way, the rating is scored (and labelled) with R².
    lgbm.set_params(tasks=["binary", "regression"])
    rep = compare_transfer({"lgbm": lgbm}, X, Y, reference=reference, cv=2)
    assert rep.metric == {"task_0": "roc_auc", "task_1": "r2"}


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


def test_nan_fold_scores_are_counted_warned_and_named():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    Y = np.column_stack([X[:, 0] + rng.normal(size=90), (X[:, 1] > 0).astype(float)])
    Y[:30, 1] = np.nan  # the first test fold has no label for task_1
    folds = [(np.arange(30, 90), np.arange(30)), (np.r_[0:30, 60:90], np.arange(30, 60)),
             (np.arange(60), np.arange(60, 90))]
    with pytest.warns(UserWarning, match=re.escape(
            "2 of 12 fold scores are NaN (lgbm on task_1: 1, reference on task_1: 1): a test fold "
            "without labels or with one class for that task. Those pairs are left out of the "
            "tests; see n_pairs in the summary.")):
        rep = compare_transfer({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y, cv=folds,
                               reference=PerTaskLGBM(**{**TINY_LGBM, "n_estimators": 5}))
    assert rep.summary()["n_pairs"].tolist() == [3, 2]
    assert repr(rep).startswith("TransferReport: 3-fold CV, metrics task_0: r2, task_1: roc_auc, ")
    assert "; NaN fold scores left out: lgbm on task_1 (1 of 3), reference on task_1 (1 of 3)\n" \
        in repr(rep)
    # The untested task decides the line (it keeps the decision open), so it comes first.
    assert ("\nlgbm: undecided. task_1: untested (fewer than 3 usable pairs (2)); task_0: "
            in repr(rep))


def test_x_and_y_must_have_the_same_rows(census_1500):
    X, Y = census_1500
    with pytest.raises(ValueError, match=re.escape(
            "X has 1500 rows but Y has 1495: they must have the same number of rows")):
        lgbm_compare(X, Y.iloc[:-5])


def test_repeats_reseed_every_split_and_keep_unseeded_models_unseeded():
    X, Y = make_multitask_data(n_samples=120, n_features=4, random_state=0)
    seeded = MultiTaskRecommender("hard", hidden_units=(4,), tower_units=(4,), max_epochs=2,
                                  random_state=3)
    unseeded = PerTaskLGBM(n_estimators=5, n_jobs=1, verbose=-1)
    rep = compare_transfer({"hard": seeded, "lgbm": unseeded}, X, Y, cv=3, n_repeats=2,
                           random_state=0, return_estimators=True)
    assert rep.n_folds == 3 and rep.n_repeats == 2
    # The default: two repeats where the folds can be redrawn, one where they cannot.
    assert compare_transfer({"lgbm": unseeded}, X, Y, cv=3, reference=unseeded).n_repeats == 2
    assert compare_transfer({"lgbm": unseeded}, X, Y, cv=KFold(3), reference=unseeded).n_repeats == 1
    assert rep.scores.groupby("repeat")["fold"].unique().map(list).tolist() == [[0, 1, 2], [3, 4, 5]]
    seeds = [rep.estimators[("hard", s)].random_state for s in range(6)]
    assert len(set(seeds)) == 6 and 3 not in seeds
    # Derived from the model's own seed: the reference (a clone with random_state=3) gets the same.
    assert seeds == [rep.estimators[("reference", s)].random_state for s in range(6)]
    assert all(rep.estimators[("lgbm", s)].random_state is None for s in range(6))
    assert "3-fold CV × 2 repeats" in repr(rep)
    again = compare_transfer({"hard": seeded}, X, Y, cv=3, n_repeats=2, random_state=0)
    pd.testing.assert_frame_equal(again.scores, rep.scores[rep.scores["model"] != "lgbm"]
                                  .reset_index(drop=True))
    with pytest.raises(ValueError, match="n_repeats=0 is not valid: it must be an int >= 1."):
        compare_transfer({"hard": seeded}, X, Y, n_repeats=0)
    with pytest.warns(UserWarning, match="does not shuffle: its folds are the same in each of the 2"):
        compare_transfer({"hard": seeded}, X, Y, cv=KFold(2), n_repeats=2)


def test_a_report_of_nan_scores_prints_and_says_nothing_could_be_tested():
    X, Y = users_frame(n=12)
    # One test row a fold: scikit-learn warns that the dwell task's R² is undefined on one row.
    with pytest.warns(UserWarning, match="48 of 48 fold scores are NaN"), \
            pytest.warns(UndefinedMetricWarning, match="R\\^2 score is not well-defined"):
        report = compare_transfer(
            {"lgbm": PerTaskLGBM(**TINY_LGBM, min_child_samples=1)}, X[["a"]], Y,
            reference=PerTaskLGBM(**TINY_LGBM, min_child_samples=1), cv=12, n_repeats=1)
    text = repr(report)
    assert text.endswith("\nlgbm: undecided. dwell: untested (fewer than 3 usable pairs (0)); "
                         "click: untested (fewer than 3 usable pairs (0)).")
    assert "fewer than 3 usable pairs (0)" in report.to_markdown()
    assert report.overall().loc["lgbm", "worst_task"] is None


def test_per_user_nan_scores_say_every_user_had_a_single_class():
    X, Y = users_frame()
    Y = Y[["click"]]
    X["user"] = np.arange(len(X))  # one row a user: no user has both classes
    with pytest.warns(UserWarning, match=r"for the per-user gauc of 'click': a test fold in which "
                                         r"every user has a single class"):
        lgbm_compare(X, Y, cv=3, metric="gauc", groups="user")
