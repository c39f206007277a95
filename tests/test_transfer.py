"""compare_transfer and TransferReport on real data and the paper's generator, Dask included."""

from __future__ import annotations

import joblib
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, TransferReport, compare_transfer
from sklearn_mtl.datasets import make_multitask_data
from sklearn_mtl.diagnostics import GradientConflict

matplotlib.use("Agg")

NET = dict(hidden_units=(16,), tower_units=(8,), n_experts=2, lr=5e-3, max_epochs=3, random_state=0)
# n_jobs=1: LightGBM's OpenMP threads crawl when the cores are busy with other processes.
LGBM = dict(n_estimators=20, n_jobs=1, random_state=0, verbose=-1)


@pytest.fixture(scope="module")
def report(census_1500):
    X, Y = census_1500
    models = {"mmoe": MultiTaskRecommender("mmoe", **NET), "lgbm": PerTaskLGBM(**LGBM)}
    return compare_transfer(models, X, Y, cv=3, random_state=0, return_estimators=True)


def test_report_scores_and_summary(report):
    assert isinstance(report, TransferReport)
    assert list(report.scores.columns) == ["model", "task", "fold", "score"]
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
    assert row["p_value"] == pytest.approx(stats.ttest_rel(mine, ref).pvalue)
    wilcoxon = report.summary(test="wilcoxon")
    assert wilcoxon.loc[("mmoe", "income"), "p_value"] == pytest.approx(stats.wilcoxon(mine, ref).pvalue)
    assert wilcoxon["p_value"].dropna().between(0, 1).all()
    # The default reference is the first net's settings with architecture="single".
    reference = report.estimators[("reference", 0)]
    assert reference.architecture == "single" and reference.hidden_units == NET["hidden_units"]


def test_markdown_csv_plot_and_repr(report, tmp_path):
    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("| model | task | metric |") and len(lines) == 2 + 4
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    paths = report.to_csv(tmp_path / "out")
    assert [p.name for p in paths] == ["scores.csv", "summary.csv"]  # no gradient conflict here
    pd.testing.assert_frame_equal(pd.read_csv(paths[0]), report.scores, check_dtype=False)
    assert list(pd.read_csv(paths[1])["model"].unique()) == ["mmoe", "lgbm"]
    ax = report.plot()
    assert "roc_auc" in ax.get_title() and len(ax.patches) == 2 * 2  # models x tasks
    ax.figure.savefig(tmp_path / "transfer.png")
    assert (tmp_path / "transfer.png").stat().st_size > 5000
    plt.close(ax.figure)
    text = repr(report)
    assert text.startswith("TransferReport: 3-fold CV, metric roc_auc") and "never_married" in text


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
    # Two-sided Wilcoxon with 5 folds all of one sign: its floor, 2 / 2**5.
    wilcoxon = report.summary(test="wilcoxon")
    assert wilcoxon.loc[("lower", "auc"), "p_value"] == pytest.approx(0.0625)
    assert not wilcoxon["negative_transfer"].any()
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
    assert "negative transfer: hard on ctr" in text
    assert "shares no parameters (not transfer): lgbm on ctr" in text
    header = rep.to_markdown().splitlines()[0]
    assert "| significantly_worse | negative_transfer |" in header
    ax = rep.plot()
    assert [p.get_hatch() for p in ax.patches] == ["//", ".."]
    assert "worse, shares nothing (p < 0.05)" in [t.get_text() for t in ax.get_legend().get_texts()]
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
                               random_state=0)
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
def test_runs_on_a_dask_cluster_with_the_same_scores(census_1500):
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
        remote = compare_transfer(models, X, Y, reference=reference, cv=2, random_state=0)
        workers = set(client.scheduler_info()["workers"])
    # The scheduler's task log: the (model, fold) fits ran as tasks on the worker processes.
    ran = [task for task in stream.data if "_fit_and_score" in str(task["key"])]
    assert ran and {task["worker"] for task in ran} <= workers
    pd.testing.assert_frame_equal(local.scores, remote.scores)


def test_gradient_conflict_callback_changes_nothing_and_reaches_the_report(tmp_path):
    X, Y = make_multitask_data(n_samples=800, n_features=6, task_correlation=0.0, random_state=0)
    params = dict(max_epochs=4, hidden_units=(8,), random_state=0)
    names = ["task_0", "task_1"]
    tracked = MultiTaskRecommender("hard", callbacks=[GradientConflict(names, 256)], **params).fit(X, Y)
    plain = MultiTaskRecommender("hard", **params).fit(X, Y)
    np.testing.assert_array_equal(tracked.predict(X), plain.predict(X))  # no side effects
    cosines = tracked.history_[:, "grad_cosine_mean"]
    assert len(cosines) == tracked.n_epochs_ and all(-1 <= c <= 1 for c in cosines)
    assert set(tracked.history_[-1, "grad_cosine"]) == {"task_0|task_1"}
    single = MultiTaskRecommender("single", callbacks=[GradientConflict(names)], **params).fit(X, Y)
    assert "grad_cosine" not in single.history_[-1]  # nothing is shared
    with pytest.raises(ValueError, match="sample_size=0 is not valid"):
        MultiTaskRecommender("hard", callbacks=[GradientConflict(names, 0)], **params).fit(X, Y)
    with pytest.raises(ValueError, match="got 3 task names"):
        MultiTaskRecommender("hard", callbacks=[GradientConflict([*names, "x"])], **params).fit(X, Y)

    rep = compare_transfer(
        {"mmoe": MultiTaskRecommender("mmoe", callbacks=[GradientConflict(names, 256)], **params)},
        X, Y, cv=2, random_state=0,
    )
    conflict = rep.gradient_conflict
    assert list(conflict.columns) == ["model", "fold", "epoch", "pair", "task_a", "task_b", "cosine"]
    assert set(conflict["model"]) == {"mmoe"} and len(conflict) == 2 * 4  # folds x epochs
    last = conflict[conflict["epoch"] == 4]["cosine"].mean()
    assert rep.summary()["grad_cosine"].tolist() == pytest.approx([last, last])
    assert f"mmoe {last:+.3f}" in repr(rep) and "grad_cosine" in rep.to_markdown()
    assert [p.name for p in rep.to_csv(tmp_path)][-1] == "gradient_conflict.csv"


@pytest.mark.skipif("track_gradient_conflict" not in MultiTaskRecommender().get_params(),
                    reason="the estimator has no track_gradient_conflict parameter yet")
def test_track_gradient_conflict_parameter():
    X, Y = make_multitask_data(n_samples=500, n_features=6, task_correlation=0.0, random_state=0)
    model = MultiTaskRecommender("hard", track_gradient_conflict=True, max_epochs=2, random_state=0)
    assert np.isfinite(model.fit(X, Y).history_[-1, "grad_cosine_mean"])
    rep = compare_transfer({"hard": model}, X, Y, cv=2, random_state=0)
    assert set(rep.gradient_conflict["model"]) == {"hard"}  # the single reference records nothing
