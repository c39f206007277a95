"""Multi-gate Mixture-of-Experts (Ma et al., KDD 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .blocks import ExpertBank, FeatureInput, MultiTaskModule, TaskHead


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
        # All task gates in one Linear producing n_tasks * n_experts logits: one matmul instead
        # of one per task. Built from per-task Linears so that the random initialization (and
        # every seeded fit) is the same as with separate gates.
        per_task = [nn.Linear(d_in, n_experts) for _ in n_outputs]
        self.gate = nn.utils.skip_init(nn.Linear, d_in, n_experts * len(per_task))
        with torch.no_grad():
            self.gate.weight.copy_(torch.cat([g.weight for g in per_task]))
            self.gate.bias.copy_(torch.cat([g.bias for g in per_task]))
        self.n_experts = n_experts
        self.heads = nn.ModuleList(TaskHead(d_expert, tower_units, k, dropout) for k in n_outputs)

    def _mix(self, x_num, x_cat):
        h = self.input(x_num, x_cat)
        experts = self.experts(h)  # (n, E, d)
        gates = torch.softmax(self.gate(h).unflatten(1, (-1, self.n_experts)), dim=2)  # (n, T, E)
        return gates, experts

    def gate_weights(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """The (n, n_tasks, n_experts) softmax gate weights; each row sums to 1 per task."""
        return self._mix(x_num, x_cat)[0]

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        gates, experts = self._mix(x_num, x_cat)
        mixed = torch.bmm(gates, experts)  # (n, T, d)
        return [head(mixed[:, k]) for k, head in enumerate(self.heads)]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Models saved before the gates were fused hold ``gates.<k>.weight`` / ``.bias``.
        old = [f"{prefix}gates.{k}." for k in range(len(self.heads))]
        if f"{old[0]}weight" in state_dict and f"{prefix}gate.weight" not in state_dict:
            for name in ("weight", "bias"):
                state_dict[f"{prefix}gate.{name}"] = torch.cat(
                    [state_dict.pop(f"{o}{name}") for o in old])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.input.parameters()) + list(self.experts.parameters())
