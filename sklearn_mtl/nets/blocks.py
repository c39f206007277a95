"""Building blocks shared by every architecture: the MLP, the input layer and the task heads."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence

import torch
from torch import nn

EMBEDDING_INIT_STD = 0.05


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


def _recording_init(cls, init):
    """Wrap ``cls.__init__`` so that the instance keeps the arguments it was built with.

    ``init_kwargs_`` (all arguments by name, defaults filled in) lets ``sklearn_mtl.persistence``
    and ``sklearn_mtl.export`` rebuild any architecture from data: its class name, these
    arguments and its ``state_dict``, with no per-architecture code. Only the outermost
    ``__init__`` records (a subclass calling ``super().__init__`` does not overwrite it).
    """
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if type(self) is cls:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(list(bound.arguments.items())[1:])
            for name, param in signature.parameters.items():
                if param.kind is inspect.Parameter.VAR_KEYWORD:
                    arguments.update(arguments.pop(name, {}))
                elif param.kind is inspect.Parameter.VAR_POSITIONAL:
                    raise TypeError(f"{cls.__name__}.__init__ takes *{name}; a MultiTaskModule "
                                    "must take named arguments so that it can be rebuilt.")
            self.init_kwargs_ = arguments

    return __init__


class MultiTaskModule(nn.Module):
    """Base class: every architecture maps ``(x_num, x_cat)`` to the per-task outputs side by side.

    The output is one (n, sum of ``n_outputs``) tensor so that skorch can concatenate batches;
    the estimator splits it per task. ``shared_parameters`` names the parameters every task's
    loss reaches (empty when nothing is shared). Every subclass records its constructor
    arguments in ``init_kwargs_``, so that a fitted module is saved and exported as data.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_init(cls, cls.__dict__["__init__"])

    def __init__(self, n_outputs: Sequence[int]):
        super().__init__()
        self.n_outputs = list(n_outputs)

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.task_outputs(x_num, x_cat), dim=1)

    def shared_parameters(self) -> list[nn.Parameter]:
        return []

    def sharing_penalty(self) -> torch.Tensor | None:
        return None
