"""Entire-space cascades (ESMM, Ma et al., SIGIR 2018) around any multi-task module.

In a cascade ``child -> parent`` (purchase -> click) the wrapped module's child output is the
logit of the *conditional* probability ``P(child | parent, x)``; the cascade replaces it by the
logit of the *entire-space* probability ``P(parent and child | x) = P(parent | x) * P(child |
parent, x)``. The ordinary binary cross-entropy on that output over all rows is then ESMM's
CTCVR loss, so the conditional tower is never trained on the parent's positive rows alone.
Chains (click -> cart -> purchase) multiply along the chain.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import MultiTaskModule

# log P is kept below -1e-30 so that log(1 - P) stays finite when P rounds to 1 in float32.
_MAX_LOG_P = -1e-30


def _log1mexp(log_p: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(log_p)) for log_p < 0, accurate on both sides of log 2 (Maechler, 2012)."""
    return torch.where(
        log_p > -0.6931471805599453,
        torch.log(-torch.expm1(log_p)),
        torch.log1p(-torch.exp(log_p)),
    )


def product_logit(log_p: torch.Tensor) -> torch.Tensor:
    """The logit of ``exp(log_p)`` computed in log space."""
    log_p = log_p.clamp(max=_MAX_LOG_P)
    return log_p - _log1mexp(log_p)


class CascadeNet(MultiTaskModule):
    """Wrap ``module`` so that each cascaded child outputs its entire-space logit.

    Parameters
    ----------
    module : MultiTaskModule
        Any architecture; its output for a child task is read as the conditional logit.
    links : sequence of (child, parent) task indices
        In topological order (a parent that is itself a child comes first).

    Examples
    --------
    >>> import torch
    >>> from sklearn_mtl.nets import SharedBottomNet
    >>> inner = SharedBottomNet(3, [], [], n_outputs=[1, 1], hidden_units=(4,))
    >>> net = CascadeNet(inner, [(1, 0)])
    >>> x = (torch.randn(5, 3), torch.zeros(5, 0, dtype=torch.long))
    >>> p = torch.sigmoid(net(*x))
    >>> q = torch.sigmoid(net.conditional_outputs(*x))
    >>> bool(torch.allclose(p[:, 1], q[:, 0] * q[:, 1], atol=1e-6))
    True
    """

    def __init__(self, module: MultiTaskModule, links: Sequence[tuple[int, int]]):
        super().__init__(module.n_outputs)
        for child, parent in links:
            if module.n_outputs[child] != 1 or module.n_outputs[parent] != 1:
                raise ValueError("Cascaded tasks must be binary (one logit each).")
        self.module = module
        self.links = [(int(c), int(p)) for c, p in links]

    def conditional_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """The wrapped module's outputs: each child's logit of ``P(child | parent, x)``."""
        return self.module(x_num, x_cat)

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        outputs = list(self.module.task_outputs(x_num, x_cat))
        log_p: dict[int, torch.Tensor] = {}
        for child, parent in self.links:
            parent_log_p = log_p.get(parent)
            if parent_log_p is None:
                parent_log_p = F.logsigmoid(outputs[parent])
            log_p[child] = parent_log_p + F.logsigmoid(outputs[child])
            outputs[child] = product_logit(log_p[child])
        return outputs

    def gate_weights(self, x_num: torch.Tensor, x_cat: torch.Tensor):
        return self.module.gate_weights(x_num, x_cat)

    def shared_parameters(self) -> list[nn.Parameter]:
        return self.module.shared_parameters()

    def sharing_penalty(self) -> torch.Tensor | None:
        return self.module.sharing_penalty()
