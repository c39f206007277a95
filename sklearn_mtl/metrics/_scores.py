"""Per-task scores and scikit-learn scorers for multi-task estimators.

Every estimator of the package (``MultiTaskRecommender``, ``PerTaskLGBM``) exposes ``tasks_``,
``task_names_``, ``classes_``, ``predict`` and, for classification tasks, ``predict_proba``; the
functions here score each task on the rows where its label is present.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.utils.metadata_routing import (
    MetadataRequest,
    _MetadataRequester,
    _routing_enabled,
    get_routing_for_object,
)
from sklearn.utils.validation import check_is_fitted

from .._pipeline import task_owner
from .._validation import resolve_groups, resolve_sample_weight
from ..sources import is_source
from ..tasks import CLASSIFICATION_KINDS, as_target_frame
from ._per_user import gauc_score, ndcg_at_k_score

# name -> (function(kind, y_true, proba_or_pred, classes[, groups], sample_weight=None) -> float,
# greater_is_better, kinds)
_CLASSIFICATION = set(CLASSIFICATION_KINDS)
_REGRESSION = {"regression"}


def _roc_auc(kind, y, proba, classes, sample_weight=None):
    if kind == "binary":
        return skm.roc_auc_score(y == classes[1], proba[:, 1], sample_weight=sample_weight)
    present = np.isin(classes, np.unique(y))
    if present.sum() < len(classes):
        # One-vs-rest AUC is undefined for classes absent from the labels; score the ones present.
        proba = proba[:, present] / proba[:, present].sum(axis=1, keepdims=True)
        classes = classes[present]
    return skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes,
                             sample_weight=sample_weight)


def _average_precision(kind, y, proba, classes, sample_weight=None):
    if kind == "binary":
        return skm.average_precision_score(y == classes[1], proba[:, 1],
                                           sample_weight=sample_weight)
    indicator = (np.asarray(y)[:, None] == classes[None, :]).astype(int)
    return skm.average_precision_score(indicator, proba, average="macro",
                                       sample_weight=sample_weight)


def _gauc(kind, y, proba, classes, groups, sample_weight=None):
    return gauc_score(y == classes[1], proba[:, 1], groups, sample_weight=sample_weight)


def _ndcg(k):
    def score(kind, y, given, classes, groups, sample_weight=None):
        if sample_weight is not None:
            # NDCG ranks a user's items; a row weight has no standard meaning there.
            raise ValueError(f"metric 'ndcg@{k}' does not take sample_weight: a weight per row "
                             "has no standard meaning in a ranking gain. Score it unweighted.")
        if kind == "binary":
            return ndcg_at_k_score(y == classes[1], given[:, 1], groups, k=k)
        return ndcg_at_k_score(y, given, groups, k=k)
    return score


METRICS: dict[str, tuple[Callable, bool, set, str]] = {
    # name: (function, greater_is_better, task kinds, input) with input "proba" or "pred"
    "roc_auc": (_roc_auc, True, _CLASSIFICATION, "proba"),
    "average_precision": (_average_precision, True, _CLASSIFICATION, "proba"),
    "log_loss": (
        lambda kind, y, proba, classes, sample_weight=None: skm.log_loss(
            y, proba, labels=classes, sample_weight=sample_weight),
        False,
        _CLASSIFICATION,
        "proba",
    ),
    "accuracy": (
        lambda kind, y, pred, classes, sample_weight=None: skm.accuracy_score(
            y, pred, sample_weight=sample_weight),
        True,
        _CLASSIFICATION,
        "pred",
    ),
    "rmse": (
        lambda kind, y, pred, classes, sample_weight=None: skm.root_mean_squared_error(
            y, pred, sample_weight=sample_weight),
        False,
        _REGRESSION,
        "pred",
    ),
    "mae": (
        lambda kind, y, pred, classes, sample_weight=None: skm.mean_absolute_error(
            y, pred, sample_weight=sample_weight),
        False,
        _REGRESSION,
        "pred",
    ),
    "r2": (lambda kind, y, pred, classes, sample_weight=None: skm.r2_score(
        y, pred, sample_weight=sample_weight), True, _REGRESSION, "pred"),
    # Per-group (per-user) metrics: they take the rows' groups as a fifth argument.
    "gauc": (_gauc, True, {"binary"}, "proba"),
}
GROUPED_METRICS = {"gauc", "ndcg"}
_NDCG = re.compile(r"ndcg(?:@([1-9][0-9]*))?$")


def _metric_entry(name: str) -> tuple[Callable, bool, set, str]:
    """The METRICS row of a name, with ``ndcg`` / ``ndcg@k`` (k=10 by default) built on demand."""
    match = _NDCG.match(name)
    if match:
        k = int(match.group(1) or 10)
        # Regression tasks rank by the predicted value, binary tasks by the probability.
        return (_ndcg(k), True, {"binary", "regression"}, "score")
    return METRICS[name]


def is_grouped(metric: str) -> bool:
    """Whether ``metric`` scores per group and so needs ``groups`` (``gauc``, ``ndcg@k``)."""
    return metric in GROUPED_METRICS or bool(_NDCG.match(metric))

AUTO_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}


def greater_is_better(metric: str) -> bool:
    """Whether a higher value of ``metric`` is better (``False`` for losses and errors)."""
    _check_metric_name(metric)
    return metric == "auto" or _metric_entry(metric)[1]


def _check_metric_name(metric) -> None:
    if metric != "auto" and metric not in METRICS and not _NDCG.match(str(metric)):
        raise ValueError(
            f"metric={metric!r} is not known; use 'auto' or one of {sorted(METRICS)}, "
            "'ndcg' or 'ndcg@k'."
        )


def resolve_metrics(metric, names: list, kinds: list) -> list[str]:
    """One metric name per task from ``metric``, each checked to apply to its task's kind.

    Parameters
    ----------
    metric : str, list of str or dict {task name: str}
        A metric for every task, one per task, or some tasks' metrics (the others ``"auto"``).
        ``"auto"`` is :data:`AUTO_METRIC` of the task's kind.
    names : list
        The task names, in order.
    kinds : list of str
        The task kinds (``"binary"``, ``"multiclass"``, ``"regression"``), in order.

    Returns
    -------
    list of str
        The metric of each task.

    Examples
    --------
    >>> from sklearn_mtl.metrics import resolve_metrics
    >>> resolve_metrics({"rating": "rmse"}, ["click", "rating"], ["binary", "regression"])
    ['roc_auc', 'rmse']
    """
    if isinstance(metric, dict):
        unknown = [k for k in metric if k not in names]
        if unknown:
            raise ValueError(f"metric names tasks {unknown} that the estimator does not have {names}.")
        chosen = [metric.get(name, "auto") for name in names]
    elif isinstance(metric, str):
        chosen = [metric] * len(names)
    else:
        chosen = list(metric)
        if len(chosen) != len(names):
            raise ValueError(
                f"metric has {len(chosen)} entries but the estimator has {len(names)} tasks {names}."
            )
    out = []
    for name, kind, m in zip(names, kinds, chosen):
        _check_metric_name(m)
        m = AUTO_METRIC[kind] if m == "auto" else m
        if kind not in _metric_entry(m)[2]:
            raise ValueError(
                f"metric {m!r} does not apply to task {name!r}, which is {kind}; "
                f"use one of {sorted(k for k, v in METRICS.items() if kind in v[2])}."
            )
        out.append(m)
    return out


def _source_targets(source, Y, groups):
    """``(Y, groups)`` read from ``source``'s target columns (and its ``groups`` column when
    ``groups`` names one) in one pass over those columns only."""
    if Y is not None:
        raise ValueError(
            f"Y must be None when X is a {type(source).__name__}: its targets are the columns "
            f"named by targets= ({source.target_columns}), as in fit."
        )
    if not source.target_columns:
        raise ValueError(f"{source!r} names no target column: give targets=[...] to score on it.")
    named = isinstance(groups, str)
    frame = source.read_columns(
        source.target_columns + ([groups] if named and groups not in source.target_columns else []))
    Y = frame[source.targets] if source.one_d else frame[source.target_columns]
    return Y, frame[groups].to_numpy() if named else groups


def per_task_scores(estimator, X, Y=None, metric="auto", groups=None,
                    sample_weight=None) -> dict:
    """Score a fitted multi-task estimator on each task, skipping rows without that task's label.

    Parameters
    ----------
    estimator : fitted MultiTaskRecommender, PerTaskLGBM, a Pipeline ending in one, or any
        estimator with ``tasks_``, ``task_names_``, ``classes_``, ``predict`` and
        ``predict_proba``.
    X : array-like, DataFrame or :class:`~sklearn_mtl.sources.ParquetSource`
        Features. A ``ParquetSource`` (for an estimator that predicts on one, as
        ``MultiTaskRecommender`` does) is read record batch by record batch, with ``Y=None``:
        the labels are its ``targets`` columns, read alone; memory holds the labels and the
        predictions, a few numbers a row, not the features.
    Y : array-like or DataFrame of shape (n_samples, n_tasks), or None
        True labels; NaN marks a missing label. None when ``X`` is a source.
    metric : str, list or dict, default="auto"
        ``"auto"`` scores binary tasks with ROC AUC, multiclass tasks with accuracy and regression
        tasks with R². A name (``"roc_auc"``, ``"average_precision"``, ``"log_loss"``,
        ``"accuracy"``, ``"rmse"``, ``"mae"``, ``"r2"``) applies to every task; a list gives one
        per task; a dict maps task names to metrics (others use ``"auto"``). Values are the raw
        metric: lower is better for ``log_loss``, ``rmse`` and ``mae``. Per-user metrics need
        ``groups``: ``"gauc"`` (binary tasks, :func:`gauc_score`) and ``"ndcg@k"`` (graded or
        binary targets, :func:`ndcg_at_k_score`; ``"ndcg"`` is ``"ndcg@10"``).
    groups : array-like of shape (n_samples,), str or None, default=None
        The user (group) of each row, or the name of that column of ``X`` (e.g. ``"user_id"``;
        of the files, for a source); required by ``"gauc"`` and ``"ndcg@k"``, unused by the
        other metrics.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights, passed to each task's metric on its labelled rows (``"gauc"`` weights each
        user's AUC and the users by their total weight). ``"ndcg@k"`` refuses them.

    Returns
    -------
    dict
        ``{task name: score}`` in task order. A task with no label in ``Y`` scores NaN; a
        metric that is undefined on the labels present (ROC AUC with one class) scores NaN.

    Examples
    --------
    >>> from sklearn_mtl import PerTaskLGBM
    >>> from sklearn_mtl.metrics import per_task_scores
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> Y = np.column_stack([X[:, 0] > 0, X[:, 1] + 0.1 * rng.normal(size=200)])
    >>> model = PerTaskLGBM(n_estimators=20, verbose=-1).fit(X, Y)
    >>> sorted(per_task_scores(model, X, Y))
    ['task_0', 'task_1']
    """
    check_is_fitted(estimator)
    owner = task_owner(estimator)
    if is_source(X):
        Y, groups = _source_targets(X, Y, groups)
    frame, _ = as_target_frame(Y)
    names = list(owner.task_names_)
    kinds = list(owner.tasks_)
    if frame.shape[1] != len(names):
        raise ValueError(
            f"Y has {frame.shape[1]} task columns but the estimator was fitted on {len(names)} "
            f"tasks {names}."
        )
    if isinstance(Y, pd.DataFrame) and list(frame.columns) != names:
        raise ValueError(
            f"Y has task columns {list(frame.columns)} but the estimator was fitted on {names}."
        )
    chosen = resolve_metrics(metric, names, kinds)
    grouped = [m for m in chosen if is_grouped(m)]
    group_values = resolve_groups(groups, X, frame.shape[0])
    weights = resolve_sample_weight(sample_weight, frame.shape[0])
    if grouped and group_values is None:
        raise ValueError(f"metric {grouped[0]!r} scores per user: pass groups= (the user of "
                         "each row, or the name of its column in X).")
    needs_of = {}
    for kind, m in zip(kinds, chosen):
        entry = _metric_entry(m)[3]
        needs_of[m, kind] = ("proba" if kind != "regression" else "pred") if entry == "score" else entry
    inputs = set(needs_of.values())
    proba = pred = None
    if "proba" in inputs:
        proba = estimator.predict_proba(X)
        if not isinstance(proba, list):
            proba = [proba]
    if "pred" in inputs:
        pred = np.asarray(estimator.predict(X))
        if pred.ndim == 1:
            pred = pred.reshape(-1, 1)
    scores = {}
    for t, (name, kind, m) in enumerate(zip(names, kinds, chosen)):
        column = frame.iloc[:, t]
        mask = ~pd.isna(column).to_numpy()
        fn = _metric_entry(m)[0]
        needs = needs_of[m, kind]
        y = column.to_numpy()[mask]
        if kind == "regression":
            y = y.astype(float)
        if mask.sum() == 0:
            scores[name] = float("nan")
            continue
        if kind in CLASSIFICATION_KINDS and m == "roc_auc" and len(np.unique(y)) < 2:
            scores[name] = float("nan")
            continue
        given = proba[t][mask] if needs == "proba" else pred[mask, t]
        classes = owner.classes_[t]
        w = None if weights is None else weights[mask]
        if is_grouped(m):
            scores[name] = float(fn(kind, y, given, classes, group_values[mask], sample_weight=w))
        else:
            scores[name] = float(fn(kind, y, given, classes, sample_weight=w))
    return scores


class MultiTaskScorer(_MetadataRequester):
    """A scikit-learn scorer (``scorer(estimator, X, Y) -> float``) over per-task scores.

    Built by :func:`make_multitask_scorer`; picklable, so it works with ``n_jobs`` in
    ``GridSearchCV`` and ``cross_validate``. Under scikit-learn's metadata routing
    (``sklearn.set_config(enable_metadata_routing=True)``) it requests ``groups`` and
    ``sample_weight`` as scikit-learn's own scorers do, with :meth:`set_score_request`.
    """

    def __init__(self, metric="auto", task=None, aggregate="mean", group_by=None):
        self.metric = metric
        self.task = task
        self.aggregate = aggregate
        self.group_by = group_by

    def set_score_request(self, **kwargs) -> MultiTaskScorer:
        """Request metadata for scoring: ``groups`` and ``sample_weight`` (routing only).

        As scikit-learn's scorers' ``set_score_request``: ``True`` requests the parameter,
        ``False`` refuses it, a string routes the metadata of that name to it. ``groups``
        (the user of each row) feeds the per-user metrics in place of ``group_by``.

        Examples
        --------
        >>> import sklearn
        >>> from sklearn_mtl.metrics import make_multitask_scorer
        >>> with sklearn.config_context(enable_metadata_routing=True):
        ...     scorer = make_multitask_scorer("gauc").set_score_request(groups=True)
        """
        if not _routing_enabled():
            raise RuntimeError(
                "set_score_request is only available when metadata routing is enabled: "
                "sklearn.set_config(enable_metadata_routing=True)."
            )
        unknown = sorted(set(kwargs) - set(_SCORE_METADATA))
        if unknown:
            raise TypeError(f"set_score_request got unexpected {unknown}: a MultiTaskScorer "
                            f"takes {list(_SCORE_METADATA)}.")
        request = self._get_metadata_request()
        for param, alias in kwargs.items():
            request.score.add_request(param=param, alias=alias)
        self._metadata_request = request
        return self

    def _get_metadata_request(self) -> MetadataRequest:
        if hasattr(self, "_metadata_request"):
            return get_routing_for_object(self._metadata_request)
        request = MetadataRequest(owner=self)
        for param in _SCORE_METADATA:  # known, not requested: passing one is an error
            request.score.add_request(param=param, alias=None)
        return request

    def _accept_sample_weight(self) -> bool:
        # Read by scikit-learn's multi-metric scorer when routing is off.
        return True

    def __call__(self, estimator, X, Y=None, sample_weight=None, groups=None) -> float:
        if groups is None:
            groups = self.group_by
        elif self.group_by is not None:
            raise ValueError(
                f"this scorer reads the users from column group_by={self.group_by!r} and was also "
                "given groups=: pass the users one way only."
            )
        owner = task_owner(estimator)
        names = list(owner.task_names_)
        if self.task is None:
            metric = self.metric
        else:
            index = _task_index(self.task, names)
            metric = ["auto"] * len(names)
            metric[index] = self.metric
        scores = per_task_scores(estimator, X, Y, metric=metric, groups=groups,
                                 sample_weight=sample_weight)
        chosen = resolve_metrics(metric, names, list(owner.tasks_))
        signed = [
            s if _metric_entry(m)[1] else -s for s, m in zip(scores.values(), chosen)
        ]
        if self.task is not None:
            return signed[_task_index(self.task, names)]
        if callable(self.aggregate):
            return float(self.aggregate(np.asarray(signed)))
        return float({"mean": np.nanmean, "min": np.nanmin, "max": np.nanmax}[self.aggregate](signed))

    def __repr__(self) -> str:
        return (
            f"make_multitask_scorer(metric={self.metric!r}, task={self.task!r}, "
            f"aggregate={self.aggregate!r}"
            + (f", group_by={self.group_by!r})" if self.group_by is not None else ")")
        )


# The metadata a MultiTaskScorer can be routed (set_score_request).
_SCORE_METADATA = ("groups", "sample_weight")


def _task_index(task, names) -> int:
    if isinstance(task, (int, np.integer)) and not isinstance(task, bool):
        if not -len(names) <= task < len(names):
            raise ValueError(f"task={task} is out of range for {len(names)} tasks {names}.")
        return int(task) % len(names)
    if task in names:
        return names.index(task)
    raise ValueError(f"task={task!r} is not one of the estimator's tasks {names}.")


def make_multitask_scorer(metric="auto", task=None, aggregate="mean",
                          group_by=None) -> MultiTaskScorer:
    """Make a scorer for ``scoring=`` in GridSearchCV, cross_validate or Optuna searches.

    Parameters
    ----------
    metric : str, list or dict, default="auto"
        As in :func:`per_task_scores`. Metrics where lower is better (``log_loss``, ``rmse``,
        ``mae``) are negated, as scikit-learn's ``neg_*`` scorers are, so that greater is
        always better.
    task : None, str or int, default=None
        Score one task (by name or index) with ``metric``; ``None`` aggregates over all tasks.
    aggregate : {"mean", "min", "max"} or callable, default="mean"
        How the per-task (signed) scores become one number when ``task`` is None. ``"min"``
        scores a model by its worst task.
    group_by : str or None, default=None
        Column of ``X`` that holds each row's user, for the per-user metrics ``"gauc"`` and
        ``"ndcg@k"``; read from the rows being scored, so it works inside any CV split.
        Under metadata routing the users can come instead as ``groups`` metadata:
        ``make_multitask_scorer("gauc").set_score_request(groups=True)`` and
        ``cross_validate(..., params={"groups": users})``; scikit-learn's ``sample_weight``
        is requested the same way.

    Returns
    -------
    MultiTaskScorer

    Examples
    --------
    >>> from sklearn_mtl.metrics import make_multitask_scorer
    >>> scoring = {"income": make_multitask_scorer("roc_auc", task="income"),
    ...            "mean": make_multitask_scorer()}
    >>> # GridSearchCV(model, grid, scoring=scoring, refit="income")
    >>> per_user = make_multitask_scorer("gauc", task="liked", group_by="user_id")
    """
    if not (callable(aggregate) or aggregate in ("mean", "min", "max")):
        raise ValueError(
            f"aggregate={aggregate!r} is not valid; use 'mean', 'min', 'max' or a callable."
        )
    if isinstance(metric, str):
        _check_metric_name(metric)
    if task is not None and not isinstance(metric, str):
        raise ValueError("With task=..., metric must be one metric name.")
    if group_by is not None and not isinstance(group_by, str):
        raise ValueError(f"group_by={group_by!r} is not valid: use the name of a column of X.")
    return MultiTaskScorer(metric=metric, task=task, aggregate=aggregate, group_by=group_by)


def mean_score(estimator, X, Y=None, sample_weight=None) -> float:
    """Mean over tasks of the "auto" per-task scores: the estimators' ``score``."""
    scores = per_task_scores(estimator, X, Y, sample_weight=sample_weight)
    return float(np.nanmean(list(scores.values())))
