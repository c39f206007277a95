"""The (model, split) jobs of a comparison (sklearn_mtl/transfer/_jobs.py): nested tuning on the
split's training rows only, tune= checks, and the jobs on a Dask cluster."""

from __future__ import annotations

import joblib
import pandas as pd
import pytest
from conftest import TINY_LGBM, TINY_NET, lgbm_compare, users_frame
from optuna.distributions import IntDistribution as optuna_int
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import make_pipeline

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
from sklearn_mtl._resampling import cv_splits
from sklearn_mtl.datasets import make_multitask_data

SEEN_ROWS: list = []


class RowRecorder(TransformerMixin, BaseEstimator):
    """Passes X through and records, at every fit, which rows (index labels) it was fitted on."""

    def fit(self, X, y=None):
        SEEN_ROWS.append(frozenset(X.index))
        return self

    def transform(self, X):
        return X


def test_nested_tuning_never_lets_a_test_row_reach_a_trial_or_the_refit():
    X, Y = users_frame(n=150)
    X = X[["a"]].set_axis(pd.RangeIndex(len(X)))  # index label = row position
    SEEN_ROWS.clear()
    recorded = make_pipeline(RowRecorder(), PerTaskLGBM(**TINY_LGBM))
    splits = cv_splits(3, Y, 0, 1)
    report = compare_transfer({"lgbm": recorded}, X, Y, reference=make_pipeline(
        RowRecorder(), PerTaskLGBM(**TINY_LGBM)), cv=3, n_repeats=1, random_state=0, tune=3)
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
    report = compare_transfer({"lgbm": PerTaskLGBM(**TINY_LGBM), "hard": MultiTaskRecommender(
        "hard", **TINY_NET)}, X, Y, cv=3, n_repeats=1, random_state=0,
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
    again = compare_transfer({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y, reference=PerTaskLGBM(**TINY_LGBM),
                             cv=3, n_repeats=1, random_state=0, tune=2, return_estimators=True)
    studies = again.tuning.set_index(["model", "split"])["best_params"]
    for key, model in again.estimators.items():
        best = studies[key]
        assert all(model.get_params()[k] == v for k, v in best.items())


def test_a_models_studies_do_not_depend_on_the_other_models_compared():
    """Each study's seed comes from the model's name and the split: adding a model (or
    reordering them) leaves every other model's and the reference's searches as they were."""
    X, Y = make_multitask_data(n_samples=300, n_features=5, random_state=0)
    space = {"num_leaves": optuna_int(4, 64)}
    kwargs = dict(reference=PerTaskLGBM(**TINY_LGBM), cv=3, n_repeats=1, random_state=0)
    alone = compare_transfer({"b": PerTaskLGBM(**TINY_LGBM)}, X, Y, **kwargs, tune={
        "n_trials": 3, "space": {"b": space, "reference": space}})
    beside = compare_transfer({"a": PerTaskLGBM(**TINY_LGBM), "b": PerTaskLGBM(**TINY_LGBM)},
                              X, Y, **kwargs, tune={
        "n_trials": 3, "space": {"a": space, "b": space, "reference": space}})

    def searched(report, model):
        rows = report.tuning[report.tuning["model"] == model].sort_values("split")
        return rows[["best_params", "best_value"]].to_dict("records")

    for model in ("b", "reference"):
        assert searched(alone, model) == searched(beside, model)
    # (a and b are the same estimator: their searches differ only by their names' seeds)
    assert searched(beside, "a") != searched(beside, "b")


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
    X, Y = users_frame()
    with pytest.raises(ValueError, match=match):
        lgbm_compare(X, Y, cv=3, tune=tune)


def test_nested_tuning_on_a_census_slice(census_1500):
    X, Y = census_1500
    X, Y = X.iloc[:900], Y.iloc[:900]
    report = compare_transfer({"lgbm": PerTaskLGBM(**TINY_LGBM), "hard": MultiTaskRecommender(
        "hard", **TINY_NET)}, X, Y, cv=2, n_repeats=1, random_state=0, tune=2)
    assert len(report.tuning) == 3 * 2 and (report.tuning["n_trials"] == 2).all()
    assert set(report.summary().index.get_level_values("task")) == {"income", "never_married"}
    assert report.summary()["mde"].isna().all()  # 2 pairs: untested, and said so
    assert "tuning: each model (lgbm, hard, reference)" in repr(report)


@pytest.mark.slow
def test_runs_on_a_dask_cluster_with_the_same_scores(census_1500, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    X, Y = census_1500
    models = {"lgbm": PerTaskLGBM(**TINY_LGBM, deterministic=True),
              "hard": MultiTaskRecommender("hard", **TINY_NET)}
    reference = MultiTaskRecommender("single", **TINY_NET)
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
