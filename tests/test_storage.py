"""compare_transfer(storage=...): what a stored comparison vouches for, and resuming it after a
kill from anywhere (sklearn_mtl/transfer/_storage.py, the nested studies of _jobs.py)."""

from __future__ import annotations

import json
import pickle
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_LGBM, TINY_NET
from optuna.distributions import IntDistribution
from optuna.pruners import MedianPruner
from optuna.samplers import RandomSampler, TPESampler
from sklearn.model_selection import GroupKFold, KFold
from skorch.callbacks import EarlyStopping

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
from sklearn_mtl.datasets import make_multitask_data
from sklearn_mtl.transfer._storage import describe

LGBM = dict(n_estimators=10, num_leaves=7, n_jobs=1, verbose=-1, random_state=0)
WORKER = Path(__file__).with_name("_compare_worker.py")


@pytest.fixture
def data():
    return make_multitask_data(n_samples=200, n_features=4, task_kinds="binary", random_state=0)


def _compare(X, Y, storage, **kwargs):
    settings = dict(reference=PerTaskLGBM(**LGBM), cv=2, n_repeats=1, random_state=0)
    settings.update(kwargs)
    models = settings.pop("models", {"lgbm": PerTaskLGBM(**LGBM)})
    return compare_transfer(models, X, Y, storage=storage, **settings)


def _early(patience):
    return MultiTaskRecommender("hard", hidden_units=(4,), tower_units=(2,), max_epochs=2,
                                random_state=0, callbacks=[EarlyStopping(patience=patience)])


def _space(low):
    return {"n_trials": 1, "space": {"lgbm": {"num_leaves": IntDistribution(low, 8)}}}


GROUPED = dict(cv=GroupKFold(2))
# (first call, second call, what the refusal names): one setting changed between the two.
CHANGES = {
    "sample_weight": (dict(sample_weight=np.ones(200)),
                      dict(sample_weight=np.linspace(0.5, 1.5, 200)), "sample_weight"),
    "groups": (dict(groups=np.arange(200) % 5, **GROUPED),
               dict(groups=np.arange(200) % 7, **GROUPED), "groups"),
    "search space": (dict(tune=_space(4)), dict(tune=_space(3)), "the tuning settings"),
    "sampler seed": (dict(tune={"n_trials": 1, "sampler": TPESampler(seed=7)}),
                     dict(tune={"n_trials": 1, "sampler": TPESampler(seed=8)}),
                     "the tuning settings"),
    "pruner": (dict(tune={"n_trials": 1, "pruner": MedianPruner(n_startup_trials=5)}),
               dict(tune={"n_trials": 1, "pruner": MedianPruner(n_startup_trials=9)}),
               "the tuning settings"),
    "callbacks": (dict(models={"hard": _early(5)}), dict(models={"hard": _early(3)}),
                  "the parameters of ['hard']"),
}


@pytest.mark.parametrize("what", list(CHANGES))
def test_a_changed_setting_is_refused_and_named(data, tmp_path, what):
    X, Y = data
    first, second, named = CHANGES[what]
    _compare(X, Y, tmp_path, **first)
    with pytest.raises(ValueError, match=rf"holds the fits of another comparison: .*"
                                         rf"{re.escape(named)}"):
        _compare(X, Y, tmp_path, **second)


def test_a_dtype_change_is_another_comparison(data, tmp_path):
    X, Y = data
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)])
    frame["shop"] = np.arange(200) % 4
    _compare(frame, Y, tmp_path)
    with pytest.raises(ValueError, match=r"the data \(X or Y, values or dtypes\)"):
        _compare(frame.astype({"shop": "category"}), Y, tmp_path)


def test_another_library_version_is_refused_and_named(data, tmp_path):
    X, Y = data
    _compare(X, Y, tmp_path)
    manifest = tmp_path / "comparison.json"
    stored = json.loads(manifest.read_text())
    stored["versions"]["lightgbm"] = "0.0.1"
    manifest.write_text(json.dumps(stored))
    with pytest.raises(ValueError, match=r"the versions of lightgbm \(0\.0\.1 -> "):
        _compare(X, Y, tmp_path)


def test_an_empty_storage_path_is_a_usage_error(data, tmp_path, monkeypatch):
    X, Y = data
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"storage='' is not valid"):
        _compare(X, Y, "")
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_fit_file_is_named(data, tmp_path):
    X, Y = data
    _compare(X, Y, tmp_path)
    victim = sorted((tmp_path / "fits").glob("*.json"))[0]
    victim.write_text(victim.read_text()[:20])
    with pytest.raises(ValueError, match=rf"the fit file .*{victim.name} is corrupt or truncated"):
        _compare(X, Y, tmp_path)


