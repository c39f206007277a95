"""Entire-space cascades (ESMM, Ma et al., SIGIR 2018) around any multi-task module.

In a cascade ``child -> parent`` (purchase -> click) the wrapped module's child output is the
logit of the *conditional* probability ``P(child | parent, x)``; the cascade replaces it by the
logit of the *entire-space* probability ``P(parent and child | x) = P(parent | x) * P(child |
parent, x)``. The ordinary binary cross-entropy on that output over all rows is then ESMM's
CTCVR loss, so the conditional tower is never trained on the parent's positive rows alone.
Chains (click -> cart -> purchase) multiply along the chain.

``debias="ips"`` or ``"dr"`` adds the counterfactual risk of ESCM² (Wang et al., "ESCM²: Entire
Space Counterfactual Multi-Task Model for Post-Click Conversion Rate Estimation", SIGIR 2022)
on each child's *conditional* output, over the entire space D (every row whose parent label is
known), with the propensity ``o_hat`` the parent's predicted entire-space probability:

* IPS: ``R = 1/|D| sum_D o * delta / o_hat``, ``delta`` the binary cross-entropy of the
  conditional probability against the child label, ``o`` the parent label;
* DR: ``R = 1/|D| sum_D [delta_hat + o * (delta - delta_hat) / o_hat]`` with ``delta_hat`` an
  imputation tower's estimate of ``delta`` on every row, itself trained by
  ``1/|D| sum_D o * (delta - delta_hat)^2 / o_hat``.

``o_hat`` is detached and clipped below at ``min_propensity``: it is an estimate of the
propensity that the parent's own loss trains; the paper's unbiasedness argument holds ``o_hat``
fixed at the propensity, and a gradient through it would let the risk shrink itself by raising
the parent's probability on its positive rows. In DR each tower follows its own objective, as in
the joint learning of doubly robust estimators (Wang et al., ICML 2019) that ESCM² builds on:
``delta_hat`` is detached in the risk and ``delta`` in the imputation loss, so the risk's
gradient on the conditional tower is the IPS one and DR differs from IPS through the imputation
tower, which reads the shared input layer. The risk, times ``debias_weight``, is added to the
training loss only (the validation loss stays ESMM's), through :meth:`CascadeNet.training_penalty`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .._cascade import DEBIAS_METHODS
from .blocks import MLP, MultiTaskModule, TaskHead

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
    debias : None, "ips" or "dr", default=None
        ESCM²'s counterfactual risk on each child's conditional output (see the module doc).
    min_propensity : float, default=0.05
        Lower clip of the propensity ``o_hat``: no inverse-propensity weight exceeds
        ``1 / min_propensity``.
    debias_weight : float, default=1.0
        Weight of the counterfactual risk (ESCM²'s ``lambda_c``).
    imputation_input : nn.Module or None, default=None
        With ``debias="dr"``: the input layer of the imputation towers, ``(x_num, x_cat) ->
        (n, imputation_in)``; None reads ``module.input`` (the shared embeddings).
    imputation_in : int, default=0
        Width of that input layer's output.
    hidden_units, tower_units : sequence of int, default=(64, 32), (16,)
        Layers of each imputation tower (one per link), as ESMM's towers.
    dropout : float, default=0.0

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
    >>> ips = CascadeNet(inner, [(1, 0)], debias="ips").train()
    >>> _ = ips(*x)
    >>> y = torch.tensor([[1.0, 1.0], [0, 0], [1, 0], [0, 0], [1, 1]])
    >>> float(ips.training_penalty(y).detach()) > 0
    True
    """

    def __init__(self, module: MultiTaskModule, links: Sequence[tuple[int, int]],
                 debias: str | None = None, min_propensity: float = 0.05,
                 debias_weight: float = 1.0, imputation_input: nn.Module | None = None,
                 imputation_in: int = 0, hidden_units: Sequence[int] = (64, 32),
                 tower_units: Sequence[int] = (16,), dropout: float = 0.0):
        super().__init__(module.n_outputs)
        for child, parent in links:
            if module.n_outputs[child] != 1 or module.n_outputs[parent] != 1:
                raise ValueError("Cascaded tasks must be binary (one logit each).")
        if debias not in (None, *DEBIAS_METHODS):
            raise ValueError(f"debias={debias!r} is not valid: use None or one of {DEBIAS_METHODS}.")
        self.module = module
        self.links = [(int(c), int(p)) for c, p in links]
        self.debias = debias
        self.min_propensity = float(min_propensity)
        self.debias_weight = float(debias_weight)
        self.imputation_input = imputation_input
        self.imputation = None
        if debias == "dr":
            if imputation_input is None:
                imputation_in = module.input.out_features
            d_hidden = hidden_units[-1] if len(hidden_units) else imputation_in
            self.imputation = nn.ModuleList(
                nn.Sequential(MLP(imputation_in, hidden_units, dropout),
                              TaskHead(d_hidden, tower_units, 1, dropout))
                for _ in self.links
            )
        # The training batch's outputs, kept by forward for training_penalty (training only).
        self._batch = None

    def __getstate__(self):
        # A kept batch holds tensors of an autograd graph, which neither pickle nor deepcopy.
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        return {**state, "_batch": None}

    def conditional_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """The wrapped module's outputs: each child's logit of ``P(child | parent, x)``."""
        return self.module(x_num, x_cat)

    def task_outputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        conditional = list(self.module.task_outputs(x_num, x_cat))
        outputs = list(conditional)
        log_p: dict[int, torch.Tensor] = {}
        parent_log_p = []
        for child, parent in self.links:
            log_parent = log_p.get(parent)
            if log_parent is None:
                log_parent = F.logsigmoid(outputs[parent])
            parent_log_p.append(log_parent)
            log_p[child] = log_parent + F.logsigmoid(outputs[child])
            outputs[child] = product_logit(log_p[child])
        if self.debias is not None and self.training:
            imputed = None
            if self.imputation is not None:
                layer = self.imputation_input if self.imputation_input is not None \
                    else self.module.input
                h = layer(x_num, x_cat)
                imputed = [tower(h)[:, 0] for tower in self.imputation]
            self._batch = (conditional, parent_log_p, imputed)
        return outputs

    def training_penalty(self, y: torch.Tensor, sample_weight: torch.Tensor | None = None):
        """``debias_weight`` times the counterfactual risk of the last training batch (None
        without ``debias``). ``y`` holds the encoded entire-space labels of that batch."""
        batch, self._batch = self._batch, None
        if self.debias is None or batch is None:
            return None
        conditional, parent_log_p, imputed = batch
        total = y.new_zeros(())
        for j, (child, parent) in enumerate(self.links):
            o, r = y[:, parent], y[:, child]
            # D: rows whose parent label is known, and on a parent-positive row the child's too.
            known = ~torch.isnan(o) & ~((o == 1) & torch.isnan(r))
            w = known.to(y.dtype)
            if sample_weight is not None:
                w = w * sample_weight
            n = w.sum()
            if not bool(n > 0):
                continue
            o = torch.where(known, o, torch.zeros_like(o))
            r = torch.where(o == 1, r, torch.zeros_like(r))
            propensity = parent_log_p[j][:, 0].detach().exp().clamp(min=self.min_propensity)
            ips = o / propensity
            delta = F.binary_cross_entropy_with_logits(conditional[child][:, 0], r,
                                                       reduction="none")
            if self.debias == "ips":
                risk = (w * ips * delta).sum() / n
            else:
                delta_hat = imputed[j]
                risk = (w * (delta_hat.detach() + ips * (delta - delta_hat.detach()))).sum() / n
                risk = risk + (w * ips * (delta.detach() - delta_hat) ** 2).sum() / n
            total = total + risk
        return self.debias_weight * total

    def gate_weights(self, x_num: torch.Tensor, x_cat: torch.Tensor):
        return self.module.gate_weights(x_num, x_cat)

    def tower_inputs(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> list[torch.Tensor]:
        return self.module.tower_inputs(x_num, x_cat)

    def representation(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return self.module.representation(x_num, x_cat)

    @property
    def shares_representation(self) -> bool:
        return self.module.shares_representation

    def shared_parameters(self) -> list[nn.Parameter]:
        return self.module.shared_parameters()

    def sharing_penalty(self) -> torch.Tensor | None:
        return self.module.sharing_penalty()
