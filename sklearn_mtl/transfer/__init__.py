"""compare_transfer and TransferReport: does a multi-task model help or hurt each task?

Every model and a single-task reference are cloned and trained on the same repeated
cross-validation splits, each split with its own seeds; each task is scored on each held-out
fold. A model shows **negative transfer** on a task when it scores worse than the reference
trained under the same protocol: the corrected resampled t-test across the splits, adjusted for
the report's many tests, says so at the chosen level.

Modules, by concept:

- comparing: ``_compare`` (compare_transfer: checks, seeds and the jobs of each split; its
  folds come from :mod:`sklearn_mtl._resampling`), ``_jobs`` (one (model, split) fit, or nested
  tuning and refit, on a joblib or Dask worker), ``_reference`` (what a model is compared with),
  ``_cascade`` (how a cascaded child is trained and scored, ``cascade_scoring=``), ``_storage``
  (finished fits on disk, so an interrupted compare resumes), ``_sequential`` (repeats added
  one at a time until every verdict is settled, ``sequential=``), ``_sizes`` (transfer_curve:
  the comparison at several training sizes);
- where it gains and loses: ``_segments`` (verdicts per segment of the test rows,
  ``segments=``), ``_fused`` (the served score: tasks fused into one ranking score, ``fused=``);
- the verdict: ``_stats`` (paired tests, corrections, intervals, outcomes: pure functions),
  ``_report`` (TransferReport);
- telling it: ``_text`` (header, sentences, Markdown), ``_plot`` (its chart and heat maps),
  ``_where`` (the segment and fused-score verdicts in words, a figure and a page section),
  ``_html`` (the self-contained HTML page), ``_sizes_page`` (a TransferCurve's words, figure
  and page).
"""

from ._compare import compare_transfer
from ._fused import FusedScore
from ._report import REFERENCE, TransferReport
from ._segments import ActivitySegments
from ._sizes import TransferCurve, transfer_curve

__all__ = ["REFERENCE", "ActivitySegments", "FusedScore", "TransferCurve", "TransferReport",
           "compare_transfer", "transfer_curve"]
