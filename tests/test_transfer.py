"""compare_transfer and TransferReport (sklearn_mtl.transfer) on real data and the paper's generator:
scores, summary, verdicts and their statistics, references, repeats, per-user metrics, cascades, Dask."""

from __future__ import annotations

import re
import warnings

import joblib
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import FAST, ctr_split
from optuna.distributions import IntDistribution as optuna_int
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, TransferReport, compare_transfer
from sklearn_mtl.datasets import make_multitask_data
from sklearn_mtl.transfer._folds import _splits
from sklearn_mtl.transfer._stats import VERDICTS, adjust_p_values, paired_test

matplotlib.use("Agg")

NET = dict(hidden_units=(16,), tower_units=(8,), n_experts=2, lr=5e-3, max_epochs=3, random_state=0)
# n_jobs=1: LightGBM's OpenMP threads crawl when the cores are busy with other processes.
LGBM = dict(n_estimators=20, n_jobs=1, random_state=0, verbose=-1)


@pytest.fixture(scope="module")
def report(census_1500):
    X, Y = census_1500
    models = {"mmoe": MultiTaskRecommender("mmoe", **NET), "lgbm": PerTaskLGBM(**LGBM)}
    return compare_transfer(models, X, Y, cv=3, n_repeats=1, random_state=0, return_estimators=True)


def test_report_scores_and_summary(report):
    assert isinstance(report, TransferReport)
    assert list(report.scores.columns) == ["model", "task", "repeat", "fold", "score"]
    assert set(report.scores["model"]) == {"mmoe", "lgbm", "reference"}
    assert len(report.scores) == 3 * 2 * 3  # models x tasks x folds
    assert report.metric == {"income": "roc_auc", "never_married": "roc_auc"}
    assert report.greater_is_better == {"income": True, "never_married": True}
    summary = report.summary()
    assert list(summary.index.names) == ["model", "task"]
    assert set(summary.index.get_level_values("model")) == {"mmoe", "lgbm"}  # no reference row
    assert {"mean", "std", "reference_mean", "delta", "relative_delta", "p_value",
            "negative_transfer"} <= set(summary.columns)
    row = summary.loc[("mmoe", "income")]
    mine = report.scores.query("model == 'mmoe' and task == 'income'")["score"].to_numpy()
    ref = report.scores.query("model == 'reference' and task == 'income'")["score"].to_numpy()
    assert row["mean"] == pytest.approx(mine.mean())
    assert row["delta"] == pytest.approx(mine.mean() - ref.mean())
    assert row["relative_delta"] == pytest.approx(row["delta"] / abs(ref.mean()))
    # The default: the corrected resampled t-test, 3-fold so n_test / n_train = 1/2.
    d = mine - ref
    t = d.mean() / np.sqrt((1 / 3 + 1 / 2) * d.var(ddof=1))
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), df=2))
    assert report.summary(test="ttest").loc[("mmoe", "income"), "p_value"] == pytest.approx(
        stats.ttest_rel(mine, ref).pvalue)
    assert row["n_pairs"] == 3 and row["verdict"] in VERDICTS
    # Census' categories differ a little between folds, and so do the embeddings: the mean.
    assert row["n_params"] == pytest.approx(np.mean([report.estimators[("mmoe", f)].n_params_
                                                     for f in range(3)]))
    assert np.isnan(summary.loc[("lgbm", "income"), "n_params"])  # leaves are not counted
    wilcoxon = report.summary(test="wilcoxon")
    assert wilcoxon.loc[("mmoe", "income"), "p_value"] == pytest.approx(stats.wilcoxon(mine, ref).pvalue)
    assert wilcoxon["p_value"].dropna().between(0, 1).all()
    # The default reference is the first net's settings with architecture="single".
    reference = report.estimators[("reference", 0)]
    assert reference.architecture == "single" and reference.hidden_units == NET["hidden_units"]


def test_markdown_csv_plot_and_repr(report, tmp_path):
    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("| model | task | metric |") and len(lines) == 2 + 4 + 1 + 2
    assert lines[-2].startswith("- mmoe") and lines[-1].startswith("- lgbm")
    assert all(line.count("|") == lines[0].count("|") for line in lines[:6])
    paths = report.to_csv(tmp_path / "out")
    # No gradient conflict here.
    assert [p.name for p in paths] == ["scores.csv", "summary.csv", "overall.csv"]
    pd.testing.assert_frame_equal(pd.read_csv(paths[0]), report.scores, check_dtype=False)
    assert list(pd.read_csv(paths[1])["model"].unique()) == ["mmoe", "lgbm"]
    ax = report.plot()
    assert "roc_auc" in ax.get_title("left") and len(ax.patches) == 2 * 2  # models x tasks
    ax.figure.savefig(tmp_path / "transfer.png")
    assert (tmp_path / "transfer.png").stat().st_size > 5000
    plt.close(ax.figure)
    text = repr(report)
    assert text.startswith("TransferReport: 3-fold CV, metric roc_auc, against the single-task "
                           "reference (corrected resampled t-test, 4 intervals at 98.75% each, "
                           "simultaneous (Bonferroni): all verdicts hold together with 95% "
                           "confidence)\n")
    assert "never_married" in text and "trainable parameters: mmoe " in text


