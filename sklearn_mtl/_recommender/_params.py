"""MultiTaskRecommender's parameters: its constraint table, checked once in ``fit``.

The table extends the one both estimators share (:data:`sklearn_mtl._base.BASE_CONSTRAINTS`) with
the net's own parameters, using the constraint classes of :mod:`sklearn_mtl._checks` and the
net-only ones below (layer widths, expert counts, skorch callbacks). Also the fit-time checks
that need the data or torch: ``task_weights`` against the number of tasks, ``sample_weight``
against the rows, ``batch_size="auto"`` against the training rows, and ``device``.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from skorch.callbacks import Callback

from .._base import BASE_CONSTRAINTS
from .._checks import Boolean, Interval, Options, in_range, preview, validate_params
from ..gradients import GRADIENT_METHODS
from ..losses import ADAPTIVE_WEIGHTS
from ..nets import ARCHITECTURES, DEBIAS_METHODS, EXPERT_ARCHITECTURES


def check_units(name: str, value, allow_empty: bool = True) -> tuple[int, ...]:
    """Layer widths as a tuple of ints (an int is one layer); ValueError naming ``name``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        units = tuple(value)
    except TypeError:
        raise ValueError(f"{name}={value!r} is not valid: use a tuple of layer widths.") from None
    if not all(in_range(u, integer=True, low=1) for u in units):
        raise ValueError(f"{name}={value!r} is not valid: every layer width must be an int >= 1.")
    if not units and not allow_empty:
        raise ValueError(f"{name}={value!r} is not valid: at least one layer is needed.")
    return tuple(int(u) for u in units)


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
    "predict_batch_size": [Interval(low=1, integer=True, allow=("auto",))],
    "id_dropout": [Interval(low=0, high=1, high_open=True)],
    "max_epochs": [Interval(low=1, integer=True)],
    "patience": [Interval(low=1, integer=True)],
    "verbose": [Interval(low=0, integer=True)],
    "early_stopping": [Boolean()],
    "track_gradient_conflict": [Boolean()],
    "track_task_affinity": [Boolean()],
    "gradient_method": [Options(GRADIENT_METHODS, allow_none=True)],
    "gradnorm_alpha": [Interval(low=0)],
    "dwa_temperature": [Interval(low=0, low_open=True)],
    "cagrad_c": [Interval(low=0)],
    "cascade_debias": [Options(DEBIAS_METHODS, allow_none=True)],
    "min_propensity": [Interval(low=0, high=1, low_open=True)],
    "debias_weight": [Interval(low=0)],
    "calibration_strength": [Interval(low=0)],
    "callbacks": [Callbacks()],
    "devices": [Interval(low=1, integer=True, allow=(None,))],
    **BASE_CONSTRAINTS,
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
    return validate_params(PARAMETER_CONSTRAINTS, params)


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


# predict_batch_size="auto": rows per forward pass at predict time (at least batch_size_).
PREDICT_BATCH_SIZE = 4096


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


def resolve_device(device) -> str:
    """The torch device for ``"auto"``, ``"cpu"`` or ``"cuda[:n]"``; ValueError without CUDA."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device={device!r} is not valid: use 'auto', 'cpu' or 'cuda'.")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use device='auto' or 'cpu'."
            )
        return device
    raise ValueError(f"device={device!r} is not valid: use 'auto', 'cpu' or 'cuda'.")
