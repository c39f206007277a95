"""Building blocks shared by every architecture: the MLP, the input layer and the task heads."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

EMBEDDING_INIT_STD = 0.05

# torch's CPU softmax walks a short softmax dimension row by row: over the 2-16 experts of a
# gate it takes 2-6x the time of four vectorized ops (1024 x 2 x 8 logits, 2 threads: 138 us
# against 57 us), about 4 % of an MMoE training step on census. Past ~32 entries, and on
# other devices, torch's own kernel is as fast or faster.
_SHORT_SOFTMAX = 32


def gate_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``torch.softmax(logits, dim)``; on the CPU over a short ``dim`` as ``exp(z - max) / sum``.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[1.0, 2.0, 3.0]])
    >>> bool(torch.allclose(gate_softmax(z), torch.softmax(z, dim=-1)))
    True
    """
    if (logits.device.type != "cpu" or logits.shape[dim] > _SHORT_SOFTMAX
            or torch.onnx.is_in_onnx_export()):  # an exported graph keeps its Softmax node
        return torch.softmax(logits, dim=dim)
    # The shift only keeps exp finite: softmax does not depend on it, so it takes no gradient.
    e = (logits - logits.detach().amax(dim=dim, keepdim=True)).exp_()
    return e / e.sum(dim=dim, keepdim=True)


class MLP(nn.Sequential):
    """Linear -> ReLU -> Dropout for each width in ``units``; the identity when ``units`` is empty."""

    def __init__(self, in_features: int, units: Sequence[int], dropout: float = 0.0):
        layers: list[nn.Module] = []
        for width in units:
            layers += [nn.Linear(in_features, width), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            in_features = width
        super().__init__(*layers)
        self.out_features = in_features


class ExpertBank(nn.Module):
    """``n_experts`` MLPs of one shape over one input, computed together: (n, d) -> (n, E, d_out).

    Expert i is ``MLP(in_features, units, dropout)`` with its own weights; layer l of every
    expert is one parameter ``weights[l]`` of shape (E, out, in) (``biases[l]``: (E, out)), so the
    first layer of all experts is one matrix product and the deeper ones one batched product,
    instead of one small product per expert (a training step of 8 experts of 16 units on census
    one-hot takes 0.55x the time). The weights are drawn by per-expert ``nn.Linear`` layers in the order of a
    ``ModuleList`` of MLPs, so a seeded net starts from the same weights as one.

    Examples
    --------
    >>> import torch
    >>> bank = ExpertBank(4, units=(8, 3), n_experts=5)
    >>> tuple(bank(torch.zeros(2, 4)).shape), bank.out_features
    ((2, 5, 3), 3)
    """

    def __init__(self, in_features: int, units: Sequence[int], n_experts: int,
                 dropout: float = 0.0):
        super().__init__()
        self.n_experts = n_experts
        self.in_features = in_features
        self.out_features = units[-1] if len(units) else in_features
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        per_expert = [MLP(in_features, units) for _ in range(n_experts)]
        layers = [[m for m in mlp if isinstance(m, nn.Linear)] for mlp in per_expert]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        d = in_features
        for layer, width in enumerate(units):
            with torch.no_grad():
                self.weights.append(torch.stack([e[layer].weight for e in layers])
                                    if layers else torch.empty(0, width, d))
                self.biases.append(torch.stack([e[layer].bias for e in layers])
                                   if layers else torch.empty(0, width))
            d = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not len(self.weights):
            return x.unsqueeze(1).expand(-1, self.n_experts, -1)
        first_w, first_b = self.weights[0], self.biases[0]
        return self.from_first(nn.functional.linear(x, first_w.flatten(0, 1), first_b.flatten()))

    def from_first(self, pre: torch.Tensor) -> torch.Tensor:
        """The bank's output from its first layer's pre-activations, an (n, E * d1) tensor:
        for a caller that computed that product itself (together with other layers')."""
        h = torch.relu(pre).unflatten(1, self.weights[0].shape[:2])  # (n, E, d1)
        if self.dropout is not None:
            h = self.dropout(h)
        if len(self.weights) == 1:
            return h
        h = h.transpose(0, 1)  # (E, n, d): one batched product per deeper layer
        for w, b in zip(list(self.weights)[1:], list(self.biases)[1:]):
            h = torch.relu(torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
            if self.dropout is not None:
                h = self.dropout(h)
        return h.transpose(0, 1)


class FeatureInput(nn.Module):
    """Concatenate the numeric inputs with one learned embedding per categorical column."""

    def __init__(self, n_numeric: int, cardinalities: Sequence[int], embedding_dims: Sequence[int]):
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(k, d) for k, d in zip(cardinalities, embedding_dims)
        )
        # torch draws embeddings from N(0, 1), which swamps the standardized numeric inputs
        # beside them; N(0, 0.05^2) (the scale of Keras' default) keeps them comparable and
        # lifts census income AUC of MMoE at defaults from 0.9415 to ~0.945 (docs/benchmarks.md).
        for emb in self.embeddings:
            nn.init.normal_(emb.weight, 0.0, EMBEDDING_INIT_STD)
        self.out_features = n_numeric + sum(embedding_dims)
        if self.out_features == 0:
            raise ValueError("X has no usable feature columns.")

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        if not len(self.embeddings):
            return x_num
        parts = [x_num] + [emb(x_cat[:, j]) for j, emb in enumerate(self.embeddings)]
        return torch.cat(parts, dim=1)


class TaskHead(nn.Module):
    """A task's tower MLP followed by its output layer (1 logit, K logits or 1 value)."""

    def __init__(self, in_features: int, tower_units: Sequence[int], n_outputs: int, dropout: float):
        super().__init__()
        self.tower = MLP(in_features, tower_units, dropout)
        self.out = nn.Linear(self.tower.out_features, n_outputs)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.tower(h))


