"""compare_transfer: train every model and the single-task reference on the same folds."""

from __future__ import annotations

import numbers
from itertools import combinations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import KFold, check_cv
from sklearn.utils import _safe_indexing

from ..metrics import _resolve_metrics, per_task_scores
from ..tasks import TargetEncoder, as_target_frame
from ._report import _AFFINITY_COLUMNS, _CONFLICT_COLUMNS, REFERENCE, TransferReport


def _final_step(estimator):
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def _is_multitask(estimator) -> bool:
    # Duck typing before any fit: both estimators of the package declare their tasks as a
    # parameter, which no single-task scikit-learn estimator does.
    final = _final_step(estimator)
    return (hasattr(final, "fit") and hasattr(final, "predict") and hasattr(final, "get_params")
            and "tasks" in final.get_params(deep=False))


def _shares_parameters(estimator) -> bool:
    """Whether the model shares parameters between tasks, so that it can transfer at all."""
    from ..estimator import MultiTaskRecommender

    final = _final_step(estimator)
    return isinstance(final, MultiTaskRecommender) and final.architecture != "single"


def _default_reference(models: dict):
    from ..estimator import MultiTaskRecommender

    for estimator in models.values():
        if isinstance(_final_step(estimator), MultiTaskRecommender):
            reference = clone(estimator)
            _final_step(reference).set_params(architecture="single")
            return reference
    raise ValueError(
        "compare_transfer needs a reference: none of the models is a MultiTaskRecommender whose "
        "settings the default single-task reference could copy; pass reference=..."
    )


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


def _fit_and_score(name, estimator, X, Y, train, test, fold, metric, task_names, keep):
    # Runs on a joblib worker (a Dask worker under parallel_backend("dask")): return only what
    # the report needs, and the fitted model only when asked for.
    model = clone(estimator).fit(_safe_indexing(X, train), _safe_indexing(Y, train))
    owner = _final_step(model)
    names, kinds = list(owner.task_names_), list(owner.tasks_)
    result = dict(name=name, fold=fold, names=names, kinds=kinds, scores=None, metrics=None,
                  cosines=_gradient_cosines(name, fold, owner, names),
                  affinities=_task_affinities(name, fold, owner, names), model=model if keep else None)
    if names == task_names:  # otherwise compare_transfer names the culprit
        result["metrics"] = _resolve_metrics(metric, names, kinds)
        result["scores"] = per_task_scores(model, _safe_indexing(X, test), _safe_indexing(Y, test),
                                           metric=result["metrics"])
    return result


def _folds(cv, frame: pd.DataFrame, random_state) -> list:
    n = frame.shape[0]
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if not 2 <= cv <= n:
            raise ValueError(f"cv={cv} is not valid for {n} rows: it must be between 2 and {n}.")
        cv = KFold(int(cv), shuffle=True, random_state=random_state)
    splitter = check_cv(cv)
    # A splitter that needs y (StratifiedKFold) gets the first task's labels when complete.
    first = frame.iloc[:, 0]
    y = None if first.isna().any() else first.to_numpy()
    return list(splitter.split(np.zeros((n, 1)), y))


