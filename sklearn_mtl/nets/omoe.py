"""One-gate Mixture-of-Experts: the ablation of MMoE in Ma et al., KDD 2018 (section 5)."""

from __future__ import annotations

import torch
from torch import nn

from .mmoe import MMoENet


class OMoENet(MMoENet):
    """MMoE with one softmax gate that every task shares.

    Every task's tower reads ``f(x) = sum_i g(x)_i * e_i(x)`` with ``g(x) = softmax(W x)``:
    MMoE with its per-task gates replaced by one, so that comparing the two shows whether the
    per-task gates are what helps. The gate is shared, so its parameters are too.

    Examples
    --------
    >>> import torch
    >>> net = OMoENet(4, [], [], n_outputs=[1, 1], hidden_units=(8,), n_experts=3)
    >>> g = net.gate_weights(torch.zeros(5, 4), torch.zeros(5, 0, dtype=torch.long))
    >>> tuple(g.shape), bool((g[:, 0] == g[:, 1]).all())
    ((5, 2, 3), True)
    """

    @staticmethod
    def _n_gates(n_tasks: int) -> int:
        return 1

    def representation(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """The one gate's mixture of the experts, (n, d): every tower reads it."""
        return self.tower_inputs(x_num, x_cat)[0]

    @property
    def shares_representation(self) -> bool:
        return True

    def shared_parameters(self) -> list[nn.Parameter]:
        return super().shared_parameters() + list(self.gate.parameters())
