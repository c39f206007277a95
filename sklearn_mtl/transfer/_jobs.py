"""One (model, split) job of a comparison: fit and score, or tune, refit and score.

Each job runs on a joblib worker (a Dask worker under ``parallel_backend("dask")``) and returns
only what the report needs. :func:`_fit_and_score` fits a re-seeded clone on the split's
training rows; :func:`_tune_fit_and_score` first runs an Optuna study on those rows only
(``compare_transfer(tune=...)``, checked by :func:`_check_tune`); :func:`_stored` keeps a job's
result in a ``FitStore`` as soon as it is done.
"""

from __future__ import annotations

import copy
import numbers
import time
from collections import Counter
from itertools import combinations

import numpy as np
from sklearn.base import clone
from sklearn.utils import _safe_indexing

from .._checks import in_range
from .._pipeline import final_step
from .._resampling import derived_seed
from .._routing import fit_params_for
from ..metrics import per_task_scores, resolve_metrics
from ._cascade import conditional_scores


def _gradient_cosines(name, fold, owner, names) -> list[dict]:
    history = getattr(owner, "history_", None)
    if history is None or not len(history) or "grad_cosine" not in history[-1]:
        return []
    # Map "a|b" keys back to task names exactly, whatever characters the names contain.
    pairs = {f"{a}|{b}": (a, b) for a, b in combinations(names, 2)}
    return [dict(model=name, fold=fold, epoch=epoch + 1, pair=key, task_a=pairs[key][0],
                 task_b=pairs[key][1], cosine=value)
            for epoch, row in enumerate(history) if "grad_cosine" in row
            for key, value in row["grad_cosine"].items() if key in pairs]


def _task_affinities(name, fold, owner, names) -> list[dict]:
    history = getattr(owner, "history_", None)
    if history is None or not len(history):
        return []
    pairs = {f"{a}->{b}": (a, b) for a in names for b in names}
    return [dict(model=name, fold=fold, epoch=epoch + 1, source=pairs[key][0],
                 target=pairs[key][1], affinity=value)
            for epoch, row in enumerate(history) if "task_affinity" in row
            for key, value in row["task_affinity"].items() if key in pairs]


def _reseeded(estimator, split: int):
    """A clone whose integer ``random_state`` parameters (nested ones too) are derived for ``split``.

    Refitting every split with one seed would repeat that seed's luck in every pair; models
    without a seed (None) stay unseeded, so they vary on their own.
    """
    model = clone(estimator)
    seeds = {key: derived_seed(value, split) for key, value in model.get_params(deep=True).items()
             if (key == "random_state" or key.endswith("__random_state"))
             and isinstance(value, numbers.Integral) and not isinstance(value, bool)}
    return model.set_params(**seeds) if seeds else model


def _fit_and_score(name, estimator, X, Y, train, test, fold, metric, task_names, keep,
                   groups=None, sample_weight=None, conditional=None):
    # Runs on a joblib worker (a Dask worker under parallel_backend("dask")): return only what
    # the report needs, and the fitted model only when asked for. Y holds the cascaded
    # children as cascade_scoring reads them (_cascade.read_labels); ``conditional`` (the
    # cascade's links under "parent_positive") scores this model's own cascaded children by
    # predict_conditional_proba.
    model = _reseeded(estimator, fold)
    weights = None if sample_weight is None else sample_weight[train]
    model.fit(_safe_indexing(X, train), _safe_indexing(Y, train),
              **fit_params_for(model, {"sample_weight": weights}, "compare_transfer"))
    owner = final_step(model)
    names, kinds = list(owner.task_names_), list(owner.tasks_)
    result = dict(name=name, fold=fold, names=names, kinds=kinds, scores=None, metrics=None,
                  n_params=getattr(owner, "n_params_", np.nan),
                  cosines=_gradient_cosines(name, fold, owner, names),
                  affinities=_task_affinities(name, fold, owner, names), model=model if keep else None)
    if names == task_names:  # otherwise compare_transfer names the culprit
        result["metrics"] = resolve_metrics(metric, names, kinds)
        X_test, Y_test = _safe_indexing(X, test), _safe_indexing(Y, test)
        test_groups = None if groups is None else groups[test]

        def score(fitted):
            return per_task_scores(fitted, X_test, Y_test, metric=result["metrics"],
                                   groups=test_groups)

        result["scores"] = score(model)
        if conditional:
            result["scores"] = conditional_scores(model, conditional, result["scores"], score)
    return result


# tune=dict: the arguments of sklearn_mtl.tuning.tune that a nested study takes ("space" is
# its search_space, one per model name).
TUNE_KEYS = ("n_trials", "timeout", "cv", "sampler", "pruner", "space", "allow_untuned")


