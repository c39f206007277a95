"""The torch module's raw outputs at predict time: batched passes, per-task slices, probabilities.

Probabilities stay in the module's precision (float32), as skorch's ``predict_proba``;
regression values are put back in the target's units in float64 (a large offset needs it).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit

from ._skorch import TensorBatchLoader, as_numpy


def forward(module, data, batch_size: int, run=None) -> np.ndarray:
    """The module's concatenated outputs over ``data``, batch by batch in eval mode.

    ``run`` is the module to call instead (its folded copy, see ``_prescaled``). Each batch's
    outputs are written into one (n, n_outputs) buffer.
    """
    module.eval()
    run = module if run is None else run
    # The module is called directly, batch by batch: skorch's forward adds per-batch
    # bookkeeping (and no_grad is slower than inference_mode) for nothing at predict time.
    out, start = None, 0
    with torch.inference_mode():
        for batch, _ in TensorBatchLoader(data, batch_size=batch_size, reuse_buffer=True):
            result = run(**batch)
            if out is None:
                out = torch.empty((len(data), result.shape[1]), dtype=result.dtype,
                                  device=result.device)
            out[start : start + len(result)] = result
            start += len(result)
    return as_numpy(out)


def run_module(module, data, batch_size: int, method: str) -> list:
    """Call ``module.<method>(x_num, x_cat)`` batch by batch in eval mode; one result a batch."""
    module.eval()
    with torch.no_grad():
        return [
            getattr(module, method)(**batch)
            for batch, _ in TensorBatchLoader(data, batch_size=batch_size)
        ]


def split_tasks(out: np.ndarray, n_outputs) -> list[np.ndarray]:
    """Columns of ``out`` per task, task t having ``n_outputs[t]`` of them."""
    bounds = np.cumsum([0, *n_outputs])
    return [out[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def binary_proba(logit: np.ndarray) -> np.ndarray:
    """(n, 2) probabilities ``[1 - p, p]`` from a binary task's logits, in their precision
    (float32 from the module)."""
    out = np.empty((len(logit), 2), dtype=logit.dtype)
    expit(logit, out=out[:, 1])
    np.subtract(1, out[:, 1], out=out[:, 0])
    return out


def proba_or_values(kinds, task_outputs, inverse_regression) -> list[np.ndarray]:
    """Per task: class probabilities (binary, multiclass) or values in the target's units."""
    result = []
    for t, (kind, out) in enumerate(zip(kinds, task_outputs)):
        if kind == "binary":
            result.append(binary_proba(out[:, 0]))
        elif kind == "multiclass":
            z = np.exp(out - out.max(axis=1, keepdims=True))
            result.append(z / z.sum(axis=1, keepdims=True))
        else:
            result.append(inverse_regression(t, out[:, 0].astype(np.float64)))
    return result


def concat_gate_weights(parts: list, architecture: str):
    """Join the per-batch ``gate_weights`` of the module (see MultiTaskRecommender.gate_weights):
    an array per batch (one gate per task), or a list of per-level dicts per batch."""
    if not isinstance(parts[0], list):
        return np.concatenate([as_numpy(p) for p in parts])
    levels = []
    for j in range(len(parts[0])):
        level = {}
        for key in ("tasks", "shared"):
            if parts[0][j][key] is None:
                level[key] = None
            else:
                level[key] = np.concatenate([as_numpy(p[j][key]) for p in parts])
        levels.append(level)
    return levels
