"""The served score: tasks fused into one ranking score, scored per user (``compare_transfer(fused=)``).

Production ranks each user's candidates by one fused score (pCTR × pCVR along a cascade, or a
weighted sum of task probabilities) and is judged per user (GAUC, NDCG). A model can win every
task's AUC and still rank worse once its probabilities are multiplied: the errors of two
towers compound. :class:`FusedScore` computes that score from each (model, split) fit's
predictions on the split's test rows and scores it per user; ``compare_transfer`` adds it to
the report as one more row per model, tested against the reference like any task.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .._pipeline import task_owner
from ..metrics import gauc_score, ndcg_at_k_score
from ..tasks import as_target_frame

HOWS = ("product", "sum")
_NDCG = re.compile(r"ndcg(?:@([1-9][0-9]*))?$")


class FusedScore:
    """One ranking score fused from several tasks' predictions, scored per user.

    Parameters
    ----------
    tasks : list of str
        The tasks fused, in cascade order for a product (``["click", "purchase"]``). A binary
        task gives its positive-class probability, a regression task its prediction (sum only).
    how : {"product", "sum"}, default="product"
        ``"product"``: the product of the tasks' probabilities, as a cascade serves
        pCTR × pCVR (for a net whose cascaded child already predicts P(click and purchase),
        fuse the child alone). ``"sum"``: ``sum(weights[t] * prediction_t)``.
    weights : dict or list of float, default=None
        The weights of a sum, given (not fitted), one per task; None: 1 each. Not with
        ``"product"``.
    label : str, default=None
        The task whose label is the relevance the fused ranking is judged on; None: the last
        of ``tasks`` (the deepest event of a cascade). Rows without that label are left out.
    metric : {"gauc"} or "ndcg@k", default="gauc"
        The per-user metric: GAUC needs a binary label; NDCG takes graded ones.
    name : str, default=None
        The row's name in the report; None: ``"fused: click × purchase"`` or
        ``"fused: 1·click + 2·like"``.

    Examples
    --------
    >>> from sklearn_mtl.transfer import FusedScore
    >>> FusedScore(["click", "purchase"]).name
    'fused: click × purchase'
    >>> FusedScore(["click", "like"], how="sum", weights=[1, 2], metric="ndcg@5").name
    'fused: 1·click + 2·like'
    """

    def __init__(self, tasks, *, how: str = "product", weights=None, label=None,
                 metric: str = "gauc", name: str | None = None):
        self.tasks = tasks
        self.how = how
        self.weights = weights
        self.label = label
        self.metric = metric
        self.name = name if name is not None else self._default_name()

    def __repr__(self) -> str:
        return (f"FusedScore(tasks={self.tasks!r}, how={self.how!r}, weights={self.weights!r}, "
                f"label={self.label!r}, metric={self.metric!r}, name={self.name!r})")

    def _weights(self) -> list:
        tasks = list(self.tasks)
        if self.weights is None:
            return [1.0] * len(tasks)
        if isinstance(self.weights, dict):
            return [float(self.weights[t]) for t in tasks]
        return [float(w) for w in self.weights]

    def _default_name(self) -> str:
        try:
            tasks = [str(t) for t in self.tasks]
        except TypeError:
            return "fused"
        if self.how == "sum":
            try:
                return "fused: " + " + ".join(f"{w:g}·{t}" for w, t in zip(self._weights(), tasks))
            except (KeyError, TypeError, ValueError):
                return "fused: " + " + ".join(tasks)
        return "fused: " + " × ".join(tasks)

    def _label(self):
        return list(self.tasks)[-1] if self.label is None else self.label

    def check(self, names: list, kinds: list) -> None:
        """A ValueError naming what is wrong, against the comparison's tasks and kinds."""
        me = f"FusedScore(tasks={self.tasks!r})"
        if isinstance(self.tasks, str) or not hasattr(self.tasks, "__iter__") or \
                len(list(self.tasks)) < 1:
            raise ValueError(f"{me}: tasks must be a list of task names, e.g. ['click', "
                             "'purchase'].")
        if self.how not in HOWS:
            raise ValueError(f"{me}: how={self.how!r} is not valid: use one of {list(HOWS)}.")
        kind = dict(zip(names, kinds))
        for t in [*self.tasks, self._label()]:
            if t not in kind:
                raise ValueError(f"{me}: {t!r} is not a task of Y ({list(names)}).")
        for t in self.tasks:
            allowed = ("binary", "regression") if self.how == "sum" else ("binary",)
            if kind[t] not in allowed:
                raise ValueError(f"{me}: task {t!r} is {kind[t]}; a {self.how} fuses "
                                 f"{' or '.join(allowed)} tasks.")
        if self.how == "product" and self.weights is not None:
            raise ValueError(f"{me}: weights={self.weights!r} is for how='sum'; a product has "
                             "no weights.")
        if self.how == "sum":
            try:
                weights = self._weights()
            except (KeyError, TypeError, ValueError):
                weights = None
            if weights is None or len(weights) != len(list(self.tasks)) or \
                    not np.all(np.isfinite(weights)):
                raise ValueError(f"{me}: weights={self.weights!r} is not valid: give one finite "
                                 "number per task (a list or a {task: weight} dict).")
        if self.metric != "gauc" and not _NDCG.match(str(self.metric)):
            raise ValueError(f"{me}: metric={self.metric!r} is not valid: use 'gauc' or "
                             "'ndcg@k'.")
        if self.metric == "gauc" and kind[self._label()] != "binary":
            raise ValueError(f"{me}: metric='gauc' needs a binary label; {self._label()!r} is "
                             f"{kind[self._label()]}: use metric='ndcg@k' or another label=.")
        if not isinstance(self.name, str) or not self.name or self.name in names:
            raise ValueError(f"{me}: name={self.name!r} is not valid: give a text that is not "
                             "already a task name.")

    def fused(self, model, X) -> np.ndarray:
        """The fused score of each row of ``X`` from a fitted model's predictions."""
        owner = task_owner(model)
        names = list(owner.task_names_)
        at = [names.index(t) for t in self.tasks]
        proba = None
        if any(owner.tasks_[i] == "binary" for i in at):
            proba = model.predict_proba(X)
            proba = proba if isinstance(proba, list) else [proba]
        pred = None
        if any(owner.tasks_[i] == "regression" for i in at):
            pred = np.asarray(model.predict(X), dtype=float).reshape(-1, len(names))
        columns = [proba[i][:, 1] if owner.tasks_[i] == "binary" else pred[:, i] for i in at]
        if self.how == "product":
            return np.prod(columns, axis=0)
        return np.sum([w * c for w, c in zip(self._weights(), columns)], axis=0)

    def score(self, model, X, Y, groups) -> float:
        """The per-user metric of the fused score on the rows of ``X`` with a label."""
        owner = task_owner(model)
        frame, _ = as_target_frame(Y)
        label = self._label()
        y = frame.iloc[:, list(owner.task_names_).index(label)]
        keep = ~pd.isna(y).to_numpy()
        if not keep.any():
            return float("nan")
        s = self.fused(model, X)[keep]
        g = np.asarray(groups)[keep]
        y = y.to_numpy()[keep]
        t = list(owner.task_names_).index(label)
        if owner.tasks_[t] == "binary":
            y = (y == owner.classes_[t][1]).astype(float)
        if self.metric == "gauc":
            return float(gauc_score(y, s, g))
        k = int(_NDCG.match(self.metric).group(1) or 10)
        return float(ndcg_at_k_score(y.astype(float), s, g, k=k))


