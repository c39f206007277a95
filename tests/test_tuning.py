"""sklearn_mtl.tuning on real census rows: default search spaces, tune(), pruning, Pareto fronts,
storages (resumed after a SIGKILL, shared by workers), scikit-learn and Optuna searches."""

from __future__ import annotations

import inspect
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM
from sklearn_mtl.metrics import make_multitask_scorer
from sklearn_mtl.tuning import (
    LGBMTaskPruningCallback,
    TuneResult,
    decode_units,
    default_search_space,
    encode_units,
    tune,
)

WORKER = Path(__file__).with_name("_tune_worker.py")
LGBM = dict(n_estimators=20, n_jobs=1, random_state=0)
NET = dict(max_epochs=3, batch_size=256, random_state=0, device="cpu")
LGBM_SPACE = {"num_leaves": IntDistribution(4, 16),
              "learning_rate": FloatDistribution(0.05, 0.3, log=True)}


@pytest.fixture(scope="module")
def small(census_1500):
    X, Y = census_1500
    return X.iloc[:600], Y.iloc[:600]


# ---------------------------------------------------------------- spaces

def test_default_spaces_follow_estimator_and_architecture():
    mmoe = default_search_space(MultiTaskRecommender(architecture="mmoe"))
    soft = default_search_space(MultiTaskRecommender(architecture="soft"))
    hard = default_search_space(MultiTaskRecommender(architecture="hard"))
    assert "n_experts" in mmoe and "n_experts" not in soft and "n_experts" not in hard
    assert "sharing_strength" in soft and "sharing_strength" not in mmoe
    for space in (mmoe, soft, hard):
        assert {"lr", "batch_size", "hidden_units", "tower_units", "dropout", "weight_decay",
                "task_weights"} <= set(space)
        assert space["lr"].log and (space["lr"].low, space["lr"].high) == (1e-4, 1e-2)
        assert None in space["task_weights"].choices
        assert {"gradnorm", "dwa"} <= set(space["task_weights"].choices)
    assert "gradient_method" in hard and "gradient_method" in mmoe
    assert "gradient_method" not in soft  # no shared parameters to operate on
    lgbm = default_search_space(PerTaskLGBM())
    assert set(lgbm) == {"num_leaves", "learning_rate", "n_estimators", "min_child_samples",
                         "colsample_bytree", "reg_lambda"}
    pipe = Pipeline([("id", FunctionTransformer()), ("model", PerTaskLGBM())])
    assert set(default_search_space(pipe)) == {f"model__{name}" for name in lgbm}
    assert decode_units("64-32") == (64, 32) and encode_units((64, 32)) == "64-32"
    assert decode_units(encode_units(())) == ()


@pytest.mark.parametrize("architecture", ["mmoe", "soft"])
def test_default_net_space_trains(small, architecture):
    X, Y = small
    result = tune(MultiTaskRecommender(architecture, **NET), X, Y, n_trials=2, random_state=0)
    assert isinstance(result, TuneResult)
    assert isinstance(result.best_params_["hidden_units"], tuple)  # "64-32" decoded
    assert result.best_estimator_.hidden_units == result.best_params_["hidden_units"]
    assert result.best_estimator_.predict(X[:5]).shape == (5, 2)
    assert 0.4 < result.best_score_ <= 1


@pytest.mark.parametrize("architecture, extra", [
    ("omoe", {"n_experts"}),
    ("cgc", {"n_shared_experts", "n_task_experts"}),
    ("ple", {"n_shared_experts", "n_task_experts", "n_levels"}),
    ("esmm", set()),
])
def test_default_search_spaces(architecture, extra):
    space = set(default_search_space(MultiTaskRecommender(architecture)))
    base = set(default_search_space(MultiTaskRecommender("hard")))
    assert space - base == extra


