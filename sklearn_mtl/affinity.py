"""Inter-task affinity and the task groupings it suggests.

Fifty et al., "Efficiently Identifying Task Groupings for Multi-Task Learning" (NeurIPS 2021)
measure how a step on one task's gradient changes another task's loss. On a training batch,
with shared parameters ``theta_s``, the lookahead affinity of task i onto task j is

    Z(i -> j) = 1 - L_j(theta_s - lr * grad_{theta_s} L_i, theta_j) / L_j(theta_s, theta_j),

positive when task i's update lowers task j's loss. Averaged over training, the T x T matrix
says which tasks help each other; :func:`propose_task_groups` turns it into at most ``k``
networks the way the paper's selection does: a task may sit in several groups and is served
by the group whose other members help it most.
"""

from __future__ import annotations

import numbers
from itertools import combinations
from math import comb

import numpy as np
import torch
from skorch.callbacks import Callback

from ._checks import in_range

_MAX_SELECTIONS = 200_000


class TaskAffinity(Callback):
    """Measure the lookahead inter-task affinity every ``every`` training steps.

    Adds to the history, per epoch, ``task_affinity`` (``{"task_i->task_j": mean Z}``, the
    diagonal included) over the epoch's measurements. :func:`task_affinity_matrix` averages
    the epochs into a T x T matrix. Each measurement runs the module in eval mode (no dropout,
    so the fit does not change), takes one backward pass per task and one forward pass per
    task at the looked-ahead shared parameters on the current batch, then restores them.
    Nothing is recorded without shared parameters ("soft", "single") or with one task.

    Parameters
    ----------
    names : list of str
        Task names, in output order.
    every : int, default=5
        Measure on every ``every``-th training batch (the first one included).
    lookahead_lr : float or None, default=None
        Step size of the lookahead SGD step; ``None`` uses the net's learning rate.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRecommender
    >>> from sklearn_mtl.datasets import make_multitask_data
    >>> X, Y = make_multitask_data(n_samples=500, n_features=5, random_state=0)
    >>> m = MultiTaskRecommender("hard", track_task_affinity=True, max_epochs=2).fit(X, Y)
    >>> m.task_affinity_.shape
    (2, 2)
    """

    def __init__(self, names, every: int = 5, lookahead_lr: float | None = None):
        self.names = names
        self.every = every
        self.lookahead_lr = lookahead_lr

    def initialize(self):
        if not in_range(self.every, integer=True, low=1):
            raise ValueError(f"every={self.every!r} is not valid: it must be an int >= 1.")
        if self.lookahead_lr is not None and not (
            isinstance(self.lookahead_lr, numbers.Real) and self.lookahead_lr > 0
        ):
            raise ValueError(f"lookahead_lr={self.lookahead_lr!r} is not valid: use None or a number > 0.")
        self.step_ = 0
        return super().initialize()

    def on_epoch_begin(self, net, **kwargs):
        n = len(self.names)
        self._sums = np.zeros((n, n))
        self._counts = np.zeros((n, n))

    def on_batch_begin(self, net, batch=None, training=None, **kwargs):
        if not training or batch is None:
            return
        step, self.step_ = self.step_, self.step_ + 1
        if step % self.every or len(self.names) < 2:
            return
        shared = [p for p in net.module_.shared_parameters() if p.requires_grad]
        if shared:
            self._measure(net, shared, *batch)

    def _measure(self, net, shared, X, y):
        module, criterion = net.module_, net.criterion_
        lr = float(net.lr if self.lookahead_lr is None else self.lookahead_lr)
        was_training = module.training
        module.eval()
        saved = [p.detach().clone() for p in shared]
        try:
            with torch.enable_grad():
                losses, present = criterion.task_losses(module(**X), y["y"], y.get("w"))
                if len(losses) != len(self.names):
                    raise ValueError(f"TaskAffinity got {len(self.names)} task names "
                                     f"{list(self.names)} for a net with {len(losses)} tasks.")
                tasks = [k for k in range(len(losses)) if bool(present[k]) and losses[k] > 0]
                grads = {i: torch.autograd.grad(losses[i], shared, retain_graph=True,
                                                allow_unused=True) for i in tasks}
            base = losses.detach()
            with torch.no_grad():
                for i in tasks:
                    for p, g in zip(shared, grads[i]):
                        if g is not None:
                            p.sub_(lr * g)
                    ahead, _ = criterion.task_losses(module(**X), y["y"], y.get("w"))
                    for j in tasks:
                        self._sums[i, j] += float(1.0 - ahead[j] / base[j])
                        self._counts[i, j] += 1
                    for p, s in zip(shared, saved):
                        p.copy_(s)
        finally:
            with torch.no_grad():
                for p, s in zip(shared, saved):
                    p.copy_(s)
            module.train(was_training)

    def on_epoch_end(self, net, **kwargs):
        counts = getattr(self, "_counts", None)
        if counts is None or not counts.any():
            return
        record = {}
        for i, a in enumerate(self.names):
            for j, b in enumerate(self.names):
                if self._counts[i, j]:
                    record[f"{a}->{b}"] = self._sums[i, j] / self._counts[i, j]
        net.history.record("task_affinity", record)


