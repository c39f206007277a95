"""Pruning: callbacks that report training progress to an Optuna trial, and the pruner choice."""

from __future__ import annotations

import inspect
import math
import warnings

import optuna
from optuna.pruners import BasePruner, HyperbandPruner, MedianPruner, NopPruner, SuccessiveHalvingPruner
from sklearn.utils.metadata_routing import _routing_enabled
from skorch.callbacks import Callback

from .._lgbm import PerTaskLGBM
from .._recommender import MultiTaskRecommender
from ._spaces import final_estimator

PRUNERS = ("median", "hyperband", "successive_halving")


def _check_maximize(trial) -> None:
    study = getattr(trial, "study", None)  # a FixedTrial has no study
    if study is not None and study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ValueError(
            "The pruning callbacks report scores where greater is better; the study must be "
            "created with direction='maximize'."
        )


class NetPruningCallback(Callback):
    """Report a ``MultiTaskRecommender``'s validation score after every epoch to a trial; prune.

    The net records ``valid_score`` (mean over tasks of ROC AUC, accuracy or R², greater is
    better) when it has a validation split (``early_stopping=True`` and ``validation_fraction``
    set). The study must maximize. optuna-integration's ``SkorchPruningCallback(trial,
    "valid_score")`` works too; this one also skips NaN scores (a validation split with one
    class), which would make Optuna's pruners prune the trial, checks the study's direction, and
    reports a value that a callback ordered before the net's scoring could not see yet at the
    start of the next epoch instead of raising ``KeyError``.

    Parameters
    ----------
    trial : optuna.trial.Trial
        The trial to report to.
    monitor : str, default="valid_score"
        History column to report; ``valid_score_<task>`` watches one task.

    Examples
    --------
    >>> import optuna
    >>> from sklearn_mtl import MultiTaskRecommender
    >>> from sklearn_mtl.tuning import NetPruningCallback
    >>> def objective(trial, X, Y):
    ...     model = MultiTaskRecommender(lr=trial.suggest_float("lr", 1e-4, 1e-2, log=True),
    ...                                  callbacks=[NetPruningCallback(trial)])
    ...     model.fit(X, Y)
    ...     return model.history_[-1, "valid_score"]
    """

    def __init__(self, trial, monitor: str = "valid_score"):
        self.trial = trial
        self.monitor = monitor

    def initialize(self):
        self._pending = None
        _check_maximize(self.trial)
        return self

    def on_epoch_begin(self, net, **kwargs):
        self._flush(net)

    def on_epoch_end(self, net, **kwargs):
        self._pending = len(net.history) - 1
        if self.monitor in net.history[-1]:
            self._flush(net)

    def on_train_end(self, net, **kwargs):
        self._flush(net)

    def _flush(self, net) -> None:
        epoch, self._pending = getattr(self, "_pending", None), None
        if epoch is None:
            return
        value = net.history[epoch].get(self.monitor)
        # NaN (one class in the validation rows) would make Optuna's pruners prune the trial.
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"Pruned after epoch {epoch + 1}: {self.monitor}={value:.4f}.")


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
        _check_maximize(trial)

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
    owner, prefix = final_estimator(model)
    if isinstance(owner, MultiTaskRecommender):
        if not owner.early_stopping or owner.validation_fraction is None:
            return {}, ("MultiTaskRecommender records a validation score per epoch only with "
                        "early_stopping=True and validation_fraction set")
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