def _check_tune(tune, names) -> dict | None:
    """``tune=`` as the settings of every nested study, or a ValueError naming what is wrong."""
    if tune is None:
        return None
    usage = (f"use None, an int >= 1 (the trials of every model in every split) or a dict of "
             f"tune()'s arguments {list(TUNE_KEYS)}")
    if isinstance(tune, dict):
        unknown = sorted(set(tune) - set(TUNE_KEYS), key=str)
        if unknown:
            raise ValueError(f"tune={tune!r} is not valid: {unknown} are not among its keys; "
                             f"{usage}.")
        settings = dict(tune)
    elif in_range(tune, integer=True, low=1):
        settings = {"n_trials": int(tune)}
    else:
        raise ValueError(f"tune={tune!r} is not valid: {usage}.")
    n_trials, timeout = settings.get("n_trials"), settings.get("timeout")
    if n_trials is None and timeout is None:
        raise ValueError(f"tune={tune!r} gives neither n_trials nor timeout: every study needs a "
                         "budget, the same for every model.")
    if n_trials is not None and not in_range(n_trials, integer=True, low=1):
        raise ValueError(f"tune['n_trials']={n_trials!r} is not valid: use an int >= 1 or None.")
    if timeout is not None and not in_range(timeout, low=0, low_open=True):
        raise ValueError(f"tune['timeout']={timeout!r} is not valid: use a number of seconds > 0 "
                         "or None.")
    sampler = settings.get("sampler")
    if sampler is not None:
        from optuna.samplers import BaseSampler

        if not isinstance(sampler, BaseSampler):
            example = (f"{sampler.__name__}(seed=0)" if isinstance(sampler, type)
                       else "optuna.samplers.TPESampler(seed=0)")
            raise ValueError(f"tune['sampler']={sampler!r} is not valid: use None (TPE) or an "
                             f"Optuna sampler instance such as {example}.")
    if not isinstance(settings.get("allow_untuned", False), bool):
        raise ValueError(f"tune['allow_untuned']={settings['allow_untuned']!r} is not valid: use "
                         "True or False.")
    space = settings.get("space") or {}
    if not isinstance(space, dict) or set(space) - set(names):
        raise ValueError(f"tune['space']={space!r} is not valid: use a dict {{model name: search "
                         f"space}} naming models among {list(names)}.")
    return settings


def _shown(tuning: dict) -> dict:
    """The user's tune= settings (without the ones compare_transfer adds)."""
    return {k: v for k, v in tuning.items() if k in TUNE_KEYS}


def _stored(store, job, *args):
    """Run one (model, split) job; with a storage, keep its result as soon as it is done (in
    the worker that ran it, so a lost worker costs only its own fit)."""
    result = job(*args)
    if store is not None:
        store.put(result)
    return result


def _tune_fit_and_score(name, estimator, X, Y, train, test, fold, metric, task_names, keep,
                        groups, sample_weight, tuning, seed, studies=None, conditional=None):
    """Tune ``estimator`` on the split's training rows only, refit the best trial there, score.

    The study sees ``X[train]`` alone (its own hold-out or inner folds are drawn from them), so
    no test row of the split reaches a trial or the refit.
    """
    from optuna.trial import TrialState

    from ..tuning import tune

    finished = (TrialState.COMPLETE, TrialState.PRUNED)

    start = time.perf_counter()
    n_trials, study = tuning.get("n_trials"), {}
    if studies is not None:
        # A study kept in the storage continues where it stopped: only the trials it has not
        # finished run (a trial whose process was killed is redone with its parameters).
        import optuna

        study = dict(storage=studies, study_name=f"{name} | split {fold}", load_if_exists=True)
        try:
            done = len(optuna.load_study(study_name=study["study_name"], storage=studies)
                       .get_trials(deepcopy=False, states=finished))
        except KeyError:  # not created yet
            done = 0
        # The comparison holds the storage's lock and this job alone runs this study: a trial
        # still RUNNING was killed with its process, and tune() redoes it.
        study["exclusive"] = True
        if n_trials is not None:
            n_trials = max(0, n_trials - done)
    result = tune(
        _reseeded(estimator, fold), _safe_indexing(X, train), _safe_indexing(Y, train),
        n_trials=n_trials, timeout=tuning.get("timeout"), cv=tuning.get("cv"),
        search_space=(tuning.get("space") or {}).get(name), metric=tuning["metric"],
        sampler=copy.deepcopy(tuning.get("sampler")), pruner=tuning.get("pruner", "median"),
        refit=False, random_state=seed, **study,
        groups=None if groups is None or not tuning["groups"] else groups[train],
        sample_weight=None if sample_weight is None else sample_weight[train],
    )
    seconds = time.perf_counter() - start
    trials = result.study.get_trials(deepcopy=False)
    tuned = result.best_trial_ is not None
    if not tuned and not tuning.get("allow_untuned", False):
        states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(
            Counter(t.state.name for t in trials if t.state != TrialState.WAITING).items())
        ) or "no trial started"
        raise ValueError(
            f"the study of model {name!r} in split {fold} finished no trial ({states}; "
            f"tune={_shown(tuning)}): its score would be the defaults', reported as tuned. Give "
            "the studies more time or trials, or tune={..., 'allow_untuned': True} to score "
            "such fits with their defaults, marked untuned in report.tuning.")
    best = dict(result.best_params_ or {})
    refit = clone(estimator).set_params(**best)
    out = _fit_and_score(name, refit, X, Y, train, test, fold, metric, task_names, keep, groups,
                         sample_weight, conditional)
    states = [t.state.name for t in trials]
    out["tuning"] = dict(model=name, split=fold, n_trials=states.count("COMPLETE")
                         + states.count("PRUNED"),
                         n_complete=states.count("COMPLETE"), n_pruned=states.count("PRUNED"),
                         tuned=tuned, best_params=best,
                         default_value=result.default_score_,
                         best_value=result.best_score_ if tuned else float("nan"),
                         seconds=seconds)
    return out
