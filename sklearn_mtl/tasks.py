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

import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

TASK_KINDS = ("binary", "multiclass", "regression")
CLASSIFICATION_KINDS = ("binary", "multiclass")

# Integer targets with more distinct values than this are probably quantities (counts, seconds);
# auto-inference still makes them multiclass, as scikit-learn's type_of_target does, but says so.
_MANY_CLASSES = 20
# A text target with more than _MANY_CLASSES classes and fewer labelled rows per class than this
# on average is mostly unique values (ids, free text): no classifier can learn it.
_MIN_ROWS_PER_CLASS = 5


def as_target_frame(Y) -> tuple[pd.DataFrame, bool]:
    """Return ``Y`` as a DataFrame with one column per task, and whether it was 1-D.

    Task names are the DataFrame's columns, a Series' name, or ``task_0``, ``task_1``, ...
    Every column keeps (or gets) its own dtype: a list of rows or an object array that mixes a
    numeric task and a text task is not turned into strings as a whole.
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
        if isinstance(Y, np.ndarray) or hasattr(Y, "__array__"):
            arr = np.asarray(Y)
        else:
            # np.asarray on a list of rows like [[1.5, "a"], ...] would make every value a
            # string; an object array keeps each value's type, columns are typed below.
            arr = np.empty(len(Y), dtype=object)
            arr[:] = list(Y)
            if len(Y) and all(_is_row(row) for row in Y):
                widths = {len(row) for row in Y}
                if len(widths) > 1:
                    raise ValueError(
                        f"Y is a list of rows of different lengths {sorted(widths)[:5]}; every row "
                        "needs one value per task."
                    )
                arr = np.empty((len(Y), widths.pop()), dtype=object)
                arr[:] = [list(row) for row in Y]
        if arr.ndim == 1:
            one_d = True
            arr = arr.reshape(-1, 1)
        elif arr.ndim == 2:
            one_d = False
        else:
            raise ValueError(f"Y must be 1-D or 2-D, got an array with shape {arr.shape}.")
        frame = pd.DataFrame(arr, columns=[f"task_{t}" for t in range(arr.shape[1])])
        if arr.dtype == object:
            frame = frame.infer_objects()
    if frame.shape[1] == 0:
        raise ValueError("Y has no columns: at least one task is needed.")
    if frame.columns.has_duplicates:
        dup = frame.columns[frame.columns.duplicated()].tolist()
        raise ValueError(f"Y has duplicate task names {dup}; task names must be unique.")
    return frame, one_d


def _is_row(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray)) and not isinstance(value, str)


def present(column: pd.Series) -> pd.Series:
    return column[~pd.isna(column)]


def _is_number(value) -> bool:
    return isinstance(value, (numbers.Number, np.number)) and not isinstance(value, (bool, np.bool_))


def clean_labels(name, values: pd.Series) -> pd.Series:
    """The labelled values of one task, numeric when they all are; clear errors for inf and for
    a mix of numbers and text (which neither sorts nor compares)."""
    if pd.api.types.is_object_dtype(values.dtype) and len(values):
        is_num = np.array([_is_number(v) for v in values])
        if is_num.all():
            values = pd.to_numeric(values)
        elif is_num.any():
            number = values[is_num].iloc[0]
            text = values[~is_num].iloc[0]
            raise ValueError(
                f"Task {name!r} mixes numeric and non-numeric labels (e.g. {number!r} and "
                f"{text!r}); convert its column to one type, e.g. Y[{name!r}].astype(str)."
            )
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        if not np.all(np.isfinite(values.to_numpy(dtype=float))):
            raise ValueError(
                f"Task {name!r} has infinite target values; use NaN for a missing label."
            )
    return values


def infer_kind(name, values: pd.Series, had_missing: bool = False,
                from_array: bool = False) -> str:
    """Kind of a task under ``tasks="auto"``, from the dtype and the values of its labels.

    bool -> binary; float -> binary when its values are two whole numbers (0.0 / 1.0, an int
    column with NaN for missing labels), else regression (a 1.0-5.0 rating is a quantity, not
    five classes); integer -> scikit-learn's
    ``type_of_target`` (binary or multiclass); text and category -> binary or multiclass, but
    a text target whose classes are mostly unique is an error, not a many-class task.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        return "binary"
    if pd.api.types.is_numeric_dtype(values.dtype):
        arr = values.to_numpy(dtype=float)
        n_distinct = len(np.unique(arr))
        if pd.api.types.is_float_dtype(values.dtype):
            integral = np.array_equal(arr, np.round(arr))
            if integral and n_distinct <= 2:
                return "binary"
            if integral and had_missing and n_distinct <= _MANY_CLASSES:
                # pandas turns an int column with a missing label into float64: say which way
                # the doubt was settled.
                warnings.warn(
                    f"Task {name!r} holds {n_distinct} whole numbers and missing labels in a float "
                    f"column: inferred as regression. If they are classes, pass tasks={{{name!r}: "
                    "'multiclass'} or give the column pandas' 'Int64' dtype.",
                    UserWarning,
                    stacklevel=4,
                )
            elif integral and from_array and n_distinct <= _MANY_CLASSES:
                # A numpy Y is float as a whole as soon as one task is, so its class labels
                # 0, 1, 2 arrive as floats, where a DataFrame would have kept an int column.
                shown = ", ".join(f"{v:g}" for v in np.unique(arr)[:5])
                warnings.warn(
                    f"Task {name!r} holds {n_distinct} whole numbers ({shown}"
                    f"{', ...' if n_distinct > 5 else ''}) in a float array: inferred as "
                    f"regression. If they are classes, pass tasks={{{name!r}: 'multiclass'}} (or "
                    "a list of kinds, one per column), or Y as a DataFrame with an integer "
                    "column.",
                    UserWarning,
                    stacklevel=4,
                )
            return "regression"
        if n_distinct <= 2:
            return "binary"
        if n_distinct > _MANY_CLASSES:
            warnings.warn(
                f"Task {name!r} was inferred as multiclass with {n_distinct} classes because its "
                f"values are integers; pass tasks={{{name!r}: 'regression'}} if it is a quantity.",
                UserWarning,
                stacklevel=4,
            )
        return "multiclass"
    n_classes = len(pd.unique(values))
    if n_classes > _MANY_CLASSES and n_classes * _MIN_ROWS_PER_CLASS > len(values):
        raise ValueError(
            f"Task {name!r} looks like free text, not classes: {n_classes} distinct values in "
            f"{len(values)} labelled rows (fewer than {_MIN_ROWS_PER_CLASS} rows per class on "
            f"average). Drop it from Y, or declare it with tasks={{{name!r}: 'multiclass'}} if "
            "these are classes."
        )
    return "binary" if n_classes <= 2 else "multiclass"