def test_verdict_follows_the_metric_direction():
    """Exact statistics on known fold scores: a lower rmse is better, a lower AUC is worse."""
    folds = np.arange(5)
    ref = {"auc": [0.80, 0.81, 0.79, 0.80, 0.82], "err": [1.0, 1.1, 0.9, 1.0, 1.2]}
    shifted = {"lower": -0.05, "same": 0.0, "higher": +0.05}
    rows = [dict(model="reference", task=t, fold=f, score=s) for t in ref for f, s in zip(folds, ref[t])]
    for model, shift in shifted.items():
        rows += [dict(model=model, task=t, fold=f, score=s + shift + 0.01 * (f % 2))
                 for t in ref for f, s in zip(folds, ref[t])]
    rows += [dict(model="equal", task=t, fold=f, score=s) for t in ref for f, s in zip(folds, ref[t])]
    report = TransferReport(pd.DataFrame(rows), metric={"auc": "roc_auc", "err": "rmse"}, n_folds=5)
    assert report.greater_is_better == {"auc": True, "err": False}
    summary = report.summary(alpha=0.05)
    flagged = summary.index[summary["negative_transfer"]].tolist()
    assert flagged == [("lower", "auc"), ("higher", "err")]
    assert summary.loc[("higher", "err"), "delta"] == pytest.approx(0.054)  # raw: model - reference
    assert np.isnan(summary.loc[("equal", "auc"), "p_value"])  # every difference 0: undefined
    assert not summary.loc[("equal", "auc"), "negative_transfer"]
    # Two-sided Wilcoxon with 5 folds all of one sign: its floor, 2 / 2**5. Its own interval
    # (which the outcome is read off) cannot reach 1 - alpha/m: unbounded, so no verdict.
    wilcoxon = report.summary(test="wilcoxon")
    assert wilcoxon.loc[("lower", "auc"), "p_value"] == pytest.approx(0.0625)
    assert wilcoxon.loc[("lower", "auc"), "p_adjusted"] == pytest.approx(6 * 0.0625)
    assert np.isinf(wilcoxon.loc[("lower", "auc"), ["ci_low", "ci_high"]]).all()
    assert not wilcoxon["negative_transfer"].any()
    assert (wilcoxon["verdict"] == "inconclusive").all()
    line = report.verdict_lines(test="wilcoxon")[0]
    assert line == ("lower: undecided. auc: inconclusive, −0.046 AUC, too few pairs for an interval "
                    "at this level (5): it is unbounded; err: inconclusive, −0.046 RMSE, too few "
                    "pairs for an interval at this level (5): it is unbounded. To settle it: more "
                    "repeats (more pairs) would give it a bounded interval.")
    ax = report.plot()
    hatched = [p for p in ax.patches if p.get_hatch() == "//"]
    assert len(hatched) == 2
    plt.close(ax.figure)


def test_a_model_that_shares_nothing_is_worse_not_negative_transfer(report):
    """PerTaskLGBM or a 'single' net cannot transfer: a loss is flagged, but not as transfer."""
    assert report.shared == {"mmoe": True, "lgbm": False}
    assert not report.summary().loc["lgbm", "shares_parameters"].any()
    folds = np.arange(4)
    ref = [0.80, 0.82, 0.79, 0.81]
    rows = [dict(model="reference", task="ctr", fold=f, score=s) for f, s in zip(folds, ref)]
    for model in ("hard", "lgbm"):
        rows += [dict(model=model, task="ctr", fold=f, score=s - 0.05 - 0.002 * f)
                 for f, s in zip(folds, ref)]
    rep = TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc"}, n_folds=4,
                         shared={"lgbm": False})
    assert rep.shared == {"hard": True, "lgbm": False}  # not named: counts as sharing
    summary = rep.summary()
    assert summary["significantly_worse"].all()
    assert summary["negative_transfer"].tolist() == [True, False]
    text = repr(rep)
    # Neither can replace the single-task model; only hard's loss is negative transfer.
    assert "\nhard: cannot ship. ctr: worse, −0.053 AUC [−0.061, −0.045] (margin 0.005).\n" in text
    assert text.endswith("\nlgbm: cannot ship. ctr: worse, −0.053 AUC [−0.061, −0.045] "
                         "(margin 0.005).")
    header = rep.to_markdown().splitlines()[0]
    assert "| significantly_worse | negative_transfer |" in header
    ax = rep.plot()
    assert [p.get_hatch() for p in ax.patches] == ["//", ".."]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "hard: cannot ship (ctr)", "lgbm: cannot ship (ctr)",
        "negative transfer (a loss that may exceed\nthe margin; 97.5% interval below 0)",
        "worse, shares nothing (not transfer)", "−margin: a loss that matters"]
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="shared"):
        TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc"}, n_folds=4,
                       shared={"lgmb": False})


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
    net = MultiTaskRecommender("hard", **NET)
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

    return compare_transfer({"one": OneTask(**LGBM)}, X, Y, reference=PerTaskLGBM(**LGBM), cv=2)


def test_models_must_agree_on_task_kinds():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = np.column_stack([X[:, 0] > 0, np.clip(np.round(2 * X[:, 1] + 3), 1, 5)])  # ratings 1..5
    lgbm = PerTaskLGBM(**LGBM, tasks=["binary", "multiclass"])  # scored with accuracy
    reference = MultiTaskRecommender("single", tasks=["binary", "regression"], max_epochs=1)
    with pytest.raises(ValueError, match=r"model 'lgbm' treats the tasks as \['binary', 'multiclass'\]"):
        compare_transfer({"lgbm": lgbm}, X, Y, reference=reference, cv=2)
    # Declared the same way, the rating is scored (and labelled) with R².
    lgbm.set_params(tasks=["binary", "regression"])
    rep = compare_transfer({"lgbm": lgbm}, X, Y, reference=reference, cv=2)
    assert rep.metric == {"task_0": "roc_auc", "task_1": "r2"}


