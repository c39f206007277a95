"""compare_transfer and TransferReport: does a multi-task model help or hurt each task?

Every model and a single-task reference are cloned and trained on the same cross-validation
folds; each task is scored on each held-out fold. A model shows **negative transfer** on a task
when it scores worse than the reference trained under the same protocol, by a paired test across
the folds at the chosen significance level.

Modules: ``_compare`` (folds and fits), ``_stats`` (the tests), ``_report`` (TransferReport)
and ``_plot`` (its chart).
"""

from ._compare import compare_transfer
from ._report import REFERENCE, TransferReport

__all__ = ["REFERENCE", "TransferReport", "compare_transfer"]
