"""Where an estimator's own parameters and fitted state live inside a Pipeline or a search: the
one walk to a Pipeline's last step that every layer uses (a leaf module: scikit-learn's duck
types only, no import of the package)."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted


def final_step(estimator):
    """The estimator at the end of (nested) Pipelines; ``estimator`` itself when it is not one."""
    while hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return estimator


def step_prefix(estimator) -> str:
    """The ``step__`` prefix that reaches :func:`final_step` in ``set_params`` and fit parameters:
    ``""`` for a bare estimator, ``"pertasklgbm__"`` for ``make_pipeline(StandardScaler(),
    PerTaskLGBM())``."""
    prefix = ""
    while hasattr(estimator, "steps"):
        name, estimator = estimator.steps[-1]
        prefix += f"{name}__"
    return prefix


def task_owner(estimator):
    """The fitted estimator that holds ``tasks_``: the last step of a Pipeline, a search's best
    model; a ``ValueError`` when there is none."""
    while not hasattr(estimator, "tasks_"):
        if hasattr(estimator, "steps"):
            estimator = final_step(estimator)
        elif hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        else:
            check_is_fitted(estimator)
            raise ValueError(
                f"{type(estimator).__name__} is not a multi-task estimator: it has no tasks_ "
                "attribute (expected MultiTaskRecommender, PerTaskLGBM, or a Pipeline ending in one)."
            )
    return estimator
