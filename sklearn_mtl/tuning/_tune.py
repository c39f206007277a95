"""tune(): an Optuna study over a multi-task estimator's hyper-parameters."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import optuna
from optuna.samplers import BaseSampler, TPESampler
from sklearn.base import clone
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.validation import _num_samples

from .._checks import in_range
from .._pipeline import final_step
from .._resampling import cv_splits
from .._routing import fit_params_for, uses_groups
from .._validation import resolve_groups, resolve_sample_weight
from ..metrics import is_grouped, per_task_scores
from ..tasks import TargetEncoder, as_target_frame
from ._pruning import pruner_is_explicit, pruning_fit, resolve_pruner
from ._result import TuneResult
from ._spaces import SearchSpace
from ._study import (
    DEFAULTS_ATTR,
    ProgressLog,
    TrialSeededSampler,
    create_study,
    directions_for,
    fail_dead_trials,
    fail_running_trials,
    make_storage,
    objective_value,
    prepare_trials,
    register_worker,
    resolve_objectives,
    worker_name,
)


def check_sampler(sampler, name: str = "sampler") -> None:
    """Raise ``ValueError`` unless ``sampler`` is None or an Optuna sampler instance (a name or
    the class itself fails deep inside Optuna otherwise)."""
    if sampler is None or isinstance(sampler, BaseSampler):
        return
    if isinstance(sampler, type) and issubclass(sampler, BaseSampler):
        hint = f"an instance: {sampler.__name__}(seed=0)"
    else:
        hint = "an instance such as optuna.samplers.TPESampler(seed=0)"
    raise ValueError(f"{name}={sampler!r} is not valid: use None (TPE) or an Optuna sampler, "
                     f"{hint}.")


def _check_n_trials(n_trials, timeout) -> None:
    if n_trials is not None and not in_range(n_trials, integer=True, low=0):
        raise ValueError(f"n_trials={n_trials!r} is not valid: use an int >= 0 or None.")
    if timeout is not None and (not isinstance(timeout, numbers.Real) or timeout <= 0):
        raise ValueError(f"timeout={timeout!r} is not valid: use a number of seconds > 0 or None.")


class _Objective:
    """Fit a clone with the trial's parameters on each split and score every task."""

    def __init__(self, estimator, X, Y, space, splits, metrics, multi, *, prune, warn_unprunable,
                 groups=None, sample_weight=None):
        self.estimator, self.X, self.Y, self.space = estimator, X, Y, space
        self.groups, self.sample_weight = groups, sample_weight
        self.splits, self.metrics, self.multi = splits, metrics, multi
        # One split: report every epoch / boosting round. Folds: report the running mean
        # after each fold (epochs of different folds would collide on the same steps).
        self.prune_steps = prune and len(splits) == 1
        self.prune_folds = prune and len(splits) > 1
        self.warn_unprunable = warn_unprunable
        self.worker = worker_name()

    def __call__(self, trial) -> float | tuple:
        trial.set_user_attr("worker", self.worker)
        # The study's first trial fits the estimator as given, so that the best trial is never
        # worse than its defaults on these validation rows; it is never pruned.
        defaults = bool(trial.user_attrs.get(DEFAULTS_ATTR))
        params = {} if defaults else self.space(trial)
        fold_scores, epochs = [], 0
        for fold, (train, valid) in enumerate(self.splits):
            model = clone(self.estimator).set_params(**params)
            fit_params = {}
            if self.prune_steps and not defaults:
                fit_params, why_not = pruning_fit(model, trial)
                if why_not and self.warn_unprunable:
                    self.warn_unprunable = False
                    warnings.warn(f"Trials cannot be pruned during the fit: {why_not}.",
                                  UserWarning, stacklevel=2)
            weights = None if self.sample_weight is None else self.sample_weight[train]
            fit_params.update(fit_params_for(model, {"sample_weight": weights}, "tune"))
            model.fit(_safe_indexing(self.X, train), _safe_indexing(self.Y, train), **fit_params)
            scores = per_task_scores(model, _safe_indexing(self.X, valid),
                                     _safe_indexing(self.Y, valid), metric=self.metrics,
                                     groups=None if self.groups is None else self.groups[valid])
            fold_scores.append({str(k): float(v) for k, v in scores.items()})
            epochs += getattr(final_step(model), "n_epochs_", 0)
            if self.prune_folds and not defaults:
                self._report_fold(trial, fold, _mean(fold_scores))
        trial.set_user_attr("scores", _mean(fold_scores))
        if epochs:
            trial.set_user_attr("n_epochs", int(epochs))
        if len(fold_scores) > 1:
            trial.set_user_attr("fold_scores", fold_scores)
        return objective_value(_mean(fold_scores), self.metrics, self.multi)

    def _report_fold(self, trial, fold: int, running: dict) -> None:
        value = objective_value(running, self.metrics, self.multi)
        if not np.isfinite(value):
            return
        trial.report(value, step=fold)
        if trial.should_prune():
            trial.set_user_attr("scores", running)
            raise optuna.TrialPruned(f"Pruned after fold {fold + 1}.")


