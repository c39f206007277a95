"""A fitted ``MultiTaskRecommender`` on new rows: encode them, run the module (its folded copy,
see ``_prescaled``) batch by batch, and check what comes out.

The helpers read what prediction needs of a fitted model as one plain value,
:class:`FittedNet`, and rows the estimator has already checked against its fit
(``_validate_X``); a source's record batches are checked and predicted in turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._checks import in_range
from ..features import FeatureEncoder
from ._outputs import forward, run_module, split_tasks
from ._params import PREDICT_BATCH_SIZE
from ._prescaled import folded_module
from ._skorch import MultiTaskDataset


@dataclass(frozen=True)
class FittedNet:
    """What prediction reads of a fitted model.

    Parameters
    ----------
    module : torch.nn.Module
        The fitted net's module.
    features : FeatureEncoder
        The fitted feature encoder (vocabularies, scaling).
    device : str
        The device the module is on.
    batch_size : int
        Rows per forward pass (``predict_batch_size`` resolved).
    n_outputs : tuple of int
        The module's output columns per task.
    """

    module: torch.nn.Module
    features: FeatureEncoder
    device: str
    batch_size: int
    n_outputs: tuple


def predict_batch_size(value, fit_batch_size: int) -> int:
    """``predict_batch_size`` resolved (``"auto"``: at least the fit's batch size); read at
    predict time, so a value set after fit (``set_params``) is checked here too."""
    if isinstance(value, str) and value == "auto":
        return max(PREDICT_BATCH_SIZE, fit_batch_size)
    if not in_range(value, integer=True, low=1):
        raise ValueError(f"predict_batch_size={value!r} is not valid: use an int >= 1 or 'auto'.")
    return int(value)


def encoded_rows(fitted: FittedNet, X, check: bool = True) -> MultiTaskDataset:
    """Checked rows ``X`` encoded; ``check=False`` skips the pass that looks for NaN and
    infinity (see :meth:`~sklearn_mtl.features.FeatureEncoder.encode`)."""
    features = fitted.features
    x_num, x_cat = features.encode(X, check=check)
    return MultiTaskDataset(x_num, x_cat, device=fitted.device, offset=features.input_offset_,
                            scale=features.input_scale_)


def module_outputs(fitted: FittedNet, data: MultiTaskDataset) -> np.ndarray:
    """The module's concatenated outputs over ``data``, through its folded copy when the
    standardization can be folded into the first layers (no scaling pass per batch)."""
    module = fitted.module.eval()
    run = None
    if data.offset is not None and len(data):
        raw = data.unscaled()
        run = folded_module(module, raw.take(slice(0, 2))[0], raw.x_num.shape[1],
                            fitted.features.input_offset_, fitted.features.input_scale_,
                            float32_input=raw.x_num.dtype == torch.float32)
        data = raw if run is not None else data
    return forward(module, data, fitted.batch_size, run)


def task_outputs(fitted: FittedNet, X) -> list[np.ndarray]:
    """Per task, the module's raw outputs for the checked rows ``X``."""
    # A NaN or infinity in X makes every output of its row non-finite, so the pass over X
    # that looks for them runs only when the outputs say so (most inputs have none).
    out = module_outputs(fitted, encoded_rows(fitted, X, check=False))
    if not np.isfinite(out).all():
        out = module_outputs(fitted, encoded_rows(fitted, X))  # imputes NaN, raises on infinity
    if not np.isfinite(out).all():
        # Name an input column that overflowed float32 once scaled, if there is one.
        fitted.features.check_representable(X)
    return split_tasks(out, fitted.n_outputs)


def module_method(fitted: FittedNet, X, method: str) -> list:
    """``module.<method>(x_num, x_cat)`` over the checked rows ``X``, batch by batch in eval
    mode; one result a batch."""
    return run_module(fitted.module, encoded_rows(fitted, X), fitted.batch_size, method)
