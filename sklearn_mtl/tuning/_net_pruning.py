"""NetPruningCallback: a skorch callback, so it lives apart from the rest of the tuning
package, which imports without torch."""

from __future__ import annotations

import math

import optuna
from skorch.callbacks import Callback

from ._study import check_maximize


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
        check_maximize(self.trial)
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
