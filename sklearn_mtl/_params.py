"""MultiTaskRecommender's parameters: a declarative table of constraints, checked once in ``fit``.

In the spirit of scikit-learn's ``_parameter_constraints``, but with this package's messages
(``name=value is not valid: ...``, matched by the tests). Each constraint sees the parameter's
name and value, and all parameters for the few rules that tie two together. Also the fit-time
checks that need the data: ``task_weights`` against the number of tasks, ``sample_weight``
against the rows, and ``batch_size="auto"`` resolved against the training rows.
"""

from __future__ import annotations

import numpy as np
from skorch.callbacks import Callback

from ._validation import check_number, check_seed, check_units
from .gradients import GRADIENT_METHODS
from .losses import ADAPTIVE_WEIGHTS
from .nets import ARCHITECTURES, EXPERT_ARCHITECTURES


def preview(value) -> str:
    """``repr(value)``, cut to 60 characters for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


class Units:
    """Layer widths as a tuple of ints; empty refused for the architectures in ``nonempty_for``."""

    def __init__(self, nonempty_for=()):
        self.nonempty_for = nonempty_for

    def check(self, name, value, params):
        allow_empty = params["architecture"] not in self.nonempty_for
        return check_units(name, value, allow_empty=allow_empty)


class SomeExpert:
    """Each task gate of cgc / ple needs at least one expert, shared or its own."""

    def check(self, name, value, params):
        shared, own = params["n_shared_experts"], params["n_task_experts"]
        if shared + own < 1:
            raise ValueError(
                f"n_shared_experts={shared!r} and n_task_experts={own!r} are not valid together: "
                "each task gate needs at least one expert."
            )
        return value


class Callbacks:
    """None, or a list / tuple of skorch Callbacks or (name, Callback) pairs."""

    def check(self, name, value, params):
        if value is not None and not isinstance(value, (list, tuple)):
            raise ValueError(f"{name}={value!r} is not valid: use a list or None.")
        for i, cb in enumerate(value or []):
            if isinstance(cb, tuple) and len(cb) == 2 and isinstance(cb[0], str):
                cb = cb[1]
            if not (isinstance(cb, Callback) or isinstance(cb, type) and issubclass(cb, Callback)):
                raise ValueError(
                    f"{name}[{i}]={preview(cb)} is not valid: use skorch Callback instances or "
                    "(name, Callback) pairs."
                )
        return value


class Seed:
    """What scikit-learn's ``check_random_state`` accepts."""

    def check(self, name, value, params):
        check_seed(value)
        return value


# Checked in this order; the first failure raises. ``task_weights`` needs the number of tasks
# (check_task_weights), and tasks, cascade, embedding_dim, categorical_features, min_frequency
# and device are checked by the encoders and resolve_device.
PARAMETER_CONSTRAINTS = {
    "architecture": [Options(ARCHITECTURES)],
    "hidden_units": [Units(nonempty_for=EXPERT_ARCHITECTURES)],
    "tower_units": [Units()],
    "n_experts": [Interval(low=1, integer=True)],
    "n_levels": [Interval(low=1, integer=True)],
    "n_shared_experts": [Interval(low=0, integer=True)],
    "n_task_experts": [Interval(low=0, integer=True), SomeExpert()],
    "sharing_strength": [Interval(low=0)],
    "dropout": [Interval(low=0, high=1, high_open=True)],
    "lr": [Interval(low=0, low_open=True)],
    "weight_decay": [Interval(low=0)],
    "batch_size": [Interval(low=1, integer=True, allow=("auto",))],
    "id_dropout": [Interval(low=0, high=1, high_open=True)],
    "max_epochs": [Interval(low=1, integer=True)],
    "patience": [Interval(low=1, integer=True)],
    "verbose": [Interval(low=0, integer=True)],
    "early_stopping": [Boolean()],
    "validation_fraction": [Interval(low=0, high=1, low_open=True, high_open=True,
                                     allow=(None,))],
    "track_gradient_conflict": [Boolean()],
    "track_task_affinity": [Boolean()],
    "gradient_method": [Options(GRADIENT_METHODS, allow_none=True)],
    "gradnorm_alpha": [Interval(low=0)],
    "dwa_temperature": [Interval(low=0, low_open=True)],
    "cagrad_c": [Interval(low=0)],
    "callbacks": [Callbacks()],
    "random_state": [Seed()],
}


def check_params(params: dict) -> dict:
    """Check ``params`` against :data:`PARAMETER_CONSTRAINTS`; return the checked values.

    Layer widths come back as tuples of ints, the other values as given.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRecommender
    >>> check_params(MultiTaskRecommender(hidden_units=8).get_params())["hidden_units"]
    (8,)
    >>> check_params(MultiTaskRecommender(dropout=1.0).get_params())
    Traceback (most recent call last):
    ...
    ValueError: dropout=1.0 is not valid: it must be a number in [0, 1).
    """
    checked = {}
    for name, constraints in PARAMETER_CONSTRAINTS.items():
        value = params[name]
        for constraint in constraints:
            value = constraint.check(name, value, params)
        checked[name] = value
    return checked


def check_task_weights(task_weights, n_tasks: int):
    """None, an adaptive method's name, or an (n_tasks,) array of finite weights >= 0, not all 0."""
    tw = task_weights
    if tw is None or (isinstance(tw, str) and tw in ADAPTIVE_WEIGHTS):
        return tw
    if isinstance(tw, str):
        raise ValueError(
            f"task_weights={tw!r} is not valid: use None, one of {ADAPTIVE_WEIGHTS} "
            "or a list of floats."
        )
    try:
        weights = np.asarray(tw, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"task_weights={tw!r} is not valid: use None, one of {ADAPTIVE_WEIGHTS} "
            "or a list of floats."
        ) from None
    if weights.shape != (n_tasks,):
        raise ValueError(
            f"task_weights={tw!r} has {weights.size} entries but Y has {n_tasks} tasks."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() == 0:
        raise ValueError(
            f"task_weights={tw!r} is not valid: weights must be finite, >= 0 and not all 0."
        )
    return weights


def check_sample_weight(sample_weight, n: int):
    """None, or an (n,) float array of finite weights >= 0, not all 0 (a scalar is broadcast)."""
    if sample_weight is None:
        return None
    try:
        sw = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"sample_weight is not valid: it must hold numbers, got {preview(sample_weight)}."
        ) from None
    if sw.ndim == 0:
        sw = np.full(n, float(sw))
    if sw.shape != (n,):
        raise ValueError(
            f"sample_weight.shape == {sw.shape}, expected ({n},): one weight per row of X."
        )
    if not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError("sample_weight must be finite and >= 0.")
    if sw.sum() == 0:
        raise ValueError("sample_weight is all zero: no row would carry any loss.")
    return sw


def resolve_batch_size(batch_size, n_train: int) -> int:
    """``batch_size="auto"``: the largest power of two <= n_train / 100, within [32, 1024].

    1024 rows a batch gives 8,400 census rows 8 optimizer steps an epoch, too few to learn
    in a few epochs (income AUC 0.43-0.60 after 4); ~100 steps an epoch trains them, and data
    of 102,400 rows or more keeps 1024 (measured in docs/recommender-data.md).

    Examples
    --------
    >>> resolve_batch_size("auto", 8_400), resolve_batch_size("auto", 500_000)
    (64, 1024)
    """
    if not (isinstance(batch_size, str) and batch_size == "auto"):
        return int(batch_size)
    target = max(n_train, 1) / 100
    return int(min(1024, max(32, 2 ** int(np.floor(np.log2(max(target, 1)))))))