def compare_transfer(models: dict, X, Y, *, reference=None, cv=5, metric="auto",
                     n_jobs: int | None = None, random_state=None, return_estimators: bool = False,
                     verbose: int = 0) -> TransferReport:
    """Train every model and the single-task reference on the same folds and compare per task.

    Parameters
    ----------
    models : dict of str -> estimator
        Multi-task estimators (``MultiTaskRecommender``, ``PerTaskLGBM`` or a Pipeline ending in
        one), by the name the report shows. ``"reference"`` is reserved for the reference.
    X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
    Y : array-like or DataFrame of shape (n_samples, n_tasks) or (n_samples,)
        Targets; NaN is a missing label. One task is allowed.
    reference : estimator, default=None
        The single-task reference, named ``"reference"`` in the report. Default: a clone of
        the first ``MultiTaskRecommender`` in ``models`` (the last step of a Pipeline, whose
        other steps are kept) with ``architecture="single"``: the same settings and per-task
        capacity, no sharing. Required when ``models`` holds no ``MultiTaskRecommender``.
    cv : int, splitter or iterable of (train, test) indices, default=5
        An int gives ``KFold(cv, shuffle=True, random_state=random_state)``. A splitter's
        ``split`` receives the first task's labels as ``y`` when that task has no missing
        label (so ``StratifiedKFold`` stratifies on it); for groups pass the folds themselves,
        e.g. ``list(GroupKFold(5).split(X, groups=g))``.
    metric : str, list or dict, default="auto"
        As in :func:`sklearn_mtl.metrics.per_task_scores`; resolved per task from the task
        kinds of the fitted models, which must agree.
    n_jobs : int, default=None
        Parallel (model, fold) fits through joblib: under ``joblib.parallel_backend("dask")``
        with a ``dask.distributed.Client`` they run on the cluster's workers.
    random_state : int, default=None
        Seeds the folds of an int ``cv`` (the models keep their own ``random_state``).
    return_estimators : bool, default=False
        Keep the fitted models in ``report.estimators[(name, fold)]``.
    verbose : int, default=0
        Passed to joblib (progress of the fits).

    Returns
    -------
    TransferReport

    Raises
    ------
    ValueError
        ``models`` is not a non-empty dict; a model or the reference is not a multi-task
        estimator; no reference can be derived; ``cv`` exceeds the number of rows; a fitted
        model has other task names or task kinds than the reference.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
    >>> from sklearn_mtl.datasets import make_multitask_data
    >>> X, Y = make_multitask_data(n_samples=600, n_features=8, random_state=0)
    >>> models = {"hard": MultiTaskRecommender("hard", max_epochs=3, random_state=0),
    ...           "lgbm": PerTaskLGBM(n_estimators=20, n_jobs=1, verbose=-1)}
    >>> report = compare_transfer(models, X, Y, cv=3, random_state=0)
    >>> report.summary().index.tolist()
    [('hard', 'task_0'), ('lgbm', 'task_0'), ('hard', 'task_1'), ('lgbm', 'task_1')]
    >>> report.metric
    {'task_0': 'r2', 'task_1': 'r2'}
    """
    if not isinstance(models, dict) or not models:
        raise ValueError(f"models must be a non-empty dict of name -> estimator, got {models!r}.")
    for name, estimator in models.items():
        if name == REFERENCE:
            raise ValueError(f"the name {REFERENCE!r} is taken by the reference; rename that model.")
        if not _is_multitask(estimator):
            raise ValueError(
                f"model {name!r} ({type(_final_step(estimator)).__name__}) is not a multi-task "
                "estimator: use MultiTaskRecommender, PerTaskLGBM or a Pipeline ending in one."
            )
    reference = _default_reference(models) if reference is None else reference
    if not _is_multitask(reference):
        raise ValueError(f"reference ({type(_final_step(reference)).__name__}) is not a multi-task "
                         "estimator: use MultiTaskRecommender('single'), PerTaskLGBM or a Pipeline.")
    frame, _ = as_target_frame(Y)
    folds = _folds(cv, frame, random_state)
    # Fail on a bad metric before any fit, with the task kinds the reference declares.
    targets = TargetEncoder(_final_step(reference).get_params()["tasks"]).fit(Y)
    _resolve_metrics(metric, targets.names_, targets.kinds_)

    jobs = [*models.items(), (REFERENCE, reference)]
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_fit_and_score)(name, est, X, Y, train, test, fold, metric, targets.names_,
                                return_estimators)
        for fold, (train, test) in enumerate(folds)
        for name, est in jobs
    )
    for r in results:
        if r["scores"] is None:
            raise ValueError(
                f"model {r['name']!r} was fitted on tasks {r['names']} but Y has tasks "
                f"{targets.names_}; every model and the reference must see the same task set."
            )
    reference_run = next(r for r in results if r["name"] == REFERENCE)
    rows, estimators, cosines, affinities = [], {}, [], []
    for r in results:
        if r["metrics"] != reference_run["metrics"]:
            raise ValueError(
                f"model {r['name']!r} treats the tasks as {r['kinds']} (scored with {r['metrics']}) "
                f"but the reference treats them as {reference_run['kinds']} (scored with "
                f"{reference_run['metrics']}); give every model the same tasks=."
            )
        rows += [dict(model=r["name"], task=t, fold=r["fold"], score=s) for t, s in r["scores"].items()]
        cosines += r["cosines"]
        affinities += r["affinities"]
        if return_estimators:
            estimators[(r["name"], r["fold"])] = r["model"]
    return TransferReport(
        pd.DataFrame(rows, columns=["model", "task", "fold", "score"]),
        metric=dict(zip(targets.names_, reference_run["metrics"])),
        n_folds=len(folds),
        estimators=estimators if return_estimators else None,
        gradient_conflict=pd.DataFrame(cosines, columns=_CONFLICT_COLUMNS),
        task_affinity=pd.DataFrame(affinities, columns=_AFFINITY_COLUMNS),
        shared={name: _shares_parameters(est) for name, est in models.items()},
    )
