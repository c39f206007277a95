"""What PerTaskLGBM hands LightGBM: the encoded feature frame and the regression labels.

Text and category columns are coded against the categories learned in ``fit`` (so a code means
the same value at predict), names are made safe for LightGBM, and regression labels that
LightGBM's float32 copy would round are centred first.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from .._checks import check_category_kind, value_kind

# Characters LightGBM refuses in feature names ("special JSON characters"), plus whitespace,
# which it silently rewrites to "_" and could thereby make two names collide.
_BAD_NAME_CHARS = re.compile(r'[\s",:\[\]{}]')


def feature_names(columns) -> list[str]:
    names = [_BAD_NAME_CHARS.sub("_", str(c)) for c in columns]
    if len(set(names)) < len(names):
        names = [f"Column_{i}" for i in range(len(names))]
    return names


def learn_categories(X: pd.DataFrame, also=()) -> dict:
    """``{column: categories}`` of the text and category columns, and of the numeric columns
    named in ``also`` (integer ids), fixed for predict."""
    if X.columns.has_duplicates:
        duplicated = X.columns[X.columns.duplicated()].tolist()
        raise ValueError(f"X has duplicate column names {duplicated}; they must be unique.")
    categories = {}
    for name in X.columns:
        column = X[name]
        if name in also and (pd.api.types.is_numeric_dtype(column.dtype)
                             or pd.api.types.is_bool_dtype(column.dtype)):
            categories[name] = pd.Index(np.sort(pd.unique(column.dropna().to_numpy())))
        elif isinstance(column.dtype, pd.CategoricalDtype):
            categories[name] = column.cat.categories
        elif pd.api.types.is_string_dtype(column.dtype) or pd.api.types.is_object_dtype(column):
            categories[name] = pd.Index(pd.unique(column.dropna()))
            try:
                categories[name] = categories[name].sort_values()
            except TypeError:  # mixed types: first-seen order is as good as any
                pass
        elif not pd.api.types.is_numeric_dtype(column.dtype):
            raise ValueError(
                f"Column {name!r} has dtype {column.dtype}; PerTaskLGBM takes numeric, bool, "
                "string, object and category columns."
            )
    return categories


def encode_frame(X: pd.DataFrame, fit_columns: list, categories: dict) -> pd.DataFrame:
    """The frame LightGBM sees: float columns, and categoricals coded against the fit-time
    categories so that a code means the same value at fit and at predict."""
    columns = {}
    # By position: without string column names scikit-learn cannot check the names at predict.
    for position, (name, lgbm_name) in enumerate(zip(fit_columns, feature_names(fit_columns))):
        column = X.iloc[:, position]
        if name in categories:
            known = categories[name]
            check_category_kind(name, value_kind(known), column)
            if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.equals(known):
                columns[lgbm_name] = column.array  # already coded as at fit: no re-coding
                continue
            # Unseen values get code -1, which LightGBM reads as missing (pandas would instead
            # warn and, in a future version, raise).
            values = (column.to_numpy() if pd.api.types.is_numeric_dtype(column.dtype)
                      else np.asarray(column, dtype=object))
            codes = known.get_indexer(values)
            columns[lgbm_name] = pd.Categorical.from_codes(codes, categories=known)
        else:
            columns[lgbm_name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(columns)


def check_category_codes(X, positions) -> None:
    """Refuse an array column listed as categorical whose values are not codes LightGBM reads.

    LightGBM takes an array's categorical columns as whole numbers in [0, 2**31 - 1) and
    silently reads a negative value as missing and truncates a fraction; NaN stays missing.
    """
    if not len(positions) or not isinstance(X, np.ndarray):
        return
    for j in positions:
        column = X[:, j]
        present = column[~np.isnan(column)]
        bad = present[(present < 0) | (present >= 2**31 - 1) | (present != np.floor(present))]
        if bad.size:
            raise ValueError(
                f"X column {j} is listed in categorical_features but holds {float(bad[0])!r}: an "
                "array's categorical columns must hold whole numbers in [0, 2**31 - 1) (category "
                "codes); pass a DataFrame with the column as a category, or recode it."
            )


def warn_inexact_integers(columns, in_frame: bool = True) -> None:
    """Warn for each integer column whose values float64, the type LightGBM reads, cannot tell apart.

    Integers above 2**53 in magnitude are rounded to the nearest float64: ``user_id`` values just
    below 2**62 fall 512 to a float, so 40 consecutive users become one feature value.
    ``columns`` holds ``(name, values)`` pairs (column positions of an array when not
    ``in_frame``); only integer arrays are looked at.
    """
    for name, values in columns:
        values = np.asarray(values)
        if values.dtype.kind not in "iu" or values.size == 0:
            continue
        if -(2**53) <= int(values.min()) and int(values.max()) <= 2**53:
            continue
        distinct = len(np.unique(values))
        kept = len(np.unique(values.astype(np.float64)))
        if kept < distinct:
            where = f"Integer column {name!r}" if in_frame else f"X column {name}"
            fix = (f"make it categorical (X[{name!r}].astype('category') or .astype(str))"
                   if in_frame else "pass X as a DataFrame with that column as a category")
            warnings.warn(
                f"{where} holds values beyond 2**53, which LightGBM reads as float64: its "
                f"{distinct} distinct values become {kept}. If it is an id, {fix}; if it is a "
                "quantity, subtract an offset or rescale it before fitting.",
                UserWarning,
                stacklevel=5,
            )


# Objectives for which adding a constant to every label adds it to the model's predictions, so
# a large offset can be removed before LightGBM (which stores labels in float32) and restored.
_SHIFT_INVARIANT = {None, "regression", "regression_l2", "l2", "mean_squared_error", "mse",
                    "l2_root", "root_mean_squared_error", "rmse", "regression_l1", "l1",
                    "mean_absolute_error", "mae", "huber", "fair", "quantile"}


def center_target(name, target: np.ndarray, params: dict) -> tuple[np.ndarray, float]:
    """``(labels, offset)``: labels centred when float32 would round them (``1e9 + y``)."""
    target = np.asarray(target, dtype=np.float64)
    std = float(target.std())
    rounding = float(np.max(np.abs(target.astype(np.float32) - target))) if len(target) else 0.0
    if rounding <= 1e-4 * (std if std > 0 else 1.0):
        return target, 0.0
    objective = params.get("objective")
    if objective in _SHIFT_INVARIANT:
        offset = float(target.mean())
        return target - offset, offset
    warnings.warn(
        f"Task {name!r}: LightGBM stores labels in float32, which rounds them by up to "
        f"{rounding:g} (their standard deviation is {std:g}); with objective={objective!r} they "
        "cannot be centred here. Subtract their mean before fitting.",
        UserWarning,
        stacklevel=3,
    )
    return target, 0.0
