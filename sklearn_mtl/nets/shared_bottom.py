"""Hard parameter sharing: one bottom MLP for all tasks, a tower and head per task."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .blocks import MLP, FeatureInput, MultiTaskModule, TaskHead


class SharedBottomNet(MultiTaskModule):
    """Shared-bottom network (Caruana, 1997): ``head_k(bottom(input(x)))``.

    Examples
    --------
    >>> import torch
    >>> net = SharedBottomNet(4, [], [], n_outputs=[1, 3], hidden_units=(8,), tower_units=(4,))
    >>> net(torch.zeros(2, 4), torch.zeros(2, 0, dtype=torch.long)).shape
    torch.Size([2, 4])
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
    ):
        super().__init__(n_outputs)
        self.input = FeatureInput(n_numeric, cardinalities, embedding_dims)
        self.bottom = MLP(self.input.out_features, hidden_units, dropout)
        self.heads = nn.ModuleList(
            TaskHead(self.bottom.out_features, tower_units, k, dropout) for k in n_outputs
        )

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        h = self.representation(x_num, x_cat)
        return [head(h) for head in self.heads]

    def representation(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """The shared bottom's output, (n, hidden_units[-1]): every tower reads it."""
        return self.bottom(self.input(x_num, x_cat))

    def tower_inputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        return [self.representation(x_num, x_cat)] * len(self.heads)

    @property
    def shares_representation(self) -> bool:
        return True

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.input.parameters()) + list(self.bottom.parameters())