@pytest.mark.slow
def test_runs_on_a_dask_cluster_with_the_same_scores(census_1500, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    X, Y = census_1500
    models = {"lgbm": PerTaskLGBM(**LGBM, deterministic=True),
              "hard": MultiTaskRecommender("hard", **NET)}
    reference = MultiTaskRecommender("single", **NET)
    local = compare_transfer(models, X, Y, reference=reference, cv=2, random_state=0, n_jobs=1)
    with (
        distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_backend("dask"),
        distributed.get_task_stream(client) as stream,
    ):
        remote = compare_transfer(models, X, Y, reference=reference, cv=2, random_state=0,
                                  storage=tmp_path)
        workers = set(client.scheduler_info()["workers"])
    # The scheduler's task log: the (model, fold) fits ran as tasks on the worker processes,
    # which wrote their finished fits into the storage themselves.
    ran = [task for task in stream.data if "_stored" in str(task["key"])]
    assert ran and {task["worker"] for task in ran} <= workers
    pd.testing.assert_frame_equal(local.scores, remote.scores)
    pd.testing.assert_frame_equal(local.summary(), remote.summary())
    assert len(list((tmp_path / "fits").glob("*.json"))) == 2 * 2 * 3  # repeats x folds x jobs
    again = compare_transfer(models, X, Y, reference=reference, cv=2, random_state=0,
                             storage=tmp_path)
    assert again.fits_reused == 12


# ---------------------------------------------------------------- recommender data and cascades
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


def test_compare_transfer_with_esmm_and_its_reference():
    from sklearn_mtl import compare_transfer

    data, _, _ = ctr_split(n=3000)
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


def _cascade_comparison(**kwargs):
    """ESMM and PerTaskLGBM on the generator's raw labels (purchase NaN off the clicks)."""
    from sklearn_mtl.datasets import make_ctr_cvr_data

    X, Y = make_ctr_cvr_data(n_samples=2000, random_state=0)
    models = {"esmm": MultiTaskRecommender("esmm", **{**FAST, "max_epochs": 2}),
              "lgbm": PerTaskLGBM(n_estimators=10, n_jobs=1, verbose=-1)}
    report = compare_transfer(models, X, Y, cv=2, n_repeats=1, random_state=0,
                              return_estimators=True, **kwargs)
    _, train, test = _splits(2, Y, 0, 1)[0]
    return report, X, Y, train, test


def _fold_score(report, model, task, fold=0):
    s = report.scores
    return s[(s["model"] == model) & (s["fold"] == fold) & (s["task"] == task)]["score"].item()


def test_compare_transfer_scores_a_cascaded_child_over_the_entire_space_by_default():
    from sklearn.metrics import roc_auc_score

    report, X, Y, train, test = _cascade_comparison()
    assert report.cascade == {"purchase": "click"}
    assert report.cascade_scoring == "entire_space"
    assert "'purchase' scored over the entire space" in report._protocol()
    # Every test impression, purchase read 0 where click is 0, against predict_proba (pCTCVR
    # for ESMM, the reference's and LightGBM's direct model of the child).
    X_test, truth = X.iloc[test], Y["purchase"].iloc[test].fillna(0.0)
    for name in ("esmm", "lgbm", "reference"):
        proba = report.estimators[(name, 0)].predict_proba(X_test)[1][:, 1]
        assert _fold_score(report, name, "purchase") == pytest.approx(roc_auc_score(truth, proba))
    # The models without the cascade learnt the child over all impressions, not on the clicks.
    by_hand = PerTaskLGBM(n_estimators=10, n_jobs=1, verbose=-1).fit(
        X.iloc[train], Y.iloc[train].fillna(0.0))
    np.testing.assert_allclose(report.estimators[("lgbm", 0)].predict_proba(X_test)[1],
                               by_hand.predict_proba(X_test)[1])
    click = report.estimators[("esmm", 0)].predict_proba(X_test)[0][:, 1]
    assert _fold_score(report, "esmm", "click") == pytest.approx(
        roc_auc_score(Y["click"].iloc[test], click))


def test_compare_transfer_cascade_scoring_parent_positive_scores_the_clicked_rows():
    from sklearn.metrics import roc_auc_score

    report, X, Y, train, test = _cascade_comparison(cascade_scoring="parent_positive")
    assert report.cascade_scoring == "parent_positive"
    assert "'purchase' scored on the 'click'-positive rows" in report._protocol()
    clicked = test[Y["click"].to_numpy()[test] == 1]
    X_clicked, truth = X.iloc[clicked], Y["purchase"].iloc[clicked]
    esmm = report.estimators[("esmm", 0)]
    pcvr = esmm.predict_conditional_proba(X_clicked)[1][:, 1]
    assert _fold_score(report, "esmm", "purchase") == pytest.approx(roc_auc_score(truth, pcvr))
    assert not np.allclose(pcvr, esmm.predict_proba(X_clicked)[1][:, 1])
    for name in ("lgbm", "reference"):
        proba = report.estimators[(name, 0)].predict_proba(X_clicked)[1][:, 1]
        assert _fold_score(report, name, "purchase") == pytest.approx(roc_auc_score(truth, proba))
    # LightGBM learnt the child on the clicked rows only (the naive conditional model).
    by_hand = PerTaskLGBM(n_estimators=10, n_jobs=1, verbose=-1).fit(X.iloc[train], Y.iloc[train])
    np.testing.assert_allclose(report.estimators[("lgbm", 0)].predict_proba(X_clicked)[1],
                               by_hand.predict_proba(X_clicked)[1])
    # The parent is scored as usual, on every test row.
    click = esmm.predict_proba(X.iloc[test])[0][:, 1]
    assert _fold_score(report, "esmm", "click") == pytest.approx(
        roc_auc_score(Y["click"].iloc[test], click))


def test_compare_transfer_cascade_scoring_bad_value():
    X, Y = make_multitask_data(n_samples=100, n_features=4, random_state=0)
    with pytest.raises(ValueError, match=r"cascade_scoring='clicked' is not valid: use one of "
                                         r"\['entire_space', 'parent_positive'\]"):
        compare_transfer({"hard": MultiTaskRecommender("hard", **FAST)}, X, Y, cv=2,
                         cascade_scoring="clicked")
    rng = np.random.default_rng(0)
    Y = pd.DataFrame(rng.integers(0, 2, size=(100, 3)), columns=["a", "b", "c"])
    models = {"esmm": MultiTaskRecommender("esmm", **FAST),  # c's parent is b
              "hard": MultiTaskRecommender("hard", cascade={"c": "a"}, **FAST)}
    with pytest.raises(ValueError, match="model 'hard' cascades 'c' from 'a' but another model "
                                         "from 'b'"):
        compare_transfer(models, X, Y, cv=2)


# ---------------------------------------------------------------- the verdict's statistics
def _scores(diffs: dict, ref=None, n=None) -> pd.DataFrame:
    """Long scores from per-split differences {(model, task): [d_0, d_1, ...]}."""
    n = n or len(next(iter(diffs.values())))
    rng = np.random.default_rng(0)
    ref = ref or {t: 0.7 + 0.02 * rng.normal(size=n) for t in dict.fromkeys(t for _, t in diffs)}
    rows = [dict(model="reference", task=t, fold=f, score=s) for t, v in ref.items()
            for f, s in enumerate(v)]
    rows += [dict(model=m, task=t, fold=f, score=ref[t][f] + d) for (m, t), v in diffs.items()
             for f, d in enumerate(v)]
    return pd.DataFrame(rows)


def test_corrected_t_test_matches_a_hand_computation():
    d = np.array([0.1, 0.2, 0.3, 0.2])
    # By hand: mean 0.2, s² = 0.02 / 3, corrected variance (1/4 + 1/3) s² = 0.0038889,
    # t = 0.2 / 0.062361 = 3.2071 on 3 df; two-sided p = 0.0491 (t table: t_.975,3 = 3.1824).
    r = paired_test(d, test="corrected", test_train_ratio=1 / 3)
    assert r["p_value"] == pytest.approx(0.04906, abs=1e-4)
    assert r["ci_high"] - r["mean"] == pytest.approx(3.18245 * 0.0623610, rel=1e-4)
    naive = paired_test(d, test="ttest")
    assert naive["p_value"] == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    assert naive["p_value"] < r["p_value"]  # the naive test ignores the overlap
    assert paired_test(d, test="wilcoxon")["p_value"] == pytest.approx(stats.wilcoxon(d).pvalue)
    with pytest.raises(ValueError, match="test_train_ratio=None is not valid for the corrected"):
        paired_test(d)


def test_degenerate_comparisons_are_inconclusive_with_their_reason():
    same = paired_test([0.05] * 5, test="ttest")
    assert np.isnan(same["p_value"]) and np.isnan(same["ci_low"])
    assert same["note"] == "zero variance: every difference is +0.05"
    few = paired_test([0.1, np.nan, 0.3, np.nan], test="corrected", test_train_ratio=0.25)
    assert few["n_pairs"] == 2 and np.isnan(few["p_value"])
    assert few["note"] == "fewer than 3 usable pairs (2)"
    scores = _scores({("hard", "ctr"): [-0.05] * 5,
                      ("soft", "ctr"): [-0.1, np.nan, -0.2, np.nan, np.nan],
                      ("mmoe", "ctr"): [-0.1, 0.0, -0.2, np.nan, np.nan]})
    report = TransferReport(scores, metric={"ctr": "roc_auc"}, n_folds=5)
    summary = report.summary()
    assert summary["verdict"].tolist() == ["inconclusive"] * 3
    assert summary["p_value"].isna().tolist() == [True, True, False]
    assert summary["n_pairs"].tolist() == [5, 2, 3]
    assert not summary["negative_transfer"].any()
    lines = report.verdict_lines()
    # Untested is not non-inferior: the ship decision stays open, and the line says why.
    assert lines[0] == "hard: undecided. ctr: untested (zero variance: every difference is -0.05)."
    assert lines[1] == "soft: undecided. ctr: untested (fewer than 3 usable pairs (2))."
    assert "untested" not in lines[2]  # three pairs: testable
    assert report.ship()["decision"].tolist() == ["undecided"] * 3
    assert np.isnan(report.ship().loc["hard", "worst_loss"])


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
        rep = compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, cv=folds,
                               reference=PerTaskLGBM(**{**LGBM, "n_estimators": 5}))
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
        compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y.iloc[:-5], reference=PerTaskLGBM(**LGBM))


