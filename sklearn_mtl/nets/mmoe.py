"""Multi-gate Mixture-of-Experts (Ma et al., KDD 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .blocks import ExpertBank, FeatureInput, MultiTaskModule, TaskHead, gate_softmax


class MMoENet(MultiTaskModule):
    """``n_experts`` expert MLPs shared by all tasks and one softmax gate per task.

    Task k sees ``f_k(x) = sum_i g_k(x)_i * e_i(x)`` with ``g_k(x) = softmax(W_k x)`` computed from
    the same input as the experts, then its own tower and head.

    Examples
    --------
    >>> import torch
    >>> net = MMoENet(4, [], [], n_outputs=[1, 1], hidden_units=(8,), n_experts=3)
    >>> g = net.gate_weights(torch.zeros(5, 4), torch.zeros(5, 0, dtype=torch.long))
    >>> tuple(g.shape)
    (5, 2, 3)
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
        d_expert = self.experts.out_features
        # The gates in one Linear producing n_gates * n_experts logits: one matmul for all.
        self.gate = nn.Linear(d_in, n_experts * self._n_gates(len(n_outputs)))
        self.n_experts = n_experts
        self.heads = nn.ModuleList(TaskHead(d_expert, tower_units, k, dropout) for k in n_outputs)

    @staticmethod
    def _n_gates(n_tasks: int) -> int:
        return n_tasks

    def _mix(self, x_num, x_cat):
        h = self.input(x_num, x_cat)
        experts = self.experts(h)  # (n, E, d)
        gates = gate_softmax(self.gate(h).unflatten(1, (-1, self.n_experts)), dim=2)  # (n, G, E)
        return gates, experts

    def gate_weights(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """The (n, n_tasks, n_experts) softmax gate weights; each row sums to 1 per task."""
        gates = self._mix(x_num, x_cat)[0]
        return gates.expand(-1, len(self.heads), -1)

    def tower_inputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        """Per task, its gate-weighted mixture of the experts, ``sum_i g_k(x)_i * e_i(x)``."""
        gates, experts = self._mix(x_num, x_cat)
        mixed = torch.bmm(gates, experts)  # (n, G, d)
        if mixed.shape[1] == 1:  # one gate for every task (OMoE)
            return [mixed[:, 0]] * len(self.heads)
        return [mixed[:, k] for k in range(len(self.heads))]

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        return [head(h) for head, h in zip(self.heads, self.tower_inputs(x_num, x_cat))]

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.input.parameters()) + list(self.experts.parameters())
