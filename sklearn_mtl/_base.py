"""What every multi-task estimator of the package shares: one contract, written once.

:class:`MultiTaskEstimator` is to ``MultiTaskRecommender`` and ``PerTaskLGBM`` what scikit-learn's
``BaseHistGradientBoosting`` is to its Regressor and Classifier: the shared constraint table
(:data:`BASE_CONSTRAINTS`, extended by each estimator's ``_constraints``), the tags, the checks
on ``X`` (DataFrame columns fixed at fit, arrays read by position), the ``predict_proba``
convention, ``score`` and ``save``. Each estimator overrides two small hooks: how an array is
validated (``_validate_array``) and what a checked DataFrame becomes (``_prepare_frame``), and
gives its per-task probabilities (``_task_probas``). No torch import: ``PerTaskLGBM`` fits
without it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import ClassifierTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._checks import Interval, Seed, check_columns_match, check_feature_dtypes, validate_params
from .metrics import mean_score
from .persistence import save
from .sources import is_source

# The parameters both estimators have, with the same meaning and the same rule.
BASE_CONSTRAINTS = {
    "validation_fraction": [Interval(low=0, high=1, low_open=True, high_open=True,
                                     allow=(None,))],
    "random_state": [Seed()],
}


def _has_classification_task(estimator) -> bool:
    """``available_if`` rule of ``predict_proba``: a fitted model with only regression tasks has none."""
    if hasattr(estimator, "tasks_") and all(kind == "regression" for kind in estimator.tasks_):
        raise AttributeError(
            f"predict_proba is not available: every task of this {type(estimator).__name__} is a "
            "regression task."
        )
    return True


class MultiTaskEstimator(BaseEstimator):
    """Base of the package's estimators: ``fit(X, Y)`` with one column of ``Y`` per task.

    Subclasses set ``_constraints`` (``{**BASE_CONSTRAINTS, ...}``) and, once fitted,
    ``tasks_``, ``task_names_``, ``classes_`` and ``target_encoder_``.
    """

    _constraints: dict = BASE_CONSTRAINTS

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        # Category / string columns of a DataFrame are features of their own.
        tags.input_tags.categorical = True
        tags.target_tags.required = True
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True
        # Classification tasks give probabilities, so scikit-learn's checks may read these.
        tags.classifier_tags = ClassifierTags(multi_class=True)
        return tags

    def _check_params(self) -> dict:
        """Every parameter checked against ``_constraints``; returns the checked values."""
        return validate_params(self._constraints, self.get_params(deep=False))

    # ------------------------------------------------------------------ X
    def _validate_X(self, X, *, reset: bool):
        """Check ``X`` and return what the estimator reads.

        The fit-time input kind decides the path, so that the model always reads at predict
        time the kind (and columns) it was fitted on. A DataFrame must have the fit-time
        columns in the fit-time order; an array given to a model fitted on a DataFrame is read
        by position (scikit-learn has warned about the missing names), as every scikit-learn
        estimator does.
        """
        if is_source(X):
            # The estimators intercept a source where they stream one; anywhere else it would
            # fail as an odd kind of array.
            raise TypeError(
                f"{type(self).__name__} cannot take a {type(X).__name__} here: read its rows "
                "into a DataFrame (pandas.read_parquet), or see the user guide, \"Data larger "
                "than memory\", for what streams one."
            )
        check_feature_dtypes(X)
        if reset:
            self._fit_columns = list(X.columns) if isinstance(X, pd.DataFrame) else None
        if self._fit_columns is None:
            return self._validate_array(X, reset=reset)
        validate_data(self, X, skip_check_array=True, reset=reset)
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(check_array(X, dtype=None, ensure_all_finite=False),
                             columns=self._fit_columns)
        if X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of "
                             "1 is required.")
        if X.shape[1] == 0:
            raise ValueError(f"Found a DataFrame of shape {X.shape}; at least one column is "
                             "required.")
        check_columns_match(self._fit_columns, X)
        return self._prepare_frame(X, reset=reset)

    def _validate_array(self, X, *, reset: bool):  # pragma: no cover - every estimator has one
        raise NotImplementedError

    def _prepare_frame(self, X: pd.DataFrame, *, reset: bool):
        """What a checked DataFrame becomes for the model (itself, by default)."""
        return X

    # ------------------------------------------------------------------ outputs
    def _one_result(self, per_task: list):
        """A per-task list as given, or its one entry for a model fitted on a 1-D ``y``."""
        return per_task[0] if self.target_encoder_.one_d_ else per_task

    def _task_probas(self, X) -> list:  # pragma: no cover - every estimator has one
        """Per task: an (n, n_classes) array, or None for a regression task."""
        raise NotImplementedError

    @available_if(_has_classification_task)
    def predict_proba(self, X):
        """Class probabilities of each classification task.

        Not available (``hasattr`` is False) once fitted when every task is a regression, as
        for a scikit-learn regressor.

        Returns
        -------
        list of ndarray of shape (n_samples, n_classes_t), or one ndarray after a 1-D ``y`` fit
            One array per task, columns in ``classes_[t]`` order (``MultiOutputClassifier``'s
            convention); when regression tasks are mixed in, ``None`` stands at their positions.
        """
        check_is_fitted(self)
        return self._one_result(self._task_probas(X))

    def _stack(self, columns: list) -> np.ndarray:
        """Per-task predictions as an (n, n_tasks) array, 1-D after a 1-D ``y`` fit."""
        return self.target_encoder_.stack_predictions(columns)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Mean over tasks of ROC AUC (binary), accuracy (multiclass) and R² (regression).

        Rows without a label for a task are skipped for that task; see
        :func:`sklearn_mtl.metrics.per_task_scores` for the score of each task.
        ``sample_weight`` (one weight per row) weights each task's metric. ``y`` is required,
        except with a :class:`~sklearn_mtl.sources.ParquetSource` ``X`` for an estimator that
        predicts on one: then ``y`` is None (as in ``fit``), its ``targets`` columns are the
        labels and the rows are read record batch by record batch.
        """
        check_is_fitted(self)
        return mean_score(self, X, y, sample_weight=sample_weight)

    def save(self, path) -> None:
        """Save the model as data, without pickle; read it back with :func:`sklearn_mtl.load`.

        See :func:`sklearn_mtl.persistence.save`.
        """
        save(self, path)