def test_a_second_process_on_the_same_storage_is_refused(data, tmp_path):
    X, Y = data
    code = ("import fcntl, sys, time; f = open(sys.argv[1], 'a+'); "
            "fcntl.flock(f, fcntl.LOCK_EX); f.write('process 4242'); f.flush(); "
            "print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / ".lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match=r"is in use by process 4242"):
            _compare(X, Y, tmp_path)
    finally:
        holder.kill()
        holder.wait()
    # Killed, the holder released it: the comparison runs.
    assert _compare(X, Y, tmp_path).fits_reused == 0


def test_a_seeded_sampler_does_not_replay_one_search_in_every_study(data):
    X, Y = data
    folds = KFold(2, shuffle=True, random_state=0)  # seeded folds, whatever random_state is

    def studies(random_state):
        report = compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y,
                                  reference=PerTaskLGBM(**LGBM), cv=folds, n_repeats=2,
                                  random_state=random_state,
                                  tune={"n_trials": 3, "sampler": RandomSampler(seed=7)})
        return report.tuning.drop(columns="seconds")

    for random_state in (0, None):
        tuning = studies(random_state)
        # The 8 studies each drew their own configurations: their best differ.
        chosen = {json.dumps(p, sort_keys=True) for p in tuning["best_params"] if p}
        assert len(chosen) == sum(bool(p) for p in tuning["best_params"]) >= 2
    # Reproducible from the user's seeded sampler when random_state is None.
    pd.testing.assert_frame_equal(tuning, studies(None))


def test_a_study_that_finishes_no_trial_is_an_error_or_marked_untuned(data):
    X, Y = data
    kwargs = dict(reference=PerTaskLGBM(**LGBM), cv=2, n_repeats=1, random_state=0)
    with pytest.raises(ValueError, match=r"the study of model 'lgbm' in split 0 finished no "
                                         r"trial \(no trial started; tune="):
        compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y, tune={"timeout": 1e-9}, **kwargs)
    report = compare_transfer({"lgbm": PerTaskLGBM(**LGBM)}, X, Y,
                              tune={"timeout": 1e-9, "allow_untuned": True}, **kwargs)
    assert not report.tuning["tuned"].any() and (report.tuning["n_trials"] == 0).all()
    assert "4 studies finished no trial and were scored with their defaults, untuned" in repr(report)


def test_tuning_never_hands_a_model_less_than_its_defaults_on_the_inner_validation(census_small):
    X, Y = census_small
    X, Y = X.iloc[:1500], Y[["income"]].iloc[:1500]
    net = MultiTaskRecommender("hard", hidden_units=(16,), tower_units=(8,), max_epochs=4,
                               random_state=0)
    report = compare_transfer({"hard": net}, X, Y, cv=2, n_repeats=1, random_state=0, tune=3)
    tuning = report.tuning
    assert tuning["default_value"].notna().all()
    assert (tuning["best_value"] >= tuning["default_value"]).all()
    assert "the first trial its own defaults" in repr(report)


def test_describe_sees_a_callable_space_and_a_samplers_seed():
    def space(trial, low=1e-3):
        return {"lr": trial.suggest_float("lr", low, 1e-1, log=True)}

    def other(trial, low=1e-4):
        return {"lr": trial.suggest_float("lr", low, 1e-1, log=True)}

    assert describe(space) != describe(other)
    assert describe(TPESampler(seed=7)) == describe(TPESampler(seed=7))
    assert describe(TPESampler(seed=7)) != describe(TPESampler(seed=8))


