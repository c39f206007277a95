"""The Adaptive Information Transfer Multi-task network (AITM; Xi et al., "Modeling the
Sequential Dependence among Audience Multi-step Conversions with Multi-task Learning in Targeted
Display Advertising", KDD 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import MLP, AdaptiveInformationTransfer, FeatureInput, MultiTaskModule, TaskHead
from .cascade import product_logit


class AITMNet(MultiTaskModule):
    """Shared embeddings, a tower per task, and an AIT module on each link of a chain of tasks.

    Task t's tower gives ``q_t``; along a link ``t -> parent`` the parent transfers
    ``p = g(z_parent)`` (one linear layer and a ReLU) and ``z_t = AIT(p, q_t)``
    (:class:`~sklearn_mtl.nets.blocks.AdaptiveInformationTransfer`); a task without a parent
    has ``z_t = q_t``. Each task's head reads ``z_t``. Every output is the *entire-space*
    probability of reaching that step (click, then purchase, both over all impressions), and
    the behavioural expectation calibrator, ``calibration_strength * mean_rows sum_links
    max(p_child - p_parent, 0)``, is added to the training loss through
    :meth:`training_penalty`: it discourages, and does not forbid, a child above its parent.

    Parameters
    ----------
    n_numeric, cardinalities, embedding_dims, n_outputs, hidden_units, tower_units, dropout
        As for the other architectures; ``hidden_units`` are the widths of each task's tower
        ``q_t`` (the AIT works at its last width), ``tower_units`` those of each head.
    links : sequence of (child, parent) task indices
        Topological order (a parent before its children); both ends binary.
    calibration_strength : float, default=0.6
        The calibrator's weight (``alpha`` in the paper).

    Examples
    --------
    >>> import torch
    >>> net = AITMNet(2, [10], [4], n_outputs=[1, 1], hidden_units=(8,), links=[(1, 0)])
    >>> x = (torch.zeros(3, 2), torch.zeros(3, 1, dtype=torch.long))
    >>> net(*x).shape
    torch.Size([3, 2])
    >>> p, q = torch.sigmoid(net(*x)).T, torch.sigmoid(net.conditional_outputs(*x)).T
    >>> bool(torch.allclose(q[1], (p[1] / p[0]).clamp(max=1), atol=1e-6))
    True
    """

    def __init__(
        self,
        n_numeric: int,
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
        n_outputs: Sequence[int],
        hidden_units: Sequence[int] = (64, 32),
        tower_units: Sequence[int] = (16,),
        dropout: float = 0.0,
        links: Sequence[tuple[int, int]] = (),
        calibration_strength: float = 0.6,
    ):
        super().__init__(n_outputs)
        self.links = [(int(c), int(p)) for c, p in links]
        for child, parent in self.links:
            if self.n_outputs[child] != 1 or self.n_outputs[parent] != 1:
                raise ValueError("AITM's linked tasks must be binary (one logit each).")
        self.calibration_strength = float(calibration_strength)
        self.input = FeatureInput(n_numeric, cardinalities, embedding_dims)
        d_in = self.input.out_features
        self.towers = nn.ModuleList(MLP(d_in, hidden_units, dropout) for _ in n_outputs)
        d = self.towers[0].out_features
        self.transfers = nn.ModuleList(
            nn.Sequential(nn.Linear(d, d), nn.ReLU()) for _ in self.links
        )
        self.ait = nn.ModuleList(AdaptiveInformationTransfer(d) for _ in self.links)
        self.heads = nn.ModuleList(TaskHead(d, tower_units, k, dropout) for k in n_outputs)
        self._batch = None

    def __getstate__(self):
        # A kept batch holds tensors of an autograd graph, which neither pickle nor deepcopy.
        return {**self.__dict__, "_batch": None}

    def tower_inputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        """Per task, ``z_t``: its tower's output after the AIT from its parent (if any)."""
        h = self.input(x_num, x_cat)
        z = [tower(h) for tower in self.towers]
        for j, (child, parent) in enumerate(self.links):
            z[child] = self.ait[j](self.transfers[j](z[parent]), z[child])
        return z

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        z = self.tower_inputs(x_num, x_cat)
        outputs = [head(z_t) for head, z_t in zip(self.heads, z)]
        if self.training and self.links and self.calibration_strength:
            self._batch = outputs
        return outputs

    def conditional_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """Each linked child's logit of ``min(P(child) / P(parent), 1)``, its conditional
        probability given the parent event; the other outputs as in ``forward``."""
        outputs = self.task_outputs(x_num, x_cat)
        conditional = list(outputs)
        for child, parent in self.links:
            log_ratio = F.logsigmoid(outputs[child]) - F.logsigmoid(outputs[parent])
            conditional[child] = product_logit(log_ratio)  # clipped at 1 there
        return torch.cat(conditional, dim=1)

    def training_penalty(self, y: torch.Tensor, sample_weight: torch.Tensor | None = None):
        """The calibrator on the last training batch: ``calibration_strength`` times the
        (sample-weighted) mean over rows of ``sum_links max(p_child - p_parent, 0)``."""
        outputs, self._batch = self._batch, None
        if outputs is None:
            return None
        excess = sum(F.relu(torch.sigmoid(outputs[c]) - torch.sigmoid(outputs[p]))[:, 0]
                     for c, p in self.links)
        if sample_weight is None:
            return self.calibration_strength * excess.mean()
        return self.calibration_strength * (sample_weight * excess).sum() / sample_weight.sum()

    def shared_parameters(self) -> list[nn.Parameter]:
        # The embeddings, and what a child's loss reaches beyond its own tower and head.
        return [*self.input.parameters(), *self.transfers.parameters(), *self.ait.parameters()]
