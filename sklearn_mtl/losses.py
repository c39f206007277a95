"""Per-task losses with label masks and sample weights, combined by static or learned task weights.

Each task's loss is the sample-weighted mean over the rows of the batch that carry its label
(NaN in the encoded target marks a missing label): binary cross-entropy with logits, softmax
cross-entropy, or squared error on the standardized target. A task with no label in a batch
contributes nothing to that batch.

Combination:

* static weights ``w_k`` (all 1 by default): ``sum_k w_k L_k``;
* ``"uncertainty"`` (Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
  Losses", CVPR 2018): one learned log-variance ``s_k`` per task and
  ``sum_k c_k exp(-s_k) L_k + s_k / 2``, with ``c_k = 1/2`` for regression (Gaussian likelihood)
  and ``c_k = 1`` for classification (their softmax approximation). The effective weight of task
  k is ``c_k exp(-s_k)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class MultiTaskLoss(nn.Module):
    """Masked, weighted multi-task loss over the side-by-side outputs of a ``MultiTaskModule``.

    Parameters
    ----------
    kinds : list of {"binary", "multiclass", "regression"}
    n_outputs : list of int
        Width of each task's slice of the network output.
    task_weights : None, sequence of float, or "uncertainty"

    Examples
    --------
    >>> import torch
    >>> loss = MultiTaskLoss(["binary", "regression"], [1, 1])
    >>> y = torch.tensor([[1.0, 0.5], [float("nan"), -0.2]])
    >>> float(loss(torch.zeros(2, 2), y)) > 0
    True
    """

    def __init__(self, kinds: Sequence[str], n_outputs: Sequence[int], task_weights=None):
        super().__init__()
        self.kinds = list(kinds)
        bounds = np.cumsum([0, *n_outputs])
        self.slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self.uncertainty = isinstance(task_weights, str) and task_weights == "uncertainty"
        if self.uncertainty:
            self.log_vars = nn.Parameter(torch.zeros(len(self.kinds)))
            factors = [0.5 if k == "regression" else 1.0 for k in self.kinds]
            self.register_buffer("factors", torch.tensor(factors))
        else:
            weights = np.ones(len(self.kinds)) if task_weights is None else task_weights
            self.register_buffer("weights", torch.as_tensor(np.asarray(weights, dtype=np.float32)))

    def task_losses(
        self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-task mean losses (T,) and whether each task had a weighted label in the batch."""
        losses, present = [], []
        for t, (kind, cols) in enumerate(zip(self.kinds, self.slices)):
            target = y_true[:, t]
            mask = ~torch.isnan(target)
            w = mask.to(y_pred.dtype)
            if sample_weight is not None:
                w = w * sample_weight
            total = w.sum()
            out = y_pred[:, cols]
            safe = torch.where(mask, target, torch.zeros_like(target))
            if kind == "binary":
                per_row = F.binary_cross_entropy_with_logits(out[:, 0], safe, reduction="none")
            elif kind == "multiclass":
                per_row = F.cross_entropy(out, safe.long(), reduction="none")
            else:
                per_row = (out[:, 0] - safe) ** 2
            has = total > 0
            losses.append(torch.where(has, (w * per_row).sum() / total.clamp_min(1e-12), 0.0))
            present.append(has)
        return torch.stack(losses), torch.stack(present)

    def forward(
        self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        losses, present = self.task_losses(y_pred, y_true, sample_weight)
        if self.uncertainty:
            terms = self.factors * torch.exp(-self.log_vars) * losses + 0.5 * self.log_vars
            # A task absent from the batch must not pull its log-variance down unopposed.
            return torch.where(present, terms, torch.zeros_like(terms)).sum()
        return (self.weights * losses).sum()

    def effective_weights(self) -> np.ndarray:
        """The weight each task's loss gets: static weights, or ``c_k exp(-s_k)``."""
        with torch.no_grad():
            if self.uncertainty:
                w = self.factors * torch.exp(-self.log_vars)
            else:
                w = self.weights
            return w.detach().cpu().numpy().astype(float)
