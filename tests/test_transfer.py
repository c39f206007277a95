"""compare_transfer and TransferReport on real data and the paper's generator, Dask included."""

from __future__ import annotations

import joblib
import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, TransferReport, compare_transfer
from sklearn_mtl.datasets import make_multitask_data

matplotlib.use("Agg")

NET = dict(hidden_units=(16,), tower_units=(8,), n_experts=2, lr=5e-3, max_epochs=4, random_state=0)


@pytest.fixture(scope="module")
def census_slice(census_small):
    X, Y = census_small
    return X.iloc[:1500].reset_index(drop=True), Y.iloc[:1500].reset_index(drop=True)


@pytest.fixture(scope="module")
def report(census_slice):
    X, Y = census_slice
    models = {
        "mmoe": MultiTaskRecommender("mmoe", **NET),
        "lgbm": PerTaskLGBM(n_estimators=20, n_jobs=1, random_state=0),
    }
    return compare_transfer(models, X, Y, cv=3, random_state=0, return_estimators=True)


def test_report_scores_and_summary(report):
    assert isinstance(report, TransferReport)
    assert set(report.scores.columns) == {"model", "task", "fold", "score"}
    assert set(report.scores["model"]) == {"mmoe", "lgbm", "reference"}
    assert len(report.scores) == 3 * 2 * 3  # models x tasks x folds
    summary = report.summary()
    assert list(summary.index.names) == ["model", "task"]
    assert {"mean", "std", "reference_mean", "delta", "relative_delta", "p_value",
            "negative_transfer"} <= set(summary.columns)
    row = summary.loc[("mmoe", "income")]
    fold_scores = report.scores.query("model == 'mmoe' and task == 'income'")["score"]
    ref_scores = report.scores.query("model == 'reference' and task == 'income'")["score"]
    assert row["mean"] == pytest.approx(fold_scores.mean())
    assert row["delta"] == pytest.approx(fold_scores.mean() - ref_scores.mean())
    assert 0 <= row["p_value"] <= 1
    wilcoxon = report.summary(test="wilcoxon")
    assert np.all((wilcoxon["p_value"].dropna() >= 0) & (wilcoxon["p_value"].dropna() <= 1))
    # The default reference is the first net's settings with architecture="single".
    ref = report.estimators[("reference", 0)]
    assert ref.architecture == "single" and ref.hidden_units == NET["hidden_units"]


def test_markdown_csv_plot_and_repr(report, tmp_path):
    md = report.to_markdown()
    assert md.startswith("| model | task |") and "income" in md
    scores_path, summary_path = report.to_csv(tmp_path)
    assert len(pd.read_csv(scores_path)) == len(report.scores)
    assert list(pd.read_csv(summary_path)["model"].unique()) == ["mmoe", "lgbm"]
    ax = report.plot()
    ax.figure.savefig(tmp_path / "transfer.png")
    assert (tmp_path / "transfer.png").stat().st_size > 5000
    text = repr(report)
    assert "3-fold CV" in text and "never_married" in text


def test_lower_is_better_metrics_flag_the_higher_error():
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
    assert not rep.greater_is_better["task_0"]


def test_sharing_hurts_more_for_unrelated_tasks():
    """The MMoE paper's effect: hard sharing's delta against single falls with task correlation.

    A one-unit shared bottom carries one projection of x: enough for two tasks on the same weight
    vector, not for two orthogonal ones, while the reference gives each task its own unit.
    """
    deltas = {}
    for corr in (1.0, 0.0):
        X, Y = make_multitask_data(n_samples=2000, n_features=10, task_correlation=corr, random_state=1)
        params = dict(hidden_units=(1,), tower_units=(8,), lr=1e-2, batch_size=128, max_epochs=40,
                      random_state=0)
        rep = compare_transfer({"hard": MultiTaskRecommender("hard", **params)}, X, Y, cv=3,
                               random_state=0)
        deltas[corr] = rep.summary()["delta"].mean()
    assert abs(deltas[1.0]) < 0.05, deltas  # measured: -0.004
    assert deltas[0.0] < deltas[1.0] - 0.2, deltas  # measured: -0.50