def _mean(fold_scores: list[dict]) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a task that is NaN in every fold
        return {k: float(np.nanmean([f[k] for f in fold_scores])) for k in fold_scores[0]}


def tune(
    estimator,
    X,
    Y,
    *,
    n_trials: int | None = 50,
    timeout: float | None = None,
    search_space: Mapping | Callable | None = None,
    cv=None,
    groups=None,
    sample_weight=None,
    objectives: str | list[str] = "mean",
    metric: str | list | dict = "auto",
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    load_if_exists: bool = True,
    sampler: BaseSampler | None = None,
    pruner: str | optuna.pruners.BasePruner | None = "median",
    n_jobs: int = 1,
    refit: bool = True,
    random_state: int | np.random.RandomState | None = None,
    show_progress_bar: bool = False,
    verbose: int = 0,
    start_from_defaults: bool = True,
    exclusive: bool = False,
) -> TuneResult:
    """Tune a multi-task estimator's hyper-parameters with an Optuna study.

    Each trial samples parameters from ``search_space``, fits a clone of ``estimator`` and
    scores every task on validation rows with :func:`sklearn_mtl.metrics.per_task_scores`.

    Parameters
    ----------
    estimator : MultiTaskRecommender, PerTaskLGBM, or a Pipeline ending in one
        The model to tune; its other parameters stay as they are.
    X : array-like or DataFrame of shape (n_samples, n_features)
    Y : array-like or DataFrame of shape (n_samples, n_tasks)
        Targets, NaN for a missing label. The tasks are its columns (known before any fit).
    n_trials : int or None, default=50
        Trials this call runs (each worker sharing a study runs its own ``n_trials``),
        the estimator's own parameters first (``start_from_defaults``). ``None`` runs until
        ``timeout``.
    timeout : float or None, default=None
        Stop starting new trials after this many seconds.
    search_space : None, dict or callable, default=None
        ``None``: :func:`default_search_space` for the estimator, its architecture and the
        number of tasks (a net's space tunes a fixed weight per task).
        A dict ``{parameter: optuna distribution}`` (``"step__param"`` in a Pipeline; layer
        widths as strings such as ``"64-32"`` in a ``CategoricalDistribution``). A function
        ``trial -> {parameter: value}`` for conditional or derived parameters. A parameter the
        estimator does not have raises ``ValueError`` listing the valid ones.
    cv : None, float, int, or a scikit-learn splitter, default=None
        ``None``: hold out 20 % of the rows (a float: that fraction) once, fit on the rest,
        score on them; trials can be pruned after every epoch (nets) or boosting round.
        An int (shuffled ``KFold``) or a splitter: cross-validation; the running mean after
        each fold is reported, so a pruner can stop a trial between folds.
        The split is seeded by ``random_state`` (0 if None) and saved in the study, so that
        resumed runs and other workers score on the same rows. A group splitter
        (``GroupKFold``) splits by ``groups``.
    groups : array-like of shape (n_samples,), str or None, default=None
        The user of each row (or the name of that column of ``X``), as in ``cross_validate``:
        it reaches a group splitter ``cv`` and the per-user metrics (``metric="gauc"``,
        ``"ndcg@k"``), which score each validation split user by user. A warning says so when
        neither reads it.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights for every trial's fit and the refit, as
        ``cross_validate(params={"sample_weight": w})``: under scikit-learn's metadata routing
        the estimator receives them only if it requests them
        (``set_fit_request(sample_weight=True)``); without routing its ``fit`` (a Pipeline's
        last step) receives them. Validation scores are unweighted.
    objectives : "mean", "per_task" or list of str, default="mean"
        ``"mean"``: one objective, the mean over tasks of the signed per-task scores
        (``make_multitask_scorer``'s convention: losses are negated), always maximized.
        ``"per_task"``: one objective per task with ``metric``; a list: one metric per task.
        Multi-objective studies optimize each task's raw metric in its own direction
        (``"roc_auc"`` maximize, ``"log_loss"`` minimize) and cannot be pruned.
    metric : str, list or dict, default="auto"
        Per-task metric as in :func:`~sklearn_mtl.metrics.per_task_scores`: ``"auto"`` is ROC
        AUC (binary), accuracy (multiclass), R² (regression).
    storage : None, str or optuna storage, default=None
        ``None``: in memory. A URL (``"sqlite:///tune.db"``, ``"postgresql://..."``): every
        finished trial is committed, so a killed run loses only its running trial and a rerun
        with the same ``study_name`` continues; SQLite waits up to 60 s for the write lock so
        that several processes can share one file. Or a storage object (``JournalStorage``,
        ``RDBStorage``, optuna-integration's ``DaskStorage``).
    study_name : str or None, default=None
        Name in the storage; give one to resume or to share the study between workers.
    load_if_exists : bool, default=True
        Continue the study ``study_name`` if the storage has it.
    sampler : optuna sampler or None, default=None
        ``None``: ``TPESampler``. With an int ``random_state`` the sampler (yours too) is
        reseeded before every trial from ``random_state`` and the trial's place in the study,
        so that a study resumed after a kill draws what an uninterrupted one would have
        (with ``n_jobs=1``), and two calls with different ``random_state`` never replay one
        search. Samplers without a NumPy random state (none of Optuna's own) keep theirs.
    pruner : "median", "hyperband", "successive_halving", optuna pruner or None, default="median"
        Single objective only. ``"median"`` is ``MedianPruner(n_startup_trials=5,
        n_warmup_steps=2)``. Multi-objective studies never prune; an explicit pruner there
        (anything but the default or None) warns.
    n_jobs : int, default=1
        Threads running trials in this process (``study.optimize(n_jobs=...)``).
    refit : bool, default=True
        Fit ``best_estimator_`` on all of ``X``, ``Y`` at the end.
    random_state : int, RandomState or None, default=None
        Seeds the sampler and the validation split (not the estimator, which keeps its own).
    show_progress_bar : bool, default=False
        Optuna's progress bar.
    verbose : int, default=0
        ``1`` prints one line per finished trial (state, per-task scores, best so far);
        ``2`` adds the trial's parameters and Optuna's own log.
    start_from_defaults : bool, default=True
        The study's first trial fits ``estimator`` with its own parameters (its
        ``params`` are empty, its user attribute ``"defaults"`` is True, and it is never
        pruned), so that the best trial is at least as good as the defaults on the
        validation rows: with small budgets the best of a few random configurations is often
        worse than the defaults. A trial whose worker died (a killed run) is redone with its
        parameters when the study is resumed.
    exclusive : bool, default=False
        This call is the only process working on the study (no other worker): a trial it
        finds ``RUNNING`` was left by a killed run, so it is marked ``FAIL`` at once and redone,
        whichever machine ran it. ``compare_transfer(storage=...)`` sets it. Otherwise only
        trials of gone processes of this machine are, and others wait for Optuna's heartbeat;
        a trial killed before it named its worker is marked when every worker that ran on the
        study was of this machine and is gone.

    Returns
    -------
    TuneResult
        ``study``, ``best_params_``, ``best_score_``, ``best_estimator_``, ``pareto_front()``,
        ``refit_trial(number)``.

    Examples
    --------
    >>> from sklearn_mtl import PerTaskLGBM
    >>> from sklearn_mtl.datasets import make_multitask_data
    >>> from sklearn_mtl.tuning import tune
    >>> X, Y = make_multitask_data(n_samples=300, n_features=5, task_kinds="binary",
    ...                            random_state=0)
    >>> result = tune(PerTaskLGBM(n_estimators=20, n_jobs=1), X, Y, n_trials=3, random_state=0)
    >>> len(result.study.trials), result.study.trials[0].user_attrs["defaults"]
    (3, True)
    >>> sorted(result.trial_params(1))[:2]  # trial 1 is the first sampled one
    ['colsample_bytree', 'learning_rate']
    >>> bool(result.best_score_ >= result.default_score_)
    True
    """
    _check_n_trials(n_trials, timeout)
    check_sampler(sampler)
    owner = final_step(estimator)
    if not hasattr(estimator, "get_params"):
        raise ValueError(f"estimator={estimator!r} is not a scikit-learn estimator.")
    targets = TargetEncoder(getattr(owner, "tasks", "auto")).fit(Y)
    names, kinds = list(targets.names_), list(targets.kinds_)
    metrics, multi = resolve_objectives(objectives, metric, names, kinds)
    n_rows = _num_samples(X)
    group_values = None if groups is None else resolve_groups(groups, X, n_rows)
    weights = resolve_sample_weight(sample_weight, n_rows)
    fit_params_for(estimator, {"sample_weight": weights}, "tune")  # an unset request fails now
    per_user = any(is_grouped(m) for m in metrics)
    if per_user and group_values is None:
        raise ValueError(f"metric {metric!r} scores per user: pass groups= (the user of each "
                         "row, or the name of its column in X).")
    if group_values is not None and not per_user and not uses_groups(cv):
        warnings.warn(f"groups= is not used: cv={cv!r} does not split by groups and no metric "
                      "is scored per user (use cv=GroupKFold(k), or metric='gauc' or 'ndcg@k').",
                      UserWarning, stacklevel=2)
    space = SearchSpace(estimator, search_space, n_tasks=len(names))
    directions = directions_for(metrics, multi)
    pruner_obj = resolve_pruner(pruner, multi)

    rng = check_random_state(random_state)
    seed = random_state if isinstance(random_state, numbers.Integral) else (
        0 if random_state is None else int(rng.randint(2**31 - 1)))
    if sampler is None:
        sampler = TPESampler()
    if random_state is not None:
        sampler = TrialSeededSampler(sampler, int(rng.randint(2**31 - 1)))
    info = {"estimator": type(owner).__name__, "tasks": [str(n) for n in names],
            "metrics": metrics, "multi_objective": multi, "split_seed": int(seed)}
    frame, _ = as_target_frame(Y)
    # A bad cv fails here, before a study is created.
    cv_splits(cv, frame, int(seed), 1, group_values, holdout=True)
    callbacks = [ProgressLog(multi, verbose)] if verbose else []
    previous = optuna.logging.get_verbosity()
    if verbose < 2:
        # Optuna's line per trial on top of ours (or instead of silence) is noise.
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study, info = create_study(make_storage(storage), study_name, load_if_exists, sampler,
                                   pruner_obj, directions, info)
        if exclusive:
            fail_running_trials(study, "a run of this study was stopped during the trial")
        else:
            fail_dead_trials(study)
        register_worker(study)
        prepare_trials(study, defaults=start_from_defaults)
        objective = _Objective(
            estimator, X, Y, space,
            [(train, valid) for _, train, valid in cv_splits(
                cv, frame, int(info.get("split_seed", seed)), 1, group_values, holdout=True)],
            metrics, multi,
            prune=not multi and not isinstance(pruner_obj, optuna.pruners.NopPruner),
            warn_unprunable=pruner_is_explicit(pruner),
            groups=group_values, sample_weight=weights,
        )
        study.optimize(objective, n_trials=n_trials, timeout=timeout, n_jobs=n_jobs,
                       callbacks=callbacks, show_progress_bar=show_progress_bar)
    finally:
        optuna.logging.set_verbosity(previous)

    result = TuneResult(study, estimator, X, Y, space, names, metrics, multi,
                        sample_weight=weights)
    if refit:
        result.refit()
    return result