def test_bonferroni_makes_the_intervals_simultaneous():
    p = [0.01, 0.04, 0.03, np.nan, 0.5]
    # Bonferroni by hand, m = 4 finite p-values: 4 p, capped at 1.
    np.testing.assert_allclose(adjust_p_values(p), [0.04, 0.16, 0.12, np.nan, 1.0])
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni"), adjust_p_values(p))
    np.testing.assert_array_equal(adjust_p_values(p, None), p)
    for removed in ("holm", "bh"):  # no intervals to print beside them: removed
        with pytest.raises(ValueError, match=re.escape(
                f"correction={removed!r} is not valid: use one of ['bonferroni', None]")):
            adjust_p_values(p, removed)
    rng = np.random.default_rng(1)
    scores = _scores({(m, t): rng.normal(-0.02, 0.02, size=10) for m in ("a", "b") for t in ("x", "y")})
    with pytest.raises(ValueError, match="correction='holm' is not valid"):
        TransferReport(scores, metric={"x": "r2", "y": "r2"}, n_folds=10, correction="holm")
    report = TransferReport(scores, metric={"x": "r2", "y": "r2"}, n_folds=10)
    assert report.correction == "bonferroni"
    summary = report.summary()
    np.testing.assert_allclose(summary["p_adjusted"], np.minimum(1, 4 * summary["p_value"]))
    assert summary.attrs["interval_level"] == pytest.approx(1 - 0.05 / 4)
    # Each interval is the paired test's at alpha / m, and p_adjusted < alpha exactly when it
    # leaves out 0.
    diffs = report._differences()
    for (model, task), row in summary.iterrows():
        own = paired_test(diffs[(model, task)], test_train_ratio=report.test_train_ratio,
                          alpha=0.05 / 4)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((own["ci_low"], own["ci_high"]))
        assert (row["p_adjusted"] < 0.05) == (row["ci_low"] > 0 or row["ci_high"] < 0)
    plain = report.summary(correction=None)
    assert (plain["p_adjusted"] == summary["p_value"]).all()
    assert plain.attrs["interval_level"] == pytest.approx(0.95)
    assert ((plain["ci_high"] - plain["ci_low"]) < (summary["ci_high"] - summary["ci_low"])).all()
    assert ("4 intervals at 98.75% each, simultaneous (Bonferroni): all verdicts hold together "
            "with 95% confidence" in repr(report))
    assert report._protocol(correction=None).endswith(
        "(corrected resampled t-test, 95% intervals, no multiplicity correction)")
    assert report._protocol(alpha=0.001, correction=None).endswith(
        "(corrected resampled t-test, 99.9% intervals, no multiplicity correction)")
    assert "4 intervals at 99.38% each" in report._protocol(alpha=0.025)


