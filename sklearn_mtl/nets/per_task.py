"""One bottom per task: the single-task reference and soft parameter sharing."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .blocks import MLP, FeatureInput, MultiTaskModule, TaskHead


class _TaskColumn(nn.Module):
    def __init__(self, n_numeric, cardinalities, embedding_dims, n_out, hidden, tower, dropout):
        super().__init__()
        self.input = FeatureInput(n_numeric, cardinalities, embedding_dims)
        self.bottom = MLP(self.input.out_features, hidden, dropout)
        self.head = TaskHead(self.bottom.out_features, tower, n_out, dropout)

    def forward(self, x_num, x_cat):
        return self.head(self.bottom(self.input(x_num, x_cat)))

    def tower_input(self, x_num, x_cat):
        return self.bottom(self.input(x_num, x_cat))


class PerTaskNet(MultiTaskModule):
    """An independent input layer, bottom MLP and head per task, trained in one fit.

    With ``soft=False`` nothing is shared: each task gets exactly the capacity it has in the
    hard-sharing net, which makes this the single-task reference for negative transfer. With
    ``soft=True`` the columns are tied by :meth:`sharing_penalty`,
    ``sum_{k<l} ||theta_k - theta_l||^2`` over matching input and bottom parameters (soft
    parameter sharing; Duong et al., 2015), which the training loss scales by
    ``sharing_strength``.

    Examples
    --------
    >>> import torch
    >>> net = PerTaskNet(4, [], [], n_outputs=[1, 1], hidden_units=(8,), soft=True)
    >>> net.sharing_penalty().detach().item() > 0
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
        soft: bool = False,
    ):
        super().__init__(n_outputs)
        self.soft = soft
        self.columns = nn.ModuleList(
            _TaskColumn(n_numeric, cardinalities, embedding_dims, k, hidden_units, tower_units,
                        dropout)
            for k in n_outputs
        )

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        return [column(x_num, x_cat) for column in self.columns]

    def tower_inputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        """Per task, its own bottom's output."""
        return [column.tower_input(x_num, x_cat) for column in self.columns]

    def bottom_parameters(self, k: int) -> list[nn.Parameter]:
        column = self.columns[k]
        return list(column.input.parameters()) + list(column.bottom.parameters())

    def sharing_penalty(self) -> torch.Tensor | None:
        if not self.soft:
            return None
        per_task = [self.bottom_parameters(k) for k in range(len(self.columns))]
        total = per_task[0][0].new_zeros(())
        for k in range(len(per_task)):
            for m in range(k + 1, len(per_task)):
                for a, b in zip(per_task[k], per_task[m]):
                    total = total + (a - b).pow(2).sum()
        return total
