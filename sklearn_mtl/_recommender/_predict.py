"""A fitted ``MultiTaskRecommender`` on new rows in memory: encode them, run the module (its
folded copy, see ``_prescaled``) batch by batch, and check what comes out.

A Parquet source is read record batch by record batch by ``_source``, which calls these on
each batch.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._checks import in_range
from ._outputs import forward, run_module, split_tasks
from ._params import PREDICT_BATCH_SIZE
from ._prescaled import folded_module
from ._skorch import MultiTaskDataset


def encoded_rows(est, X, check: bool = True) -> MultiTaskDataset:
    """``X`` checked against the fit and encoded; ``check=False`` skips the pass that looks
    for NaN and infinity (see :meth:`~sklearn_mtl.features.FeatureEncoder.encode`)."""
    check_is_fitted(est)
    X = est._validate_X(X, reset=False)
    x_num, x_cat = est._features.encode(X, check=check)
    return MultiTaskDataset(x_num, x_cat, device=est.device_,
                            offset=est._features.input_offset_,
                            scale=est._features.input_scale_)


def predict_batch_size(est) -> int:
    """``predict_batch_size`` resolved; read at predict time, so a value set after fit
    (``set_params``) is checked here too."""
    value = est.predict_batch_size
    if isinstance(value, str) and value == "auto":
        return max(PREDICT_BATCH_SIZE, est.batch_size_)
    if not in_range(value, integer=True, low=1):
        raise ValueError(f"predict_batch_size={value!r} is not valid: use an int >= 1 or 'auto'.")
    return int(value)


def module_outputs(est, data: MultiTaskDataset) -> np.ndarray:
    """The module's concatenated outputs over ``data``, through its folded copy when the
    standardization can be folded into the first layers (no scaling pass per batch)."""
    module = est.net_.module_.eval()
    run = None
    if data.offset is not None and len(data):
        raw = data.unscaled()
        run = folded_module(module, raw.take(slice(0, 2))[0], raw.x_num.shape[1],
                            est._features.input_offset_, est._features.input_scale_,
                            float32_input=raw.x_num.dtype == torch.float32)
        data = raw if run is not None else data
    return forward(module, data, predict_batch_size(est), run)


def task_outputs(est, X) -> list[np.ndarray]:
    """Per task, the module's raw outputs for the rows of ``X``."""
    # A NaN or infinity in X makes every output of its row non-finite, so the pass over X
    # that looks for them runs only when the outputs say so (most inputs have none).
    out = module_outputs(est, encoded_rows(est, X, check=False))
    if not np.isfinite(out).all():
        out = module_outputs(est, encoded_rows(est, X))  # imputes NaN, raises on infinity
    if not np.isfinite(out).all():
        # Name an input column that overflowed float32 once scaled, if there is one.
        est._features.check_representable(est._validate_X(X, reset=False))
    return split_tasks(out, est.target_encoder_.n_outputs_)


def module_method(est, X, method: str) -> list:
    """``module_.<method>(x_num, x_cat)`` batch by batch in eval mode; one result a batch."""
    data = encoded_rows(est, X)  # checks that the model is fitted, before net_ is read
    return run_module(est.net_.module_, data, predict_batch_size(est), method)
