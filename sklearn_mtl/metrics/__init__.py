"""Per-task and per-user scores, and scikit-learn scorers, for multi-task estimators.

Every estimator of the package (``MultiTaskRecommender``, ``PerTaskLGBM``) exposes ``tasks_``,
``task_names_``, ``classes_``, ``predict`` and, for classification tasks, ``predict_proba``; the
functions here score each task on the rows where its label is present
(:mod:`~sklearn_mtl.metrics._scores`), or per user and then averaged, as recommender teams
report ranking quality (:mod:`~sklearn_mtl.metrics._per_user`).
"""

from ._per_user import gauc_score, ndcg_at_k_score
from ._scores import (
    AUTO_METRIC,
    GROUPED_METRICS,
    MultiTaskScorer,
    greater_is_better,
    is_grouped,
    make_multitask_scorer,
    mean_score,
    per_task_scores,
    resolve_metrics,
)

__all__ = [
    "AUTO_METRIC",
    "GROUPED_METRICS",
    "MultiTaskScorer",
    "gauc_score",
    "greater_is_better",
    "is_grouped",
    "make_multitask_scorer",
    "mean_score",
    "ndcg_at_k_score",
    "per_task_scores",
    "resolve_metrics",
]