def test_the_four_verdicts_and_the_margin():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=10)
    scores = _scores({("m", "lose"): -0.1 + 0.01 * noise, ("m", "win"): 0.1 + 0.01 * noise,
                      ("m", "tie"): 0.0005 * noise, ("m", "noisy"): 0.3 * noise})
    metric = {t: "r2" for t in ("lose", "win", "tie", "noisy")}
    report = TransferReport(scores, metric=metric, n_folds=10)
    summary = report.summary().loc["m"]
    assert summary["verdict"].to_dict() == {"lose": "worse", "win": "better", "tie": "equivalent",
                                            "noisy": "inconclusive"}
    assert summary["negative_transfer"].to_dict() == {"lose": True, "win": False, "tie": False,
                                                      "noisy": False}
    assert summary["positive_transfer"].to_dict()["win"]
    assert (summary["margin"] == 0.01).all()  # R²'s default
    assert (summary["ci_low"] < summary["delta"]).all() and (summary["delta"] < summary["ci_high"]).all()
    # A margin narrower than the interval: no longer equivalent. Per task, the others default.
    tight = report.summary(margin={"tie": 1e-5}).loc["m"]
    assert tight.loc["tie", "verdict"] == "inconclusive" and tight.loc["lose", "margin"] == 0.01
    # An error metric: lower is better, and the margin is 1 % of the reference's mean.
    err = TransferReport(_scores({("m", "e"): 0.1 + 0.01 * noise}, ref={"e": np.full(10, 2.0)}),
                         metric={"e": "rmse"}, n_folds=10)
    assert err.summary().loc[("m", "e"), "verdict"] == "worse"
    assert err.summary().loc[("m", "e"), "margin"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match=r"margin names tasks \['nope'\] that the report does not"):
        report.summary(margin={"nope": 0.1})
    with pytest.raises(ValueError, match="margin=-1 is not valid"):
        report.summary(margin=-1)
    with pytest.raises(ValueError, match="test='z' is not valid"):
        TransferReport(scores, metric=metric, n_folds=10, test="z")


def test_the_mean_over_tasks_is_a_check_not_the_decision():
    """One task or the other loses 0.4 in alternate splits: per task nothing is sure. The mean
    over tasks is (overall()), but the ship line reads the per-task intervals only."""
    rng = np.random.default_rng(0)
    flip = np.tile([1.0, 0.0], 5)
    scores = _scores({("hard", "a"): -0.4 * flip + 0.01 * rng.normal(size=10),
                      ("hard", "b"): -0.4 * (1 - flip) + 0.01 * rng.normal(size=10)})
    report = TransferReport(scores, metric={"a": "r2", "b": "r2"}, n_folds=10)
    assert (report.summary()["verdict"] == "inconclusive").all()
    overall = report.overall().loc["hard"]
    assert overall["verdict"] == "worse" and overall["mean_delta"] == pytest.approx(-0.2, abs=0.01)
    ship = report.ship().loc["hard"]
    assert ship["decision"] == "undecided" and ship["tasks"] == ["a", "b"]
    assert ship["worst_loss"] == pytest.approx(-report.summary()["ci_low"].min())
    line = report.verdict_lines()[0]
    assert line.startswith("hard: undecided. a: inconclusive, −0.199 R² [−0.458, +0.060], could "
                           "still hide a loss of up to 0.458 R² (margin 0.01); b: inconclusive, "
                           "−0.205 R² [−0.459, +0.050], could still hide a loss of up to 0.459 R² "
                           "(margin 0.01). To settle it: more rows")
    assert "on average" not in line and "mean" not in line
    assert f"- {line}" in report.to_markdown() and line in repr(report)


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


def test_matched_reference_has_the_models_capacity():
    X, Y = make_multitask_data(n_samples=150, n_features=6, random_state=0)
    hard = MultiTaskRecommender("hard", hidden_units=(32, 16), tower_units=(4,), max_epochs=2,
                                random_state=0)
    rep = compare_transfer({"hard": hard}, X, Y, cv=3, reference="matched", random_state=0,
                           return_estimators=True)
    model, reference = rep.n_params["hard"], rep.n_params["reference"]
    assert abs(reference - model) <= 0.10 * model, (model, reference)
    fitted = rep.estimators[("reference", 0)]
    assert fitted.architecture == "single" and fitted.hidden_units[0] < 32
    # The default (per-task) reference gives each task the full bottom: about twice the capacity.
    per_task = compare_transfer({"hard": hard}, X, Y, cv=3, random_state=0)
    assert per_task.n_params["reference"] > 1.5 * per_task.n_params["hard"]
    summary = rep.summary()
    assert (summary["reference_n_params"] == reference).all()
    with pytest.raises(ValueError, match="reference='big' is not valid: use one of"):
        compare_transfer({"hard": hard}, X, Y, reference="big")


def test_a_splitter_that_needs_y_stratifies_on_the_first_complete_task():
    rng = np.random.default_rng(0)
    Y = pd.DataFrame({"dwell": rng.normal(size=90), "click": np.r_[np.ones(9), np.zeros(81)]})
    Y.loc[:4, "dwell"] = np.nan  # not complete: the splitter gets click
    with pytest.warns(UserWarning, match=r"splits on the labels of task 'click', the first task "
                                         r"without missing labels \('dwell' \(5\) missing\)"):
        splits = _splits(StratifiedKFold(3, shuffle=True, random_state=0), Y, None, 2)
    assert [r for r, _, _ in splits] == [0, 0, 0, 1, 1, 1]
    assert all(Y["click"].iloc[test].sum() == 3 for _, _, test in splits)  # 9 clicks / 3 folds
    assert not np.array_equal(splits[0][2], splits[3][2])  # the second repeat is reshuffled


# ---------------------------------------------------------------- folds, groups, bad cv


def _users_frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "user": rng.integers(0, 12, n)})
    Y = pd.DataFrame({"dwell": X["a"] + rng.normal(size=n), "click": (X["a"] > 0).astype(int)})
    return X, Y


def _lgbm_compare(X, Y, **kwargs):
    return compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, reference=PerTaskLGBM(**LGBM),
                            **kwargs)


def test_groups_without_a_reader_warn_and_say_how_to_group_the_folds():
    X, Y = _users_frame()
    with pytest.warns(UserWarning, match=r"groups= is not used: cv=3 does not split by groups and "
                                         r"no metric is scored per user\. .*cv=GroupKFold\(k\)"):
        report = _lgbm_compare(X, Y, cv=3, groups="user")
    assert not report.grouped


def test_a_group_splitter_receives_groups_and_the_header_says_so():
    from sklearn.model_selection import GroupKFold

    X, Y = _users_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        report = _lgbm_compare(X, Y, cv=GroupKFold(3), groups="user", return_estimators=True)
    assert report.grouped and "3-fold CV grouped by groups=" in repr(report)
    for _, train, test in _splits(GroupKFold(3), Y, None, 1, X["user"].to_numpy()):
        assert not set(X["user"].iloc[train]) & set(X["user"].iloc[test])
    with pytest.raises(ValueError, match=r"cv=GroupKFold\(.*\) splits by groups: pass groups="):
        _lgbm_compare(X, Y, cv=GroupKFold(3))