def test_bad_inputs(census_slice):
    X, Y = census_slice
    net = MultiTaskRecommender("hard", **NET)
    with pytest.raises(ValueError, match="models must be a non-empty dict"):
        compare_transfer({}, X, Y)
    with pytest.raises(ValueError, match=r"model 'logreg' \(LogisticRegression\) is not a multi-task"):
        compare_transfer({"logreg": LogisticRegression()}, X, Y["income"], reference=net)
    with pytest.raises(ValueError, match="cv=2000 is not valid for 1500 rows"):
        compare_transfer({"hard": net}, X, Y, cv=2000)
    with pytest.raises(ValueError, match="needs a reference"):
        compare_transfer({"lgbm": PerTaskLGBM(n_estimators=5)}, X, Y)
    with pytest.raises(ValueError, match=r"model 'one' was fitted on tasks \['income'\] but Y has tasks"):
        _different_task_sets(X, Y)


def _different_task_sets(X, Y):
    class OneTask(PerTaskLGBM):
        def fit(self, X, y, sample_weight=None):
            return super().fit(X, y.iloc[:, :1])

    return compare_transfer({"one": OneTask(n_estimators=5, n_jobs=1)}, X, Y,
                            reference=PerTaskLGBM(n_estimators=5, n_jobs=1), cv=2)


@pytest.mark.slow
def test_runs_on_a_dask_cluster_with_the_same_scores(census_slice):
    distributed = pytest.importorskip("dask.distributed")
    X, Y = census_slice
    models = {"lgbm": PerTaskLGBM(n_estimators=20, n_jobs=1, random_state=0, deterministic=True)}
    reference = PerTaskLGBM(n_estimators=10, n_jobs=1, random_state=0, deterministic=True)
    local = compare_transfer(models, X, Y, reference=reference, cv=2, random_state=0)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_backend("dask"), distributed.get_task_stream(client) as stream:
            remote = compare_transfer(models, X, Y, reference=reference, cv=2, random_state=0)
        workers = set(client.scheduler_info()["workers"])
    # The fits ran as tasks on the cluster's worker processes.
    assert stream.data and {task["worker"] for task in stream.data} <= workers
    pd.testing.assert_frame_equal(local.scores, remote.scores)


def test_gradient_conflict_is_recorded_without_changing_the_fit():
    from sklearn_mtl.diagnostics import GradientConflict

    X, Y = make_multitask_data(n_samples=800, n_features=6, task_correlation=0.0, random_state=0)
    params = dict(max_epochs=4, hidden_units=(8,), random_state=0)
    tracked = MultiTaskRecommender("hard", track_gradient_conflict=True, **params).fit(X, Y)
    plain = MultiTaskRecommender("hard", **params).fit(X, Y)
    np.testing.assert_array_equal(tracked.predict(X), plain.predict(X))  # no side effects
    cosines = tracked.history_[:, "grad_cosine_mean"]
    assert len(cosines) == tracked.n_epochs_ and all(-1 <= c <= 1 for c in cosines)
    assert set(tracked.history_[-1, "grad_cosine"]) == {"task_0|task_1"}
    single = MultiTaskRecommender("single", track_gradient_conflict=True, **params).fit(X, Y)
    assert "grad_cosine_mean" not in single.history_[-1]  # nothing is shared
    with_callback = MultiTaskRecommender(
        "mmoe", callbacks=[GradientConflict(["task_0", "task_1"], sample_size=100)], **params
    ).fit(X, Y)
    assert np.isfinite(with_callback.history_[-1, "grad_cosine_mean"])
    rep = compare_transfer(
        {"hard": MultiTaskRecommender("hard", track_gradient_conflict=True, **params)}, X, Y, cv=2
    )
    assert set(rep.gradient_conflict.columns) == {"model", "fold", "epoch", "pair", "cosine"}
    assert set(rep.gradient_conflict["model"]) == {"hard"}
    assert "gradient cosine on shared parameters" in repr(rep)
    with pytest.raises(ValueError, match="track_gradient_conflict='yes' is not valid"):
        MultiTaskRecommender(track_gradient_conflict="yes").fit(X, Y)
