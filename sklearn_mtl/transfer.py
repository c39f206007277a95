"""compare_transfer and TransferReport: does a multi-task model help or hurt each task?

Every model and a single-task reference are cloned and trained on the same cross-validation
folds; each task is scored on each held-out fold. A model shows **negative transfer** on a task
when it scores worse than the reference trained under the same protocol, by a paired test across
the folds at the chosen significance level.
"""

from __future__ import annotations

import numbers
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import KFold, check_cv
from sklearn.utils import _safe_indexing

from .metrics import _resolve_metrics, greater_is_better, per_task_scores
from .tasks import TargetEncoder, as_target_frame

REFERENCE = "reference"
_CONFLICT_COLUMNS = ["model", "fold", "epoch", "pair", "task_a", "task_b", "cosine"]


def _final_step(estimator):
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def _is_multitask(estimator) -> bool:
    # Duck typing before any fit: both estimators of the package declare their tasks as a
    # parameter, which no single-task scikit-learn estimator does.
    final = _final_step(estimator)
    return (hasattr(final, "fit") and hasattr(final, "predict") and hasattr(final, "get_params")
            and "tasks" in final.get_params(deep=False))


def _shares_parameters(estimator) -> bool:
    """Whether the model shares parameters between tasks, so that it can transfer at all."""
    from .estimator import MultiTaskRecommender

    final = _final_step(estimator)
    return isinstance(final, MultiTaskRecommender) and final.architecture != "single"


def _default_reference(models: dict):
    from .estimator import MultiTaskRecommender

    for estimator in models.values():
        if isinstance(_final_step(estimator), MultiTaskRecommender):
            reference = clone(estimator)
            _final_step(reference).set_params(architecture="single")
            return reference
    raise ValueError(
        "compare_transfer needs a reference: none of the models is a MultiTaskRecommender whose "
        "settings the default single-task reference could copy; pass reference=..."
    )


def _gradient_cosines(name, fold, owner, names) -> list[dict]:
    history = getattr(owner, "history_", None)
    if history is None or not len(history) or "grad_cosine" not in history[-1]:
        return []
    # Map "a|b" keys back to task names exactly, whatever characters the names contain.
    pairs = {f"{a}|{b}": (a, b) for a, b in combinations(names, 2)}
    return [dict(model=name, fold=fold, epoch=epoch + 1, pair=key, task_a=pairs[key][0],
                 task_b=pairs[key][1], cosine=value)
            for epoch, row in enumerate(history) if "grad_cosine" in row
            for key, value in row["grad_cosine"].items() if key in pairs]


def _fit_and_score(name, estimator, X, Y, train, test, fold, metric, task_names, keep):
    # Runs on a joblib worker (a Dask worker under parallel_backend("dask")): return only what
    # the report needs, and the fitted model only when asked for.
    model = clone(estimator).fit(_safe_indexing(X, train), _safe_indexing(Y, train))
    owner = _final_step(model)
    names, kinds = list(owner.task_names_), list(owner.tasks_)
    result = dict(name=name, fold=fold, names=names, kinds=kinds, scores=None, metrics=None,
                  cosines=_gradient_cosines(name, fold, owner, names), model=model if keep else None)
    if names == task_names:  # otherwise compare_transfer names the culprit
        result["metrics"] = _resolve_metrics(metric, names, kinds)
        result["scores"] = per_task_scores(model, _safe_indexing(X, test), _safe_indexing(Y, test),
                                           metric=result["metrics"])
    return result


def _folds(cv, frame: pd.DataFrame, random_state) -> list:
    n = frame.shape[0]
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if not 2 <= cv <= n:
            raise ValueError(f"cv={cv} is not valid for {n} rows: it must be between 2 and {n}.")
        cv = KFold(int(cv), shuffle=True, random_state=random_state)
    splitter = check_cv(cv)
    # A splitter that needs y (StratifiedKFold) gets the first task's labels when complete.
    first = frame.iloc[:, 0]
    y = None if first.isna().any() else first.to_numpy()
    try:
        return list(splitter.split(np.zeros((n, 1)), y))
    except (TypeError, ValueError) as exc:
        if y is not None:
            raise
        raise ValueError(
            f"cv={cv!r} needs labels to split on, and it would use the first task "
            f"{frame.columns[0]!r}, which has {int(first.isna().sum())} missing labels; use "
            "KFold (cv=int) or put a task without missing labels first in Y."
        ) from exc


