"""sklearn-mtl: does a shared multi-task net beat one model per task on your data?

Multi-task neural recommenders (hard sharing, soft sharing, MMoE) and per-task LightGBM
baselines behind one scikit-learn ``fit / predict`` contract.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names below, for type checkers and documentation tools
    from ._lgbm import PerTaskLGBM
    from ._recommender import MultiTaskRecommender
    from .persistence import load
    from .transfer import TransferCurve, TransferReport, compare_transfer, transfer_curve

from ._version import __version__

# Loaded on first use (PEP 562), so that ``sklearn-mtl --help`` does not wait for torch and
# LightGBM, and so that PerTaskLGBM never imports torch.
_LAZY = {
    "PerTaskLGBM": "._lgbm",
    "MultiTaskRecommender": "._recommender",
    "TransferReport": ".transfer",
    "compare_transfer": ".transfer",
    "TransferCurve": ".transfer",
    "transfer_curve": ".transfer",
    "load": ".persistence",
    "PerDomain": ".domains",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = [
    "MultiTaskRecommender",
    "PerDomain",
    "PerTaskLGBM",
    "TransferCurve",
    "TransferReport",
    "compare_transfer",
    "transfer_curve",
    "load",
    "__version__",
]