# Kill points of a tuned comparison: the state of the studies' database (SQLite, read while the
# worker writes) or of the fits folder at which the worker gets SIGKILL.
def _trials(db: Path) -> list[tuple[str, int, str]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("select s.study_name, t.number, t.state from trials t join "
                               "studies s using (study_id)").fetchall()
    except sqlite3.Error:
        return []


def _first_study(db):
    return [(n, s) for name, n, s in _trials(db) if name == "hard | split 0"]


KILL_POINTS = {
    # Trial 0 (the defaults) running: it is redone, as the defaults, on resume.
    "in the defaults trial": lambda d: ("RUNNING" in {s for n, s in _first_study(d / "studies.db")
                                                       if n == 0}),
    # A sampled trial running (its epochs half reported).
    "in a sampled trial": lambda d: any(n >= 1 and s == "RUNNING"
                                        for n, s in _first_study(d / "studies.db")),
    # The study finished, its best configuration being refitted on the split's rows.
    "in the refit": lambda d: (sum(s in ("COMPLETE", "PRUNED")
                                   for _, s in _first_study(d / "studies.db")) >= 3
                               and not list((d / "fits").glob("split0000-*.json"))),
    # One (model, split) kept: the kill lands in the next study.
    "after a kept fit": lambda d: len(list((d / "fits").glob("*.json"))) >= 1,
}


@pytest.mark.slow
def test_a_tuned_compare_killed_anywhere_resumes_to_the_uninterrupted_report(tmp_path):
    def run(storage, out=None):
        command = [sys.executable, str(WORKER), str(storage), "--tune", "3"]
        return command + (["--out", str(out)] if out else [])

    whole = tmp_path / "whole.pkl"
    subprocess.run(run(tmp_path / "whole", whole), check=True, capture_output=True, timeout=300)
    expected = pickle.loads(whole.read_bytes())
    assert expected["fits_reused"] == 0 and len(expected["tuning"]) == 4
    for name, reached in KILL_POINTS.items():
        storage = tmp_path / name.replace(" ", "-")
        process = subprocess.Popen(run(storage), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 240
            while process.poll() is None and time.monotonic() < deadline:
                if storage.exists() and reached(storage):
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.01)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == -signal.SIGKILL, (
            f"{name}: the worker was not killed there (exit {process.returncode}):\n"
            f"{process.stderr.read()}")
        resumed = tmp_path / f"{storage.name}.pkl"
        subprocess.run(run(storage, resumed), check=True, capture_output=True, timeout=300)
        got = pickle.loads(resumed.read_bytes())
        assert got["fits_reused"] < 4, name
        pd.testing.assert_frame_equal(got["scores"], expected["scores"], check_exact=True,
                                      obj=f"scores resumed from a kill {name}")
        pd.testing.assert_frame_equal(got["tuning"], expected["tuning"], check_exact=True,
                                      obj=f"studies resumed from a kill {name}")
        pd.testing.assert_frame_equal(got["summary"], expected["summary"], check_exact=True)


def _storage_models():
    return ({"lgbm": PerTaskLGBM(**TINY_LGBM), "hard": MultiTaskRecommender("hard", **TINY_NET)},
            MultiTaskRecommender("single", **TINY_NET))


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
    (dict(models={"lgbm": PerTaskLGBM(**{**TINY_LGBM, "num_leaves": 7})}), r"the parameters of \['lgbm'\]"),
    (dict(Y="scaled"), r"the data \(X or Y, values or dtypes\) differ"),
    (dict(tune=2), r"the tuning settings \(tune=\) differ"),
])
def test_storage_written_by_other_arguments_is_refused_naming_what_changed(tmp_path, change, match):
    X, Y = make_multitask_data(n_samples=200, n_features=4, random_state=0)
    kwargs = dict(models={"lgbm": PerTaskLGBM(**TINY_LGBM)}, X=X, Y=Y, reference=PerTaskLGBM(**TINY_LGBM),
                  cv=3, n_repeats=1, random_state=0, storage=tmp_path)
    compare_transfer(**kwargs)
    if change.get("Y") == "scaled":
        change = dict(Y=Y * 2)
    with pytest.raises(ValueError, match=rf"storage='{re.escape(str(tmp_path))}' holds the fits of "
                                         rf"another comparison: {match}"):
        compare_transfer(**{**kwargs, **change})


def test_storage_that_is_a_file_or_with_return_estimators_is_refused(tmp_path):
    X, Y = make_multitask_data(n_samples=200, n_features=4, random_state=0)
    kwargs = dict(reference=PerTaskLGBM(**TINY_LGBM), cv=3, n_repeats=1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"storage='.*file' is a file: use a directory"):
        compare_transfer({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y, storage=tmp_path / "file", **kwargs)
    with pytest.raises(ValueError, match="return_estimators=True cannot be combined with storage="):
        compare_transfer({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y, storage=tmp_path / "d",
                         return_estimators=True, **kwargs)


def test_nested_studies_are_kept_and_not_run_again(tmp_path):
    import optuna

    X, Y = make_multitask_data(n_samples=200, n_features=4, random_state=0)
    kwargs = dict(reference=PerTaskLGBM(**TINY_LGBM), cv=3, n_repeats=1, random_state=0, tune=2,
                  storage=tmp_path)
    first = compare_transfer({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y, **kwargs)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage=url))
    assert names == sorted(f"{m} | split {k}" for m in ("lgbm", "reference") for k in range(3))
    second = compare_transfer({"lgbm": PerTaskLGBM(**TINY_LGBM)}, X, Y, **kwargs)
    assert second.fits_reused == 6
    pd.testing.assert_frame_equal(first.tuning, second.tuning)
    assert all(len(optuna.load_study(study_name=n, storage=url).trials) == 2 for n in names)


def test_a_compare_killed_part_way_resumes_to_the_uninterrupted_report(tmp_path):
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, str(WORKER), str(killed)],
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


def test_storage_identity_reads_the_state_of_a_random_state():
    assert describe(np.random.RandomState(0)) == describe(np.random.RandomState(0))
    assert describe(np.random.RandomState(0)) != describe(np.random.RandomState(1))
    assert describe(np.random.default_rng(0)) != describe(np.random.default_rng(1))
    net = MultiTaskRecommender("hard", random_state=np.random.RandomState(0))
    assert describe(net) != describe(net.set_params(random_state=np.random.RandomState(1)))