@pytest.mark.parametrize(("cv", "match"), [
    (True, r"cv=True is not valid: use an int >= 2 \(KFold\), a scikit-learn splitter or a list "
           r"of \(train, test\) index arrays\."),
    ([(np.arange(60), np.arange(60, 121))],
     r"cv fold 0 has test row index 120 outside \[0, 120\): the folds must be positions of the "
     r"120 rows of X and Y\."),
    ([(np.arange(-1, 60), np.arange(60, 120))], r"cv fold 0 has train row index -1 outside"),
])
def test_bad_cv_is_refused_naming_it(cv, match):
    X, Y = _users_frame()
    with pytest.raises(ValueError, match=match):
        _lgbm_compare(X, Y, cv=cv)


def test_a_splitter_that_cannot_split_on_the_first_complete_task_names_it():
    X, Y = _users_frame()
    Y = Y[["click", "dwell"]].astype(float)
    Y.loc[:3, "click"] = np.nan  # the first task is not complete: dwell (regression) is used
    with pytest.warns(UserWarning, match=r"splits on the labels of task 'dwell', the first task "
                                         r"without missing labels \('click' \(4\) missing\)"):
        with pytest.raises(ValueError, match=r"could not split on the labels of task 'dwell': "
                                             r"Supported target types are"):
            _lgbm_compare(X, Y, cv=StratifiedKFold(3))


def test_a_report_of_nan_scores_prints_and_says_nothing_could_be_tested():
    X, Y = _users_frame(n=12)
    # One test row a fold: scikit-learn warns that the dwell task's R² is undefined on one row.
    with pytest.warns(UserWarning, match="48 of 48 fold scores are NaN"), \
            pytest.warns(UndefinedMetricWarning, match="R\\^2 score is not well-defined"):
        report = compare_transfer(
            {"lgbm": PerTaskLGBM(**LGBM, min_child_samples=1)}, X[["a"]], Y,
            reference=PerTaskLGBM(**LGBM, min_child_samples=1), cv=12, n_repeats=1)
    text = repr(report)
    assert text.endswith("\nlgbm: undecided. dwell: untested (fewer than 3 usable pairs (0)); "
                         "click: untested (fewer than 3 usable pairs (0)).")
    assert "fewer than 3 usable pairs (0)" in report.to_markdown()
    assert report.overall().loc["lgbm", "worst_task"] is None


def test_per_user_nan_scores_say_every_user_had_a_single_class():
    X, Y = _users_frame()
    Y = Y[["click"]]
    X["user"] = np.arange(len(X))  # one row a user: no user has both classes
    with pytest.warns(UserWarning, match=r"for the per-user gauc of 'click': a test fold in which "
                                         r"every user has a single class"):
        _lgbm_compare(X, Y, cv=3, metric="gauc", groups="user")


# ---------------------------------------------------------------- minimum detectable effect


def _noisy_report(test="corrected", correction="bonferroni", n_folds=5, n_repeats=2, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for fold in range(n_folds * n_repeats):
        for task in ("ctr", "cvr"):
            base = 0.7 + 0.01 * rng.normal()
            rows += [dict(model="hard", task=task, fold=fold, score=base + 0.02 * rng.normal()),
                     dict(model="reference", task=task, fold=fold, score=base)]
    return TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc", "cvr": "roc_auc"},
                          n_folds=n_folds, n_repeats=n_repeats, test=test, correction=correction)


def test_summary_states_the_minimum_detectable_effect_of_its_own_test():
    from scipy import stats as st

    report = _noisy_report()
    summary = report.summary()
    diffs = report._differences()[("hard", "ctr")].dropna().to_numpy()
    j, ratio = len(diffs), 1 / 4
    se = np.sqrt((1 / j + ratio) * diffs.var(ddof=1))
    level = 0.05 / 2  # the intervals' level: Bonferroni over the report's two tests
    expected = (st.t.ppf(1 - level / 2, j - 1) + st.t.ppf(0.8, j - 1)) * se
    assert summary.loc[("hard", "ctr"), "mde"] == pytest.approx(expected)
    plain = report.summary(correction=None).loc[("hard", "ctr"), "mde"]
    assert plain < summary.loc[("hard", "ctr"), "mde"]  # a looser level detects smaller effects
    assert (summary["verdict"] == "inconclusive").all()


def test_an_inconclusive_task_says_how_large_a_loss_could_hide_and_what_would_settle_it():
    report = _noisy_report()
    summary = report.summary().loc["hard"]
    corrected = report.verdict_lines()[0]
    for task in ("ctr", "cvr"):  # the loss the interval still allows, in AUC, and the margin
        assert (f"{task}: inconclusive, {summary.loc[task, 'delta']:+.3f} AUC".replace("-", "−")
                in corrected)
        assert (f"could still hide a loss of up to {-summary.loc[task, 'ci_low']:.3f} AUC (margin "
                "0.005)") in corrected
    assert corrected.startswith("hard: undecided. ctr: inconclusive, ")
    assert corrected.endswith(" To settle it: more rows would narrow the interval (more repeats "
                              "cannot: the corrected test's variance has a floor with overlapping "
                              "training sets).")
    plain = _noisy_report(test="ttest").verdict_lines()[0]
    assert re.search(r" To settle it: about \d+ more repeats would halve the interval\.$", plain), plain


def test_no_mde_where_nothing_was_tested():
    report = _noisy_report(n_folds=2, n_repeats=1)  # 2 pairs: fewer than 3, untested
    summary = report.summary()
    assert summary["mde"].isna().all()
    assert report.verdict_lines() == ["hard: undecided. ctr: untested (fewer than 3 usable pairs "
                                      "(2)); cvr: untested (fewer than 3 usable pairs (2))."]


# ---------------------------------------------------------------- nested tuning

SEEN_ROWS: list = []


class RowRecorder(TransformerMixin, BaseEstimator):
    """Passes X through and records, at every fit, which rows (index labels) it was fitted on."""

    def fit(self, X, y=None):
        SEEN_ROWS.append(frozenset(X.index))
        return self

    def transform(self, X):
        return X