def test_tune_ple_with_its_default_space(census_1500):
    X, Y = census_1500
    model = MultiTaskRecommender("ple", max_epochs=2, batch_size=256, random_state=0, device="cpu")
    result = tune(model, X.iloc[:600], Y.iloc[:600], n_trials=2, random_state=0)
    # Trial 0 is the defaults; trial 1 samples the default space.
    assert {"n_levels", "n_shared_experts", "n_task_experts"} <= set(result.trial_params(1))
    levels = result.best_params_.get("n_levels", model.n_levels)  # {} when the defaults won
    assert result.best_estimator_.n_levels == levels
    assert len(result.best_estimator_.gate_weights(X.iloc[:5])) == levels


# ---------------------------------------------------------------- bad inputs

def test_unknown_parameter_is_named(small):
    X, Y = small
    with pytest.raises(ValueError, match=r"\['lrr'\].*Valid parameters of MultiTaskRecommender"):
        tune(MultiTaskRecommender(), X, Y, search_space={"lrr": FloatDistribution(0.1, 1.0)})


def test_space_for_the_wrong_estimator(small):
    X, Y = small
    with pytest.raises(ValueError, match=r"num_leaves.*MultiTaskRecommender does not have.*"
                                         r"PerTaskLGBM parameter"):
        tune(MultiTaskRecommender(), X, Y, search_space={"num_leaves": IntDistribution(4, 16)})
    with pytest.raises(ValueError, match=r"hidden_units.*PerTaskLGBM does not have.*"
                                         r"MultiTaskRecommender parameter"):
        tune(PerTaskLGBM(), X, Y,
             search_space={"hidden_units": CategoricalDistribution(["64", "64-32"])})
    # Any LightGBM name (or alias) is a PerTaskLGBM parameter.
    with pytest.raises(ValueError, match="not an optuna distribution"):
        tune(PerTaskLGBM(), X, Y, search_space={"feature_fraction": 0.5})


def test_objectives_must_match_the_tasks(small):
    X, Y = small
    with pytest.raises(ValueError, match=r"objectives has 1 entries.*Y has 2 tasks"):
        tune(PerTaskLGBM(), X, Y, objectives=["roc_auc"])
    with pytest.raises(ValueError, match="objectives='best' is not valid"):
        tune(PerTaskLGBM(), X, Y, objectives="best")
    with pytest.raises(ValueError, match="metric 'rmse' does not apply"):
        tune(PerTaskLGBM(), X, Y, objectives=["roc_auc", "rmse"])


def test_callable_space_is_checked(small):
    X, Y = small
    with pytest.raises(ValueError, match=r"\['layers'\].*PerTaskLGBM"):
        # Trial 0 fits the defaults; the space is first read by trial 1.
        tune(PerTaskLGBM(**LGBM), X, Y, n_trials=2,
             search_space=lambda trial: {"layers": trial.suggest_int("layers", 1, 3)})


def test_architecture_specific_parameter_warns(small):
    X, Y = small
    with pytest.warns(UserWarning, match="n_experts.*only acts with architecture='mmoe'"):
        tune(MultiTaskRecommender("hard", **NET), X, Y, n_trials=1, refit=False,
             search_space={"n_experts": IntDistribution(2, 4)})


# ---------------------------------------------------------------- single objective, pruning

