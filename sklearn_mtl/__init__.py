"""sklearn-mtl: does a shared multi-task net beat one model per task on your data?

Multi-task neural recommenders (hard sharing, soft sharing, MMoE) and per-task LightGBM
baselines behind one scikit-learn ``fit / predict`` contract.
"""

from .baselines import PerTaskLGBM
from .estimator import MultiTaskRecommender

__version__ = "0.1.0"

__all__ = [
    "MultiTaskRecommender",
    "PerTaskLGBM",
    "__version__",
]