def test_nested_tuning_never_lets_a_test_row_reach_a_trial_or_the_refit():
    X, Y = _users_frame(n=150)
    X = X[["a"]].set_axis(pd.RangeIndex(len(X)))  # index label = row position
    SEEN_ROWS.clear()
    recorded = make_pipeline(RowRecorder(), PerTaskLGBM(**LGBM))
    splits = _splits(3, Y, 0, 1)
    report = compare_transfer({"lgbm": recorded}, X, Y, reference=make_pipeline(
        RowRecorder(), PerTaskLGBM(**LGBM)), cv=3, n_repeats=1, random_state=0, tune=3)
    trains = [frozenset(train) for _, train, _ in splits]
    tests = [frozenset(test) for _, _, test in splits]
    jobs, pending = [], []
    for rows in SEEN_ROWS:  # each job: its trials' fits, then the refit on the split's train rows
        pending.append(rows)
        if rows in trains:
            jobs.append((trains.index(rows), pending))
            pending = []
    assert not pending and [split for split, _ in jobs] == [0, 0, 1, 1, 2, 2]
    for split, fits in jobs:
        assert len(fits) > 1  # at least one trial before the refit
        assert all(rows <= trains[split] and not rows & tests[split] for rows in fits)
    assert len(report.tuning) == 6


def test_report_tuning_has_a_study_per_model_and_split_with_the_same_budget():
    X, Y = make_multitask_data(n_samples=300, n_features=5, random_state=0)
    report = compare_transfer({"lgbm": PerTaskLGBM(**LGBM), "hard": MultiTaskRecommender(
        "hard", **NET)}, X, Y, cv=3, n_repeats=1, random_state=0,
        tune={"n_trials": 2, "space": {"lgbm": {"num_leaves": optuna_int(4, 16)}}})
    tuning = report.tuning
    assert list(tuning.columns) == ["model", "split", "n_trials", "n_complete", "n_pruned",
                                    "tuned", "best_params", "default_value", "best_value",
                                    "seconds"]
    assert tuning["tuned"].all() and (tuning["best_value"] >= tuning["default_value"]).all()
    assert sorted(map(tuple, tuning[["model", "split"]].to_numpy().tolist())) == sorted(
        (m, s) for m in ("lgbm", "hard", "reference") for s in range(3))
    assert (tuning["n_trials"] == 2).all()
    # {} where the first trial, the defaults, stayed best.
    assert all(set(p) <= {"num_leaves"} for p in tuning.loc[tuning["model"] == "lgbm", "best_params"])
    line = ("tuning: each model (lgbm, hard, reference) had its own study of 2 trials in each of 3 "
            "splits, on the split's training rows only")
    assert line in repr(report) and line in report.to_markdown()
    # The refitted models use the best trial's parameters of their split.
    again = compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, reference=PerTaskLGBM(**LGBM),
                             cv=3, n_repeats=1, random_state=0, tune=2, return_estimators=True)
    studies = again.tuning.set_index(["model", "split"])["best_params"]
    for key, model in again.estimators.items():
        best = studies[key]
        assert all(model.get_params()[k] == v for k, v in best.items())


@pytest.mark.parametrize(("tune", "match"), [
    (0, r"tune=0 is not valid: use None, an int >= 1 \(the trials of every model in every "
        r"split\) or a dict of tune\(\)'s arguments"),
    (-1, r"tune=-1 is not valid"),
    ("x", r"tune='x' is not valid"),
    (True, r"tune=True is not valid"),
    ({"n_trial": 3}, r"\['n_trial'\] are not among its keys"),
    ({"timeout": -1}, r"tune\['timeout'\]=-1 is not valid: use a number of seconds > 0"),
    ({"n_trials": 2.5}, r"tune\['n_trials'\]=2.5 is not valid: use an int >= 1"),
    ({}, r"gives neither n_trials nor timeout: every study needs a budget"),
    ({"n_trials": 2, "space": {"nope": {}}}, r"tune\['space'\]=\{'nope': \{\}\} is not valid: "
                                             r"use a dict \{model name: search space\}"),
])
def test_bad_tune_arguments_are_refused_naming_tune(tune, match):
    X, Y = _users_frame()
    with pytest.raises(ValueError, match=match):
        _lgbm_compare(X, Y, cv=3, tune=tune)


# ---------------------------------------------------------------- storage: a compare survives a crash


def _storage_models():
    return ({"lgbm": PerTaskLGBM(**LGBM), "hard": MultiTaskRecommender("hard", **NET)},
            MultiTaskRecommender("single", **NET))


def test_storage_keeps_every_fit_and_a_second_call_refits_nothing(tmp_path):
    X, Y = make_multitask_data(n_samples=300, n_features=5, random_state=0)
    models, reference = _storage_models()
    first = compare_transfer(models, X, Y, reference=reference, cv=3, random_state=0,
                             storage=tmp_path / "run")
    files = sorted((tmp_path / "run" / "fits").iterdir())
    assert first.fits_reused == 0 and len(files) == 3 * 2 * 3  # splits x models+reference
    stamps = [f.stat().st_mtime_ns for f in files]
    second = compare_transfer(models, X, Y, reference=reference, cv=3, random_state=0,
                              storage=tmp_path / "run")
    assert second.fits_reused == 18 and [f.stat().st_mtime_ns for f in files] == stamps
    pd.testing.assert_frame_equal(first.summary(), second.summary())
    pd.testing.assert_frame_equal(first.scores, second.scores)
    assert "storage: 18 of 18 fits taken from storage=" in repr(second)


@pytest.mark.parametrize(("change", "match"), [
    (dict(random_state=1), r"the folds \(cv, n_repeats\), random_state differ"),
    (dict(cv=2), r"the folds \(cv, n_repeats\) differ"),
    (dict(models={"lgbm": PerTaskLGBM(**{**LGBM, "num_leaves": 7})}), r"the parameters of \['lgbm'\]"),
    (dict(Y="scaled"), r"the data \(X or Y, values or dtypes\) differ"),
    (dict(tune=2), r"the tuning settings \(tune=\) differ"),
])
def test_storage_written_by_other_arguments_is_refused_naming_what_changed(tmp_path, change, match):
    X, Y = make_multitask_data(n_samples=200, n_features=4, random_state=0)
    kwargs = dict(models={"lgbm": PerTaskLGBM(**LGBM)}, X=X, Y=Y, reference=PerTaskLGBM(**LGBM),
                  cv=3, n_repeats=1, random_state=0, storage=tmp_path)
    compare_transfer(**kwargs)
    if change.get("Y") == "scaled":
        change = dict(Y=Y * 2)
    with pytest.raises(ValueError, match=rf"storage='{re.escape(str(tmp_path))}' holds the fits of "
                                         rf"another comparison: {match}"):
        compare_transfer(**{**kwargs, **change})