def test_pruning_stops_lagging_trials(census_1500, capsys):
    X, Y = census_1500
    # Half the learning rates are absurdly small: their validation score never moves.
    space = {"lr": CategoricalDistribution([1e-7, 1e-2])}
    result = tune(
        MultiTaskRecommender("hard", max_epochs=6, batch_size=128, random_state=0, device="cpu"),
        X, Y, n_trials=8, search_space=space, random_state=0, verbose=1,
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    trials = result.study.trials
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned and all(t.params["lr"] == 1e-7 for t in pruned)
    assert all(len(t.intermediate_values) < 6 for t in pruned)
    assert result.best_params_ == {"lr": 1e-2}
    assert result.study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert set(result.study.best_trial.user_attrs["scores"]) == {"income", "never_married"}
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if line.startswith("[tune] trial")]) == 8
    assert any("PRUNED" in line for line in out)
    assert any("income=" in line and "best: trial" in line for line in out)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_optuna_integration_skorch_pruning_callback_works_as_given(small):
    from optuna_integration import SkorchPruningCallback

    X, Y = small

    def objective(trial):
        model = MultiTaskRecommender(
            "hard", lr=trial.suggest_categorical("lr", [1e-7, 1e-2]), max_epochs=5,
            batch_size=64, random_state=0, device="cpu",
            callbacks=[SkorchPruningCallback(trial, "valid_score")])
        model.fit(X, Y)
        return model.history_[-1, "valid_score"]

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2))
    study.optimize(objective, n_trials=6)
    assert all(t.state != TrialState.FAIL for t in study.trials)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    # One report per epoch, read in the epoch it was recorded.
    assert all(sorted(t.intermediate_values) == list(range(len(t.intermediate_values)))
               and len(t.intermediate_values) >= 1 for t in complete)
    assert study.best_params == {"lr": 1e-2}


def test_lgbm_trials_are_pruned_by_boosting_round(census_1500):
    X, Y = census_1500
    # A learning rate of 1e-6 leaves the validation log-loss where it starts.
    space = {"learning_rate": CategoricalDistribution([1e-6, 0.2])}
    model = PerTaskLGBM(n_estimators=30, validation_fraction=0.2, n_jobs=1, random_state=0)
    result = tune(model, X, Y, n_trials=8, search_space=space, random_state=0,
                  sampler=optuna.samplers.RandomSampler(seed=1), start_from_defaults=False,
                  pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=3))
    pruned = [t for t in result.study.trials if t.state == TrialState.PRUNED]
    assert pruned and all(t.params["learning_rate"] == 1e-6 for t in pruned)
    # Stopped within the first task's rounds (steps of task 1 start at 100_000).
    assert all(max(t.intermediate_values) < 30 for t in pruned)
    assert result.best_params_ == {"learning_rate": 0.2}


def test_unprunable_configuration_warns_with_an_explicit_pruner(small):
    X, Y = small
    with pytest.warns(UserWarning, match="cannot be pruned during the fit.*validation_fraction"):
        tune(PerTaskLGBM(**LGBM), X, Y, n_trials=2, search_space=LGBM_SPACE, refit=False,
             pruner="hyperband")


def test_cv_reports_running_mean_between_folds(small):
    X, Y = small
    result = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=3, cv=2, search_space=LGBM_SPACE,
                  random_state=0, pruner=optuna.pruners.MedianPruner(n_startup_trials=5))
    trial = result.best_trial_
    assert sorted(trial.intermediate_values) == [0, 1]
    assert len(trial.user_attrs["fold_scores"]) == 2
    assert trial.intermediate_values[1] == pytest.approx(trial.value)


def test_lgbm_pruning_callback_counts_tasks(small):
    import lightgbm as lgb

    X, Y = small
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    callback = LGBMTaskPruningCallback(trial)
    Xn = X.select_dtypes("number")
    for task in Y.columns:  # what PerTaskLGBM does: one task after the other
        valid = (Xn[400:], Y[task][400:])
        # LightGBM 4.7 deprecates eval_set for eval_X / eval_y, which older 4.x lack.
        evals = ({"eval_X": valid[0], "eval_y": valid[1]}
                 if "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters
                 else {"eval_set": [valid]})
        lgb.LGBMClassifier(n_estimators=5, verbose=-1, n_jobs=1).fit(
            Xn[:400], Y[task][:400], callbacks=[callback], **evals)
    steps = sorted(trial._cached_frozen_trial.intermediate_values)
    assert steps == [0, 1, 2, 3, 4, 100_000, 100_001, 100_002, 100_003, 100_004]
    # binary_logloss is lower-is-better: reported negated for a maximized study.
    assert all(v < 0 for v in trial._cached_frozen_trial.intermediate_values.values())


