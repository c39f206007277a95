"""compare_transfer and TransferReport: does a multi-task model help or hurt each task?

Every model and a single-task reference are cloned and trained on the same cross-validation
folds; each task is scored on each held-out fold. A model shows **negative transfer** on a task
when it scores worse than the reference trained under the same protocol, by a paired test across
the folds at the chosen significance level.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import KFold, check_cv

from .metrics import _resolve_metrics, greater_is_better, per_task_scores
from .tasks import TargetEncoder, as_target_frame

REFERENCE = "reference"


def _final_step(estimator):
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def _is_multitask(estimator) -> bool:
    final = _final_step(estimator)
    return hasattr(final, "fit") and "tasks" in final.get_params(deep=False)


def _default_reference(models: dict):
    from .estimator import MultiTaskRecommender

    for estimator in models.values():
        if isinstance(_final_step(estimator), MultiTaskRecommender):
            reference = clone(estimator)
            if hasattr(reference, "steps"):
                reference.steps[-1][1].set_params(architecture="single")
            else:
                reference.set_params(architecture="single")
            return reference
    raise ValueError(
        "compare_transfer needs a reference: none of the models is a MultiTaskRecommender whose "
        "settings the default single-task reference could copy; pass reference=..."
    )


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _fit_and_score(name, estimator, X, Y, train, test, fold, metric, task_names):
    model = clone(estimator).fit(_rows(X, train), _rows(Y, train))
    fitted_names = list(_final_step(model).task_names_)
    if fitted_names != task_names:  # compare_transfer names the culprit
        return name, fold, None, fitted_names, model
    scores = per_task_scores(model, _rows(X, test), _rows(Y, test), metric=metric)
    return name, fold, scores, fitted_names, model


def _gradient_cosines(name, fold, model) -> list[dict]:
    history = getattr(_final_step(model), "history_", None)
    if history is None or not len(history) or "grad_cosine_mean" not in history[-1]:
        return []
    return [dict(model=name, fold=fold, epoch=e + 1, pair=pair, cosine=value)
            for e, row in enumerate(history) for pair, value in row["grad_cosine"].items()]


def compare_transfer(
    models: dict,
    X,
    Y,
    *,
    reference=None,
    cv=5,
    metric="auto",
    n_jobs=None,
    random_state=None,
    return_estimators: bool = False,
    verbose: int = 0,
) -> TransferReport:
    """Train every model and the single-task reference on the same folds and compare per task.

    Parameters
    ----------
    models : dict of str -> estimator
        Multi-task estimators (``MultiTaskRecommender``, ``PerTaskLGBM`` or a Pipeline ending in
        one), by the name the report shows.
    X, Y : features and (n_samples, n_tasks) targets; NaN in ``Y`` is a missing label.
    reference : estimator, default=None
        The single-task reference; default: a clone of the first ``MultiTaskRecommender`` in
        ``models`` with ``architecture="single"`` (the same settings, no sharing).
    cv : int or splitter, default=5
        An int gives ``KFold(cv, shuffle=True, random_state=random_state)``.
    metric : str, list or dict, default="auto"
        As in :func:`sklearn_mtl.metrics.per_task_scores`.
    n_jobs : int, default=None
        Jobs for the (model, fold) fits, through joblib: under
        ``joblib.parallel_backend("dask")`` they run on a Dask cluster.
    random_state : int, default=None
        Seeds the folds.
    return_estimators : bool, default=False
        Keep the fitted models in ``report.estimators[(name, fold)]``.
    verbose : int, default=0
        Passed to joblib (progress of the fits).

    Returns
    -------
    TransferReport

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRecommender, compare_transfer
    >>> from sklearn_mtl.datasets import make_multitask_data
    >>> X, Y = make_multitask_data(n_samples=600, n_features=8, random_state=0)
    >>> report = compare_transfer({"hard": MultiTaskRecommender("hard", max_epochs=3)}, X, Y, cv=2)
    >>> sorted(report.summary().columns)[:3]
    ['delta', 'mean', 'negative_transfer']
    """
    if not isinstance(models, dict) or not models:
        raise ValueError(f"models must be a non-empty dict of name -> estimator, got {models!r}.")
    for name, estimator in models.items():
        if name == REFERENCE:
            raise ValueError(f"the name {REFERENCE!r} is taken by the reference; rename that model.")
        if not _is_multitask(estimator):
            raise ValueError(
                f"model {name!r} ({type(_final_step(estimator)).__name__}) is not a multi-task "
                "estimator: use MultiTaskRecommender, PerTaskLGBM or a Pipeline ending in one."
            )
    reference = _default_reference(models) if reference is None else reference
    if not _is_multitask(reference):
        raise ValueError(
            f"reference ({type(_final_step(reference)).__name__}) is not a multi-task estimator."
        )
    frame, _ = as_target_frame(Y)
    n = frame.shape[0]
    if isinstance(cv, numbers.Integral):
        if not 2 <= cv <= n:
            raise ValueError(f"cv={cv} is not valid for {n} rows: it must be between 2 and {n}.")
        cv = KFold(int(cv), shuffle=True, random_state=random_state)
    splitter = check_cv(cv)
    folds = list(splitter.split(np.zeros(n)))
    targets = TargetEncoder().fit(Y)
    kinds = targets.kinds_
    metrics = _resolve_metrics(metric, targets.names_, kinds)

    jobs = [(name, est) for name, est in models.items()] + [(REFERENCE, reference)]
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_fit_and_score)(name, est, X, Y, train, test, fold, metric, targets.names_)
        for fold, (train, test) in enumerate(folds)
        for name, est in jobs
    )
    rows, estimators, cosines = [], {}, []
    for name, fold, scores, fitted_names, model in results:
        if scores is None:
            raise ValueError(
                f"model {name!r} was fitted on tasks {fitted_names} but Y has tasks "
                f"{targets.names_}; every model and the reference must see the same task set."
            )
        rows += [dict(model=name, task=t, fold=fold, score=s) for t, s in scores.items()]
        cosines += _gradient_cosines(name, fold, model)
        if return_estimators:
            estimators[(name, fold)] = model
    return TransferReport(
        pd.DataFrame(rows),
        metrics=dict(zip(targets.names_, metrics)),
        n_folds=len(folds),
        estimators=estimators if return_estimators else None,
        gradient_conflict=pd.DataFrame(cosines, columns=["model", "fold", "epoch", "pair", "cosine"]),
    )


class TransferReport:
    """Per-fold, per-task scores of every model and the reference, and the verdict per task.

    Attributes
    ----------
    scores : DataFrame
        Long format: ``model``, ``task``, ``fold``, ``score`` (the reference is ``"reference"``).
    metrics : dict
        The metric of each task; ``greater_is_better`` tells its direction.
    n_folds : int
    estimators : dict or None
        ``{(model, fold): fitted estimator}`` with ``return_estimators=True``.
    gradient_conflict : DataFrame
        ``model``, ``fold``, ``epoch``, ``pair``, ``cosine`` for the models fitted with
        ``track_gradient_conflict=True`` (empty otherwise): the cosine between two tasks'
        gradients on the shared parameters after each epoch.
    """

    def __init__(self, scores: pd.DataFrame, metrics: dict, n_folds: int, estimators=None,
                 gradient_conflict: pd.DataFrame | None = None):
        self.scores = scores
        self.metrics = metrics
        self.n_folds = n_folds
        self.estimators = estimators
        self.gradient_conflict = (
            gradient_conflict if gradient_conflict is not None
            else pd.DataFrame(columns=["model", "fold", "epoch", "pair", "cosine"])
        )
        self.greater_is_better = {t: greater_is_better(m) for t, m in metrics.items()}

    def summary(self, alpha: float = 0.05, test: str = "ttest") -> pd.DataFrame:
        """One row per (model, task): mean, std, reference_mean, delta, relative_delta, p_value,
        negative_transfer.

        ``delta`` is the model's mean score minus the reference's. ``p_value`` is two-sided and
        paired across folds (``"ttest"``: scipy's ``ttest_rel``; ``"wilcoxon"``: the signed-rank
        test). ``negative_transfer`` is True when ``p_value < alpha`` and the model is worse:
        a lower score, or a higher one for metrics where lower is better (log_loss, rmse, mae).
        """
        if test not in ("ttest", "wilcoxon"):
            raise ValueError(f"test={test!r} is not valid: use 'ttest' or 'wilcoxon'.")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha={alpha!r} is not valid: it must be in (0, 1).")
        wide = self.scores.pivot_table(index=["task", "fold"], columns="model", values="score")
        models = [m for m in dict.fromkeys(self.scores["model"]) if m != REFERENCE]
        out = []
        for task in self.metrics:
            block = wide.loc[task]
            ref = block[REFERENCE].to_numpy()
            for model in models:
                values = block[model].to_numpy()
                diff = values - ref
                p = np.nan
                if len(diff) > 1 and np.any(diff != 0) and np.all(np.isfinite(diff)):
                    if test == "ttest":
                        p = float(stats.ttest_rel(values, ref).pvalue)
                    else:
                        p = float(stats.wilcoxon(values, ref).pvalue)
                delta = float(np.mean(diff))
                worse = delta < 0 if self.greater_is_better[task] else delta > 0
                out.append(dict(
                    model=model, task=task, metric=self.metrics[task], mean=float(values.mean()),
                    std=float(values.std(ddof=1)) if len(values) > 1 else np.nan,
                    reference_mean=float(ref.mean()), delta=delta,
                    delta_std=float(diff.std(ddof=1)) if len(diff) > 1 else np.nan,
                    relative_delta=delta / abs(ref.mean()) if ref.mean() != 0 else np.nan,
                    p_value=p, negative_transfer=bool(worse and p < alpha),
                ))
        return pd.DataFrame(out).set_index(["model", "task"])

    def to_markdown(self, alpha: float = 0.05, test: str = "ttest") -> str:
        """The summary as a Markdown table."""
        table = self.summary(alpha, test).reset_index()
        columns = ["model", "task", "metric", "mean", "reference_mean", "delta", "relative_delta",
                   "p_value", "negative_transfer"]
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for _, row in table[columns].iterrows():
            cells = []
            for c in columns:
                v = row[c]
                if c == "relative_delta":
                    cells.append(f"{v:+.2%}")
                elif c == "delta":
                    cells.append(f"{v:+.4f}")
                elif isinstance(v, (bool, np.bool_)):
                    cells.append("**yes**" if v else "no")
                elif isinstance(v, float):
                    cells.append(f"{v:.4f}")
                else:
                    cells.append(str(v))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_csv(self, directory) -> tuple[Path, Path]:
        """Write ``scores.csv`` and ``summary.csv`` into ``directory``; return their paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        scores, summary = directory / "scores.csv", directory / "summary.csv"
        self.scores.to_csv(scores, index=False)
        self.summary().to_csv(summary)
        return scores, summary

    def plot(self, ax=None, alpha: float = 0.05):
        """Bar chart of each model's delta against the reference per task (matplotlib Axes).

        Error bars are the standard deviation of the per-fold differences; hatched red bars
        are negative transfer at ``alpha``.
        """
        import matplotlib.pyplot as plt

        summary = self.summary(alpha).reset_index()
        if ax is None:
            _, ax = plt.subplots(figsize=(1.8 + 1.6 * len(self.metrics), 3.6))
        models = list(dict.fromkeys(summary["model"]))
        tasks = list(self.metrics)
        width = 0.8 / len(models)
        for i, model in enumerate(models):
            part = summary[summary["model"] == model].set_index("task").loc[tasks]
            x = np.arange(len(tasks)) + (i - (len(models) - 1) / 2) * width
            bars = ax.bar(x, part["delta"], width, yerr=part["delta_std"].fillna(0), capsize=3,
                          label=model)
            for bar, negative in zip(bars, part["negative_transfer"]):
                if negative:
                    bar.set_hatch("//")
                    bar.set_edgecolor("red")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(np.arange(len(tasks)))
        ax.set_xticklabels([f"{t}\n({self.metrics[t]})" for t in tasks])
        ax.set_ylabel("score − single-task reference")
        ax.set_title(f"Transfer per task, {self.n_folds}-fold CV (hatched: negative transfer)")
        ax.legend(fontsize="small")
        return ax

    def __repr__(self) -> str:
        summary = self.summary()
        cols = ["metric", "mean", "reference_mean", "delta", "p_value", "negative_transfer"]
        with pd.option_context("display.width", 120, "display.float_format", "{:.4f}".format):
            body = summary[cols].to_string()
        flagged = summary[summary["negative_transfer"]].index.tolist()
        verdict = (f"negative transfer: {', '.join(f'{m} on {t}' for m, t in flagged)}"
                   if flagged else "no negative transfer at alpha=0.05")
        text = (f"TransferReport: {self.n_folds}-fold CV against the single-task reference, "
                f"paired t-test\n{body}\n{verdict}")
        if len(self.gradient_conflict):
            last = self.gradient_conflict.groupby(["model", "fold"])["epoch"].transform("max")
            final = self.gradient_conflict[self.gradient_conflict["epoch"] == last]
            means = final.groupby("model")["cosine"].mean()
            text += "\ngradient cosine on shared parameters, last epoch (mean over folds): " + ", ".join(
                f"{m} {c:+.3f}" for m, c in means.items()
            )
        return text
