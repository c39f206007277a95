"""Pruning: callbacks that report training progress to an Optuna trial, and the pruner choice."""

from __future__ import annotations

import inspect
import math
import warnings

import optuna
from optuna.pruners import BasePruner, HyperbandPruner, MedianPruner, NopPruner, SuccessiveHalvingPruner
from sklearn.utils.metadata_routing import _routing_enabled

from .._lgbm import PerTaskLGBM
from .._pipeline import final_step, step_prefix
from ._spaces import is_recommender
from ._study import check_maximize

PRUNERS = ("median", "hyperband", "successive_halving")


class LGBMTaskPruningCallback:
    """LightGBM callback reporting every boosting round of a ``PerTaskLGBM`` fit to a trial.

    ``PerTaskLGBM`` boosts its tasks one after the other, each from round 0; this callback
    counts tasks (a new one starts whenever the round is the first) and reports at step
    ``task * 100_000 + round``, so that a step means the same task and round in every trial
    whatever ``n_estimators`` is. The value is the first metric on the validation set, negated
    when lower is better (``binary_logloss`` -> ``-binary_logloss``), so the study must
    maximize. Rounds without a validation set are not reported.

    Parameters
    ----------
    trial : optuna.trial.Trial
    valid_name : str, default="valid_0"
        LightGBM's name of the validation set to watch.

    Examples
    --------
    >>> import lightgbm as lgb
    >>> from sklearn_mtl.tuning import LGBMTaskPruningCallback
    >>> # model.fit(X, y, eval_set=[(X_val, y_val)], callbacks=[LGBMTaskPruningCallback(trial)])
    """

    TASK_STRIDE = 100_000

    def __init__(self, trial, valid_name: str = "valid_0"):
        self.trial = trial
        self.valid_name = valid_name
        self.task_ = -1
        check_maximize(trial)

    def __call__(self, env) -> None:
        if env.iteration == env.begin_iteration:
            self.task_ += 1
        for entry in env.evaluation_result_list or []:
            name, metric, value, higher_is_better = entry[:4]
            if name == self.valid_name:
                break
        else:
            return
        signed = float(value) if higher_is_better else -float(value)
        if not math.isfinite(signed):
            return
        self.trial.report(signed, step=max(self.task_, 0) * self.TASK_STRIDE + env.iteration)
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"Pruned at task {self.task_}, round {env.iteration + 1}: {metric}={value:.4f}."
            )


def lgbm_fit_takes_callbacks(estimator) -> bool:
    """Whether ``PerTaskLGBM.fit`` lets LightGBM callbacks through (``fit(..., callbacks=)``)."""
    params = inspect.signature(type(estimator).fit).parameters
    return "callbacks" in params


def pruning_fit(model, trial) -> tuple[dict, str | None]:
    """Attach a per-epoch / per-round reporter to ``model`` (a fresh clone).

    Returns the extra ``fit`` keyword arguments and, when the model cannot report during its
    fit, the reason why (then only whole-fit values, i.e. folds, can be pruned).
    """
    owner, prefix = final_step(model), step_prefix(model)
    if is_recommender(owner):
        if not owner.early_stopping or owner.validation_fraction is None:
            return {}, ("MultiTaskRecommender records a validation score per epoch only with "
                        "early_stopping=True and validation_fraction set")
        from ._net_pruning import NetPruningCallback

        callbacks = [*(owner.callbacks or []), NetPruningCallback(trial)]
        model.set_params(**{prefix + "callbacks": callbacks})
        return {}, None
    if isinstance(owner, PerTaskLGBM):
        if not lgbm_fit_takes_callbacks(owner):
            return {}, "PerTaskLGBM.fit does not take LightGBM callbacks"
        if owner.validation_fraction is None:
            return {}, "PerTaskLGBM evaluates its rounds only with validation_fraction set"
        callbacks = [LGBMTaskPruningCallback(trial)]
        if prefix and _routing_enabled():
            # Under metadata routing a Pipeline hands fit parameters only to a step that
            # requested them: this trial's clone of the step requests its callbacks.
            owner.set_fit_request(callbacks=True)
            return {"callbacks": callbacks}, None
        return {prefix + "callbacks": callbacks}, None
    return {}, f"{type(owner).__name__} has no per-step reporting"


def resolve_pruner(pruner, multi_objective: bool) -> BasePruner:
    """The pruner object; multi-objective studies get ``NopPruner`` (Optuna cannot prune them)."""
    if multi_objective:
        if pruner_is_explicit(pruner):
            warnings.warn(
                f"pruner={pruner!r} is ignored: Optuna cannot prune multi-objective studies "
                "(objectives='per_task' or a list), so every trial runs to the end.",
                UserWarning,
                stacklevel=3,
            )
        return NopPruner()
    if pruner is None or (isinstance(pruner, str) and pruner == "none"):
        return NopPruner()
    if isinstance(pruner, BasePruner):
        return pruner
    if pruner == "median":
        # The first epochs of a net are noisy: wait for 5 finished trials and 2 epochs.
        return MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    if pruner == "hyperband":
        return HyperbandPruner()
    if pruner == "successive_halving":
        return SuccessiveHalvingPruner()
    raise ValueError(
        f"pruner={pruner!r} is not valid: use None, one of {PRUNERS} or an optuna pruner object."
    )


def pruner_is_explicit(pruner) -> bool:
    """The default ``"median"``, ``None`` and ``"none"`` are not a request to prune."""
    return not (pruner is None or (isinstance(pruner, str) and pruner in ("median", "none")))
