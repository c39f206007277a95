"""Task kinds, target validation and label encoding, shared by every estimator.

A multi-task target ``Y`` is an (n, T) array or DataFrame (a 1-D ``y`` is one task). Each column is
one task of one of three kinds:

``"binary"``
    two classes; encoded 0 / 1 with ``classes_[1]`` the positive class.
``"multiclass"``
    three or more classes; encoded as indices into ``classes_``.
``"regression"``
    real values; standardized with the mean and standard deviation of the labelled rows so that
    one task's scale does not swamp the others in a shared loss.

A missing value (NaN, None, ``pd.NA``) in ``Y`` means "no label for this task on this row".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

TASK_KINDS = ("binary", "multiclass", "regression")
CLASSIFICATION_KINDS = ("binary", "multiclass")

# Integer-valued numeric targets with more distinct values than this are probably quantities
# (counts, seconds); auto-inference still follows scikit-learn's type_of_target but says so.
_MANY_CLASSES = 20


def as_target_frame(Y) -> tuple[pd.DataFrame, bool]:
    """Return ``Y`` as a DataFrame with one column per task, and whether it was 1-D.

    Task names are the DataFrame's columns, a Series' name, or ``task_0``, ``task_1``, ...
    """
    if Y is None:
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None."
        )
    if isinstance(Y, pd.DataFrame):
        frame = Y.copy()
        one_d = False
    elif isinstance(Y, pd.Series):
        name = Y.name if Y.name is not None else "task_0"
        frame = Y.to_frame(name=name)
        one_d = True
    else:
        if isinstance(Y, str) or not hasattr(Y, "__len__") and not hasattr(Y, "__array__"):
            raise ValueError(
                f"Expected array-like (array or non-string sequence) for Y, got {type(Y).__name__}."
            )
        arr = np.asarray(Y)
        if arr.ndim == 1:
            one_d = True
            arr = arr.reshape(-1, 1)
        elif arr.ndim == 2:
            one_d = False
        else:
            raise ValueError(f"Y must be 1-D or 2-D, got an array with shape {arr.shape}.")
        frame = pd.DataFrame(arr, columns=[f"task_{t}" for t in range(arr.shape[1])])
    if frame.shape[1] == 0:
        raise ValueError("Y has no columns: at least one task is needed.")
    if frame.columns.has_duplicates:
        dup = frame.columns[frame.columns.duplicated()].tolist()
        raise ValueError(f"Y has duplicate task names {dup}; task names must be unique.")
    return frame, one_d


def _present(column: pd.Series) -> pd.Series:
    return column[~pd.isna(column)]


def _infer_kind(name, values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values.dtype):
        return "binary"
    if pd.api.types.is_numeric_dtype(values.dtype):
        arr = values.to_numpy(dtype=float)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"Task {name!r} has infinite target values; use NaN for a missing label.")
        target_type = type_of_target(arr)
        if target_type == "continuous":
            return "regression"
        if target_type == "multiclass":
            n_classes = len(np.unique(arr))
            if n_classes > _MANY_CLASSES:
                warnings.warn(
                    f"Task {name!r} was inferred as multiclass with {n_classes} classes because its "
                    "values are integers; pass tasks=[..., 'regression', ...] if it is a quantity.",
                    UserWarning,
                    stacklevel=4,
                )
            return "multiclass"
        return "binary"
    n_classes = len(pd.unique(values))
    return "binary" if n_classes <= 2 else "multiclass"


def _check_kinds(tasks, names: Sequence) -> list:
    n_tasks = len(names)
    if isinstance(tasks, str):
        if tasks == "auto":
            return [None] * n_tasks
        if tasks in TASK_KINDS:
            return [tasks] * n_tasks
        raise ValueError(
            f"tasks={tasks!r} is not valid: use 'auto', one of {TASK_KINDS}, or a list with one "
            "kind per task."
        )
    if isinstance(tasks, dict):
        unknown = [k for k in tasks if k not in list(names)]
        if unknown:
            raise ValueError(
                f"tasks names {unknown} that are not columns of Y; the tasks are {list(names)}."
            )
        kinds = [tasks.get(name, "auto") for name in names]
    else:
        try:
            kinds = list(tasks)
        except TypeError:
            raise ValueError(
                f"tasks={tasks!r} is not valid: use 'auto', a kind, or a list of kinds."
            ) from None
        if len(kinds) != n_tasks:
            raise ValueError(
                f"tasks has {len(kinds)} entries but Y has {n_tasks} task columns {list(names)}."
            )
    out = []
    for name, kind in zip(names, kinds):
        if kind == "auto":
            out.append(None)
        elif kind in TASK_KINDS:
            out.append(kind)
        else:
            raise ValueError(
                f"tasks gives kind {kind!r} for task {name!r}; valid kinds are "
                f"{TASK_KINDS} or 'auto'."
            )
    return out


class TargetEncoder:
    """Learn task kinds, classes and regression scales from ``Y``; encode and decode targets.

    One implementation for every estimator of the package, so that ``MultiTaskRecommender``
    and ``PerTaskLGBM`` agree on ``tasks_``, ``task_names_`` and ``classes_``.

    Parameters
    ----------
    tasks : "auto", str, list or dict
        ``"auto"`` infers each task's kind from its column; a kind name applies to every task;
        a list gives one kind (or ``"auto"``) per column; a dict maps task names to kinds.

    Examples
    --------
    >>> import numpy as np
    >>> enc = TargetEncoder().fit(np.array([[0, 1.5], [1, 2.5], [1, np.nan]]))
    >>> enc.kinds_
    ['binary', 'regression']
    >>> enc.transform(np.array([[1, 2.0]]))
    array([[1., 0.]], dtype=float32)
    """

    def __init__(self, tasks="auto"):
        self.tasks = tasks

    def fit(self, Y, sample_weight=None) -> TargetEncoder:
        frame, self.one_d_ = as_target_frame(Y)
        names = list(frame.columns)
        kinds = _check_kinds(self.tasks, names)
        self.names_, self.kinds_, self.classes_ = names, [], []
        self.mean_ = np.zeros(len(names))
        self.scale_ = np.ones(len(names))
        for t, (name, kind) in enumerate(zip(names, kinds)):
            values = _present(frame[name])
            if len(values) == 0:
                raise ValueError(
                    f"Task {name!r} has no labels: every value of its Y column is missing."
                )
            if kind is None:
                kind = _infer_kind(name, values)
            if kind == "regression":
                if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
                    values.dtype
                ):
                    raise ValueError(
                        f"Task {name!r} is a regression task but its values are not numeric "
                        f"(dtype {values.dtype})."
                    )
                arr = values.to_numpy(dtype=float)
                if not np.all(np.isfinite(arr)):
                    raise ValueError(
                        f"Task {name!r} has infinite target values; use NaN for a missing label."
                    )
                self.mean_[t] = arr.mean()
                std = arr.std()
                self.scale_[t] = std if std > 0 else 1.0
                self.classes_.append(None)
            else:
                classes = np.unique(values.to_numpy())
                if len(classes) < 2:
                    raise ValueError(
                        f"Task {name!r} has only one class ({classes.tolist()[0]!r}) among its "
                        f"{len(values)} labelled rows; a classification task needs at least two."
                    )
                if kind == "binary" and len(classes) > 2:
                    raise ValueError(
                        f"Task {name!r} is declared binary but has {len(classes)} classes "
                        f"{classes.tolist()[:10]}; declare it 'multiclass'."
                    )
                if kind == "multiclass" and len(classes) == 2:
                    kind = "binary"
                self.classes_.append(classes)
            self.kinds_.append(kind)
        return self

    @property
    def n_outputs_(self) -> list[int]:
        """Width of each task's output layer: 1 (binary, regression) or the number of classes."""
        return [len(c) if k == "multiclass" else 1 for k, c in zip(self.kinds_, self.classes_)]

    def transform(self, Y, *, standardize: bool = True) -> np.ndarray:
        """Encode ``Y`` to a float32 (n, T) array; missing labels stay NaN."""
        frame, _ = as_target_frame(Y)
        if list(frame.columns) != list(self.names_) and not (
            frame.shape[1] == len(self.names_) and not isinstance(Y, pd.DataFrame)
        ):
            raise ValueError(
                f"Y has task columns {list(frame.columns)} but the estimator was fitted on "
                f"{list(self.names_)}."
            )
        out = np.full(frame.shape, np.nan, dtype=np.float32)
        for t, (kind, classes) in enumerate(zip(self.kinds_, self.classes_)):
            column = frame.iloc[:, t]
            mask = ~pd.isna(column).to_numpy()
            values = column[mask].to_numpy()
            if kind == "regression":
                values = values.astype(float)
                if standardize:
                    values = (values - self.mean_[t]) / self.scale_[t]
                out[mask, t] = values
            else:
                codes = np.searchsorted(classes, values)
                codes = np.clip(codes, 0, len(classes) - 1)
                unknown = classes[codes] != values
                if np.any(unknown):
                    raise ValueError(
                        f"Task {self.names_[t]!r} has labels {np.unique(values[unknown])[:10].tolist()} "
                        f"that were not seen in fit; its classes are {classes.tolist()[:10]}."
                    )
                out[mask, t] = codes
        return out

    def inverse_regression(self, t: int, values: np.ndarray) -> np.ndarray:
        """Undo the standardization of regression task ``t``."""
        return values * self.scale_[t] + self.mean_[t]

    def stack_predictions(self, columns: list[np.ndarray]) -> np.ndarray:
        """Stack per-task predictions (class labels or values) into an (n, T) array.

        The dtype is numeric when every task's labels are numeric, else ``object``.
        """
        if len(columns) == 1 and self.one_d_:
            return np.asarray(columns[0])
        dtypes = [np.asarray(c).dtype for c in columns]
        if all(np.issubdtype(d, np.number) or np.issubdtype(d, np.bool_) for d in dtypes):
            dtype = np.result_type(*dtypes)
        else:
            dtype = object
        out = np.empty((len(columns[0]), len(columns)), dtype=dtype)
        for t, c in enumerate(columns):
            out[:, t] = c
        return out