# ---------------------------------------------------------------- multi-objective

def test_pareto_front_with_two_directions(small):
    X, Y = small
    with pytest.warns(UserWarning, match="cannot prune multi-objective"):
        result = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=6, search_space=LGBM_SPACE,
                      objectives=["roc_auc", "log_loss"], pruner=optuna.pruners.MedianPruner(),
                      random_state=0)
    assert [d.name for d in result.study.directions] == ["MAXIMIZE", "MINIMIZE"]
    front = result.pareto_front()
    assert list(front.columns[:3]) == ["number", "income", "never_married"]
    assert {"params_num_leaves", "params_learning_rate"} <= set(front.columns)
    assert set(front["number"]) == {t.number for t in result.study.best_trials}
    assert ((front["income"] > 0.5) & (front["never_married"] > 0)).all()
    assert result.best_trial_.number in set(front["number"])
    assert len(result.best_score_) == 2
    model = result.refit_trial(int(front["number"].iloc[-1]))
    assert model.num_leaves == front["params_num_leaves"].iloc[-1]


def test_per_task_objectives_default_pruner_is_silent(small):
    X, Y = small
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=2, search_space=LGBM_SPACE,
                      objectives="per_task", refit=False, random_state=0)
    assert not [w for w in caught if "multi-objective" in str(w.message)]
    assert [d.name for d in result.study.directions] == ["MAXIMIZE", "MAXIMIZE"]
    assert result.best_estimator_ is None


# ---------------------------------------------------------------- user spaces, refit

def test_dict_and_callable_spaces(small):
    X, Y = small
    result = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=3, search_space=LGBM_SPACE, random_state=0)
    assert set(result.best_params_) == set(LGBM_SPACE)
    assert result.best_estimator_.num_leaves == result.best_params_["num_leaves"]

    def space(trial):  # a derived parameter, which trial.params does not hold
        leaves = trial.suggest_int("num_leaves", 4, 16)
        return {"num_leaves": leaves, "min_child_samples": 2 * leaves}

    result = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=3, search_space=space, random_state=0)
    best = result.best_params_
    assert best["min_child_samples"] == 2 * best["num_leaves"]
    model = result.refit_trial(1)
    assert model.min_child_samples == 2 * result.study.trials[1].params["num_leaves"]
    with pytest.raises(ValueError, match="no trial number 7"):
        result.refit_trial(7)


def test_threads_and_progress_bar(small):
    X, Y = small
    result = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=4, n_jobs=2, search_space=LGBM_SPACE,
                  show_progress_bar=True, refit=False)
    assert len(result.study.get_trials(states=(TrialState.COMPLETE,))) == 4
    assert len({t.user_attrs["worker"] for t in result.study.trials}) == 1


# ---------------------------------------------------------------- storages

def test_storage_object_resumes_and_checks_the_problem(small, tmp_path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    X, Y = small
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    kwargs = dict(search_space=LGBM_SPACE, storage=storage, study_name="s", refit=False)
    tune(PerTaskLGBM(**LGBM), X, Y, n_trials=2, **kwargs)
    result = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=2, **kwargs)
    assert len(result.study.trials) == 4
    with pytest.raises(ValueError, match="directions"):
        tune(PerTaskLGBM(**LGBM), X, Y, n_trials=1, objectives=["roc_auc", "log_loss"], **kwargs)
    with pytest.raises(ValueError, match="metrics"):
        tune(PerTaskLGBM(**LGBM), X, Y, n_trials=1, metric="log_loss", **kwargs)


def _storage_and_data(small, tmp_path, name: str) -> tuple[Path, str]:
    """The census slice pickled for worker processes, and a SQLite URL in ``tmp_path``."""
    data_file = tmp_path / "data.pkl"
    pd.to_pickle(small, data_file)
    return data_file, f"sqlite:///{tmp_path / name}"


