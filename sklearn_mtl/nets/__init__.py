"""Torch modules only: the architectures of ``MultiTaskRecommender`` and their building blocks.

One module per net: ``shared_bottom`` (hard sharing), ``per_task`` (soft sharing and the
single-task reference), ``mmoe``, ``omoe``, ``ple`` (CGC is PLE with one level), ``esmm``,
``aitm``; ``blocks`` (``MLP``, ``ExpertBank``, ``FeatureInput``, ``TaskHead``,
``AdaptiveInformationTransfer``, the ``MultiTaskModule`` base) and ``cascade`` (``CascadeNet``,
the entire-space product and its debiasing). :func:`build_module` builds the net an
architecture's registry entry names (``sklearn_mtl._architectures``); a new architecture is a
module here, its class in ``_NETS`` and an entry in the registry.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._architectures import (
    ARCHITECTURES,
    CHAIN_ARCHITECTURES,
    EXPERT_ARCHITECTURES,
    architecture_of,
)
from .aitm import AITMNet
from .blocks import (
    MLP,
    AdaptiveInformationTransfer,
    ExpertBank,
    FeatureInput,
    MultiTaskModule,
    TaskHead,
)
from .cascade import DEBIAS_METHODS, CascadeNet
from .esmm import ESMMNet
from .mmoe import MMoENet
from .omoe import OMoENet
from .per_task import PerTaskNet
from .ple import PLENet
from .shared_bottom import SharedBottomNet

__all__ = [
    "AITMNet",
    "ARCHITECTURES",
    "CHAIN_ARCHITECTURES",
    "DEBIAS_METHODS",
    "EXPERT_ARCHITECTURES",
    "MLP",
    "AdaptiveInformationTransfer",
    "CascadeNet",
    "ESMMNet",
    "ExpertBank",
    "FeatureInput",
    "MMoENet",
    "MultiTaskModule",
    "OMoENet",
    "PLENet",
    "PerTaskNet",
    "SharedBottomNet",
    "TaskHead",
    "build_module",
]

# The net classes that the registry's entries name.
_NETS = {cls.__name__: cls for cls in (AITMNet, ESMMNet, MMoENet, OMoENet, PerTaskNet, PLENet,
                                       SharedBottomNet)}


def build_module(
    architecture: str,
    *,
    n_numeric: int,
    cardinalities: Sequence[int],
    embedding_dims: Sequence[int],
    n_outputs: Sequence[int],
    hidden_units: Sequence[int],
    tower_units: Sequence[int],
    dropout: float,
    n_experts: int,
    n_levels: int = 2,
    n_shared_experts: int = 2,
    n_task_experts: int = 1,
    cascade: Sequence[tuple[int, int]] = (),
    debias: str | None = None,
    min_propensity: float = 0.05,
    debias_weight: float = 1.0,
    calibration_strength: float = 0.6,
) -> MultiTaskModule:
    """The torch module for ``architecture`` (one of ``ARCHITECTURES``).

    ``cascade`` lists ``(child, parent)`` task indices in topological order; when given, the
    module is wrapped in a :class:`CascadeNet` whose child outputs are entire-space logits,
    with ``debias`` (``min_propensity``, ``debias_weight``) its counterfactual risk.
    ``"aitm"`` reads ``cascade`` as its chain of tasks instead (no product: its outputs are
    entire-space already) and ``calibration_strength`` as its calibrator's weight.
    Which keyword arguments the net reads comes from the architecture's registry entry
    (:data:`sklearn_mtl._architectures.REGISTRY`): ``"cgc"`` is ``"ple"`` with one level.
    """
    spec = architecture_of(architecture)
    options = dict(n_experts=n_experts, n_levels=n_levels, n_shared_experts=n_shared_experts,
                   n_task_experts=n_task_experts, calibration_strength=calibration_strength)
    module = _NETS[spec.net](
        n_numeric=n_numeric,
        cardinalities=cardinalities,
        embedding_dims=embedding_dims,
        n_outputs=n_outputs,
        hidden_units=hidden_units,
        tower_units=tower_units,
        dropout=dropout,
        **{name: options[name] for name in spec.net_params},
        **spec.net_fixed,
        **({"links": cascade} if spec.chain_in_net else {}),
    )
    if not cascade or spec.chain_in_net:
        return module
    imputation_input = imputation_in = None
    if debias == "dr" and not isinstance(getattr(module, "input", None), FeatureInput):
        # No shared input layer to read (soft, single): the imputation towers get their own.
        imputation_input = FeatureInput(n_numeric, cardinalities, embedding_dims)
        imputation_in = imputation_input.out_features
    return CascadeNet(module, cascade, debias=debias, min_propensity=min_propensity,
                      debias_weight=debias_weight, imputation_input=imputation_input,
                      imputation_in=imputation_in or 0, hidden_units=hidden_units,
                      tower_units=tower_units, dropout=dropout)
