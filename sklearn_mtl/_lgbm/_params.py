"""PerTaskLGBM's parameters: its constraint table, the LightGBM names and ranges, the thread count.

The table extends the one both estimators share (:data:`sklearn_mtl._base.BASE_CONSTRAINTS`);
every other parameter goes to LightGBM and is checked by :func:`check_lgbm_params`.

The names come from LightGBM itself (its scikit-learn signature and the alias table of its C++
config), so a new LightGBM parameter is accepted as soon as LightGBM knows it. LightGBM's own
checks fail deep in C++ (``Check failed: (feature_fraction) > (0.0)``) or are skipped (a
misspelled ``subsampel=0.1`` is ignored with a log line); here the error names the parameter
as the user wrote it, the task it was given for, and the closest valid name.
"""

from __future__ import annotations

import difflib
import inspect
import os
import warnings
from functools import lru_cache

import lightgbm as lgb

from .._base import BASE_CONSTRAINTS
from .._checks import Interval, in_range, range_text


class PerTaskParams:
    """None or ``{task name: {LightGBM parameter: value}}``."""

    def check(self, name, value, params):
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())
        ):
            raise ValueError(f"{name} must be None or a dict {{task name: {{parameter: "
                             f"value}}}}, got {value!r}.")
        return value


# Checked in this order by MultiTaskEstimator._check_params; the first failure raises.
PARAMETER_CONSTRAINTS = {
    "n_estimators": [Interval(low=1, integer=True)],
    "num_leaves": [Interval(low=2, integer=True)],
    "early_stopping_rounds": [Interval(low=1, integer=True)],
    "learning_rate": [Interval(low=0, low_open=True)],
    "per_task_params": [PerTaskParams()],
    **BASE_CONSTRAINTS,
}

# Ranges of the common parameters, by LightGBM's canonical name:
# (integer?, low, high, low_open, high_open); None = unbounded.
_RANGES = {
    "feature_fraction": (False, 0, 1, True, False),
    "feature_fraction_bynode": (False, 0, 1, True, False),
    "bagging_fraction": (False, 0, 1, True, False),
    "bagging_freq": (True, 0, None, False, False),
    "min_data_in_leaf": (True, 0, None, False, False),
    "min_sum_hessian_in_leaf": (False, 0, None, False, False),
    "min_gain_to_split": (False, 0, None, False, False),
    "max_depth": (True, None, None, False, False),
    "num_leaves": (True, 2, 131072, False, False),
    "learning_rate": (False, 0, None, True, False),
    "num_iterations": (True, 1, None, False, False),
    "lambda_l1": (False, 0, None, False, False),
    "lambda_l2": (False, 0, None, False, False),
    "max_bin": (True, 2, None, False, False),
    "bin_construct_sample_cnt": (True, 1, None, False, False),
    "num_threads": (True, None, None, False, False),
    "verbosity": (True, None, None, False, False),
}


@lru_cache(maxsize=1)
def _aliases() -> dict:
    """``{name or alias: canonical name}`` from LightGBM; empty if its private table moved."""
    try:
        from lightgbm.basic import _ConfigAliases

        table = _ConfigAliases._get_all_param_aliases()
    except Exception:  # noqa: BLE001 - a LightGBM without the table: range checks by name only
        return {}
    out = {}
    for canonical, names in table.items():
        out[canonical] = canonical
        for name in names:
            out.setdefault(name, canonical)
    return out


@lru_cache(maxsize=1)
def _sklearn_names() -> frozenset:
    return frozenset(inspect.signature(lgb.LGBMModel.__init__).parameters) - {"self", "kwargs"}


