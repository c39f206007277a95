"""TransferReport: the per-fold scores and the verdict per (model, task)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import greater_is_better
from ._stats import _paired_p_value

REFERENCE = "reference"
_CONFLICT_COLUMNS = ["model", "fold", "epoch", "pair", "task_a", "task_b", "cosine"]
_AFFINITY_COLUMNS = ["model", "fold", "epoch", "source", "target", "affinity"]


def _cell(value, column) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "**yes**" if value else "no"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return "n/a"
        return {"delta": f"{value:+.4f}", "relative_delta": f"{value:+.2%}",
                "grad_cosine": f"{value:+.3f}"}.get(column, f"{value:.4f}")
    return str(value).replace("|", r"\|")


class TransferReport:
    """Per-fold, per-task scores of every model and the reference, and the verdict per task.

    Built by :func:`compare_transfer`.

    Attributes
    ----------
    scores : DataFrame
        Long format: ``model``, ``task``, ``fold``, ``score`` (the reference is ``"reference"``).
    metric : dict
        ``{task: metric name}``; ``metrics`` is the same dict.
    greater_is_better : dict
        ``{task: bool}``: False for ``log_loss``, ``rmse`` and ``mae``.
    n_folds : int
    estimators : dict or None
        ``{(model, fold): fitted estimator}`` with ``return_estimators=True``.
    gradient_conflict : DataFrame
        ``model``, ``fold``, ``epoch``, ``pair`` (``"task_a|task_b"``), ``task_a``, ``task_b``,
        ``cosine`` for the nets fitted with ``track_gradient_conflict=True`` or a
        :class:`~sklearn_mtl.diagnostics.GradientConflict` callback (empty otherwise): the
        cosine between two tasks' gradients on the shared parameters after each epoch.
    shared : dict
        ``{model: bool}``: whether the model shares parameters between tasks. Only those can
        show negative transfer; a model that shares nothing (``PerTaskLGBM``,
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
    >>> report.summary().loc[("hard", "ctr"), "negative_transfer"]
    np.True_
    """

    def __init__(self, scores: pd.DataFrame, metric: dict, n_folds: int, estimators=None,
                 gradient_conflict: pd.DataFrame | None = None, shared: dict | None = None,
                 task_affinity: pd.DataFrame | None = None):
        self.scores = scores
        self.metric = dict(metric)
        self.n_folds = n_folds
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

    def _final_cosines(self) -> pd.DataFrame:
        """The gradient cosines of each (model, fold)'s last recorded epoch."""
        conflict = self.gradient_conflict
        if not len(conflict):
            return conflict
        last = conflict.groupby(["model", "fold"])["epoch"].transform("max")
        return conflict[conflict["epoch"] == last]

    def summary(self, alpha: float = 0.05, test: str = "ttest") -> pd.DataFrame:
        """One row per (model, task) with the comparison against the reference.

        Parameters
        ----------
        alpha : float, default=0.05
            Significance level of the ``negative_transfer`` flag.
        test : {"ttest", "wilcoxon"}, default="ttest"
            Paired test across folds: scipy's ``ttest_rel`` or the Wilcoxon signed-rank test.

        Returns
        -------
        DataFrame indexed by (model, task), the reference excluded, with columns
            ``metric``; ``mean``, ``std`` (over folds); ``reference_mean``; ``delta`` =
            ``mean - reference_mean`` (raw: positive is better only for greater-is-better
            metrics); ``delta_std`` (std of the per-fold differences); ``relative_delta`` =
            ``delta / |reference_mean|``; ``p_value``, two-sided, NaN when undefined (fewer
            than 2 folds, or every difference 0); ``significantly_worse`` = ``p_value < alpha``
            and the model is worse (lower score, or higher for log_loss, rmse, mae);
            ``shares_parameters`` (see ``shared``); ``negative_transfer`` =
            ``significantly_worse`` for a model that shares parameters, False otherwise;
            ``grad_cosine``, the mean last-epoch gradient cosine over the pairs with this task
            (NaN when not recorded). Folds where either score is NaN are left out.
        """
        if test not in ("ttest", "wilcoxon"):
            raise ValueError(f"test={test!r} is not valid: use 'ttest' or 'wilcoxon'.")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha={alpha!r} is not valid: it must be in (0, 1).")
        wide = self.scores.pivot(index=["task", "fold"], columns="model", values="score")
        models = [m for m in dict.fromkeys(self.scores["model"]) if m != REFERENCE]
        final = self._final_cosines()
        out = []
        for task in self.metric:
            block = wide.loc[task]
            for model in models:
                values, ref = block[model].to_numpy(float), block[REFERENCE].to_numpy(float)
                paired = np.isfinite(values) & np.isfinite(ref)
                values, ref = values[paired], ref[paired]
                diff = values - ref
                p = _paired_p_value(values, ref, test)
                delta = float(diff.mean()) if len(diff) else np.nan
                worse = delta < 0 if self.greater_is_better[task] else delta > 0
                significant, shares = bool(worse and p < alpha), self.shared[str(model)]
                ref_mean = float(ref.mean()) if len(ref) else np.nan
                mine = final[(final["model"] == model)
                             & ((final["task_a"] == task) | (final["task_b"] == task))]
                out.append(dict(
                    model=model, task=task, metric=self.metric[task],
                    mean=float(values.mean()) if len(values) else np.nan,
                    std=float(values.std(ddof=1)) if len(values) > 1 else np.nan,
                    reference_mean=ref_mean, delta=delta,
                    delta_std=float(diff.std(ddof=1)) if len(diff) > 1 else np.nan,
                    relative_delta=delta / abs(ref_mean) if ref_mean else np.nan,
                    p_value=p, significantly_worse=significant, shares_parameters=shares,
                    negative_transfer=significant and shares,
                    grad_cosine=float(mine["cosine"].mean()) if len(mine) else np.nan,
                ))
        return pd.DataFrame(out).set_index(["model", "task"])

    def _protocol(self, test: str = "ttest", alpha: float = 0.05) -> str:
        metrics = set(self.metric.values())
        named = (f"metric {metrics.pop()}" if len(metrics) == 1
                 else "metrics " + ", ".join(f"{t}: {m}" for t, m in self.metric.items()))
        return (f"{self.n_folds}-fold CV, {named}, against the single-task reference "
                f"(paired {'t-test' if test == 'ttest' else 'Wilcoxon test'}, alpha={alpha})")

    def to_markdown(self, alpha: float = 0.05, test: str = "ttest") -> str:
        """The summary as a Markdown table (no ``tabulate`` needed).

        ``grad_cosine`` appears when gradient conflict was recorded; NaN shows as ``n/a``.
        """
        table = self.summary(alpha, test).reset_index()
        columns = ["model", "task", "metric", "mean", "reference_mean", "delta", "relative_delta",
                   "p_value", "negative_transfer"]
        if not table["shares_parameters"].all():
            columns.insert(-1, "significantly_worse")
        if table["grad_cosine"].notna().any():
            columns.append("grad_cosine")
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in table[columns].itertuples(index=False):
            lines.append("| " + " | ".join(_cell(v, c) for v, c in zip(row, columns)) + " |")
        return "\n".join(lines)

    def to_csv(self, directory, alpha: float = 0.05, test: str = "ttest") -> list[Path]:
        """Write ``scores.csv``, ``summary.csv`` and, when recorded, ``gradient_conflict.csv``
        and ``task_affinity.csv``.

        ``directory`` is created if needed; returns the paths written.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / "scores.csv", directory / "summary.csv"]
        self.scores.to_csv(paths[0], index=False)
        self.summary(alpha, test).to_csv(paths[1])
        if len(self.gradient_conflict):
            paths.append(directory / "gradient_conflict.csv")
            self.gradient_conflict.to_csv(paths[-1], index=False)
        if len(self.task_affinity):
            paths.append(directory / "task_affinity.csv")
            self.task_affinity.to_csv(paths[-1], index=False)
        return paths

    def plot(self, ax=None, alpha: float = 0.05, test: str = "ttest"):
        """Bar chart of each model's delta against the reference, grouped by task.

        Error bars are the standard deviation of the per-fold differences; bars with a red,
        hatched edge are negative transfer at ``alpha``, dotted grey ones are significantly worse
        models that share no parameters (``PerTaskLGBM``). Returns the matplotlib Axes (nothing
        is shown: save it with ``ax.figure.savefig(path)``).
        """
        from ._plot import plot_deltas

        return plot_deltas(self, ax=ax, alpha=alpha, test=test)

    def __repr__(self) -> str:
        summary = self.summary()
        cols = ["mean", "reference_mean", "delta", "p_value", "negative_transfer"]
        with pd.option_context("display.width", 120, "display.float_format", "{:.4f}".format):
            body = summary[cols].to_string()
        flagged = summary[summary["negative_transfer"]].index.tolist()
        verdict = (f"negative transfer: {', '.join(f'{m} on {t}' for m, t in flagged)}"
                   if flagged else "no negative transfer shown")
        unshared = summary[summary["significantly_worse"] & ~summary["shares_parameters"]]
        if len(unshared):
            verdict += ("\nworse than the reference, but shares no parameters (not transfer): "
                        + ", ".join(f"{m} on {t}" for m, t in unshared.index))
        text = f"TransferReport: {self._protocol()}\n{body}\n{verdict}"
        final = self._final_cosines()
        if len(final):
            means = final.groupby("model", sort=False)["cosine"].mean()
            text += ("\ngradient cosine on the shared parameters, last epoch (mean over folds and "
                     "task pairs): " + ", ".join(f"{m} {c:+.3f}" for m, c in means.items()))
        return text
