"""Checks that both estimators use, on their parameters and on ``X``; no torch import.

Parameters: :func:`check_number` and the constraint classes of the estimators' declarative
``_parameter_constraints`` tables (:func:`validate_params`), each error naming the parameter and
the bad value (``dropout=1.0 is not valid: it must be a number in [0, 1).``). Features: dtypes no
encoder represents, category kinds that change between fit and predict, columns that differ
from those seen in fit (see docs/bad-inputs.md), so that both estimators refuse the same inputs
with the same messages.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state


def preview(value) -> str:
    """``repr(value)``, cut to 60 characters for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def in_range(value, *, integer: bool = False, low=None, high=None, low_open: bool = False,
             high_open: bool = False, finite: bool = True) -> bool:
    """Whether ``value`` is a number (an int with ``integer``; never a bool) in the range.

    NaN is never in range; infinity only with ``finite=False``.
    """
    kind = numbers.Integral if integer else numbers.Real
    if not isinstance(value, kind) or isinstance(value, bool) or value != value:
        return False
    if finite and not np.isfinite(value):
        return False
    if low is not None and not (value > low if low_open else value >= low):
        return False
    return high is None or (value < high if high_open else value <= high)


def range_text(low=None, high=None, low_open: bool = False, high_open: bool = False) -> str:
    """The interval as text: ``[0, 1)``, ``(-inf, 5]``, ``[1, inf)``."""
    lo = "(-inf, " if low is None else ("(" if low_open else "[") + f"{low}, "
    hi = "inf)" if high is None else f"{high}" + (")" if high_open else "]")
    return lo + hi


def check_number(name: str, value, *, low=None, high=None, integer: bool = False,
                 low_open: bool = False, high_open: bool = False):
    """Return ``value`` if it is a finite number (an int with ``integer``) in the given range.

    Otherwise raise ``ValueError("name=value is not valid: it must be ... in [low, high)")``.
    """
    bounds = dict(low=low, high=high, low_open=low_open, high_open=high_open)
    if not in_range(value, integer=integer, **bounds):
        what = "an int" if integer else "a number"
        raise ValueError(f"{name}={value!r} is not valid: it must be {what} in {range_text(**bounds)}.")
    return value


def check_seed(random_state) -> None:
    """ValueError naming ``random_state`` when scikit-learn's ``check_random_state`` refuses it."""
    try:
        check_random_state(random_state)
    except (TypeError, ValueError):
        raise ValueError(
            f"random_state={random_state!r} is not valid: use None, an int in [0, 2**32 - 1] or "
            "a numpy RandomState."
        ) from None


# ---------------------------------------------------------------- constraint tables
# In the spirit of scikit-learn's ``_parameter_constraints``, with this package's messages
# (``name=value is not valid: ...``, matched by the tests). A constraint's ``check(name, value,
# params)`` returns the checked value or raises; ``params`` holds all parameters, for the few
# rules that tie two together.


class Interval:
    """A finite number (an int with ``integer``) in a range; ``allow`` lists accepted specials."""

    def __init__(self, *, low=None, high=None, integer=False, low_open=False, high_open=False,
                 allow=()):
        self.bounds = dict(low=low, high=high, integer=integer, low_open=low_open,
                           high_open=high_open)
        self.allow = allow

    def check(self, name, value, params):
        # ``is`` for None, ``==`` for strings only: ``value in allow`` would compare arrays.
        if any(value is a or isinstance(a, str) and isinstance(value, str) and value == a
               for a in self.allow):
            return value
        return check_number(name, value, **self.bounds)


class Options:
    """One of ``options`` (``None`` too with ``allow_none``)."""

    def __init__(self, options, allow_none=False):
        self.options, self.allow_none = options, allow_none

    def check(self, name, value, params):
        if self.allow_none and value is None:
            return value
        if value not in self.options:
            use = f"None or one of {self.options}" if self.allow_none else f"one of {self.options}"
            raise ValueError(f"{name}={value!r} is not valid: use {use}.")
        return value


class Boolean:
    """``True`` or ``False`` (numpy's bool too)."""

    def check(self, name, value, params):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name}={value!r} is not valid: use True or False.")
        return value


class Seed:
    """What scikit-learn's ``check_random_state`` accepts."""

    def check(self, name, value, params):
        check_seed(value)
        return value


def validate_params(constraints: dict, params: dict) -> dict:
    """Check ``params`` against a ``{name: [constraint, ...]}`` table, in the table's order.

    The first failure raises; returns the checked values (a constraint may normalize one, as
    layer widths become tuples of ints).

    Examples
    --------
    >>> validate_params({"rate": [Interval(low=0, low_open=True)]}, {"rate": 0.1})
    {'rate': 0.1}
    >>> validate_params({"rate": [Interval(low=0, low_open=True)]}, {"rate": 0})
    Traceback (most recent call last):
    ...
    ValueError: rate=0 is not valid: it must be a number in (0, inf).
    """
    checked = {}
    for name, table in constraints.items():
        value = params[name]
        for constraint in table:
            value = constraint.check(name, value, params)
        checked[name] = value
    return checked


# ---------------------------------------------------------------- X

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
