"""Input checks shared by both estimators: dtypes no encoder represents, category kinds, columns.

``MultiTaskRecommender`` and the LightGBM baselines call these in ``fit`` and ``predict`` so that
both refuse the same inputs with the same messages (see docs/bad-inputs.md).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd


def check_feature_dtypes(X) -> None:
    """Reject feature columns that no encoder of the package represents faithfully.

    Dates and durations would become categories (every new date unknown) or be refused
    by LightGBM; complex numbers would lose their imaginary part. Both estimators call this
    in ``fit`` and ``predict``, so they behave the same.
    """
    if isinstance(X, pd.DataFrame):
        dtypes = list(X.dtypes.items())
    elif hasattr(X, "dtype"):
        dtypes = [("X", X.dtype)]
    else:
        return
    for name, dtype in dtypes:
        where = f"Column {name!r}" if isinstance(X, pd.DataFrame) else "X"
        col = f"X[{name!r}]" if isinstance(X, pd.DataFrame) else "X"
        if pd.api.types.is_datetime64_any_dtype(dtype):
            raise ValueError(
                f"{where} has dtype {dtype}: dates are not read as features. Convert it to "
                f"numbers first, e.g. {col}.astype('datetime64[s]').astype('int64') (seconds "
                "since 1970), or derive columns such as the hour or the day of the week."
            )
        if pd.api.types.is_timedelta64_dtype(dtype):
            raise ValueError(
                f"{where} has dtype {dtype}: durations are not read as features. Convert it to "
                f"numbers first, e.g. {col}.dt.total_seconds()."
            )
        if pd.api.types.is_complex_dtype(dtype):
            raise ValueError(
                f"{where} has dtype {dtype}. Complex data not supported: the imaginary part "
                "would be lost; split it into real and imaginary columns."
            )


def value_kind(values) -> str:
    """``"number"``, ``"text"``, ``"mixed"`` or ``"none"``: what the present values of a column are.

    A category column is judged by its categories. Used to catch a categorical column whose
    values change type between fit and predict (str ids at fit, int ids at predict), which
    would send every value to the unknown bucket.
    """
    dtype = getattr(values, "dtype", None)
    if len(values) == 0:
        return "none"
    if isinstance(dtype, pd.CategoricalDtype):
        return value_kind(dtype.categories)
    if dtype is not None and (pd.api.types.is_numeric_dtype(dtype)
                              or pd.api.types.is_bool_dtype(dtype)):
        # An all-missing float column (NaN for every row) says nothing about the type.
        return "none" if pd.isna(values).all() else "number"
    if dtype is not None and pd.api.types.is_string_dtype(dtype) and not (
        pd.api.types.is_object_dtype(dtype)
    ):
        return "text"
    present = [v for v in pd.unique(np.asarray(values, dtype=object)) if not pd.isna(v)]
    if not present:
        return "none"
    is_number = [isinstance(v, (numbers.Number, np.number)) for v in present]
    is_text = [isinstance(v, (str, bytes)) for v in present]
    if all(is_number):
        return "number"
    if all(is_text):
        return "text"
    return "mixed"


def check_category_kind(column, fit_kind: str, values) -> None:
    """Raise when a categorical column held numbers in fit and text now, or the other way round."""
    if fit_kind not in ("number", "text"):
        return
    kind = value_kind(values)
    if kind in ("number", "text") and kind != fit_kind:
        to = "astype(str)" if fit_kind == "text" else "astype('int64')"
        raise ValueError(
            f"Categorical column {column!r} held {fit_kind} values in fit but holds {kind} values "
            f"now (dtype {getattr(values, 'dtype', None)}): every value would be an unknown "
            f"category. Convert it to the fit-time type, e.g. X[{column!r}].{to}."
        )


def check_columns_match(fit_columns, X) -> None:
    """Raise unless the DataFrame ``X`` has the fit-time columns, in the fit-time order.

    scikit-learn checks this for string column names only; the estimators of the package
    check every DataFrame the same way, so integer-named columns are never read by position
    in one estimator and by label in the other.
    """
    if not isinstance(X, pd.DataFrame) or fit_columns is None:
        return
    columns, fit_columns = list(X.columns), list(fit_columns)
    if columns == fit_columns:
        return
    missing = [c for c in fit_columns if c not in columns]
    unexpected = [c for c in columns if c not in fit_columns]
    if missing or unexpected:
        raise ValueError(
            f"X has columns that differ from those seen in fit: missing {missing[:10]}, "
            f"unexpected {unexpected[:10]}."
        )
    raise ValueError(
        f"X has the columns seen in fit but in a different order {columns[:10]}; fit saw "
        f"{fit_columns[:10]}. Reorder them with X[fit_columns]."
    )


def explain_non_numeric(X, advice: str) -> ValueError | None:
    """A ValueError naming the first array column holding text, or None when all are numbers."""
    try:
        values = np.asarray(X, dtype=object)
    except Exception:  # noqa: BLE001 - only for a better message; the caller re-raises
        return None
    if values.ndim != 2:
        return None
    for j in range(values.shape[1]):
        for v in values[:, j]:
            if v is None or isinstance(v, (numbers.Number, np.number)):
                continue
            try:
                float(v)
            except (TypeError, ValueError):
                return ValueError(
                    f"X column {j} holds text (e.g. {v!r}), which an array cannot mark as "
                    f"categorical: {advice}"
                )
    return None
