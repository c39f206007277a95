"""sklearn-mtl: does a shared multi-task net beat one model per task on your data?

Multi-task neural recommenders (hard sharing, soft sharing, MMoE) and per-task LightGBM
baselines behind one scikit-learn ``fit / predict`` contract.
"""

from .baselines import PerTaskLGBM
from .estimator import MultiTaskRecommender
from .persistence import load
from .transfer import TransferReport, compare_transfer

__version__ = "0.1.0"

__all__ = [
    "MultiTaskRecommender",
    "PerTaskLGBM",
    "TransferReport",
    "compare_transfer",
    "load",
    "__version__",
]