def _worker(data_file, url, study_name, n_trials, seed, *hang_at) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(data_file), url, study_name, str(n_trials), str(seed),
         *map(str, hang_at)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _complete(url, study_name) -> list[int]:
    try:
        study = optuna.load_study(study_name=study_name, storage=url)
    except KeyError:  # not created yet
        return []
    return [t.number for t in study.get_trials(states=(TrialState.COMPLETE,))]


@pytest.mark.slow
def test_resume_after_sigkill(small, tmp_path):
    X, Y = small
    data_file, url = _storage_and_data(small, tmp_path, "tune.db")
    # 10,000 trials keep the worker busy far longer than the two it must finish first: the kill
    # always lands mid-run, never on a worker that has already exited.
    process = _worker(data_file, url, "resume", 10_000, 0)
    seen: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while len(seen) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            seen = _complete(url, "resume")
        running = process.poll() is None
        if running:
            process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:  # the test failed above: do not leave the worker behind
            process.kill()
        _, err = process.communicate()
    assert running, f"the worker exited (code {process.returncode}) before the kill:\n{err}"
    assert len(seen) >= 2, f"the worker completed {len(seen)} trial(s) in 90 s"
    assert process.returncode == -signal.SIGKILL
    before = optuna.load_study(study_name="resume", storage=url)
    done = {t.number for t in before.get_trials(states=(TrialState.COMPLETE,))}
    assert set(seen) <= done  # every trial finished before the kill is still in the storage
    n_before = len(before.trials)
    killed = {t.number for t in before.get_trials(states=(TrialState.RUNNING,))}

    result = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=2, search_space=LGBM_SPACE, storage=url,
                  study_name="resume", refit=False)
    after = result.study.trials
    assert len(after) == n_before + 2
    assert done <= {t.number for t in after if t.state == TrialState.COMPLETE}
    assert result.best_trial_ is not None
    # The trial the kill interrupted is no longer listed as running.
    assert all(after[k].state == TrialState.FAIL for k in killed)
    assert not [t for t in after if t.state == TrialState.RUNNING]


def test_resume_fails_a_trial_killed_before_it_named_its_worker(small, tmp_path):
    # Optuna creates a trial RUNNING before the objective's first step records its worker; a
    # kill in between leaves a trial that names no worker. The worker hangs there (in its
    # sampler's before_trial) until the test kills it.
    X, Y = small
    data_file, url = _storage_and_data(small, tmp_path, "window.db")
    process = _worker(data_file, url, "window", 10, 0, 2)
    try:
        assert process.stdout.readline().strip() == "hanging", process.stderr.read()
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    before = optuna.load_study(study_name="window", storage=url)
    (hung,) = before.get_trials(states=(TrialState.RUNNING,))
    assert hung.number == 2 and "worker" not in hung.user_attrs

    result = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=2, search_space=LGBM_SPACE, storage=url,
                  study_name="window", refit=False)
    trials = result.study.trials
    assert trials[2].state == TrialState.FAIL
    assert "before the trial named its own" in trials[2].user_attrs["failed_because"]
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert [t.user_attrs.get("redo_of") for t in trials[3:]] == [2, None]


