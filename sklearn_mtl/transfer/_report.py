"""TransferReport: the per-fold scores and the verdict per (model, task)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import greater_is_better
from ._sequential import interval_level
from ._stats import (
    CORRECTIONS,
    TESTS,
    adjust_p_values,
    margin_for,
    minimum_detectable_effect,
    non_inferior,
    outcome,
    paired_test,
    simultaneous_alpha,
)

REFERENCE = "reference"
TUNING_COLUMNS = ["model", "split", "n_trials", "n_complete", "n_pruned", "tuned",
                  "best_params", "default_value", "best_value", "seconds"]
_CONFLICT_COLUMNS = ["model", "fold", "epoch", "pair", "task_a", "task_b", "cosine"]
_AFFINITY_COLUMNS = ["model", "fold", "epoch", "source", "target", "affinity"]


# Metrics whose chance level is known whatever the data: ranking metrics. A fit at least
# _SUSPECT_GAP and _SUSPECT_SPREADS robust sds under its model's other splits is suspect.
_CHANCE = {"roc_auc": 0.5, "gauc": 0.5}
_SUSPECT_GAP = 0.1
_SUSPECT_SPREADS = 5


class _ReportSetting:
    """Default of ``correction=`` in the report's methods: the report's own (None means none)."""

    def __repr__(self) -> str:
        return "<the report's>"


_DEFAULT = _ReportSetting()


class TransferReport:
    """Per-fold, per-task scores of every model and the reference, and the verdict per task.

    Built by :func:`compare_transfer`.

    Attributes
    ----------
    scores : DataFrame
        Long format: ``model``, ``task``, ``repeat`` (when built by ``compare_transfer``),
        ``fold`` (the split's number over all repeats: the pairing key), ``score`` (the
        reference is ``"reference"``). NaN scores stay in, and count against ``n_pairs``.
    metric : dict
        ``{task: metric name}``; ``metrics`` is the same dict.
    greater_is_better : dict
        ``{task: bool}``: False for ``log_loss``, ``rmse`` and ``mae``.
    n_folds, n_repeats : int
        Folds per repeat, and repeats.
    grouped : bool
        Whether the folds were grouped by ``groups=`` (a group splitter as ``cv``): the
        header then says so.
    cascade : dict
        ``{child: parent}`` of the cascades the compared models declare (empty without one).
    cascade_scoring : {"entire_space", "parent_positive"}
        How those children were trained and scored (see :func:`compare_transfer`); the header
        says so.
    tuning : DataFrame or None
        With ``compare_transfer(tune=...)``: one row per (model, split) study, with ``model``
        (the reference is ``"reference"``), ``split``, ``n_trials`` (finished: complete or
        pruned), ``n_complete``, ``n_pruned``, ``tuned`` (False for a study that finished no
        trial, scored with its defaults under ``tune={..., "allow_untuned": True}``),
        ``best_params`` (``{}`` when the defaults won), ``default_value`` (the inner
        validation score of the study's first trial, the estimator's own parameters),
        ``best_value`` (the best trial's mean signed validation score, never below
        ``default_value``) and ``seconds``; None without nested tuning. ``repr`` and
        :meth:`to_markdown` state the budget in one line.
    sequential : dict or None
        With ``compare_transfer(sequential=True)``: ``spending`` (the alpha-spending
        function), ``max_repeats`` (the design's last look), ``repeats_run`` (the repeats in
        ``scores``, also ``n_repeats``) and ``stop_reason`` (why it stopped: every verdict
        settled, or all repeats ran with some still inconclusive). Every interval is then built
        at the nominal level of the look it stopped at (``summary().attrs["interval_level"]``),
        see :func:`compare_transfer`. None for the fixed design.
    segment_scores : DataFrame or None
        With ``compare_transfer(segments=...)``: ``segmentation``, ``segment``, ``model``,
        ``task``, ``repeat``, ``fold``, ``n_rows`` (the segment's test rows in the split) and
        ``score`` (NaN below 30 rows); :meth:`segments` tests them. None otherwise.
    fused : list of str
        The names of the fused served scores (``compare_transfer(fused=...)``), which are rows
        of ``scores`` and of the summary like tasks; empty without them.
    reference_label : str or None
        What the reference is when it is no single-task model (a ``PerDomain``: one model per
        domain), named in the header instead of "the single-task reference"; None otherwise.
    fits_reused : int
        With ``compare_transfer(storage=...)``: how many (model, split) fits were taken from
        the storage instead of being fitted again (0 otherwise).
    test_train_ratio : float
        ``n_test / n_train`` of the splits, for the corrected t-test; default ``1/(n_folds-1)``.
    n_params : dict
        ``{model: trainable parameters}`` (``"reference"`` included; mean over the fits): the
        nets' ``n_params_``. NaN for models without one: ``PerTaskLGBM``'s leaves are not
        counted, as tree leaves and weights are not the same kind of capacity.
    test, correction, alpha, margin
        The settings the summary and the printed verdicts use unless given others (see
        :func:`compare_transfer`).
    estimators : dict or None
        ``{(model, fold): fitted estimator}`` with ``return_estimators=True``.
    gradient_conflict : DataFrame
        ``model``, ``fold``, ``epoch``, ``pair`` (``"task_a|task_b"``), ``task_a``, ``task_b``,
        ``cosine`` for the nets fitted with ``track_gradient_conflict=True`` or a
        :class:`~sklearn_mtl.diagnostics.GradientConflict` callback (empty otherwise): the
        cosine between two tasks' gradients on the shared parameters after each epoch.
    shared : dict
        ``{model: bool}``: whether the model shares parameters between tasks. Only those can
        show negative (or positive) transfer; a model that shares nothing (``PerTaskLGBM``,
        ``MultiTaskRecommender("single")``) can only be ``significantly_worse``. Models not
        named in the ``shared`` argument count as sharing.
    task_affinity : DataFrame
        ``model``, ``fold``, ``epoch``, ``source``, ``target``, ``affinity`` for the nets fitted
        with ``track_task_affinity=True`` (empty otherwise): the epoch's mean lookahead affinity
        ``Z(source -> target)``; :meth:`affinity_matrix` averages it into a T x T matrix.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mtl import TransferReport
    >>> scores = pd.DataFrame({"model": ["hard"] * 3 + ["reference"] * 3, "task": "ctr",
    ...                        "fold": [0, 1, 2] * 2, "score": [.70, .71, .69, .74, .75, .74]})
    >>> report = TransferReport(scores, metric={"ctr": "roc_auc"}, n_folds=3)
    >>> row = report.summary().loc[("hard", "ctr")]
    >>> row["verdict"], bool(row["negative_transfer"]), round(float(row["p_value"]), 4)
    ('worse', True, 0.0145)
    """


    def __init__(self, scores: pd.DataFrame, metric: dict, n_folds: int, estimators=None,
                 gradient_conflict: pd.DataFrame | None = None, shared: dict | None = None, *,
                 n_repeats: int = 1, test_train_ratio: float | None = None,
                 n_params: dict | None = None, test: str = "corrected",
                 correction: str | None = "bonferroni", alpha: float = 0.05, margin=None,
                 task_affinity: pd.DataFrame | None = None, grouped: bool = False,
                 tuning: pd.DataFrame | None = None, fits_reused: int = 0,
                 segment_scores: pd.DataFrame | None = None, fused: list | None = None,
                 reference_label: str | None = None,
                 cascade: dict | None = None, cascade_scoring: str = "entire_space",
                 sequential: dict | None = None):
        self.scores = scores
        self.segment_scores = segment_scores
        self.fused = list(fused or [])
        self.reference_label = reference_label
        self.sequential = None if sequential is None else dict(sequential)
        self.metric = dict(metric)
        self.n_folds = n_folds
        self.n_repeats = n_repeats
        self.grouped = bool(grouped)
        self.cascade = dict(cascade or {})
        self.cascade_scoring = cascade_scoring
        self.tuning = tuning
        self.fits_reused = int(fits_reused)
        self.test_train_ratio = (1 / (n_folds - 1) if test_train_ratio is None and n_folds > 1
                                 else test_train_ratio)
        self.estimators = estimators
        self.gradient_conflict = (pd.DataFrame(columns=_CONFLICT_COLUMNS) if gradient_conflict is None
                                  else gradient_conflict)
        self.task_affinity = (pd.DataFrame(columns=_AFFINITY_COLUMNS) if task_affinity is None
                              else task_affinity)
        self.greater_is_better = {t: greater_is_better(m) for t, m in self.metric.items()}
        given = {} if shared is None else {str(k): bool(v) for k, v in dict(shared).items()}
        models = [str(m) for m in dict.fromkeys(scores["model"]) if m != REFERENCE]
        unknown = sorted(set(given) - set(models))
        if unknown:
            raise ValueError(f"shared names models {unknown} that are not in scores; "
                             f"the models are {models}.")
        self.shared = {m: given.get(m, True) for m in models}
        self.n_params = {m: np.nan for m in [*models, REFERENCE]}
        self.n_params.update({str(k): float(v) for k, v in dict(n_params or {}).items()})
        self.test, self.correction, self.alpha, self.margin = test, correction, alpha, margin
        self._settings(alpha, test, correction, margin)  # fail here, not at the first print

    @property
    def metrics(self) -> dict:
        """Alias of ``metric``."""
        return self.metric

    def affinity_matrix(self, model=None) -> pd.DataFrame:
        """The T x T lookahead affinity of a model, averaged over epochs and folds.

        Rows are the source task i, columns the target task j of ``Z(i -> j)``; NaN where
        never measured. ``model`` defaults to the first model with recorded affinities. Feed
        it to :func:`sklearn_mtl.affinity.propose_task_groups` for a task grouping.
        """
        records = self.task_affinity
        if not len(records):
            raise ValueError("no task affinity was recorded: fit the models with "
                             "track_task_affinity=True.")
        models = list(dict.fromkeys(records["model"]))
        if model is None:
            model = models[0]
        elif model not in models:
            raise ValueError(f"model={model!r} has no recorded task affinity; these do: {models}.")
        part = records[records["model"] == model]
        tasks = list(self.metric)
        # Each fold weighs the same, whatever its number of epochs.
        per_fold = part.groupby(["fold", "source", "target"])["affinity"].mean()
        matrix = per_fold.groupby(["source", "target"]).mean().unstack("target")
        return matrix.reindex(index=tasks, columns=tasks).rename_axis(index="source",
                                                                      columns="target")

    def plot_affinity(self, model=None, ax=None):
        """Heat map of :meth:`affinity_matrix` (matplotlib); returns the Axes."""
        from ._plot import plot_affinity

        return plot_affinity(self.affinity_matrix(model), model or self.task_affinity["model"].iloc[0],
                             ax=ax)

    def _settings(self, alpha=None, test=None, correction=_DEFAULT, margin=None):
        alpha = self.alpha if alpha is None else alpha
        test = self.test if test is None else test
        correction = self.correction if correction is _DEFAULT else correction
        margin = self.margin if margin is None else margin
        if test not in TESTS:
            raise ValueError(f"test={test!r} is not valid: use one of {list(TESTS)}.")
        if correction not in CORRECTIONS:
            raise ValueError(f"correction={correction!r} is not valid: use one of "
                             f"{list(CORRECTIONS)}.")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha={alpha!r} is not valid: it must be in (0, 1).")
        if isinstance(margin, dict):
            unknown = sorted(set(margin) - set(self.metric))
            if unknown:
                raise ValueError(f"margin names tasks {unknown} that the report does not have "
                                 f"{list(self.metric)}.")
        elif margin is not None and not (isinstance(margin, (int, float)) and margin >= 0):
            raise ValueError(f"margin={margin!r} is not valid: use a number >= 0, a {{task: "
                             "margin}} dict or None.")
        return alpha, test, correction, margin

    def _margin(self, margin, task: str, reference_mean: float) -> float:
        chosen = margin.get(task) if isinstance(margin, dict) else margin
        return margin_for(self.metric[task], reference_mean) if chosen is None else float(chosen)

    def _final_cosines(self) -> pd.DataFrame:
        """The gradient cosines of each (model, fold)'s last recorded epoch."""
        conflict = self.gradient_conflict
        if not len(conflict):
            return conflict
        last = conflict.groupby(["model", "fold"])["epoch"].transform("max")
        return conflict[conflict["epoch"] == last]

    def _models(self) -> list:
        return [m for m in dict.fromkeys(self.scores["model"]) if m != REFERENCE]

    def suspect_fits(self) -> pd.DataFrame:
        """Fits that scored far below the same model's other splits: a fit that learned little
        or nothing of the task (a tower whose ReLUs all died scores at chance), or its reverse.

        On a task scored by ranking (``roc_auc``, ``gauc``: chance at 0.5), a fit is suspect
        when the same model's other splits on that task (at least three) all score above
        chance and it lies under their median by at least 0.1 and by at least five times their
        spread (1.4826 times their median absolute deviation): a task without signal, or test
        folds too small to rank reliably, flag nothing. Such
        a fit stays in the report as it was scored (dropping it would pick results), but its one
        pair widens that task's interval; refit that split with another seed to see whether it
        was a failed fit (a tower whose ReLUs all died, for one) or the data.

        Returns
        -------
        DataFrame
            One row per suspect fit: ``model``, ``split``, ``task``, ``metric``, ``score`` and
            ``others_median`` (the median of the model's other splits on the task); empty when
            none.

        Examples
        --------
        >>> import pandas as pd
        >>> scores = pd.DataFrame({"model": ["hard"] * 4 + ["reference"] * 4, "task": "ctr",
        ...                        "fold": [0, 1, 2, 3] * 2,
        ...                        "score": [.90, .91, .32, .90, .90, .91, .90, .92]})
        >>> report = TransferReport(scores, metric={"ctr": "roc_auc"}, n_folds=4)
        >>> report.suspect_fits()[["model", "split", "task", "score", "others_median"]]
          model  split task  score  others_median
        0  hard      2  ctr   0.32            0.9
        """
        rows = []
        for (model, task), part in self.scores.groupby(["model", "task"], sort=False):
            metric = self.metric.get(task)
            if metric not in _CHANCE:
                continue
            scored = part.dropna(subset=["score"])
            chance = _CHANCE[metric]
            for fold, score in zip(scored["fold"], scored["score"]):
                others = scored.loc[scored["fold"] != fold, "score"]
                if len(others) < 3 or (others <= chance).any():
                    continue
                median = float(others.median())
                spread = 1.4826 * float((others - median).abs().median())  # robust sd
                if median - score >= max(_SUSPECT_GAP, _SUSPECT_SPREADS * spread):
                    rows.append({"model": model, "split": int(fold), "task": task,
                                 "metric": metric, "score": float(score),
                                 "others_median": median})
        return pd.DataFrame(rows, columns=["model", "split", "task", "metric", "score",
                                           "others_median"])

    def _differences(self) -> pd.DataFrame:
        """Per split (rows) and (model, task) (columns): model minus reference, NaN kept."""
        wide = self.scores.pivot(index="fold", columns=["model", "task"], values="score")
        return pd.DataFrame({(m, t): wide[(m, t)] - wide[(REFERENCE, t)]
                             for t in self.metric for m in self._models()})

    def summary(self, alpha: float | None = None, test: str | None = None,
                correction=_DEFAULT, margin=None) -> pd.DataFrame:
        """One row per (model, task) with the comparison against the reference.

        Parameters
        ----------
        alpha, test, correction, margin : optional
            Override the report's settings (those given to :func:`compare_transfer`):
            ``test`` in ``{"corrected", "ttest", "wilcoxon"}``, ``correction`` in
            ``{"bonferroni", None}``, ``margin`` a number or ``{task: margin}``.

        Returns
        -------
        DataFrame indexed by (model, task), the reference excluded, with columns
            ``metric``; ``mean``, ``std`` (over splits); ``reference_mean``; ``delta`` =
            ``mean - reference_mean`` (raw: positive is better only for greater-is-better
            metrics); ``delta_std`` (std of the per-split differences); ``relative_delta`` =
            ``delta / |reference_mean|``; ``ci_low``, ``ci_high``: the interval of ``delta``
            from the test's variance (the corrected one by default), *simultaneous* over the
            report's ``m`` tested (model, task) pairs: each at level ``1 - alpha/m``
            (Bonferroni; ``1 - alpha`` with ``correction=None``), so that all of them hold
            together with probability at least ``1 - alpha`` (the level is in
            ``summary().attrs["interval_level"]``); ``p_value``, two-sided, NaN when
            undefined (fewer than 3 usable pairs, or zero variance); ``p_adjusted``
            (``min(1, m * p)``: below ``alpha`` exactly when the interval leaves out 0);
            ``n_pairs``, the splits where both scores are finite; ``mde``, the minimum
            detectable effect: the smallest |delta| the test finds with 80 % power at the
            intervals' level, from its (corrected) standard error and ``n_pairs`` (NaN when
            untested); ``note``, why a test is undefined ("" otherwise); ``margin``, the
            smallest delta that matters (default per metric, see ``compare_transfer``);
            ``verdict``, read off the interval (oriented so that positive is better):
            ``"better"`` (above 0), ``"worse"`` (below 0 and reaching past ``-margin``: a loss
            that may matter), ``"worse within margin"`` (below 0 but above ``-margin``: real,
            too small to matter), ``"equivalent"`` (inside ±margin) or ``"inconclusive"``;
            ``non_inferior`` (the interval rules out a loss larger than the margin: what
            :meth:`ship` needs of every task); ``significantly_worse`` (either worse
            outcome); ``shares_parameters`` (see ``shared``); ``negative_transfer`` /
            ``positive_transfer``: ``"worse"`` / ``"better"`` for a model that shares
            parameters; ``n_params``, ``reference_n_params``; ``grad_cosine``, the mean
            last-epoch
            gradient cosine over the pairs with this task (NaN when not recorded).
        """
        alpha, test, correction, margin = self._settings(alpha, test, correction, margin)
        diffs = self._differences()
        wide = self.scores.pivot(index="fold", columns=["model", "task"], values="score")
        final = self._final_cosines()
        # Every interval is built at the family's level, so that the outcomes read off them
        # hold together with probability >= 1 - alpha (see _stats.simultaneous_alpha).
        tests = [paired_test(diffs[key], test=test, alpha=alpha,
                             test_train_ratio=self.test_train_ratio) for key in diffs]
        level = interval_level(simultaneous_alpha(
            alpha, correction, sum(np.isfinite(r["p_value"]) for r in tests)), self, test)
        out = []
        for task in self.metric:
            for model in self._models():
                paired = diffs[(model, task)].notna()
                values = wide[(model, task)][paired].to_numpy(float)
                ref = wide[(REFERENCE, task)][paired].to_numpy(float)
                r = paired_test(diffs[(model, task)], test=test, alpha=level,
                                test_train_ratio=self.test_train_ratio)
                ref_mean = float(ref.mean()) if len(ref) else np.nan
                mine = final[(final["model"] == model)
                             & ((final["task_a"] == task) | (final["task_b"] == task))]
                out.append(dict(
                    model=model, task=task, metric=self.metric[task],
                    mean=float(values.mean()) if len(values) else np.nan,
                    std=float(values.std(ddof=1)) if len(values) > 1 else np.nan,
                    reference_mean=ref_mean, delta=r["mean"],
                    delta_std=float(np.std(values - ref, ddof=1)) if len(values) > 1 else np.nan,
                    relative_delta=r["mean"] / abs(ref_mean) if ref_mean else np.nan,
                    ci_low=r["ci_low"], ci_high=r["ci_high"], p_value=r["p_value"],
                    n_pairs=r["n_pairs"], se=r["se"], note=r["note"],
                    margin=self._margin(margin, task, ref_mean),
                    shares_parameters=self.shared[str(model)],
                    n_params=self.n_params.get(str(model), np.nan),
                    reference_n_params=self.n_params.get(REFERENCE, np.nan),
                    grad_cosine=float(mine["cosine"].mean()) if len(mine) else np.nan,
                ))
        table = pd.DataFrame(out).set_index(["model", "task"])
        table.insert(table.columns.get_loc("n_pairs"), "p_adjusted",
                     adjust_p_values(table["p_value"], correction))
        table.insert(table.columns.get_loc("n_pairs") + 1, "mde", [
            minimum_detectable_effect(se, n, alpha=level)
            for se, n in zip(table.pop("se"), table["n_pairs"])])
        gib = [self.greater_is_better[task] for _, task in table.index]
        table.insert(table.columns.get_loc("shares_parameters"), "verdict", [
            outcome(lo, hi, margin=m, greater_is_better=g)
            for lo, hi, m, g in zip(table["ci_low"], table["ci_high"], table["margin"], gib)])
        table.insert(table.columns.get_loc("shares_parameters"), "non_inferior", [
            non_inferior(lo, hi, margin=m, greater_is_better=g)
            for lo, hi, m, g in zip(table["ci_low"], table["ci_high"], table["margin"], gib)])
        table.insert(table.columns.get_loc("shares_parameters"), "significantly_worse",
                     table["verdict"].isin(["worse", "worse within margin"]))
        shares = table["shares_parameters"]
        at = table.columns.get_loc("n_params")
        table.insert(at, "negative_transfer", (table["verdict"] == "worse") & shares)
        table.insert(at + 1, "positive_transfer", (table["verdict"] == "better") & shares)
        table.attrs["interval_level"] = 1 - level
        return table

    @staticmethod
    def _mde_alpha(alpha: float, correction, n_tests: int) -> float:
        """The level each interval is built at (see ``_stats.simultaneous_alpha``)."""
        return alpha / max(n_tests, 1) if correction else alpha

    def overall(self, alpha: float | None = None, test: str | None = None,
                correction=_DEFAULT, margin=None) -> pd.DataFrame:
        """Per model: does sharing hurt the tasks? A test on the per-split mean over tasks.

        Which task loses can change from split to split (a narrow shared layer serves one task
        or the other); the per-task tests then lose power while the mean over tasks of each
        split's deltas keeps it. The deltas are oriented (positive = better, so rmse counts
        with its sign flipped) and averaged on the metrics' own scales; only splits where every
        task has a score count. The intervals are simultaneous over the models with
        ``correction`` (Bonferroni: each at ``1 - alpha / n_models``).

        Returns
        -------
        DataFrame indexed by model: ``mean_delta`` (oriented), ``ci_low``, ``ci_high``,
        ``p_value``, ``p_adjusted``, ``n_pairs``, ``margin`` (mean of the tasks' margins),
        ``verdict`` (read off the interval as in :meth:`summary`: ``"worse"``, ``"worse within
        margin"``, ``"better"``, ``"equivalent"``, ``"inconclusive"``),
        ``worst_task`` (lowest oriented mean delta), ``shares_parameters``. The mean is over
        the tasks' own scales: with tasks scored by different metrics (AUC and R²) it mixes
        units, so the report's sentences and figure use :meth:`ship` and the per-task rows,
        not this mean.
        """
        alpha, test, correction, margin = self._settings(alpha, test, correction, margin)
        diffs = self._differences()
        summary = self.summary(alpha, test, correction, margin)
        sign = pd.Series({t: 1.0 if g else -1.0 for t, g in self.greater_is_better.items()})
        out = []
        models = self._models()
        level = interval_level(simultaneous_alpha(alpha, correction, len(models)), self, test)
        for model in models:
            oriented = diffs[model][list(self.metric)] * sign
            r = paired_test(oriented.dropna().mean(axis=1), test=test, alpha=level,
                            test_train_ratio=self.test_train_ratio)
            mine = summary.loc[model]
            deltas = (mine["delta"] * sign).dropna()
            out.append(dict(model=model, mean_delta=r["mean"], ci_low=r["ci_low"],
                            ci_high=r["ci_high"], p_value=r["p_value"], n_pairs=r["n_pairs"],
                            margin=float(mine["margin"].mean()),
                            worst_task=deltas.idxmin() if len(deltas) else None,
                            shares_parameters=self.shared[str(model)]))
        table = pd.DataFrame(out).set_index("model")
        table.insert(table.columns.get_loc("n_pairs"), "p_adjusted",
                     adjust_p_values(table["p_value"], correction))
        table.insert(table.columns.get_loc("worst_task"), "verdict", [
            outcome(row.ci_low, row.ci_high, margin=row.margin, greater_is_better=True)
            for row in table.itertuples()])
        return table

    def ship(self, alpha: float | None = None, test: str | None = None, correction=_DEFAULT,
             margin=None) -> pd.DataFrame:
        """Per model, the decision a team acts on: can it replace the single-task models?

        Read off the summary's simultaneous intervals, so its error is theirs: ``"can ship"``
        when every task is non-inferior (its interval rules out a loss larger than the task's
        margin); ``"cannot ship"`` when some task is ``"worse"`` (its interval lies below 0 and
        reaches past the margin); ``"undecided"`` otherwise, naming the tasks whose interval
        still allows a loss larger than the margin, and how large.

        Returns
        -------
        DataFrame indexed by model: ``decision`` (``"can ship"``, ``"cannot ship"``,
        ``"undecided"``), ``tasks`` (the tasks that decide it: those that lose, or those that
        could; empty for "can ship"), ``worst_loss`` (the largest loss the intervals allow
        over the model's tasks, in each task's own units, positive = a loss; NaN when a task
        is untested) and ``line``, the one-line answer.

        Examples
        --------
        >>> import pandas as pd
        >>> scores = pd.DataFrame({"model": ["hard"] * 4 + ["reference"] * 4, "task": "ctr",
        ...                        "fold": [0, 1, 2, 3] * 2,
        ...                        "score": [.70, .71, .69, .70, .74, .75, .74, .76]})
        >>> TransferReport(scores, metric={"ctr": "roc_auc"}, n_folds=4).ship()["decision"].tolist()
        ['cannot ship']
        """
        from ._text import ship_line

        summary = self.summary(alpha, test, correction, margin)
        out = []
        for model in self._models():
            rows = summary.loc[model]
            sign = np.array([1.0 if self.greater_is_better[t] else -1.0 for t in rows.index])
            worst = np.where(sign > 0, -rows["ci_low"], rows["ci_high"])
            worse = rows.index[rows["verdict"] == "worse"].tolist()
            open_ = rows.index[~rows["non_inferior"]].tolist()
            if worse:
                decision, tasks = "cannot ship", worse
            elif not open_:
                decision, tasks = "can ship", []
            else:
                decision, tasks = "undecided", open_
            out.append(dict(model=model, decision=decision, tasks=tasks,
                            worst_loss=float(np.max(worst)) if np.isfinite(worst).all() else np.nan))
        table = pd.DataFrame(out, columns=["model", "decision", "tasks", "worst_loss"])
        table = table.set_index("model")
        # The line's advice (more repeats or more rows) depends on the test asked for here.
        settings = self._settings(alpha, test, correction, margin)
        table["line"] = [ship_line(self, model, table.loc[model], summary.loc[model], settings)
                         for model in table.index]
        return table

    def verdict_lines(self, alpha: float | None = None, test: str | None = None,
                      correction=_DEFAULT, margin=None) -> list[str]:
        """One line per model: its ship decision (:meth:`ship`), then every task's outcome with
        its interval in the metric's units, the tasks that decide it first; for an open task,
        the largest loss it could still hide and what would narrow it.

        Examples
        --------
        >>> import pandas as pd
        >>> scores = pd.DataFrame({"model": ["hard"] * 4 + ["reference"] * 4, "task": "ctr",
        ...                        "fold": [0, 1, 2, 3] * 2,
        ...                        "score": [.70, .71, .69, .70, .74, .75, .74, .76]})
        >>> TransferReport(scores, metric={"ctr": "roc_auc"}, n_folds=4).verdict_lines()
        ['hard: cannot ship. ctr: worse, −0.048 AUC [−0.071, −0.024] (margin 0.005).']
        """
        from ._text import verdict_lines

        settings = self._settings(alpha, test, correction, margin)
        return verdict_lines(self, self.summary(*settings), self.overall(*settings), settings)

    def _protocol(self, alpha=None, test=None, correction=_DEFAULT) -> str:
        from ._text import protocol

        return protocol(self, *self._settings(alpha, test, correction)[:3])

    def to_markdown(self, alpha: float | None = None, test: str | None = None,
                    correction=_DEFAULT, margin=None) -> str:
        """The summary as a Markdown table, then the per-model lines (no ``tabulate`` needed).

        ``grad_cosine`` appears when gradient conflict was recorded; NaN shows as ``n/a``.
        """
        from ._text import markdown

        settings = self._settings(alpha, test, correction, margin)
        return markdown(self, self.summary(*settings), self.verdict_lines(*settings))

    def to_csv(self, directory, alpha: float | None = None, test: str | None = None,
               correction=_DEFAULT, margin=None) -> list[Path]:
        """Write ``scores.csv``, ``summary.csv``, ``overall.csv`` and, when recorded,
        ``gradient_conflict.csv`` and ``task_affinity.csv``.

        ``directory`` is created if needed; returns the paths written. Text cells that a
        spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``) get a
        leading ``'`` (OWASP's advice).
        """
        from .._csv import write_csv

        settings = self._settings(alpha, test, correction, margin)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / "scores.csv", directory / "summary.csv", directory / "overall.csv"]
        write_csv(self.scores, paths[0], index=False)
        write_csv(self.summary(*settings), paths[1])
        write_csv(self.overall(*settings), paths[2])
        if len(self.gradient_conflict):
            paths.append(directory / "gradient_conflict.csv")
            write_csv(self.gradient_conflict, paths[-1], index=False)
        if len(self.task_affinity):
            paths.append(directory / "task_affinity.csv")
            write_csv(self.task_affinity, paths[-1], index=False)
        return paths

    def to_html(self, path, alpha: float | None = None, test: str | None = None,
                correction=_DEFAULT, margin=None, *, title: str | None = None,
                settings: dict | None = None) -> Path:
        """Write the report as one self-contained HTML page, for a browser or a colleague.

        The page holds the per-model lines (:meth:`verdict_lines`: each model's ship decision
        and every task's outcome), the summary table with
        each verdict coloured, the per-model table (:meth:`overall`), the deltas figure
        (:meth:`plot`), the gradient-cosine and affinity heat maps when they were recorded, then
        the settings and the versions of the package and its libraries. It opens offline: the
        figures are embedded as PNG, the styles are inline, there is no script, and its
        content security policy forbids loading anything else.

        Parameters
        ----------
        path : str or Path
            The file to write (its folder is created if needed).
        alpha, test, correction, margin : optional
            Override the report's settings, as in :meth:`summary`; the tables, lines and
            figure all use them.
        title : str, optional
            Named in the page's heading and the figure's title.
        settings : dict, optional
            ``{name: value}`` rows shown first under "Settings" (the data, its rows, the
            models' parameters, the seeds...): what the report cannot know. A dict value
            becomes a nested table. The report adds its splits, metrics, test, correction,
            alpha, tuning budget and parameter counts.

        Returns
        -------
        Path
            ``path``.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> import pandas as pd
        >>> scores = pd.DataFrame({"model": ["hard"] * 4 + ["reference"] * 4, "task": "ctr",
        ...                        "fold": [0, 1, 2, 3] * 2,
        ...                        "score": [.70, .71, .69, .70, .74, .75, .74, .76]})
        >>> report = TransferReport(scores, metric={"ctr": "roc_auc"}, n_folds=4)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = report.to_html(Path(folder) / "report.html", title="clicks",
        ...                           settings={"data": "clicks.csv", "rows": 1200})
        ...     page = path.read_text(encoding="utf-8")
        >>> path.name, '<td class="worse">worse</td>' in page, "clicks.csv" in page
        ('report.html', True, True)
        """
        from ._html import render_html, with_settings

        chosen = with_settings(self, *self._settings(alpha, test, correction, margin))
        return render_html(chosen, path, title=title, settings=settings)

    def plot(self, ax=None, alpha: float | None = None, test: str | None = None,
             title: str | None = None):
        """Bar chart of each model's delta against the reference, grouped by task.

        Error bars are the confidence intervals of the summary; bars with a red, hatched edge
        are negative transfer, dotted grey ones are significantly worse models that share no
        parameters (``PerTaskLGBM``). The legend sits beside the axes and names each model's
        per-model verdict (:meth:`overall`); the title, prefixed by ``title`` when given, is
        wrapped to the figure's width. Returns the matplotlib Axes (nothing is shown: save it
        with ``ax.figure.savefig(path, bbox_inches="tight")``).
        """
        from ._plot import plot_deltas

        return plot_deltas(self, ax=ax, alpha=alpha, test=test, title=title)

    def segments(self, alpha: float | None = None, test: str | None = None,
                 correction=_DEFAULT, margin=None) -> pd.DataFrame:
        """Where each model gains and loses: the comparison on each segment's test rows.

        Returns
        -------
        DataFrame indexed by (segmentation, segment, model, task): ``metric``, ``n_rows``
        (mean test rows a split), ``mean``, ``reference_mean``, ``delta``, ``ci_low``,
        ``ci_high`` (simultaneous over the table's tested rows, Bonferroni; a family apart
        from :meth:`summary`'s, level in ``attrs["interval_level"]``), ``p_value``,
        ``p_adjusted``, ``n_pairs``, ``mde``, ``margin``, ``verdict`` (as in :meth:`summary`,
        or ``"too small to test"`` below 30 test rows a split), ``non_inferior``, ``note``.

        Examples
        --------
        >>> import pandas as pd
        >>> seg = pd.DataFrame({"segmentation": "age", "segment": ["young"] * 8,
        ...                     "model": ["hard"] * 4 + ["reference"] * 4, "task": "ctr",
        ...                     "repeat": 0, "fold": [0, 1, 2, 3] * 2, "n_rows": 200,
        ...                     "score": [.70, .71, .69, .70, .74, .75, .74, .76]})
        >>> report = TransferReport(seg.drop(columns=["segmentation", "segment", "n_rows"]),
        ...                         metric={"ctr": "roc_auc"}, n_folds=4, segment_scores=seg)
        >>> report.segments().loc[("age", "young", "hard", "ctr"), "verdict"]
        'worse'
        """
        from ._segments import segment_summary

        return segment_summary(self, *self._settings(alpha, test, correction, margin), REFERENCE)

    def plot_segments(self, ax=None, alpha: float | None = None, title: str | None = None):
        """Each segment's delta against the reference with its simultaneous interval, one
        panel per task (matplotlib); losses ringed in red, segments too small to test named.
        Returns the first Axes."""
        from ._where import plot_segments

        return plot_segments(self, self.segments(alpha), ax=ax, title=title)

    def __repr__(self) -> str:
        from ._text import text

        return text(self)
