"""PerDomain: one clone of a multi-task estimator per domain (market, department, scenario).

A team that serves several domains asks whether one shared model for all of them is as good as
one model per domain. :class:`PerDomain` is the second option as an estimator, so that
:func:`~sklearn_mtl.compare_transfer` can take it as the reference and compare the shared
model with it on the same folds, domain by domain (``segments=`` the domain column) and task by
task. It imports neither torch nor LightGBM: the estimator it clones brings its own.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils import _safe_indexing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._pipeline import task_owner
from .metrics import mean_score


def _inner_has(method: str):
    def check(self) -> bool:
        if hasattr(self, "estimators_"):
            return all(hasattr(e, method) for e in self.estimators_.values())
        return hasattr(self.estimator, method)
    return check


class PerDomain(MetaEstimatorMixin, BaseEstimator):
    """One clone of ``estimator`` per value of a domain column, each fitted on its domain's rows.

    Parameters
    ----------
    estimator : estimator
        A multi-task estimator (``MultiTaskRecommender``, ``PerTaskLGBM`` or a Pipeline ending
        in one), cloned once per domain.
    domain : str or int
        The column of ``X`` that names each row's domain: a column name of a DataFrame, or a
        column position of an array. The column stays in ``X`` (constant within a domain, it
        carries nothing the domain's model could use).

    Attributes
    ----------
    estimators_ : dict
        ``{domain value: fitted clone}``, in sorted order of the values.
    domains_ : ndarray
        The domain values seen in ``fit``.
    tasks_, task_names_ : list
        The tasks of the clones, which must agree.
    classes_ : list
        Per task, the union of the clones' classes (a domain may lack a class); None for a
        regression task.
    n_params_ : float
        The clones' trainable parameters summed (NaN when a clone has no count, as
        ``PerTaskLGBM``).
    n_features_in_ : int
    feature_names_in_ : ndarray
        With a DataFrame ``X``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn_mtl import PerTaskLGBM
    >>> from sklearn_mtl.domains import PerDomain
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=300), "market": rng.choice(["de", "fr"], 300)})
    >>> Y = pd.DataFrame({"click": (X["x"] > 0).astype(int), "spend": X["x"] * 2})
    >>> model = PerDomain(PerTaskLGBM(n_estimators=10, verbose=-1), "market").fit(X, Y)
    >>> list(model.estimators_), model.predict(X).shape
    (['de', 'fr'], (300, 2))
    """

    def __init__(self, estimator, domain):
        self.estimator = estimator
        self.domain = domain

    def _reference_label(self) -> str:
        """How a comparison's header names this model as its reference."""
        inner = self.estimator.steps[-1][1] if hasattr(self.estimator, "steps") else self.estimator
        return f"one {type(inner).__name__} per {self.domain!r} (PerDomain)"

    def _domain_values(self, X) -> np.ndarray:
        domain = self.domain
        if isinstance(X, pd.DataFrame):
            if domain not in X.columns:
                raise ValueError(f"domain={domain!r} is not a column of X "
                                 f"({list(X.columns)[:20]}).")
            values = X[domain].to_numpy()
        else:
            if not isinstance(domain, numbers.Integral) or isinstance(domain, bool):
                raise ValueError(f"domain={domain!r} is not valid for an X without column names: "
                                 "give the domain column's position (an int), or pass a DataFrame.")
            array = np.asarray(X)
            if array.ndim != 2 or not -array.shape[1] <= domain < array.shape[1]:
                raise ValueError(f"domain={domain!r} is not a column position of X with shape "
                                 f"{array.shape}.")
            values = array[:, domain]
        missing = pd.isna(values)
        if missing.any():
            raise ValueError(f"the domain column {domain!r} has {int(missing.sum())} missing "
                             "values: every row needs a domain.")
        return values

    def fit(self, X, Y, **fit_params):
        """Fit one clone of ``estimator`` on the rows of each domain.

        ``fit_params`` (``sample_weight``...) reach every clone; one value per row is split by
        domain.
        """
        values = self._domain_values(X)
        n = _num_samples(X)
        self.domains_ = np.array(sorted(pd.unique(values), key=lambda v: (str(type(v)), v)),
                                 dtype=object)
        self.estimators_ = {}
        for value in self.domains_:
            rows = np.flatnonzero(values == value)
            params = {k: _safe_indexing(v, rows) if v is not None and hasattr(v, "__len__")
                      and not isinstance(v, str) and len(v) == n else v
                      for k, v in fit_params.items()}
            model = clone(self.estimator)
            try:
                model.fit(_safe_indexing(X, rows), _safe_indexing(Y, rows), **params)
            except ValueError as error:
                raise ValueError(f"the model of domain {value!r} ({len(rows)} rows) could not be "
                                 f"fitted: {error}") from error
            self.estimators_[value] = model
        owners = {v: task_owner(m) for v, m in self.estimators_.items()}
        first_value, first = next(iter(owners.items()))
        for value, owner in owners.items():
            if list(owner.task_names_) != list(first.task_names_) or \
                    list(owner.tasks_) != list(first.tasks_):
                raise ValueError(
                    f"the model of domain {value!r} has tasks {list(owner.task_names_)} of kinds "
                    f"{list(owner.tasks_)} but that of {first_value!r} has "
                    f"{list(first.task_names_)} of kinds {list(first.tasks_)}: give the "
                    "estimator tasks= so that every domain reads Y the same way.")
        self.tasks_, self.task_names_ = list(first.tasks_), list(first.task_names_)
        self.classes_ = [
            None if first.classes_[t] is None else
            np.unique(np.concatenate([np.asarray(o.classes_[t]) for o in owners.values()]))
            for t in range(len(self.tasks_))]
        counts = [getattr(o, "n_params_", np.nan) for o in owners.values()]
        self.n_params_ = float(np.sum(counts))
        self.n_features_in_ = int(np.shape(X)[1])
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def _routed(self, X):
        """Per domain of ``X``: (positions of its rows, its fitted model)."""
        check_is_fitted(self)
        values = self._domain_values(X)
        unknown = [v for v in pd.unique(values) if v not in self.estimators_]
        if unknown:
            raise ValueError(f"X holds domains {unknown[:10]} that fit never saw (it saw "
                             f"{list(self.domains_)[:20]}): a per-domain model has no model for "
                             "them.")
        return [(np.flatnonzero(values == v), self.estimators_[v]) for v in pd.unique(values)]

    def predict(self, X) -> np.ndarray:
        """Each row predicted by its domain's model: the shape of the clones' ``predict``."""
        parts = [(rows, np.asarray(model.predict(_safe_indexing(X, rows))))
                 for rows, model in self._routed(X)]
        out = np.empty((_num_samples(X), *parts[0][1].shape[1:]),
                       dtype=np.result_type(*[p.dtype for _, p in parts]))
        for rows, part in parts:
            out[rows] = part
        return out

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        """Each row's class probabilities from its domain's model, columns in ``classes_[t]``
        order (0 for a class the domain never saw); None at regression tasks' positions, one
        array after a 1-D ``y`` fit, as the clones give them."""
        n = _num_samples(X)
        out, one_d = [None if c is None else np.zeros((n, len(c))) for c in self.classes_], False
        for rows, model in self._routed(X):
            given = model.predict_proba(_safe_indexing(X, rows))
            one_d = not isinstance(given, list)
            owner = task_owner(model)
            for t, part in enumerate([given] if one_d else given):
                if part is None or self.classes_[t] is None:
                    continue
                columns = np.searchsorted(self.classes_[t], np.asarray(owner.classes_[t]))
                out[t][np.ix_(rows, columns)] = part
        return out[0] if one_d else out

    def score(self, X, y=None, sample_weight=None) -> float:
        """Mean over tasks of ROC AUC (binary), accuracy (multiclass) and R² (regression)."""
        check_is_fitted(self)
        return mean_score(self, X, y, sample_weight=sample_weight)