def test_a_trial_without_worker_is_left_while_a_registered_worker_runs(small, tmp_path):
    X, Y = small
    url = f"sqlite:///{tmp_path / 'live.db'}"
    kwargs = dict(search_space=LGBM_SPACE, storage=url, study_name="live", refit=False)
    tune(PerTaskLGBM(**LGBM), X, Y, n_trials=1, **kwargs)  # registers this (running) process
    unnamed = optuna.load_study(study_name="live", storage=url).ask()
    trials = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=1, **kwargs).study.trials
    assert trials[unnamed.number].state == TrialState.RUNNING  # it may still name itself


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_resume_marks_the_running_trials_of_dead_local_workers_failed(small, tmp_path):
    X, Y = small
    url = f"sqlite:///{tmp_path / 'stale.db'}"
    kwargs = dict(search_space=LGBM_SPACE, storage=url, study_name="stale", refit=False)
    tune(PerTaskLGBM(**LGBM), X, Y, n_trials=1, **kwargs)
    study = optuna.load_study(study_name="stale", storage=url)
    host = socket.gethostname()
    dead, alive, elsewhere = (study.ask() for _ in range(3))
    dead.set_user_attr("worker", f"{host}:{_dead_pid()}")
    alive.set_user_attr("worker", f"{host}:{os.getpid()}")  # this process: still running
    elsewhere.set_user_attr("worker", f"another-host:{_dead_pid()}")  # not ours to judge

    trials = tune(PerTaskLGBM(**LGBM), X, Y, n_trials=1, **kwargs).study.trials
    states = {t.number: t.state for t in trials}
    assert states[dead.number] == TrialState.FAIL
    assert "stopped during the trial" in trials[dead.number].user_attrs["failed_because"]
    assert states[alive.number] == states[elsewhere.number] == TrialState.RUNNING
    assert sum(s == TrialState.COMPLETE for s in states.values()) == 2


@pytest.mark.slow
def test_two_workers_share_one_study(small, tmp_path):
    data_file, url = _storage_and_data(small, tmp_path, "shared.db")
    workers = [_worker(data_file, url, "shared", 4, seed) for seed in (1, 2)]
    for process in workers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=url)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(study.trials) == len(complete) == 8
    host = socket.gethostname()
    assert {t.user_attrs["worker"] for t in complete} == {f"{host}:{p.pid}" for p in workers}


# ---------------------------------------------------------------- scikit-learn and Optuna searches

@pytest.mark.parametrize("estimator, grid", [
    (MultiTaskRecommender("hard", **NET), {"lr": [1e-3, 1e-2]}),
    (PerTaskLGBM(**LGBM), {"num_leaves": [4, 8]}),
], ids=["net", "lgbm"])
def test_grid_search_cv(small, estimator, grid):
    X, Y = small
    search = GridSearchCV(estimator, grid, cv=2, scoring=make_multitask_scorer()).fit(X, Y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.predict(X[:3]).shape == (3, 2)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator` module has been deprecated:FutureWarning")
@pytest.mark.parametrize("estimator, space", [
    (MultiTaskRecommender("hard", **NET), {"lr": FloatDistribution(1e-3, 1e-2, log=True)}),
    (PerTaskLGBM(**LGBM), LGBM_SPACE),
], ids=["net", "lgbm"])
def test_optuna_search_cv(small, estimator, space):
    from optuna_integration import OptunaSearchCV

    X, Y = small
    search = OptunaSearchCV(estimator, space, cv=2, n_trials=2, random_state=0,
                            scoring=make_multitask_scorer(), error_score="raise").fit(X, Y)
    assert np.isfinite(search.best_score_)
    assert search.predict(X[:3]).shape == (3, 2)


@pytest.mark.parametrize("sampler, hint", [("tpe", r"such as optuna\.samplers\.TPESampler"),
                                           (optuna.samplers.TPESampler, r"TPESampler\(seed=0\)")])
def test_a_sampler_name_or_class_is_refused_with_how_to_make_one(small, sampler, hint):
    from sklearn_mtl import compare_transfer

    X, Y = small
    with pytest.raises(ValueError, match=rf"sampler=.* is not valid: .*{hint}"):
        tune(PerTaskLGBM(**LGBM), X, Y, n_trials=1, sampler=sampler)
    with pytest.raises(ValueError, match=rf"tune\['sampler'\]=.* is not valid: .*{hint}"):
        compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, reference=PerTaskLGBM(**LGBM),
                         cv=2, tune={"n_trials": 1, "sampler": sampler})