class MultiTaskModule(nn.Module):
    """Base class: every architecture maps ``(x_num, x_cat)`` to the per-task outputs side by side.

    The output is one (n, sum of ``n_outputs``) tensor so that skorch can concatenate batches;
    the estimator splits it per task. ``shared_parameters`` names the parameters every task's
    loss reaches (empty when nothing is shared).
    """

    def __init__(self, n_outputs: Sequence[int]):
        super().__init__()
        self.n_outputs = list(n_outputs)

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def tower_inputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        """Per task, the (n, d) representation its tower reads: what the shared layers (or the
        task's own bottom) make of ``x``, before anything of the task's head."""
        raise NotImplementedError

    def representation(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """The (n, sum of d) tower inputs side by side, task by task (see :meth:`tower_inputs`);
        an architecture whose tasks read one shared tensor gives it once."""
        return torch.cat(self.tower_inputs(x_num, x_cat), dim=1)

    @property
    def shares_representation(self) -> bool:
        """Whether :meth:`representation` is one tensor that every task reads (not per task)."""
        return False

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.task_outputs(x_num, x_cat), dim=1)

    def shared_parameters(self) -> list[nn.Parameter]:
        return []

    def sharing_penalty(self) -> torch.Tensor | None:
        return None


class AdaptiveInformationTransfer(nn.Module):
    """AITM's AIT module (Xi et al., KDD 2021): attention over what the previous task transfers
    and the task's own representation, ``(n, d), (n, d) -> (n, d)``.

    For ``u`` in ``{transferred, own}``: ``w_u = softmax_u(<h1(u), h2(u)> / sqrt(d))`` and the
    output is ``sum_u w_u h3(u)``, with ``h1``, ``h2``, ``h3`` single linear layers.

    Examples
    --------
    >>> import torch
    >>> ait = AdaptiveInformationTransfer(4)
    >>> tuple(ait(torch.zeros(3, 4), torch.ones(3, 4)).shape)
    (3, 4)
    """

    def __init__(self, dim: int):
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.scale = float(dim) ** -0.5

    def forward(self, transferred: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        u = torch.stack([transferred, own], dim=1)  # (n, 2, d)
        w = gate_softmax((self.query(u) * self.key(u)).sum(dim=2) * self.scale, dim=1)
        return (w.unsqueeze(2) * self.value(u)).sum(dim=1)
