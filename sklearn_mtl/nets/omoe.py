"""One-gate Mixture-of-Experts: the ablation of MMoE in Ma et al., KDD 2018 (section 5)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .blocks import ExpertBank, FeatureInput, MultiTaskModule, TaskHead


class OMoENet(MultiTaskModule):
    """``n_experts`` expert MLPs mixed by one softmax gate that every task shares.

    Every task's tower reads ``f(x) = sum_i g(x)_i * e_i(x)`` with ``g(x) = softmax(W x)``:
    MMoE with its per-task gates replaced by one, so that comparing the two shows whether the
    per-task gates are what helps.

    Examples
    --------
    >>> import torch
    >>> net = OMoENet(4, [], [], n_outputs=[1, 1], hidden_units=(8,), n_experts=3)
    >>> g = net.gate_weights(torch.zeros(5, 4), torch.zeros(5, 0, dtype=torch.long))
    >>> tuple(g.shape), bool((g[:, 0] == g[:, 1]).all())
    ((5, 2, 3), True)
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
        n_experts: int = 4,
    ):
        super().__init__(n_outputs)
        self.input = FeatureInput(n_numeric, cardinalities, embedding_dims)
        d_in = self.input.out_features
        self.experts = ExpertBank(d_in, hidden_units, n_experts, dropout)
        self.gate = nn.Linear(d_in, n_experts)
        d_expert = self.experts.out_features
        self.heads = nn.ModuleList(TaskHead(d_expert, tower_units, k, dropout) for k in n_outputs)

    def _mix(self, x_num, x_cat):
        h = self.input(x_num, x_cat)
        experts = self.experts(h)  # (n, E, d)
        gate = torch.softmax(self.gate(h), dim=1)  # (n, E)
        return gate, torch.bmm(gate.unsqueeze(1), experts)[:, 0]

    def gate_weights(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """(n, n_tasks, n_experts), the one gate repeated per task (MMoE's layout)."""
        gate = self._mix(x_num, x_cat)[0]
        return gate.unsqueeze(1).expand(-1, len(self.heads), -1)

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        mixed = self._mix(x_num, x_cat)[1]
        return [head(mixed) for head in self.heads]

    def shared_parameters(self) -> list[nn.Parameter]:
        return (list(self.input.parameters()) + list(self.experts.parameters())
                + list(self.gate.parameters()))
