"""Parameter checks shared by the estimators: the error names the parameter and the bad value."""

from __future__ import annotations

import numbers

import numpy as np
import torch


def check_units(name: str, value, allow_empty: bool = True) -> tuple[int, ...]:
    """Layer widths as a tuple of ints (an int is one layer); ValueError naming ``name``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        units = tuple(value)
    except TypeError:
        raise ValueError(f"{name}={value!r} is not valid: use a tuple of layer widths.") from None
    if not all(isinstance(u, numbers.Integral) and not isinstance(u, bool) and u >= 1 for u in units):
        raise ValueError(f"{name}={value!r} is not valid: every layer width must be an int >= 1.")
    if not units and not allow_empty:
        raise ValueError(f"{name}={value!r} is not valid: at least one layer is needed.")
    return tuple(int(u) for u in units)


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


def check_seed(random_state) -> None:
    """ValueError naming ``random_state`` when scikit-learn's ``check_random_state`` refuses it."""
    from sklearn.utils import check_random_state

    try:
        check_random_state(random_state)
    except (TypeError, ValueError):
        raise ValueError(
            f"random_state={random_state!r} is not valid: use None, an int in [0, 2**32 - 1] or "
            "a numpy RandomState."
        ) from None
