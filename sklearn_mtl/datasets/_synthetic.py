"""Synthetic multi-task data with a controlled task correlation (MMoE paper, section 4.1)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from sklearn.utils import check_random_state

from .._checks import in_range

_KINDS = ("regression", "binary")
# Scale constant c of the paper (w_k = c * unit vector); the paper's experiments use c = 1.
_SCALE = 1.0
# Pivots of the Cholesky factor below this are treated as exact zeros: the task-correlation
# matrix is singular at task_correlation = 1 and at the lower bound -1 / (n_tasks - 1).
_PIVOT_TOL = 1e-12


def make_multitask_data(
    n_samples: int = 10000,
    n_features: int = 100,
    n_tasks: int = 2,
    task_correlation: float = 0.5,
    task_kinds: str | Sequence[str] = "regression",
    noise: float = 0.01,
    n_sinusoids: int = 10,
    random_state: int | np.random.RandomState | None = None,
    *,
    return_weights: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Generate multi-task data whose tasks have a controlled correlation.

    This is the synthetic benchmark of Ma et al., "Modeling Task Relationships in Multi-task
    Learning with Multi-gate Mixture-of-Experts", KDD 2018, section 4.1, generalized to more
    than two tasks. Because the labels are nonlinear functions of the inputs, the Pearson
    correlation of the labels is not the knob; the cosine between the tasks' weight vectors is:

    1. Draw ``n_tasks`` orthonormal vectors :math:`u_1, \dots, u_T \in \mathbb{R}^d` (QR
       decomposition of a Gaussian matrix, ``d = n_features``).
    2. Let :math:`G` be the :math:`T \times T` matrix with ones on the diagonal and
       ``task_correlation`` :math:`p` elsewhere, and :math:`L` its (lower, possibly
       semi-definite) Cholesky factor. The task weight vectors are
       :math:`w_k = c \sum_j L_{kj} u_j`, so :math:`\cos(w_i, w_j) = p` for every pair
       :math:`i \ne j`. For two tasks this is exactly the paper's :math:`w_1 = c u_1`,
       :math:`w_2 = c (p u_1 + \sqrt{1 - p^2} u_2)`. The scale constant is :math:`c = 1`, the
       value of the paper's experiments, so every :math:`w_k` has unit norm.
    3. Draw :math:`x \sim N(0, I_d)` for each sample.
    4. Draw :math:`\alpha_i, \beta_i \sim N(0, 1)`, :math:`i = 1, \dots, m`
       (``m = n_sinusoids``), shared by all tasks, and set
       :math:`y_k = w_k^\top x + \sum_{i=1}^{m} \sin(\alpha_i w_k^\top x + \beta_i)
       + \varepsilon_k` with :math:`\varepsilon_k \sim N(0, \text{noise})` independent
       across tasks and samples.

    A ``"binary"`` task is the regression label thresholded at its median over the generated
    samples (1 above the median, 0 otherwise), so its positive rate is 50 % (up to one sample).

    Parameters
    ----------
    n_samples : int, default=10000
        Number of samples, at least 1.
    n_features : int, default=100
        Input dimension ``d``; at least ``n_tasks`` so that the task vectors fit.
    n_tasks : int, default=2
        Number of tasks ``T``, at least 1.
    task_correlation : float, default=0.5
        Cosine ``p`` between every pair of task weight vectors. Must be in ``[-1, 1]``; with
        more than two tasks the pairwise cosines can only all equal ``p`` if
        ``p >= -1 / (n_tasks - 1)``.
    task_kinds : {"regression", "binary"} or sequence of those, default="regression"
        Kind of every task, or one kind per task.
    noise : float, default=0.01
        Variance (not standard deviation) of the Gaussian noise, as the paper's
        :math:`N(0, 0.01)`; the standard deviation is ``sqrt(noise)``. Non-negative.
    n_sinusoids : int, default=10
        Number ``m`` of sinusoid terms; 0 gives linear tasks.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws; pass an int for reproducible output.
    return_weights : bool, default=False
        Also return the task weight matrix.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Inputs, float64.
    Y : ndarray of shape (n_samples, n_tasks)
        Labels, one column per task: float64 when every task is a regression, int64 (0/1) when
        every task is binary, and float64 (binary columns holding 0.0/1.0) when kinds mix.
    W : ndarray of shape (n_tasks, n_features)
        The task weight vectors :math:`w_k`, one per row; only when ``return_weights=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl.datasets import make_multitask_data
    >>> X, Y, W = make_multitask_data(
    ...     n_samples=1000, n_features=20, task_correlation=0.8, random_state=0,
    ...     return_weights=True)
    >>> X.shape, Y.shape, W.shape
    ((1000, 20), (1000, 2), (2, 20))
    >>> round(float(W[0] @ W[1] / np.linalg.norm(W[0]) / np.linalg.norm(W[1])), 6)
    0.8
    >>> X, Y = make_multitask_data(n_samples=1000, task_kinds="binary", random_state=0)
    >>> Y.dtype, Y.mean(axis=0).tolist()
    (dtype('int64'), [0.5, 0.5])
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    n_tasks = _check_int("n_tasks", n_tasks, 1)
    n_features = _check_int("n_features", n_features, 1)
    if n_features < n_tasks:
        raise ValueError(
            f"n_features={n_features} must be >= n_tasks={n_tasks}: each task needs its own "
            "orthogonal direction."
        )
    n_sinusoids = _check_int("n_sinusoids", n_sinusoids, 0)
    p = _check_real("task_correlation", task_correlation)
    if not -1.0 <= p <= 1.0:
        raise ValueError(f"task_correlation={task_correlation!r} must be in [-1, 1].")
    if n_tasks > 2 and p < -1.0 / (n_tasks - 1):
        raise ValueError(
            f"task_correlation={task_correlation!r} is impossible for n_tasks={n_tasks}: "
            f"{n_tasks} vectors can only have the same pairwise cosine p if "
            f"p >= -1/(n_tasks - 1) = {-1.0 / (n_tasks - 1):.6g}."
        )
    noise = _check_real("noise", noise)
    if noise < 0:
        raise ValueError(f"noise={noise!r} must be >= 0 (it is the noise variance).")
    kinds = check_kinds(task_kinds, n_tasks)
    if not isinstance(return_weights, bool | np.bool_):
        raise ValueError(f"return_weights={return_weights!r} must be True or False.")
    rng = check_random_state(random_state)

    basis, _ = np.linalg.qr(rng.standard_normal((n_features, n_tasks)))
    corr = np.full((n_tasks, n_tasks), p)
    np.fill_diagonal(corr, 1.0)
    W = _SCALE * _psd_cholesky(corr) @ basis.T
    alpha = rng.standard_normal(n_sinusoids)
    beta = rng.standard_normal(n_sinusoids)
    X = rng.standard_normal((n_samples, n_features))
    eps = rng.normal(0.0, np.sqrt(noise), size=(n_samples, n_tasks))

    Z = X @ W.T
    Y = Z + eps
    # One sinusoid at a time keeps memory at O(n_samples * n_tasks) instead of a 3-D array.
    for a, b in zip(alpha, beta):
        Y += np.sin(a * Z + b)

    binary = [k == "binary" for k in kinds]
    for k, is_binary in enumerate(binary):
        if is_binary:
            Y[:, k] = (Y[:, k] > np.median(Y[:, k])).astype(np.float64)
    if all(binary):
        Y = Y.astype(np.int64)
    if return_weights:
        return X, Y, W
    return X, Y


def _psd_cholesky(G: np.ndarray) -> np.ndarray:
    """Lower factor L with L @ L.T == G for a positive semi-definite G.

    ``np.linalg.cholesky`` rejects singular matrices; zero pivots here just zero their column,
    which keeps the two-task case identical to the paper's closed form.
    """
    n = G.shape[0]
    L = np.zeros_like(G)
    for j in range(n):
        pivot = G[j, j] - L[j, :j] @ L[j, :j]
        if pivot <= _PIVOT_TOL:
            continue
        L[j, j] = np.sqrt(pivot)
        for i in range(j + 1, n):
            L[i, j] = (G[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
    return L


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, np.bool_) or not in_range(value, integer=True, low=minimum):
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}.")
    return int(value)


def _check_real(name: str, value) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r} must be a real number.")
    if not np.isfinite(value):
        raise ValueError(f"{name}={value!r} must be finite.")
    return float(value)


def check_kinds(task_kinds, n_tasks: int) -> list[str]:
    if isinstance(task_kinds, str):
        if task_kinds not in _KINDS:
            raise ValueError(
                f"task_kinds={task_kinds!r} is not valid: use 'regression', 'binary' or a list "
                "with one of those per task."
            )
        return [task_kinds] * n_tasks
    try:
        kinds = list(task_kinds)
    except TypeError:
        raise ValueError(
            f"task_kinds={task_kinds!r} is not valid: use 'regression', 'binary' or a list "
            "with one of those per task."
        ) from None
    if len(kinds) != n_tasks:
        raise ValueError(
            f"task_kinds={task_kinds!r} has {len(kinds)} entries but n_tasks={n_tasks}."
        )
    bad = [k for k in kinds if not isinstance(k, str) or k not in _KINDS]
    if bad:
        raise ValueError(
            f"task_kinds={task_kinds!r} contains {bad[0]!r}: each entry must be 'regression' "
            "or 'binary'."
        )
    return kinds