def task_affinity_matrix(history, names) -> np.ndarray:
    """Average the per-epoch ``task_affinity`` records of a history into a T x T matrix.

    Entry ``[i, j]`` is ``Z(i -> j)``, the effect of a step on task i on task j's loss; NaN
    where a pair was never measured.

    Examples
    --------
    >>> task_affinity_matrix([{"task_affinity": {"a->b": 0.2, "b->a": 0.1}}], ["a", "b"])
    array([[nan, 0.2],
           [0.1, nan]])
    """
    return _history_matrix(history, names, "task_affinity", "->", symmetric=False)


def gradient_cosine_matrix(history, names) -> np.ndarray:
    """Average the per-epoch ``grad_cosine`` records (``track_gradient_conflict``) into a matrix.

    Symmetric, with NaN on the diagonal; :func:`propose_task_groups` accepts it in place of
    the affinity matrix.

    Examples
    --------
    >>> gradient_cosine_matrix([{"grad_cosine": {"a|b": -0.5}}], ["a", "b"])
    array([[ nan, -0.5],
           [-0.5,  nan]])
    """
    return _history_matrix(history, names, "grad_cosine", "|", symmetric=True)


def _history_matrix(history, names, key, sep, symmetric) -> np.ndarray:
    names = [str(n) for n in names]
    index = {n: k for k, n in enumerate(names)}
    sums = np.zeros((len(names), len(names)))
    counts = np.zeros_like(sums)
    for row in history:
        for pair, value in (row.get(key) or {}).items():
            a, b = pair.split(sep)
            i, j = index[a], index[b]
            if np.isfinite(value):
                sums[i, j] += value
                counts[i, j] += 1
                if symmetric:
                    sums[j, i] += value
                    counts[j, i] += 1
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def propose_task_groups(affinity, n_groups: int = 2, names=None, *, tol: float = 0.05,
                        return_score: bool = False):
    """Propose at most ``n_groups`` networks (task groups) from an inter-task affinity matrix.

    The selection of Fifty et al. (NeurIPS 2021): among every choice of at most ``n_groups``
    non-empty task subsets that covers each task, maximize ``sum_t max_{G contains t} a(G, t)``
    where ``a(G, t)`` is the mean of ``affinity[s, t]`` over the other members ``s`` of ``G``
    (0 for a task alone). A task may appear in several groups (it is then trained in each and
    served by the best one). A task alone scores 0 (no transfer either way), so a group is
    chosen only where its members help each other. Searched exhaustively.

    Parameters
    ----------
    affinity : array-like or DataFrame of shape (n_tasks, n_tasks)
        ``affinity[i, j]``: how much task i helps task j (the ``task_affinity_`` of a fit with
        ``track_task_affinity=True``, or a gradient-cosine matrix). The diagonal is ignored;
        NaN counts as 0.
    n_groups : int, default=2
        Largest number of networks.
    names : list, optional
        Task names; default the DataFrame's index or ``0 .. n_tasks - 1``.
    tol : float, default=0.05
        Selections whose total is within ``tol`` times the largest absolute affinity
        (diagonal included) of the best count as ties; ties go to fewer groups, then to
        fewer tasks trained in several groups. Tasks that neither help nor hurt each other
        thus end up in one network.
    return_score : bool, default=False
        Also return the selection's total affinity.

    Returns
    -------
    groups : list of tuple
        The groups, each a tuple of task names in the matrix's order.
    score : float
        Only with ``return_score=True``.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[0.0, 0.3, -0.1], [0.3, 0.0, -0.1], [-0.1, -0.1, 0.0]])
    >>> propose_task_groups(Z, n_groups=2, names=["ctr", "cvr", "age"])
    [('ctr', 'cvr'), ('age',)]
    """
    if names is None and hasattr(affinity, "index"):
        names = list(affinity.index)
    Z = np.asarray(affinity, dtype=float)
    if Z.ndim != 2 or Z.shape[0] != Z.shape[1] or Z.shape[0] < 1:
        raise ValueError(f"affinity of shape {Z.shape} is not valid: it must be a square (T, T) matrix.")
    n = Z.shape[0]
    names = list(range(n)) if names is None else list(names)
    if len(names) != n:
        raise ValueError(f"names has {len(names)} entries but affinity is {n} x {n}.")
    if not in_range(n_groups, integer=True, low=1):
        raise ValueError(f"n_groups={n_groups!r} is not valid: it must be an int >= 1.")
    _check_tol(tol)
    Z = np.nan_to_num(Z, nan=0.0)
    subsets = [s for size in range(1, n + 1) for s in combinations(range(n), size)]
    # gain[g, t]: what group g gives task t (-inf when t is not in g).
    gain = np.full((len(subsets), n), -np.inf)
    for g, members in enumerate(subsets):
        for t in members:
            others = [s for s in members if s != t]
            gain[g, t] = Z[others, t].mean() if others else 0.0
    k_max = min(int(n_groups), n)
    n_selections = sum(comb(len(subsets), k) for k in range(1, k_max + 1))
    if n_selections > _MAX_SELECTIONS:
        raise ValueError(f"{n} tasks into at most {n_groups} groups means {n_selections} "
                         f"selections to search (more than {_MAX_SELECTIONS}): lower n_groups.")
    scored = []
    for k in range(1, k_max + 1):
        for chosen in combinations(range(len(subsets)), k):
            served = gain[list(chosen)].max(axis=0)
            if not np.isneginf(served).any():
                size = sum(len(subsets[g]) for g in chosen)
                scored.append((float(served.sum()), k, size, chosen))
    top = max(score for score, *_ in scored)
    # Affinities are noisy averages: a selection within the slack of the best counts as a
    # tie, and ties go to fewer networks (cheaper), then fewer tasks trained twice. The scale
    # includes the diagonal: a step's effect on its own task is what "large" means here.
    slack = tol * np.abs(Z).max()
    best_score, _, _, best = min(
        (entry for entry in scored if entry[0] >= top - slack - 1e-12),
        key=lambda entry: (entry[1], entry[2], -entry[0]),
    )
    groups = [tuple(names[t] for t in subsets[g]) for g in best]
    groups.sort(key=lambda grp: (-len(grp), [names.index(t) for t in grp]))
    return (groups, best_score) if return_score else groups



def _check_tol(tol) -> None:
    if not isinstance(tol, numbers.Real) or isinstance(tol, bool) or not 0 <= tol < np.inf:
        raise ValueError(f"tol={tol!r} is not valid: it must be a number in [0, inf).")
