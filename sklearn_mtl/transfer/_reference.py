"""What a model is compared with: the single-task references, and what a model is."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone

from .._architectures import architecture_of
from .._pipeline import final_step

REFERENCES = ("per-task", "matched")
MATCH_TOLERANCE = 0.10


def _task_declarer(estimator):
    """The estimator whose ``tasks`` parameter declares the tasks: the last step of a Pipeline,
    the inner estimator of a meta-estimator such as ``PerDomain`` (None when there is none)."""
    final = final_step(estimator)
    while hasattr(final, "get_params"):
        params = final.get_params(deep=False)
        if "tasks" in params:
            return final
        if "estimator" not in params:
            return None
        final = final_step(params["estimator"])
    return None


def _is_multitask(estimator) -> bool:
    # Duck typing before any fit: both estimators of the package declare their tasks as a
    # parameter, which no single-task scikit-learn estimator does.
    final = final_step(estimator)
    return (hasattr(final, "fit") and hasattr(final, "predict")
            and _task_declarer(estimator) is not None)


def _shares_parameters(estimator) -> bool:
    """Whether the model shares parameters between tasks, so that it can transfer at all."""
    from .._recommender import MultiTaskRecommender

    final = final_step(estimator)
    # A cascade ties the child's prediction to the parent's column even between "single" columns.
    return isinstance(final, MultiTaskRecommender) and (
        architecture_of(final.architecture).transfers or final.cascade is not None)


def _first_net(models: dict):
    from .._recommender import MultiTaskRecommender

    for estimator in models.values():
        if isinstance(final_step(estimator), MultiTaskRecommender):
            return estimator
    raise ValueError(
        "compare_transfer needs a reference: none of the models is a MultiTaskRecommender whose "
        "settings the default single-task reference could copy; pass reference=..."
    )


def _default_reference(models: dict):
    """The first net's settings with ``architecture="single"``: per-task capacity, no sharing.

    The net says what its single-task twin is (``_reference_params``): a cascade is dropped too.
    """
    reference = clone(_first_net(models))
    final = final_step(reference)
    final.set_params(**final._reference_params())
    return reference


def _count_params(estimator, X, Y) -> int:
    # The module's size depends on the data (categories, classes): the net counts it from its
    # spec and its fitted encoders, without training (MultiTaskRecommender._count_params). The
    # earlier steps of a Pipeline are fitted: they decide what the net's input is.
    model = clone(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hasattr(model, "steps") and len(model.steps) > 1:
            X = model[:-1].fit_transform(X, Y)
        return int(final_step(model)._count_params(X, Y))


def _scaled(units, width: int) -> tuple:
    """``units`` with its first layer set to ``width`` and the others scaled alike (>= 1)."""
    units = tuple(int(u) for u in np.atleast_1d(units))
    return tuple(max(1, round(u * width / units[0])) for u in units)


def _matched_reference(models: dict, X, Y):
    """A single-task reference whose trainable parameters match the first net's within ±10 %.

    The per-task bottoms keep the shape of the net's ``hidden_units`` and are narrowed (or
    widened) by a bisection on the first layer's width; towers and every other setting are kept.
    Returns ``(reference, model_params, reference_params)``.
    """
    target_model = _first_net(models)
    target = _count_params(target_model, X, Y)
    base = final_step(target_model).hidden_units

    def size(width):
        candidate = clone(target_model)
        final = final_step(candidate)
        final.set_params(**final._reference_params(), hidden_units=_scaled(base, width))
        return candidate, _count_params(candidate, X, Y)

    lo, hi = 1, max(2, int(np.atleast_1d(base)[0]))
    while size(hi)[1] < target and hi < 2 ** 16:  # widen until the bracket holds the target
        lo, hi = hi, hi * 2
    best = min((size(lo), size(hi)), key=lambda c: abs(c[1] - target))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        found = size(mid)
        if abs(found[1] - target) < abs(best[1] - target):
            best = found
        lo, hi = (mid, hi) if found[1] < target else (lo, mid)
    reference, count = best
    if abs(count - target) > MATCH_TOLERANCE * target:
        warnings.warn(
            f"reference='matched' found no single-task width within ±10 % of the model's {target} "
            f"trainable parameters: the closest has {count} (hidden_units="
            f"{final_step(reference).hidden_units}); the verdict mixes capacity and sharing.",
            UserWarning, stacklevel=3,
        )
    return reference, target, count
