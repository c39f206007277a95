"""TuneResult: the study, the best parameters and model, the Pareto front, refits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from optuna.trial import FixedTrial, FrozenTrial, TrialState
from sklearn.base import clone

from .._routing import fit_params_for
from ._spaces import decode_params
from ._study import DEFAULTS_ATTR


class TuneResult:
    """What :func:`tune` returns.

    Attributes
    ----------
    study : optuna.Study
        The study, with every trial of every run and worker that shared it. Each trial carries
        the user attributes ``scores`` (``{task: score}`` on the validation rows, the raw
        metric: lower is better for losses), ``worker`` (``host:pid``) and, with
        cross-validation, ``fold_scores``.
    best_trial_ : optuna.trial.FrozenTrial or None
        Single objective: the trial with the best value. Multi-objective: the trial of the
        Pareto front with the best mean rank over the objectives (ties: the earliest); pick
        another one with :meth:`pareto_front` and :meth:`refit_trial`. None when no trial
        completed.
    best_params_ : dict or None
        The parameters of ``best_trial_``, ready for ``set_params`` (layer widths as tuples).
    best_score_ : float, tuple or None
        ``best_trial_``'s value (single objective: mean signed score, greater is better) or
        values (one per task, raw metric).
    default_score_ : float
        The value of the study's first trial, the estimator with its own parameters
        (``tune(start_from_defaults=True)``); NaN when it did not complete or the study is
        multi-objective. ``best_score_`` is never below it.
    best_estimator_ : estimator or None
        A clone of the estimator with ``best_params_``, fitted on all of ``X``, ``Y`` (when
        ``refit=True``).
    task_names_ : list
        The tasks, i.e. the columns of ``Y``.
    metrics_ : list of str
        The metric of each task.
    multi_objective_ : bool
        Whether the study has one objective per task.

    Examples
    --------
    >>> # result = tune(model, X, Y, n_trials=30)
    >>> # result.best_params_, result.best_estimator_.predict(X_test)
    >>> # result.pareto_front()        # multi-objective: the trade-offs between tasks
    >>> # result.refit_trial(12)       # any trial's parameters, fitted on all the data
    """

    def __init__(self, study, estimator, X, Y, space, task_names, metrics, multi_objective,
                 sample_weight=None):
        self.study = study
        self.estimator = estimator
        self.task_names_ = list(task_names)
        self.metrics_ = list(metrics)
        self.multi_objective_ = bool(multi_objective)
        # Kept (not copied) for refit_trial.
        self._X, self._Y, self._space = X, Y, space
        self._sample_weight = sample_weight
        self.best_trial_ = self._pick_best()
        self.best_params_ = None if self.best_trial_ is None else self.trial_params(self.best_trial_)
        self.best_score_ = None
        if self.best_trial_ is not None:
            values = self.best_trial_.values
            self.best_score_ = tuple(values) if self.multi_objective_ else values[0]
        self.best_estimator_ = None
        # The first trial's score: the estimator as given (tune(start_from_defaults=True)).
        firsts = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                  if t.user_attrs.get(DEFAULTS_ATTR)]
        self.default_score_ = (float("nan") if not firsts or self.multi_objective_
                               else firsts[0].value)

    def _pick_best(self) -> FrozenTrial | None:
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            return None
        if not self.multi_objective_:
            return self.study.best_trial
        front = sorted(self.study.best_trials, key=lambda t: t.number)
        values = np.array([t.values for t in front], dtype=float)
        signs = [1 if d.name == "MAXIMIZE" else -1 for d in self.study.directions]
        ranks = np.column_stack([
            pd.Series(-sign * values[:, j]).rank(method="average").to_numpy()
            for j, sign in enumerate(signs)
        ])
        return front[int(np.argmin(ranks.mean(axis=1)))]

    def trial_params(self, trial) -> dict:
        """The estimator parameters of a trial (a ``FrozenTrial`` or its number).

        A search-space function is replayed on the trial's sampled values, so parameters it
        derives (rather than samples) come back too.
        """
        trial = self._trial(trial) if not isinstance(trial, FrozenTrial) else trial
        if trial.user_attrs.get(DEFAULTS_ATTR):
            return {}  # the estimator as given
        try:
            return self._space(FixedTrial(trial.params, number=trial.number))
        except (ValueError, KeyError):
            # The space changed since the trial ran (an older study): its stored values.
            return decode_params(trial.params)

    def _trial(self, number: int) -> FrozenTrial:
        trials = self.study.get_trials(deepcopy=False)
        for trial in trials:
            if trial.number == number:
                return trial
        raise ValueError(
            f"The study has no trial number {number!r}; its trials are numbered 0 to "
            f"{len(trials) - 1}."
        )

    def refit(self) -> TuneResult:
        """Fit ``best_estimator_`` on all the data (what ``tune(refit=True)`` does)."""
        if self.best_trial_ is None:
            warnings.warn("No trial completed: there is no best model to refit.", UserWarning,
                          stacklevel=2)
            return self
        self.best_estimator_ = self.refit_trial(self.best_trial_.number)
        return self

    def refit_trial(self, number: int):
        """Fit a clone of the estimator with trial ``number``'s parameters on all the data.

        Parameters
        ----------
        number : int
            The trial's number (``study.trials[i].number``, the ``number`` column of
            :meth:`pareto_front`).

        Returns
        -------
        estimator
            The fitted clone.

        Examples
        --------
        >>> # front = result.pareto_front()
        >>> # model = result.refit_trial(int(front["number"].iloc[0]))
        """
        params = self.trial_params(self._trial(number))
        model = clone(self.estimator).set_params(**params)
        return model.fit(self._X, self._Y, **fit_params_for(
            model, {"sample_weight": self._sample_weight}, "tune"))

    def pareto_front(self) -> pd.DataFrame:
        """The Pareto-optimal trials: their per-task scores and parameters.

        For a multi-objective study, the trials no other trial beats on every task at once
        (``study.best_trials``); for a single objective, the best trial(s).

        Returns
        -------
        DataFrame
            One row per trial, sorted by ``number``: ``number``, one column per task (its
            validation score, the raw metric), ``value`` (single objective only) and
            ``params_<name>`` for each parameter.

        Examples
        --------
        >>> # result.pareto_front()[["number", "income", "never_married"]]
        """
        if not self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            return pd.DataFrame(columns=["number", *self.task_names_])
        rows = []
        for trial in sorted(self.study.best_trials, key=lambda t: t.number):
            scores = trial.user_attrs.get("scores") or {}
            row = {"number": trial.number}
            if self.multi_objective_:
                row.update(zip(self.task_names_, trial.values))
            else:
                row.update({name: scores.get(str(name), np.nan) for name in self.task_names_})
                row["value"] = trial.value
            row.update({f"params_{k}": v for k, v in self.trial_params(trial).items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        n = len(self.study.trials)
        return (f"TuneResult(study={self.study.study_name!r}, n_trials={n}, "
                f"best_score_={self.best_score_!r}, best_params_={self.best_params_!r})")
