"""Customized Gate Control (CGC) and Progressive Layered Extraction (PLE), Tang et al., RecSys 2020."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .blocks import ExpertBank, FeatureInput, MultiTaskModule, TaskHead, gate_softmax


class _ExtractionLevel(nn.Module):
    """One extraction network: shared and task-specific experts, a gate per task (+ a shared gate).

    Task k's gate sees ``[task k's experts..., shared experts...]`` (in that order) and reads the
    task's own input at this level. The shared gate, present on every level but the last, sees
    every expert of the level, ``[task 0's experts..., task 1's..., ..., shared experts...]``,
    reads the shared input, and feeds the next level's shared experts.
    """

    def __init__(self, d_in: int, n_tasks: int, n_shared: int, n_task: int,
                 hidden_units: Sequence[int], dropout: float, shared_gate: bool):
        super().__init__()
        self.n_tasks, self.n_shared, self.n_task = n_tasks, n_shared, n_task
        self.task_experts = nn.ModuleList(
            ExpertBank(d_in, hidden_units, n_task, dropout) for _ in range(n_tasks)
        )
        self.shared_experts = ExpertBank(d_in, hidden_units, n_shared, dropout)
        self.out_features = self.shared_experts.out_features
        self.task_gates = nn.ModuleList(nn.Linear(d_in, n_task + n_shared) for _ in range(n_tasks))
        # Without shared experts nothing on the next level would read the shared gate's mix.
        self.shared_gate = (
            nn.Linear(d_in, n_tasks * n_task + n_shared) if shared_gate and n_shared else None
        )

    def forward(self, task_inputs: list[torch.Tensor], shared_input: torch.Tensor):
        """Return (task outputs, shared output or None, task gate weights, shared gate weights)."""
        shared = self.shared_experts(shared_input)  # (n, n_shared, d)
        own = [bank(x) for bank, x in zip(self.task_experts, task_inputs)]  # (n, n_task, d) each
        task_out, task_gates = [], []
        for k, x in enumerate(task_inputs):
            experts = torch.cat([own[k], shared], dim=1)  # (n, n_task + n_shared, d)
            g = gate_softmax(self.task_gates[k](x), dim=1)
            task_out.append(torch.bmm(g.unsqueeze(1), experts)[:, 0])
            task_gates.append(g)
        shared_out = shared_gate = None
        if self.shared_gate is not None:
            experts = torch.cat([*own, shared], dim=1)
            shared_gate = gate_softmax(self.shared_gate(shared_input), dim=1)
            shared_out = torch.bmm(shared_gate.unsqueeze(1), experts)[:, 0]
        return task_out, shared_out, torch.stack(task_gates, dim=1), shared_gate


class PLENet(MultiTaskModule):
    """PLE: ``n_levels`` stacked extraction levels; CGC is the one-level case.

    On each level there are ``n_shared_experts`` shared expert MLPs and ``n_task_experts``
    expert MLPs per task. Task k's gate mixes its own experts and the shared ones; at every
    level but the last a shared gate mixes all experts of the level into the input of the next
    level's shared experts, while task k's mix is the input of the next level's task-k experts
    and gate. The towers read the last level's task outputs. The first level reads the
    embedded input everywhere.

    Examples
    --------
    >>> import torch
    >>> net = PLENet(4, [], [], n_outputs=[1, 1], hidden_units=(8,), n_levels=2,
    ...              n_shared_experts=2, n_task_experts=1)
    >>> levels = net.gate_weights(torch.zeros(5, 4), torch.zeros(5, 0, dtype=torch.long))
    >>> tuple(levels[0]["tasks"].shape), tuple(levels[0]["shared"].shape), levels[1]["shared"]
    ((5, 2, 3), (5, 4), None)
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
        n_levels: int = 2,
        n_shared_experts: int = 2,
        n_task_experts: int = 1,
    ):
        super().__init__(n_outputs)
        if n_shared_experts + n_task_experts < 1:
            raise ValueError("A task gate needs at least one expert to mix.")
        self.input = FeatureInput(n_numeric, cardinalities, embedding_dims)
        d = self.input.out_features
        levels = []
        for j in range(n_levels):
            level = _ExtractionLevel(d, len(self.n_outputs), n_shared_experts, n_task_experts,
                                     hidden_units, dropout, shared_gate=j < n_levels - 1)
            levels.append(level)
            d = level.out_features
        self.levels = nn.ModuleList(levels)
        self.heads = nn.ModuleList(TaskHead(d, tower_units, k, dropout) for k in n_outputs)

    def _run(self, x_num, x_cat):
        h = self.input(x_num, x_cat)
        task_inputs, shared_input, gates = [h] * len(self.heads), h, []
        for level in self.levels:
            task_inputs, shared_input, g_tasks, g_shared = level(task_inputs, shared_input)
            gates.append({"tasks": g_tasks, "shared": g_shared})
        return task_inputs, gates

    def gate_weights(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[dict]:
        """Per level, ``{"tasks": (n, n_tasks, n_task + n_shared), "shared": (n, E) or None}``.

        Task k's row orders the experts as its own ``n_task_experts`` then the
        ``n_shared_experts`` shared ones; the shared gate (None on the last level, or without
        shared experts) orders them task 0's, task 1's, ..., then the shared ones.
        """
        return self._run(x_num, x_cat)[1]

    def tower_inputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        """Per task, its gate's mixture on the last level (its own and the shared experts)."""
        return self._run(x_num, x_cat)[0]

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        return [head(h) for head, h in zip(self.heads, self.tower_inputs(x_num, x_cat))]

    def shared_parameters(self) -> list[nn.Parameter]:
        # What every task's loss reaches: the input, the shared experts and the shared gates
        # (through the next level's shared experts).
        params = list(self.input.parameters())
        for level in self.levels:
            params += list(level.shared_experts.parameters())
            if level.shared_gate is not None:
                params += list(level.shared_gate.parameters())
        return params
