"""Per-task losses with label masks and sample weights, combined by static or adaptive task weights.

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
* ``"gradnorm"`` (Chen et al., "GradNorm: Gradient Normalization for Adaptive Loss Balancing",
  ICML 2018): learned weights ``w_k`` (sum ``T``) that the network loss ``sum_k w_k L_k`` treats
  as constants; they follow their own loss ``sum_k |G_k - mean(G) r_k^alpha|`` where
  ``G_k = ||grad_W w_k L_k||`` on the shared parameters ``W`` and ``r_k`` is task k's loss
  ratio ``L_k(t) / L_k(0)`` relative to the mean ratio. The gradient norms come from the
  training step (:mod:`sklearn_mtl.gradients`), which calls :meth:`MultiTaskLoss.gradnorm_backward`.
* ``"dwa"`` (Dynamic Weight Average, Liu, Johns & Davison, "End-to-End Multi-Task Learning with
  Attention", CVPR 2019): ``w_k(t) = T exp(r_k / tau) / sum_i exp(r_i / tau)`` with
  ``r_k = Lbar_k(t-1) / Lbar_k(t-2)`` the ratio of task k's mean training loss over the two
  previous epochs; the first two epochs use ``w_k = 1``. :class:`TaskWeightHistory` closes each
  epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from skorch.callbacks import Callback
from torch import nn
from torch.nn import functional as F

ADAPTIVE_WEIGHTS = ("uncertainty", "gradnorm", "dwa")


class MultiTaskLoss(nn.Module):
    """Masked, weighted multi-task loss over the side-by-side outputs of a ``MultiTaskModule``.

    Parameters
    ----------
    kinds : list of {"binary", "multiclass", "regression"}
    n_outputs : list of int
        Width of each task's slice of the network output.
    task_weights : None, sequence of float, "uncertainty", "gradnorm" or "dwa"
    gradnorm_alpha : float, default=1.5
        GradNorm's asymmetry: how strongly tasks that train slower get larger gradients.
    dwa_temperature : float, default=2.0
        DWA's temperature: larger values give weights closer to 1.

    Examples
    --------
    >>> import torch
    >>> loss = MultiTaskLoss(["binary", "regression"], [1, 1])
    >>> y = torch.tensor([[1.0, 0.5], [float("nan"), -0.2]])
    >>> float(loss(torch.zeros(2, 2), y)) > 0
    True
    """

    def __init__(self, kinds: Sequence[str], n_outputs: Sequence[int], task_weights=None,
                 gradnorm_alpha: float = 1.5, dwa_temperature: float = 2.0):
        super().__init__()
        self.kinds = list(kinds)
        n_tasks = len(self.kinds)
        bounds = np.cumsum([0, *n_outputs])
        self.slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        # Output column k is task k's logit: the whole loss is one BCE call.
        self.all_binary = all(k == "binary" for k in self.kinds) and bounds[-1] == n_tasks
        self.method = task_weights if isinstance(task_weights, str) else "static"
        self.uncertainty = self.method == "uncertainty"
        # Set by the net for the length of a fit whose data has no missing label and no row
        # weight: each batch's losses are then plain means (no mask to build). Not state:
        # False is always right.
        self.complete_labels = False
        self.gradnorm_alpha = float(gradnorm_alpha)
        self.dwa_temperature = float(dwa_temperature)
        if self.method == "uncertainty":
            self.log_vars = nn.Parameter(torch.zeros(n_tasks))
            factors = [0.5 if k == "regression" else 1.0 for k in self.kinds]
            self.register_buffer("factors", torch.tensor(factors))
        elif self.method == "gradnorm":
            self.gradnorm_weights = nn.Parameter(torch.ones(n_tasks))
            # L_k(0): the loss of the first batch that carried task k's labels.
            self.register_buffer("initial_losses", torch.full((n_tasks,), float("nan")))
        else:
            weights = np.ones(n_tasks) if task_weights is None or self.method == "dwa" else task_weights
            self.register_buffer("weights", torch.as_tensor(np.asarray(weights, dtype=np.float32)))
        if self.method == "dwa":
            self.register_buffer("epoch_sums", torch.zeros(n_tasks, dtype=torch.float64))
            self.register_buffer("epoch_counts", torch.zeros(n_tasks, dtype=torch.float64))
            self.epoch_means: list[np.ndarray] = []

    @property
    def needs_task_gradients(self) -> bool:
        """Whether the training step must compute each task's gradient (GradNorm's norms)."""
        return self.method == "gradnorm"

    def task_losses(
        self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-task mean losses (T,) and whether each task had a weighted label in the batch."""
        # The mask, safe targets, row weights and reductions are computed once for all tasks
        # (a handful of ops per batch instead of ~10 per task); only the per-row loss itself
        # is per kind, and one call covers all tasks when every task is binary.
        if self.complete_labels and sample_weight is None:
            # Every row has every label (known for the whole fit): plain means, no masks.
            if self.all_binary:
                per_row = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
            else:
                per_row = torch.stack([self._per_row(kind, y_pred[:, cols], y_true[:, t])
                                       for t, (kind, cols) in enumerate(zip(self.kinds,
                                                                            self.slices))],
                                      dim=1)
            return per_row.mean(dim=0), torch.ones(len(self.kinds), dtype=torch.bool,
                                                    device=y_pred.device)
        mask = ~torch.isnan(y_true)
        w = mask.to(y_pred.dtype)
        if sample_weight is not None:
            w = w * sample_weight.unsqueeze(1)
        totals = w.sum(dim=0)
        safe = torch.where(mask, y_true, torch.zeros_like(y_true))
        if self.all_binary:
            per_row = F.binary_cross_entropy_with_logits(y_pred, safe, reduction="none")
        else:
            per_row = torch.stack([self._per_row(kind, y_pred[:, cols], safe[:, t])
                                   for t, (kind, cols) in enumerate(zip(self.kinds, self.slices))],
                                  dim=1)
        has = totals > 0
        losses = torch.where(has, (w * per_row).sum(dim=0) / totals.clamp_min(1e-12), 0.0)
        return losses, has

    @staticmethod
    def _per_row(kind: str, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if kind == "binary":
            return F.binary_cross_entropy_with_logits(out[:, 0], target, reduction="none")
        if kind == "multiclass":
            return F.cross_entropy(out, target.long(), reduction="none")
        return (out[:, 0] - target) ** 2

    def task_terms(
        self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each task's term of the total loss (T,), its presence (T,) and its raw loss (T,).

        The total loss is ``terms.sum()``; gradient surgery combines the terms' gradients.
        """
        losses, present = self.task_losses(y_pred, y_true, sample_weight)
        if self.method == "uncertainty":
            terms = self.factors * torch.exp(-self.log_vars) * losses + 0.5 * self.log_vars
            # A task absent from the batch must not pull its log-variance down unopposed.
            terms = torch.where(present, terms, torch.zeros_like(terms))
        elif self.method == "gradnorm":
            terms = self._gradnorm_current().detach() * losses
        else:
            terms = self.weights * losses
        if self.method == "dwa" and self.training:
            with torch.no_grad():
                self.epoch_sums += torch.where(present, losses, 0.0).double()
                self.epoch_counts += present.double()
        return terms, present, losses

    def forward(
        self, y_pred: torch.Tensor, y_true: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if (self.complete_labels and sample_weight is None and self.all_binary
                and self.method == "static"):
            # sum_k w_k mean_rows(BCE_k) is T times the mean of the column-weighted BCE: one
            # call and its backward instead of five small ops per batch.
            return F.binary_cross_entropy_with_logits(y_pred, y_true,
                                                      weight=self.weights) * len(self.kinds)
        return self.task_terms(y_pred, y_true, sample_weight)[0].sum()

    # ------------------------------------------------------------------ GradNorm
    def _gradnorm_current(self) -> torch.Tensor:
        # Chen et al. renormalize after every step so that the weights sum to T; doing it on
        # read keeps the optimizer's step untouched. The floor keeps a weight from going negative.
        w = self.gradnorm_weights.clamp_min(1e-3)
        return w * (len(self.kinds) / w.sum())

    def gradnorm_backward(self, losses: torch.Tensor, present: torch.Tensor,
                          grad_norms: torch.Tensor) -> None:
        """Put the gradient of GradNorm's loss into ``gradnorm_weights.grad``.

        ``grad_norms[k]`` is ``||grad_W L_k||`` on the shared parameters (unweighted); only
        tasks present in the batch take part.
        """
        with torch.no_grad():
            self.gradnorm_weights.copy_(self._gradnorm_current())
            fresh = present & torch.isnan(self.initial_losses)
            self.initial_losses[fresh] = losses.detach()[fresh]
        idx = torch.nonzero(present & (self.initial_losses > 0)).flatten()
        if idx.numel() < 2:
            return
        w = self.gradnorm_weights[idx]
        norms = grad_norms[idx].detach()
        g = w * norms
        with torch.no_grad():
            ratio = losses.detach()[idx] / self.initial_losses[idx]
            relative = ratio / ratio.mean()
            target = g.mean() * relative.pow(self.gradnorm_alpha)
        grad_loss = (g - target).abs().sum()
        (grad_w,) = torch.autograd.grad(grad_loss, self.gradnorm_weights)
        if self.gradnorm_weights.grad is None:
            self.gradnorm_weights.grad = grad_w
        else:
            self.gradnorm_weights.grad += grad_w

    # ------------------------------------------------------------------ DWA
    def end_epoch(self) -> None:
        """Close a training epoch: DWA takes the epoch's mean losses and sets the next weights."""
        if self.method != "dwa":
            return
        counts = self.epoch_counts.cpu().numpy()
        if not counts.any():
            return
        means = self.epoch_sums.cpu().numpy() / np.maximum(counts, 1)
        # A task unseen this epoch keeps its previous mean, so its ratio stays neutral.
        if self.epoch_means:
            means = np.where(counts > 0, means, self.epoch_means[-1])
        self.epoch_means = [*self.epoch_means[-1:], means]
        self.epoch_sums.zero_()
        self.epoch_counts.zero_()
        if len(self.epoch_means) < 2:
            return
        previous, last = self.epoch_means
        ratio = last / np.where(previous > 0, previous, 1.0)
        z = ratio / self.dwa_temperature
        e = np.exp(z - z.max())
        weights = len(self.kinds) * e / e.sum()
        self.weights.copy_(torch.as_tensor(weights, dtype=self.weights.dtype))

    def effective_weights(self) -> np.ndarray:
        """The weight each task's loss gets now: static, ``c_k exp(-s_k)``, GradNorm's or DWA's."""
        with torch.no_grad():
            if self.method == "uncertainty":
                w = self.factors * torch.exp(-self.log_vars)
            elif self.method == "gradnorm":
                w = self._gradnorm_current()
            else:
                w = self.weights
            return w.detach().cpu().numpy().astype(float)


class TaskWeightHistory(Callback):
    """Record the task weights of every epoch as ``task_weight_<task>`` and close DWA's epoch.

    The recorded weights are those the epoch trained with (for GradNorm and uncertainty
    weighting, the weights at the end of the epoch).
    """

    def __init__(self, names):
        self.names = names

    def on_epoch_end(self, net, **kwargs):
        for name, w in zip(self.names, net.criterion_.effective_weights()):
            net.history.record(f"task_weight_{name}", float(w))
        net.criterion_.end_epoch()
