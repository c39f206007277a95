"""compare_transfer and TransferReport: does a multi-task model help or hurt each task?

Every model and a single-task reference are cloned and trained on the same repeated
cross-validation splits, each split with its own seeds; each task is scored on each held-out
fold. A model shows **negative transfer** on a task when it scores worse than the reference
trained under the same protocol: the corrected resampled t-test across the splits, adjusted for
the report's many tests, says so at the chosen level.

Modules: ``_compare`` (splits, seeds and fits), ``_reference`` (what a model is compared with),
``_stats`` (tests, corrections, intervals, verdicts: pure functions), ``_report``
(TransferReport), ``_text`` (its header, sentences and Markdown), ``_plot`` (its chart and heat
maps) and ``_html`` (its self-contained HTML page).
"""

from ._compare import compare_transfer
from ._fused import FusedScore
from ._report import REFERENCE, TransferReport
from ._segments import ActivitySegments
from ._sizes import TransferCurve, transfer_curve

__all__ = ["REFERENCE", "ActivitySegments", "FusedScore", "TransferCurve", "TransferReport",
           "compare_transfer", "transfer_curve"]