def check_classes(classes, names: Sequence) -> list:
    """``classes`` of :meth:`TargetEncoder.fit` as one sorted array or None per task."""
    n_tasks = len(names)
    if classes is None:
        return [None] * n_tasks
    if isinstance(classes, dict):
        unknown = [k for k in classes if k not in list(names)]
        if unknown:
            raise ValueError(
                f"classes names {unknown} that are not columns of Y; the tasks are {list(names)}."
            )
        per_task = [classes.get(name) for name in names]
    else:
        if isinstance(classes, str) or not hasattr(classes, "__len__"):
            raise ValueError(
                f"classes={classes!r} is not valid: use an array of class labels (one task), a "
                "list with one array or None per task, or a dict {task: classes}."
            )
        entries = list(classes)
        if entries and all(not _is_row(c) and c is not None for c in entries):
            if n_tasks != 1:
                raise ValueError(
                    f"classes={list(classes)[:10]!r} is one array of labels but Y has {n_tasks} "
                    f"tasks {list(names)}: give a list with one array (or None) per task."
                )
            per_task = [entries]
        elif len(entries) != n_tasks:
            raise ValueError(
                f"classes has {len(entries)} entries but Y has {n_tasks} task columns "
                f"{list(names)}: give one array of classes (or None) per task."
            )
        else:
            per_task = entries
    out = []
    for name, c in zip(names, per_task):
        if c is None:
            out.append(None)
            continue
        arr = np.unique(np.asarray(c))
        if len(arr) < 2:
            raise ValueError(
                f"classes for task {name!r} is {np.asarray(c).tolist()!r}: a classification task "
                "needs at least two classes."
            )
        out.append(arr)
    return out


def _given_classes_kind(name, kind, classes: np.ndarray, values: pd.Series) -> str:
    """The kind of a task given its ``classes``; its labels must be among them."""
    if kind == "regression":
        raise ValueError(
            f"classes gives classes for task {name!r}, which tasks declares a regression task."
        )
    if kind == "binary" and len(classes) > 2:
        raise ValueError(
            f"Task {name!r} is declared binary but classes gives {len(classes)} classes "
            f"{classes.tolist()[:10]}; declare it 'multiclass'."
        )
    labels = np.unique(values.to_numpy())
    unknown = labels[~np.isin(labels, classes)]
    if len(unknown):
        raise ValueError(
            f"Task {name!r} has labels {unknown[:10].tolist()} that are not in classes "
            f"{classes.tolist()[:10]}."
        )
    return "binary" if len(classes) == 2 else "multiclass"