def check_lgbm_params(params: dict, where: str = "") -> None:
    """Raise ``ValueError`` for an unknown LightGBM parameter or a value out of its range.

    ``where`` is appended to the message, e.g. ``" for task 'click'"``.

    Examples
    --------
    >>> check_lgbm_params({"subsample": 0.5, "num_leaves": 15})
    >>> check_lgbm_params({"subsampel": 0.5})
    Traceback (most recent call last):
    ...
    ValueError: subsampel=0.5 is not a LightGBM parameter; did you mean 'subsample'?
    """
    aliases = _aliases()
    valid = set(aliases) | _sklearn_names()
    for name, value in params.items():
        if aliases and name not in valid:
            close = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else (
                "see https://lightgbm.readthedocs.io/en/latest/Parameters.html")
            raise ValueError(f"{name}={value!r} is not a LightGBM parameter{where}; {hint}")
        canonical = aliases.get(name, name)
        if value is None or canonical not in _RANGES:
            continue
        integer, low, high, low_open, high_open = _RANGES[canonical]
        bounds = dict(low=low, high=high, low_open=low_open, high_open=high_open)
        if not in_range(value, integer=integer, finite=False, **bounds):
            alias = "" if canonical == name else f" (LightGBM's {canonical})"
            raise ValueError(
                f"{name}={value!r}{alias} is not valid{where}: it must be "
                f"{'an int' if integer else 'a number'} in {range_text(**bounds)}."
            )


# LightGBM's objectives, with their aliases, by the kind of task they model; the canonical names
# first, which the messages list.
_OBJECTIVES = {
    "regression": ("regression", "regression_l1", "huber", "fair", "poisson", "quantile", "mape",
                   "gamma", "tweedie", "regression_l2", "l2", "mean_squared_error", "mse",
                   "l2_root", "root_mean_squared_error", "rmse", "l1", "mean_absolute_error",
                   "mae", "mean_absolute_percentage_error"),
    "binary": ("binary", "cross_entropy", "cross_entropy_lambda", "xentropy", "xentlambda"),
    "multiclass": ("multiclass", "multiclassova", "softmax", "multiclass_ova", "ova", "ovr"),
    "ranking": ("lambdarank", "rank_xendcg", "xendcg", "xe_ndcg", "xe_ndcg_mart", "xendcg_mart"),
}
_CANONICAL = {"regression": 9, "binary": 2, "multiclass": 2}
# Cross-entropy also models a regression target in [0, 1] (a rate): allowed there, with a warning.
_PROBABILITY_OBJECTIVES = frozenset(_OBJECTIVES["binary"][1:])


def check_objective(task, kind: str, params: dict) -> None:
    """Refuse a LightGBM objective that models another kind of task than ``kind``.

    An objective of the wrong kind trains without a word and answers nonsense: a regression
    objective on a binary task gives "probabilities" outside [0, 1], a binary one on a regression
    task squashes every prediction into (0, 1). A custom (callable) objective is the user's own.

    Examples
    --------
    >>> check_objective("click", "binary", {"objective": "binary"})
    >>> check_objective("click", "binary", {"objective": "regression"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: objective='regression' does not fit task 'click', a binary task (it is a ...
    """
    aliases = _aliases()
    for name, value in params.items():
        if aliases.get(name, name) != "objective" or not isinstance(value, str):
            continue
        if value in _OBJECTIVES[kind]:
            continue
        of = next((k for k, names in _OBJECTIVES.items() if value in names), None)
        if of is None:
            continue  # not an objective LightGBM knows: its own error names it
        if kind == "regression" and value in _PROBABILITY_OBJECTIVES:
            warnings.warn(
                f"{name}={value!r} on regression task {task!r} models values in [0, 1] (a rate), "
                "and LightGBM refuses labels outside it; for other targets use a regression "
                "objective.", UserWarning, stacklevel=4,
            )
            continue
        raise ValueError(
            f"{name}={value!r} does not fit task {task!r}, a {kind} task (it is a {of} objective): "
            f"use one of {list(_OBJECTIVES[kind][:_CANONICAL[kind]])}, or leave {name} unset."
        )


def default_n_threads() -> int:
    """LightGBM threads for ``n_jobs=None``: half the usable cores, within [1, 8].

    Usable cores are those of the process's CPU affinity, or, inside a joblib worker (loky
    and multiprocessing backends), the ``OMP_NUM_THREADS`` that joblib gives each worker
    (cores // n_jobs). Half, because the nets, the data encoding and other processes run
    beside the trees, and a spinning OpenMP thread that loses its core stalls every other one.

    Examples
    --------
    >>> 1 <= default_n_threads() <= 8
    True
    """
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:
        cores = int(limit)
    else:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            cores = os.cpu_count() or 1
    return max(1, min(8, cores // 2))