def compare_transfer(models: dict, X, Y, *, reference=None, cv=5, metric="auto",
                     n_jobs: int | None = None, random_state=None, return_estimators: bool = False,
                     verbose: int = 0) -> TransferReport:
    """Train every model and the single-task reference on the same folds and compare per task.

    Parameters
    ----------
    models : dict of str -> estimator
        Multi-task estimators (``MultiTaskRecommender``, ``PerTaskLGBM`` or a Pipeline ending in
        one), by the name the report shows. ``"reference"`` is reserved for the reference.
    X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
    Y : array-like or DataFrame of shape (n_samples, n_tasks) or (n_samples,)
        Targets; NaN is a missing label. One task is allowed.
    reference : estimator, default=None
        The single-task reference, named ``"reference"`` in the report. Default: a clone of
        the first ``MultiTaskRecommender`` in ``models`` (the last step of a Pipeline, whose
        other steps are kept) with ``architecture="single"``: the same settings and per-task
        capacity, no sharing. Required when ``models`` holds no ``MultiTaskRecommender``.
    cv : int, splitter or iterable of (train, test) indices, default=5
        An int gives ``KFold(cv, shuffle=True, random_state=random_state)``. A splitter's
        ``split`` receives the first task's labels as ``y`` when that task has no missing
        label (so ``StratifiedKFold`` stratifies on it); for groups pass the folds themselves,
        e.g. ``list(GroupKFold(5).split(X, groups=g))``.
    metric : str, list or dict, default="auto"
        As in :func:`sklearn_mtl.metrics.per_task_scores`; resolved per task from the task
        kinds of the fitted models, which must agree.
    n_jobs : int, default=None
        Parallel (model, fold) fits through joblib: under ``joblib.parallel_backend("dask")``
        with a ``dask.distributed.Client`` they run on the cluster's workers.
    random_state : int, default=None
        Seeds the folds of an int ``cv`` (the models keep their own ``random_state``).
    return_estimators : bool, default=False
        Keep the fitted models in ``report.estimators[(name, fold)]``.
    verbose : int, default=0
        Passed to joblib (progress of the fits).

    Returns
    -------
    TransferReport

    Raises
    ------
    ValueError
        ``models`` is not a non-empty dict; a model or the reference is not a multi-task
        estimator; no reference can be derived; ``cv`` exceeds the number of rows; a fitted
        model has other task names or task kinds than the reference.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
    >>> from sklearn_mtl.datasets import make_multitask_data
    >>> X, Y = make_multitask_data(n_samples=600, n_features=8, random_state=0)
    >>> models = {"hard": MultiTaskRecommender("hard", max_epochs=3, random_state=0),
    ...           "lgbm": PerTaskLGBM(n_estimators=20, n_jobs=1, verbose=-1)}
    >>> report = compare_transfer(models, X, Y, cv=3, random_state=0)
    >>> report.summary().index.tolist()
    [('hard', 'task_0'), ('lgbm', 'task_0'), ('hard', 'task_1'), ('lgbm', 'task_1')]
    >>> report.metric
    {'task_0': 'r2', 'task_1': 'r2'}
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
        raise ValueError(f"reference ({type(_final_step(reference)).__name__}) is not a multi-task "
                         "estimator: use MultiTaskRecommender('single'), PerTaskLGBM or a Pipeline.")
    frame, _ = as_target_frame(Y)
    folds = _folds(cv, frame, random_state)
    # Fail on a bad metric before any fit, with the task kinds the reference declares.
    targets = TargetEncoder(_final_step(reference).get_params()["tasks"]).fit(Y)
    _resolve_metrics(metric, targets.names_, targets.kinds_)

    jobs = [*models.items(), (REFERENCE, reference)]
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_fit_and_score)(name, est, X, Y, train, test, fold, metric, targets.names_,
                                return_estimators)
        for fold, (train, test) in enumerate(folds)
        for name, est in jobs
    )
    for r in results:
        if r["scores"] is None:
            raise ValueError(
                f"model {r['name']!r} was fitted on tasks {r['names']} but Y has tasks "
                f"{targets.names_}; every model and the reference must see the same task set."
            )
    reference_run = next(r for r in results if r["name"] == REFERENCE)
    rows, estimators, cosines = [], {}, []
    for r in results:
        if r["metrics"] != reference_run["metrics"]:
            raise ValueError(
                f"model {r['name']!r} treats the tasks as {r['kinds']} (scored with {r['metrics']}) "
                f"but the reference treats them as {reference_run['kinds']} (scored with "
                f"{reference_run['metrics']}); give every model the same tasks=."
            )
        rows += [dict(model=r["name"], task=t, fold=r["fold"], score=s) for t, s in r["scores"].items()]
        cosines += r["cosines"]
        if return_estimators:
            estimators[(r["name"], r["fold"])] = r["model"]
    return TransferReport(
        pd.DataFrame(rows, columns=["model", "task", "fold", "score"]),
        metric=dict(zip(targets.names_, reference_run["metrics"])),
        n_folds=len(folds),
        estimators=estimators if return_estimators else None,
        gradient_conflict=pd.DataFrame(cosines, columns=_CONFLICT_COLUMNS),
        shared={name: _shares_parameters(est) for name, est in models.items()},
    )


def _paired_p_value(values: np.ndarray, ref: np.ndarray, test: str) -> float:
    diff = values - ref
    if len(diff) < 2 or not np.any(diff != 0):  # no variation to test: undefined, not 1
        return np.nan
    result = stats.ttest_rel(values, ref) if test == "ttest" else stats.wilcoxon(values, ref)
    return float(result.pvalue)


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
                 gradient_conflict: pd.DataFrame | None = None, shared: dict | None = None):
        self.scores = scores
        self.metric = dict(metric)
        self.n_folds = n_folds
        self.estimators = estimators
        self.gradient_conflict = (pd.DataFrame(columns=_CONFLICT_COLUMNS) if gradient_conflict is None
                                  else gradient_conflict)
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
        """Write ``scores.csv``, ``summary.csv`` and, when recorded, ``gradient_conflict.csv``.

        ``directory`` is created if needed; returns the paths written.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / "scores.csv", directory / "summary.csv"]
        self.scores.to_csv(paths[0], index=False)
        self.summary(alpha, test).to_csv(paths[1])
        if len(self.gradient_conflict):
            paths.append(directory / "gradient_conflict.csv")
            self.gradient_conflict.to_csv(paths[2], index=False)
        return paths

    def plot(self, ax=None, alpha: float = 0.05, test: str = "ttest"):
        """Bar chart of each model's delta against the reference, grouped by task.

        Error bars are the standard deviation of the per-fold differences; bars with a red,
        hatched edge are negative transfer at ``alpha``, dotted grey ones are significantly worse
        models that share no parameters (``PerTaskLGBM``). Returns the matplotlib Axes (nothing
        is shown: save it with ``ax.figure.savefig(path)``).
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        summary = self.summary(alpha, test).reset_index()
        tasks = list(self.metric)
        if ax is None:
            _, ax = plt.subplots(figsize=(1.8 + 1.6 * len(tasks), 3.6))
        models = list(dict.fromkeys(summary["model"]))
        width = 0.8 / len(models)
        handles = []
        for i, model in enumerate(models):
            part = summary[summary["model"] == model].set_index("task").loc[tasks]
            x = np.arange(len(tasks)) + (i - (len(models) - 1) / 2) * width
            bars = ax.bar(x, part["delta"], width, yerr=part["delta_std"].fillna(0), capsize=3)
            for bar, negative, worse in zip(bars, part["negative_transfer"],
                                            part["significantly_worse"]):
                if negative:
                    bar.set_hatch("//")
                    bar.set_edgecolor("red")
                elif worse:  # worse, but the model shares nothing: not transfer
                    bar.set_hatch("..")
                    bar.set_edgecolor("dimgrey")
            # Own legend handles: matplotlib's would copy the first bar's hatch, if flagged.
            handles.append(Patch(facecolor=bars[0].get_facecolor(), label=model))
        handles.append(Patch(facecolor="white", edgecolor="red", hatch="//",
                             label=f"negative transfer (p < {alpha})"))
        if (summary["significantly_worse"] & ~summary["shares_parameters"]).any():
            handles.append(Patch(facecolor="white", edgecolor="dimgrey", hatch="..",
                                 label=f"worse, shares nothing (p < {alpha})"))
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(np.arange(len(tasks)))
        # Deltas are raw metric differences, so each tick says which way is better.
        ax.set_xticklabels([f"{t}\n{self.metric[t]}, {'↑' if self.greater_is_better[t] else '↓'} better"
                            for t in tasks])
        ax.set_ylabel("model − single-task reference")
        names = sorted(set(self.metric.values()))
        ax.set_title(f"Δ {' / '.join(names)} against the single-task reference, "
                     f"{self.n_folds}-fold CV", fontsize="medium")
        ax.legend(handles=handles, fontsize="small")
        return ax

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