def check_kinds(tasks, names: Sequence) -> list:
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

    def fit(self, Y, sample_weight=None, classes=None) -> TargetEncoder:
        """Learn each task's kind, classes and scaling from ``Y``.

        ``classes`` (scikit-learn's ``partial_fit`` argument) gives the classes of tasks whose
        labels in ``Y`` may miss some, e.g. the first chunk of a stream: None, one array for a
        1-D ``y``, a list with one array or None per task, or a dict from task names to arrays.
        A task given classes is a classification task (binary with two classes).
        """
        frame, self.one_d_ = as_target_frame(Y)
        names = list(frame.columns)
        kinds = check_kinds(self.tasks, names)
        given = check_classes(classes, names)
        self.names_, self.kinds_, self.classes_ = names, [], []
        self.mean_ = np.zeros(len(names))
        self.scale_ = np.ones(len(names))
        for t, (name, kind) in enumerate(zip(names, kinds)):
            values = present(frame[name])
            had_missing = len(values) < len(frame)
            if len(values) == 0 and given[t] is None:
                raise ValueError(
                    f"Task {name!r} has no labels: every value of its Y column is missing."
                )
            values = clean_labels(name, values)
            if given[t] is not None:
                kind = _given_classes_kind(name, kind, given[t], values)
                self.classes_.append(given[t])
                self.kinds_.append(kind)
                continue
            if kind is None:
                kind = infer_kind(name, values, had_missing,
                                   from_array=not isinstance(Y, (pd.DataFrame, pd.Series)))
            if kind == "regression":
                if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
                    values.dtype
                ):
                    raise ValueError(
                        f"Task {name!r} is a regression task but its values are not numeric "
                        f"(dtype {values.dtype})."
                    )
                arr = values.to_numpy(dtype=float)
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

    def transform(self, Y, *, standardize: bool = True, dtype=np.float32) -> np.ndarray:
        """Encode ``Y`` to a float32 (n, T) array; missing labels stay NaN.

        ``dtype=np.float64`` keeps regression labels exact (``1e9 + y`` would round in float32).
        """
        frame, _ = as_target_frame(Y)
        if list(frame.columns) != list(self.names_) and not (
            frame.shape[1] == len(self.names_) and not isinstance(Y, pd.DataFrame)
        ):
            raise ValueError(
                f"Y has task columns {list(frame.columns)} but the estimator was fitted on "
                f"{list(self.names_)}."
            )
        out = np.full(frame.shape, np.nan, dtype=dtype)
        for t, (kind, classes) in enumerate(zip(self.kinds_, self.classes_)):
            column = frame.iloc[:, t]
            mask = ~pd.isna(column).to_numpy()
            values = clean_labels(self.names_[t], column[mask]).to_numpy()
            if kind == "regression":
                values = values.astype(float)
                if standardize:
                    values = (values - self.mean_[t]) / self.scale_[t]
                out[mask, t] = values
            else:
                numeric = [a.dtype.kind in "biuf" for a in (classes, values)]
                try:
                    if numeric[0] != numeric[1]:
                        raise TypeError
                    codes = np.searchsorted(classes, values)
                    codes = np.clip(codes, 0, len(classes) - 1)
                    unknown = classes[codes] != values
                except TypeError:  # text labels against numeric classes, or the reverse
                    label = values[0].item() if isinstance(values[0], np.generic) else values[0]
                    raise ValueError(
                        f"Task {self.names_[t]!r} has labels such as {label!r} "
                        f"({type(values[0]).__name__}) but its classes, fixed by fit or the first "
                        f"partial_fit, are {classes.tolist()[:10]} "
                        f"({type(classes[0]).__name__}); give the labels in the classes' type, "
                        "e.g. map 'yes'/'no' to 1/0."
                    ) from None
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


def check_task_sample_weight(names, encoded: np.ndarray, sample_weight) -> None:
    """Raise when every labelled row of some task has zero weight: that task would never train.

    ``encoded`` is the (n, T) target array with NaN for a missing label. Shared by every
    estimator so that they all refuse the same input with the same message.
    """
    if sample_weight is None:
        return
    sample_weight = np.asarray(sample_weight, dtype=float)
    for t, name in enumerate(names):
        labelled = ~np.isnan(encoded[:, t])
        if not np.any(sample_weight[labelled] > 0):
            raise ValueError(
                f"Task {name!r}: the sample weights of its labelled rows are zero "
                f"({int(labelled.sum())} rows), so it would never be trained; give some of "
                "them a positive sample_weight or drop the task from Y."
            )
