"""PerTaskLGBM: one LightGBM model per task behind the package's multi-task contract.

The single-task reference that a multi-task net has to beat: each task gets its own
``LGBMClassifier`` or ``LGBMRegressor`` trained on the rows that carry its label. Like LightGBM's
own ``sklearn.py`` this is a thin scikit-learn face: the boosting is LightGBM's, this module only
validates, encodes and routes.
"""

from __future__ import annotations

import collections
import inspect

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.model_selection import train_test_split
from sklearn.utils import RegressorTags, _safe_indexing, check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .._base import MultiTaskEstimator
from .._checks import explain_non_numeric
from ..features import categorical_columns
from ..sources import is_source
from ..tasks import TargetEncoder, check_task_sample_weight
from ._data import (
    center_target,
    check_category_codes,
    encode_frame,
    learn_categories,
    warn_inexact_integers,
)
from ._params import (
    PARAMETER_CONSTRAINTS,
    check_lgbm_params,
    check_objective,
    default_n_threads,
)

# Parameters of PerTaskLGBM itself; every other one is passed to each task's LightGBM model.
_OWN_PARAMS = ("tasks", "categorical_features", "per_task_params", "validation_fraction",
               "early_stopping_rounds")
# LightGBM 4.7 deprecates fit(eval_set=...) for eval_X / eval_y; older 4.x only has eval_set.
_HAS_EVAL_XY = "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters


class PerTaskLGBM(MultiTaskEstimator):
    """One LightGBM model per task, with the fit / predict contract of ``MultiTaskRecommender``.

    Each task (column of ``Y``) gets its own ``LGBMClassifier`` (binary, multiclass) or
    ``LGBMRegressor`` (regression), trained on the rows where that task's label is present.
    It is the single-task reference for negative-transfer comparisons.

    Parameters
    ----------
    tasks : "auto", str, list or dict, default="auto"
        Task kinds, as in :class:`sklearn_mtl.tasks.TargetEncoder`: inferred per column, one kind
        for all, one per column, or a ``{task name: kind}`` dict.
    n_estimators : int, default=400
        Boosting rounds per task; with ``learning_rate`` it differs from LightGBM's 100 rounds at
        0.1 because this model is the reference a multi-task net must beat, so it should not be
        under-fitted: a smaller step with more rounds is the usual safer setting. On census
        (70/30 split) it reaches ROC AUC 0.9510 (income) and 0.9942 (never married); LightGBM's
        defaults give 0.9502 and 0.9943 there, at half the fit time.
    learning_rate : float, default=0.05
        Shrinkage, half LightGBM's 0.1 to go with the larger ``n_estimators``.
    num_leaves, max_depth, min_child_samples, colsample_bytree, reg_lambda
        LightGBM's parameters, with LightGBM's defaults.
    categorical_features : "auto", None or list, default="auto"
        Columns LightGBM treats as categorical (its own categorical splits), besides the
        category / ``str`` / object columns of a DataFrame, which always are: the same rule as
        ``MultiTaskRecommender``'s, so that the baseline sees ids as ids wherever the nets
        embed them. ``"auto"`` adds the integer columns whose name marks an id (``user_id``,
        ``item-id``, ``movieId``; see :func:`sklearn_mtl.features.is_id_name`); ``None`` adds
        none; a list names the columns (positions for an array, whose values must then be
        whole numbers >= 0). The columns used are in ``categorical_features_``; ids first seen
        at predict time are missing values to LightGBM.
    per_task_params : dict or None, default=None
        ``{task name: {lightgbm parameter: value}}``: overrides for one task's model, for example
        ``{"income": {"n_estimators": 800}}``.
    validation_fraction : float or None, default=None
        Fraction of each task's labelled rows held out (stratified for classification) for early
        stopping. ``None`` trains every round on all rows.
    early_stopping_rounds : int, default=50
        Stop a task's boosting when its validation loss has not improved for this many rounds;
        used only when ``validation_fraction`` is set.
    n_jobs : int or None, default=None
        LightGBM threads per model; tasks are fitted one after the other. ``None`` picks
        :func:`default_n_threads`: half the cores this process may use (at least 1, at most 8),
        or inside a joblib worker half of the threads joblib allows it (``OMP_NUM_THREADS``).
        LightGBM's own default (every core, OpenMP threads that spin while waiting) beside torch
        or inside a joblib worker oversubscribes the machine: 84 s where 1 thread took 5.5 s on
        a busy 2-core machine. The number used is in ``n_jobs_`` after fit.
    random_state : int, RandomState or None, default=None
        Seeds LightGBM and the early-stopping split.
    verbose : int, default=-1
        LightGBM's verbosity; -1 keeps its log quiet.
    **kwargs
        Any other LightGBM parameter (``subsample`` with ``subsample_freq``, ``reg_alpha``,
        ``min_split_gain``, ``importance_type``, ...), passed to every task's model and seen by
        ``get_params``, ``set_params``, ``clone`` and ``GridSearchCV``. ``fit`` refuses a name
        LightGBM does not know (with the closest valid one) and common parameters out of range.

    Attributes
    ----------
    estimators_ : list of LGBMClassifier or LGBMRegressor
        One fitted model per task, in task order.
    n_jobs_ : int
        LightGBM threads each model used (``n_jobs`` resolved).
    tasks_ : list of str
        Kind of each task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
    task_names_ : list
        Task names: the columns of ``Y``, a Series' name, or ``task_0``, ``task_1``, ...
    classes_ : list of ndarray or None
        Class labels of each classification task, ``None`` for regression tasks.
    feature_importances_ : ndarray of shape (n_tasks, n_features_in_)
        Each model's ``feature_importances_`` (LightGBM's ``importance_type``, "split" by default).
    categories_ : dict or None
        ``{column: categories}`` fixed at fit for the categorical columns of a DataFrame
        (``categorical_features_``; values unseen in fit are missing at predict time);
        ``None`` when ``X`` was not a DataFrame.
    categorical_features_ : list
        The columns LightGBM treated as categorical (names for a DataFrame, positions for an
        array).
    target_offsets_ : ndarray of shape (n_tasks,)
        Per task, the constant subtracted from the regression labels before LightGBM and added
        back at predict: the labels' mean when float32 (LightGBM's label type) would round them,
        as for ``1e9 + y``, else 0.
    target_encoder_ : TargetEncoder
        The fitted label encoder shared with the package's other estimators.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of str
        Column names seen in fit, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    A DataFrame with a text column, which LightGBM reads as a categorical feature:

    >>> import pandas as pd
    >>> from sklearn_mtl import PerTaskLGBM
    >>> X = pd.DataFrame({"price": [float(i % 17) for i in range(300)],
    ...                   "device": ["mobile", "desktop", "tablet"] * 100})
    >>> Y = pd.DataFrame({"click": (X["device"] == "mobile").astype(int),
    ...                   "dwell": 2.0 * X["price"]})
    >>> model = PerTaskLGBM(n_estimators=50, random_state=0).fit(X, Y)
    >>> model.tasks_, list(model.categories_)
    (['binary', 'regression'], ['device'])
    >>> model.predict(X[:2]).shape
    (2, 2)
    >>> proba = model.predict_proba(X[:2])
    >>> proba[0].shape, proba[1] is None
    ((2, 2), True)
    """

    def __init__(
        self,
        tasks="auto",
        *,
        n_estimators=400,
        learning_rate=0.05,
        num_leaves=31,
        max_depth=-1,
        min_child_samples=20,
        colsample_bytree=1.0,
        reg_lambda=0.0,
        categorical_features="auto",
        per_task_params=None,
        validation_fraction=None,
        early_stopping_rounds=50,
        n_jobs=None,
        random_state=None,
        verbose=-1,
        **kwargs,
    ):
        self.tasks = tasks
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.categorical_features = categorical_features
        self.per_task_params = per_task_params
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        # LightGBM's pattern: extra parameters become attributes, and their names are remembered
        # so that get_params (hence clone and GridSearchCV) sees them.
        self._other_params: dict = {}
        self.set_params(**kwargs)

    def get_params(self, deep: bool = True) -> dict:
        """Get the parameters of this estimator, the ``**kwargs`` LightGBM parameters included."""
        params = super().get_params(deep=deep)
        # Read the attributes rather than the values remembered at set time, so that direct
        # assignment (model.min_split_gain = 0.1) is not shadowed by a stale copy.
        params.update({key: getattr(self, key) for key in self._other_params})
        return params

    def set_params(self, **params) -> PerTaskLGBM:
        """Set parameters; a name that is not a named parameter is taken as a LightGBM one."""
        named = set(self._get_param_names())
        for key in [k for k in params if k not in named and "__" not in k]:
            self._other_params[key] = params.pop(key)
            setattr(self, key, self._other_params[key])
        return super().set_params(**params) if params else self

    _constraints = PARAMETER_CONSTRAINTS

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The `string` tag stays False: it means numpy arrays of strings, and array input is
        # numeric (as for LightGBM itself). Tasks are classifiers or regressors: both tag sets
        # describe it, though it is neither kind as a whole (so scikit-learn picks KFold, not
        # StratifiedKFold, for cv=int).
        tags.regressor_tags = RegressorTags()
        return tags

    def _check_params(self) -> dict:
        checked = super()._check_params()
        check_lgbm_params(self._lgbm_params())
        for task, params in (self.per_task_params or {}).items():
            check_lgbm_params(params, f" in per_task_params for task {task!r}")
        return checked

    def _lgbm_params(self) -> dict:
        params = self.get_params(deep=False)
        return {key: value for key, value in params.items() if key not in _OWN_PARAMS}

    def _validate_array(self, X, *, reset: bool):
        """A float array or a sparse matrix, as LightGBM reads it."""
        raw = X
        # LightGBM handles NaN and inf itself, so only the shape and dtype are checked.
        try:
            X = validate_data(
                self, X, reset=reset, accept_sparse=["csr", "csc"],
                dtype=[np.float64, np.float32], ensure_all_finite=False,
            )
        except ValueError as exc:
            better = explain_non_numeric(X, "pass a DataFrame, whose text columns become "
                                         "LightGBM categoricals.")
            if better is None:
                raise
            raise better from exc
        if reset:
            self.categorical_features_ = categorical_columns(X, self.categorical_features)
            check_category_codes(X, self.categorical_features_)
            if isinstance(raw, np.ndarray) and raw.ndim == 2:
                warn_inexact_integers(((j, raw[:, j]) for j in range(raw.shape[1])
                                       if j not in self.categorical_features_), in_frame=False)
        if sparse.issparse(X) and not isinstance(X, sparse.spmatrix):
            # LightGBM's predict takes scipy's sparse arrays through a warning and a copy.
            X = sparse.csr_matrix(X) if X.format == "csr" else sparse.csc_matrix(X)
        return X

    def _prepare_frame(self, X, *, reset: bool):
        """The DataFrame LightGBM gets: categorical columns coded against the fit-time categories."""
        if reset:
            self.categorical_features_ = categorical_columns(X, self.categorical_features)
            self.categories_ = learn_categories(X, also=self.categorical_features_)
            warn_inexact_integers(
                (name, X[name].dropna().to_numpy()) for name in X.columns
                if name not in self.categories_ and pd.api.types.is_integer_dtype(X[name].dtype)
            )
        return encode_frame(X, self._fit_columns, self.categories_)

    def fit(self, X, y=None, sample_weight=None, callbacks=None) -> PerTaskLGBM:
        """Fit one LightGBM model per task on the rows that have that task's label.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
            Features. DataFrames may hold numeric, bool, string and category columns.
        y : array-like or DataFrame of shape (n_samples, n_tasks) or (n_samples,)
            Targets, one column per task; NaN (or None / ``pd.NA``) marks a missing label.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, shared by all tasks.
        callbacks : list of callable or None, default=None
            LightGBM callbacks (``LGBMModel.fit(callbacks=...)``) given to every task's fit, one
            task after the other, after the early-stopping callback. They see the validation
            rows only when ``validation_fraction`` is set. For example
            ``sklearn_mtl.tuning.LGBMTaskPruningCallback`` or ``lightgbm.log_evaluation(10)``.

        Returns
        -------
        self : PerTaskLGBM
        """
        if is_source(X):
            raise TypeError(
                f"PerTaskLGBM trains in memory, as LightGBM does: it does not read {X!r} batch "
                "by batch. Read its rows into a DataFrame and pass the features and targets, "
                "e.g. frame = pd.read_parquet(path); PerTaskLGBM().fit(frame.drop(columns="
                "targets), frame[targets]); MultiTaskRecommender is the estimator that streams "
                "a ParquetSource."
            )
        self._check_params()
        if callbacks is not None and (
            not isinstance(callbacks, (list, tuple)) or not all(callable(c) for c in callbacks)
        ):
            raise ValueError(
                f"callbacks={callbacks!r} is not valid: use a list of LightGBM callbacks "
                "(callables taking a lightgbm.callback.CallbackEnv) or None."
            )
        self.categories_ = None
        data = self._validate_X(X, reset=True)
        encoder = TargetEncoder(self.tasks).fit(y)
        # float64: LightGBM keeps float32 labels, and 1e9 + y must be centred before that.
        encoded = encoder.transform(y, standardize=False, dtype=np.float64)
        n_rows = data.shape[0]
        if encoded.shape[0] != n_rows:
            raise ValueError(f"X has {n_rows} rows but y has {encoded.shape[0]}; they must match.")
        if sample_weight is not None:
            try:
                sample_weight = _check_sample_weight(sample_weight, data, ensure_non_negative=True)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"sample_weight is not valid: {exc}") from None
            check_task_sample_weight(encoder.names_, encoded, sample_weight)
        per_task = self.per_task_params or {}
        unknown = [name for name in per_task if name not in encoder.names_]
        if unknown:
            raise ValueError(
                f"per_task_params names tasks {unknown} that are not tasks of y; the tasks are "
                f"{list(encoder.names_)}."
            )
        rng = check_random_state(self.random_state)
        base = self._lgbm_params()
        for name, kind in zip(encoder.names_, encoder.kinds_):
            check_objective(name, kind, {**base, **per_task.get(name, {})})
        if base.get("n_jobs") is None:
            base["n_jobs"] = default_n_threads()
        self.n_jobs_ = base["n_jobs"]
        self.estimators_, offsets = [], []
        for t, (name, kind) in enumerate(zip(encoder.names_, encoder.kinds_)):
            rows = np.flatnonzero(~np.isnan(encoded[:, t]))
            # Regression labels stay float64 until center_target: LightGBM's float32 copy
            # would turn 1e9 + y into a handful of values.
            target = encoded[rows, t]
            target = target if kind == "regression" else target.astype(np.int64)
            weight = None if sample_weight is None else sample_weight[rows]
            offset = 0.0
            if kind == "regression":
                target, offset = center_target(name, target, {**base, **per_task.get(name, {})})
            offsets.append(offset)
            model_class = lgb.LGBMRegressor if kind == "regression" else lgb.LGBMClassifier
            model = model_class(**{**base, **per_task.get(name, {})})
            fit_kwargs = {"callbacks": list(callbacks or [])}
            if self._fit_columns is None and self.categorical_features_:
                # An array's categorical columns by position (a DataFrame's are pandas categoricals).
                fit_kwargs["categorical_feature"] = list(self.categorical_features_)
            if self.validation_fraction is not None:
                rows, val_rows, target, y_val, weight, w_val = self._split(
                    rows, target, weight, kind, rng
                )
                X_val = _safe_indexing(data, val_rows)
                fit_kwargs = {
                    **({"eval_X": X_val, "eval_y": y_val} if _HAS_EVAL_XY
                       else {"eval_set": [(X_val, y_val)]}),
                    "eval_sample_weight": None if w_val is None else [w_val],
                    "callbacks": [lgb.early_stopping(self.early_stopping_rounds, verbose=False),
                                  *fit_kwargs["callbacks"]],
                }
            X_task = data if len(rows) == n_rows else _safe_indexing(data, rows)
            try:
                model.fit(X_task, target, sample_weight=weight, **fit_kwargs)
            except lgb.basic.LightGBMError as exc:
                raise ValueError(f"LightGBM rejected the parameters of task {name!r}: {exc}") from exc
            self.estimators_.append(model)
        self.target_offsets_ = np.asarray(offsets)
        self.target_encoder_ = encoder
        self.tasks_ = list(encoder.kinds_)
        self.task_names_ = list(encoder.names_)
        self.classes_ = list(encoder.classes_)
        self.feature_importances_ = np.vstack([m.feature_importances_ for m in self.estimators_])
        return self

    def _split(self, rows, y, weight, kind, rng):
        parts = (rows, y) if weight is None else (rows, y, weight)
        seed = rng.randint(np.iinfo(np.int32).max)
        try:
            out = train_test_split(*parts, test_size=self.validation_fraction, random_state=seed,
                                   stratify=None if kind == "regression" else y)
        except ValueError:
            # Too few rows of some class to stratify: a plain split still gives early stopping
            # a held-out loss (predict_proba re-aligns classes missing from the training part).
            out = train_test_split(*parts, test_size=self.validation_fraction, random_state=seed)
        if weight is None:
            out += [None, None]
        return out

    def _task_proba(self, t: int, data) -> np.ndarray:
        model = self.estimators_[t]
        proba = model.predict_proba(data)
        n_classes = len(self.classes_[t])
        if proba.shape[1] == n_classes:
            return proba
        full = np.zeros((proba.shape[0], n_classes))
        full[:, model.classes_] = proba
        return full

    def predict(self, X) -> np.ndarray:
        """Predict each task's label (classification) or value (regression).

        Returns
        -------
        ndarray of shape (n_samples, n_tasks), or (n_samples,) after a fit on a 1-D ``y``
            Decoded class labels and regression values; ``object`` dtype when some task's
            labels are not numeric.
        """
        check_is_fitted(self)
        data = self._validate_X(X, reset=False)
        offsets = getattr(self, "target_offsets_", np.zeros(len(self.estimators_)))
        columns = [
            model.predict(data) + offsets[t]
            if kind == "regression"
            else self.classes_[t][self._task_proba(t, data).argmax(axis=1)]
            for t, (model, kind) in enumerate(zip(self.estimators_, self.tasks_))
        ]
        return self._stack(columns)

    def _task_probas(self, X) -> list:
        data = self._validate_X(X, reset=False)
        return [
            None if kind == "regression" else self._task_proba(t, data)
            for t, kind in enumerate(self.tasks_)
        ]

    def _set_state(self, state: dict) -> None:
        """Rebuild a model from its saved attributes (see :func:`sklearn_mtl.load`)."""
        self.__dict__.update(state)
        models = self.__dict__.get("estimators_", [])
        if "estimators_" in state and len(models) != len(self.__dict__.get("tasks_", ())):
            raise ValueError(f"PerTaskLGBM holds {len(models)} LightGBM models for "
                             f"{len(self.__dict__.get('tasks_', ()))} tasks.")
        n_features = self.__dict__.get("n_features_in_")
        for t, model in enumerate(models):
            if getattr(model, "_n_features", None) != n_features:
                raise ValueError(f"estimators_[{t}] reads {getattr(model, '_n_features', None)} "
                                 f"features but PerTaskLGBM was fitted on {n_features}.")
        for model in models:
            # LightGBM keeps its scores in a defaultdict of OrderedDicts; JSON has only dicts.
            model._best_score = collections.defaultdict(
                collections.OrderedDict, getattr(model, "_best_score", {}))
