"""The network of the Entire Space Multi-task Model (Ma et al., SIGIR 2018): towers over shared embeddings."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .blocks import MLP, FeatureInput, MultiTaskModule, TaskHead


class ESMMNet(MultiTaskModule):
    """One embedding layer shared by all tasks, then an MLP tower per task.

    ESMM's sharing is the embedding lookup only: with sparse ids, the embeddings are most of
    the parameters and the conversion task, which sees few positives, borrows them from the
    click task. Each task's tower is ``hidden_units`` then ``tower_units`` and its output
    layer. The entire-space product ``pCTR * pCVR`` is not in this module: it is the
    :class:`~sklearn_mtl.nets.cascade.CascadeNet` wrapped around it, which any architecture can
    get through ``cascade=``.

    Examples
    --------
    >>> import torch
    >>> net = ESMMNet(2, [10], [4], n_outputs=[1, 1], hidden_units=(8,))
    >>> net(torch.zeros(3, 2), torch.zeros(3, 1, dtype=torch.long)).shape
    torch.Size([3, 2])
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
        d_in = self.input.out_features
        self.bottoms = nn.ModuleList(MLP(d_in, hidden_units, dropout) for _ in n_outputs)
        self.heads = nn.ModuleList(
            TaskHead(b.out_features, tower_units, k, dropout)
            for b, k in zip(self.bottoms, n_outputs)
        )

    def tower_inputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        """Per task, its MLP over the shared embeddings (``hidden_units``)."""
        h = self.input(x_num, x_cat)
        return [bottom(h) for bottom in self.bottoms]

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        return [head(h) for head, h in zip(self.heads, self.tower_inputs(x_num, x_cat))]

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.input.parameters())
