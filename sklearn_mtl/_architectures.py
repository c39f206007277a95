"""The architectures of ``MultiTaskRecommender``: one registry that every layer reads.

A leaf module (no torch): the nets build each architecture from its entry, the estimator checks
its parameters against it, the tuning spaces add the parameters only it reads, the comparison
asks whether it shares anything, and the CLI offers its names. Adding an architecture is a net
class in :mod:`sklearn_mtl.nets` and an entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Architecture:
    """What the package needs to know of one architecture.

    Parameters
    ----------
    name : str
        The value of ``MultiTaskRecommender(architecture=...)``.
    net : str
        The class of :mod:`sklearn_mtl.nets` that builds it.
    net_params : tuple of str
        The estimator's parameters that its net's constructor reads (``n_experts``, ...).
    net_fixed : mapping
        Constant keyword arguments of that constructor (``"cgc"`` is PLE with one level).
    search : mapping
        The default search range of each parameter that acts with this architecture only:
        ``("int", low, high)`` or ``("float", low, high, log)``.
    shared_parameters : bool
        Whether tasks share parameters, so that gradient surgery (``gradient_method``) acts.
    transfers : bool
        Whether one task's training can change another's predictions at all (``"soft"`` does,
        through its penalty, without shared parameters; ``"single"`` does not).
    gates : {"per_task", "per_level"} or None
        Its mixture-of-experts gates: one gate per task, one set per extraction level, or none.
        Architectures with gates need a hidden layer for their experts.
    chain : bool
        Whether it chains binary tasks by itself: ``cascade=None`` chains the tasks of ``Y``.
    chain_in_net : bool
        Whether its net reads the chain itself (entire-space outputs, no conditional tower to
        debias) rather than being wrapped in ``CascadeNet``'s product.
    """

    name: str
    net: str
    net_params: tuple[str, ...] = ()
    net_fixed: Mapping[str, object] = field(default_factory=dict)
    search: Mapping[str, tuple] = field(default_factory=dict)
    shared_parameters: bool = True
    transfers: bool = True
    gates: str | None = None
    chain: bool = False
    chain_in_net: bool = False


_EXPERTS = {"n_experts": ("int", 2, 8)}
_PLE = {"n_shared_experts": ("int", 1, 4), "n_task_experts": ("int", 1, 3)}

REGISTRY: Mapping[str, Architecture] = MappingProxyType({a.name: a for a in (
    Architecture("hard", "SharedBottomNet"),
    Architecture("soft", "PerTaskNet", net_fixed={"soft": True}, shared_parameters=False,
                 search={"sharing_strength": ("float", 1e-5, 1.0, True)}),
    Architecture("mmoe", "MMoENet", net_params=("n_experts",), search=_EXPERTS, gates="per_task"),
    Architecture("single", "PerTaskNet", net_fixed={"soft": False}, shared_parameters=False,
                 transfers=False),
    Architecture("omoe", "OMoENet", net_params=("n_experts",), search=_EXPERTS, gates="per_task"),
    Architecture("cgc", "PLENet", net_params=("n_shared_experts", "n_task_experts"),
                 net_fixed={"n_levels": 1}, search=_PLE, gates="per_level"),
    Architecture("ple", "PLENet", net_params=("n_levels", "n_shared_experts", "n_task_experts"),
                 search={**_PLE, "n_levels": ("int", 1, 3)}, gates="per_level"),
    Architecture("esmm", "ESMMNet", chain=True),
    Architecture("aitm", "AITMNet", net_params=("calibration_strength",), chain=True,
                 chain_in_net=True),
)})

ARCHITECTURES = tuple(REGISTRY)
# The single-task reference: the one architecture through which no task changes another.
REFERENCE_ARCHITECTURE = next(a.name for a in REGISTRY.values() if not a.transfers)
# Architectures that chain binary tasks by themselves (cascade=None chains the tasks of Y).
CHAIN_ARCHITECTURES = tuple(a.name for a in REGISTRY.values() if a.chain)
# Architectures whose tasks read a mixture of experts: their experts need a hidden layer.
EXPERT_ARCHITECTURES = tuple(a.name for a in REGISTRY.values() if a.gates)


def architecture_of(name: str) -> Architecture:
    """The registry's entry for ``name``, or a ``ValueError`` listing the valid names."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        valid = list(ARCHITECTURES)
        raise ValueError(f"architecture={name!r} is not valid: use one of {valid}.") from None