def resolve_fused(fused, names: list, kinds: list) -> list:
    """``compare_transfer(fused=)`` as a list of checked :class:`FusedScore`."""
    if fused is None:
        return []
    items = [fused] if isinstance(fused, FusedScore) else list(fused) if isinstance(
        fused, (list, tuple)) else None
    if not items or not all(isinstance(f, FusedScore) for f in items):
        raise ValueError(f"fused={fused!r} is not valid: give a FusedScore or a list of them, "
                         "e.g. FusedScore(['click', 'purchase']).")
    for f in items:
        f.check(names, kinds)
    seen = [f.name for f in items]
    if len(set(seen)) != len(seen):
        raise ValueError(f"fused gives two scores the same name ({seen}): name them apart.")
    return items


def fused_lines(report, summary: pd.DataFrame) -> list[str]:
    """"wins every task, loses the ranking" (or the reverse), per model, when it is so."""
    fused = list(getattr(report, "fused", None) or [])
    if not fused:
        return []
    tasks = [t for t in report.metric if t not in fused]
    lines = []
    for model in report._models():
        rows = summary.loc[model]
        wins = all(rows.loc[t, "verdict"] in ("better", "equivalent") for t in tasks)
        for name in fused:
            verdict = rows.loc[name, "verdict"]
            if wins and verdict in ("worse", "worse within margin"):
                lines.append(f"{model}: wins or ties every task, loses the served ranking "
                             f"({name}: {verdict}).")
            elif verdict == "better" and any(
                    rows.loc[t, "verdict"] in ("worse", "worse within margin") for t in tasks):
                lines.append(f"{model}: loses a task, wins the served ranking ({name}).")
    return lines