def test_storage_that_is_a_file_or_with_return_estimators_is_refused(tmp_path):
    X, Y = make_multitask_data(n_samples=200, n_features=4, random_state=0)
    kwargs = dict(reference=PerTaskLGBM(**LGBM), cv=3, n_repeats=1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"storage='.*file' is a file: use a directory"):
        compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, storage=tmp_path / "file", **kwargs)
    with pytest.raises(ValueError, match="return_estimators=True cannot be combined with storage="):
        compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, storage=tmp_path / "d",
                         return_estimators=True, **kwargs)


def test_nested_studies_are_kept_and_not_run_again(tmp_path):
    import optuna

    X, Y = make_multitask_data(n_samples=200, n_features=4, random_state=0)
    kwargs = dict(reference=PerTaskLGBM(**LGBM), cv=3, n_repeats=1, random_state=0, tune=2,
                  storage=tmp_path)
    first = compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, **kwargs)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage=url))
    assert names == sorted(f"{m} | split {k}" for m in ("lgbm", "reference") for k in range(3))
    second = compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, **kwargs)
    assert second.fits_reused == 6
    pd.testing.assert_frame_equal(first.tuning, second.tuning)
    assert all(len(optuna.load_study(study_name=n, storage=url).trials) == 2 for n in names)


def test_a_compare_killed_part_way_resumes_to_the_uninterrupted_report(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    worker = Path(__file__).with_name("_compare_worker.py")
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, str(worker), str(killed)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fits = killed / "fits"
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if fits.exists() and len(list(fits.glob("*.json"))) >= 3:
                break
            time.sleep(0.05)
        running = process.poll() is None
        if running:
            process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        _, err = process.communicate()
    assert running, f"the worker exited (code {process.returncode}) before the kill:\n{err}"
    kept = {f.name: f.stat().st_mtime_ns for f in fits.glob("*.json")}
    assert 3 <= len(kept) < 12  # killed part-way through the 2 x 6 fits

    from sklearn_mtl import MultiTaskRecommender, compare_transfer

    X, Y = make_multitask_data(n_samples=600, n_features=6, random_state=0)
    net = dict(hidden_units=(16,), tower_units=(8,), max_epochs=15, early_stopping=False,
               batch_size=32, random_state=0)
    kwargs = dict(reference=MultiTaskRecommender("single", **net), cv=3, n_repeats=2,
                  random_state=0)
    models = {"hard": MultiTaskRecommender("hard", **net)}
    resumed = compare_transfer(models, X, Y, storage=killed, **kwargs)
    assert resumed.fits_reused == len(kept)
    assert {f.name: f.stat().st_mtime_ns for f in fits.glob("*.json") if f.name in kept} == kept
    whole = compare_transfer(models, X, Y, **kwargs)
    pd.testing.assert_frame_equal(resumed.scores, whole.scores)
    pd.testing.assert_frame_equal(resumed.summary(), whole.summary())


def test_nested_tuning_on_a_census_slice(census_1500):
    X, Y = census_1500
    X, Y = X.iloc[:900], Y.iloc[:900]
    report = compare_transfer({"lgbm": PerTaskLGBM(**LGBM), "hard": MultiTaskRecommender(
        "hard", **NET)}, X, Y, cv=2, n_repeats=1, random_state=0, tune=2)
    assert len(report.tuning) == 3 * 2 and (report.tuning["n_trials"] == 2).all()
    assert set(report.summary().index.get_level_values("task")) == {"income", "never_married"}
    assert report.summary()["mde"].isna().all()  # 2 pairs: untested, and said so
    assert "tuning: each model (lgbm, hard, reference)" in repr(report)


def test_storage_identity_reads_the_state_of_a_random_state():
    from sklearn_mtl.transfer._storage import describe

    assert describe(np.random.RandomState(0)) == describe(np.random.RandomState(0))
    assert describe(np.random.RandomState(0)) != describe(np.random.RandomState(1))
    assert describe(np.random.default_rng(0)) != describe(np.random.default_rng(1))
    net = MultiTaskRecommender("hard", random_state=np.random.RandomState(0))
    assert describe(net) != describe(net.set_params(random_state=np.random.RandomState(1)))


def test_the_figure_keeps_title_and_legend_inside_and_off_the_bars():
    rows = []
    for fold in range(6):
        for task in ("ctr", "cvr"):
            for model, shift in (("hard", -0.05), ("mmoe", 0.0), ("reference", 0.0)):
                noise = 0.002 * ((fold * 7) % 5) + (0.003 * ((fold * 3) % 4) if model != "reference"
                                                    else 0.0)
                rows.append(dict(model=model, task=task, fold=fold, score=0.7 + shift + noise))
    report = TransferReport(pd.DataFrame(rows), metric={"ctr": "roc_auc", "cvr": "roc_auc"},
                            n_folds=3, n_repeats=2)
    title = "unrelated tasks (correlation 0.0), one-unit shared bottom, a long setting name"
    ax = report.plot(title=title)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    figure_box = fig.bbox
    title_box = ax.title.get_window_extent(renderer)
    legend_box = ax.get_legend().get_window_extent(renderer)
    for box in (title_box, legend_box):  # inside the image, not cut at its edge
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1
        assert figure_box.y0 <= box.y0 and box.y1 <= figure_box.y1
    assert "\n" in ax.get_title("left") and ax.get_title("left").startswith("unrelated tasks")
    # Beside the axes: no bar and no error bar under the legend.
    assert legend_box.x0 >= ax.get_window_extent(renderer).x1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # One entry per model, its ship decision and the tasks that decide it; never a mean.
    assert labels == ["hard: cannot ship (ctr, cvr)", "mmoe: undecided (ctr, cvr)",
                      "negative transfer (a loss that may exceed\nthe margin; 98.75% interval "
                      "below 0)", "−margin: a loss that matters"]
    plt.close(fig)
