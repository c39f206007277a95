"""Gradient surgery on the shared parameters: PCGrad and CAGrad, and the training step using them.

Both methods replace the plain sum of the task gradients on the parameters every task reaches
(``module.shared_parameters()``: the bottom of ``"hard"``, the experts of ``"mmoe"``) by a
combination of the per-task gradients ``g_k`` (each already multiplied by its task weight).
Parameters only one task reaches (its tower and head, its gate) keep that task's own gradient,
and a task without a label in the batch contributes no gradient at all.

* PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020): for every task
  i, visit the other tasks j in a random order and, when ``g_i . g_j < 0``, project ``g_i`` on
  the normal plane of ``g_j``; the update is the sum of the projected gradients.
* CAGrad (Liu et al., "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS
  2021): the direction ``d`` maximizing ``min_k g_k . d`` within a ball of radius
  ``c ||g_0||`` around the mean gradient ``g_0``. Through its dual,
  ``w* = argmin_{w in simplex} g_w . g_0 + c ||g_0|| ||g_w||`` and
  ``d = g_0 + c ||g_0|| g_w* / ||g_w*||``. It is scaled by the number of tasks so that
  ``c = 0`` gives the plain sum the other methods train with.

Cost per training step: one extra backward pass per task present in the batch (the per-task
gradients on the shared parameters) on top of the usual one, plus O(T^2 D) for the
combination (D shared parameters); CAGrad solves a T-variable problem on the T x T Gram matrix.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize

GRADIENT_METHODS = ("pcgrad", "cagrad")


def pcgrad(grads: torch.Tensor, rng: np.random.RandomState | None = None) -> torch.Tensor:
    """Combine task gradients with PCGrad (projecting conflicting gradients).

    Parameters
    ----------
    grads : tensor of shape (n_tasks, n_params)
        One flattened gradient per task.
    rng : numpy RandomState, optional
        Draws the order in which each task's gradient meets the others.

    Returns
    -------
    tensor of shape (n_params,)
        The sum of the projected gradients.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    >>> pcgrad(g)
    tensor([0.5000, 1.5000])
    """
    rng = np.random.RandomState(0) if rng is None else rng
    n = grads.shape[0]
    sq_norms = (grads * grads).sum(dim=1)
    projected = grads.clone()
    for i in range(n):
        for j in rng.permutation(n):
            if j == i or sq_norms[j] <= 0:
                continue
            # Against the other task's original gradient, as in the paper's Algorithm 1.
            dot = projected[i] @ grads[j]
            if dot < 0:
                projected[i] -= dot / sq_norms[j] * grads[j]
    return projected.sum(dim=0)


def cagrad(grads: torch.Tensor, c: float = 0.4) -> torch.Tensor:
    """Combine task gradients with CAGrad (conflict-averse gradient descent).

    Parameters
    ----------
    grads : tensor of shape (n_tasks, n_params)
        One flattened gradient per task.
    c : float, default=0.4
        Radius of the ball around the mean gradient, relative to its norm; ``c=0`` is plain
        gradient descent on the sum of the losses.

    Returns
    -------
    tensor of shape (n_params,)
        ``n_tasks * d``, with ``d`` CAGrad's direction for the mean loss.

    Examples
    --------
    >>> import torch
    >>> g = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> cagrad(g, c=0.5)  # symmetric case: (1 + c) times the sum
    tensor([1.5000, 1.5000])
    """
    n = grads.shape[0]
    g0 = grads.mean(dim=0)
    gram = (grads @ grads.T).double().cpu().numpy()
    g0_norm = float(np.sqrt(max(gram.mean(), 0.0)))
    if c == 0 or g0_norm == 0:
        return grads.sum(dim=0)
    radius = c * g0_norm
    # Dual objective on the simplex, in the T x T Gram matrix only: g_w . g0 = w^T G 1 / T,
    # ||g_w||^2 = w^T G w.
    b = gram.mean(axis=1)

    def objective(w):
        norm = np.sqrt(max(w @ gram @ w, 1e-20))
        return w @ b + radius * norm, b + radius * (gram @ w) / norm

    start = np.full(n, 1.0 / n)
    result = minimize(objective, start, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * n,
                      constraints=({"type": "eq", "fun": lambda w: w.sum() - 1.0,
                                    "jac": lambda w: np.ones_like(w)},),
                      options={"maxiter": 100, "ftol": 1e-12})
    w = torch.as_tensor(np.clip(result.x, 0.0, None), dtype=grads.dtype, device=grads.device)
    gw = w @ grads
    gw_norm = gw.norm()
    if gw_norm <= 0:
        return grads.sum(dim=0)
    return n * (g0 + radius / gw_norm * gw)


def task_gradient(loss: torch.Tensor, params) -> torch.Tensor:
    """The gradient of ``loss`` on ``params`` as one flat vector (zeros where unused).

    ``torch.autograd.grad``, not ``backward()``: the parameters' ``.grad`` buffers stay
    untouched and the graph is kept for the next task's gradient.
    """
    return _flat(torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True), params)


def _flat(grads, params) -> torch.Tensor:
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                      for g, p in zip(grads, params)])


def balanced_backward(net, y_pred, y_true, rng: np.random.RandomState | None = None) -> torch.Tensor:
    """Backward pass of one training batch with gradient surgery and/or GradNorm.

    Fills ``.grad`` of every parameter as ``loss.backward()`` would, then replaces the plain
    sum of the task gradients on the shared parameters by ``net.gradient_method``'s
    combination, and gives GradNorm's weights their gradient. Returns the training loss.
    """
    criterion, module = net.criterion_, net.module_
    terms, present, losses = criterion.task_terms(y_pred, y_true["y"], y_true.get("w"))
    loss = terms.sum()
    if net.sharing_strength:
        penalty = module.sharing_penalty()
        if penalty is not None:
            loss = loss + net.sharing_strength * penalty
    penalty_of = getattr(module, "training_penalty", None)  # a cascade's risk, AITM's calibrator
    if penalty_of is not None:
        penalty = penalty_of(y_true["y"], y_true.get("w"))
        if penalty is not None:
            loss = loss + penalty
    shared = [p for p in module.shared_parameters() if p.requires_grad]
    surgery = net.gradient_method is not None and bool(shared)
    if not shared and criterion.needs_task_gradients:
        # GradNorm without shared parameters ("soft", "single") balances the norms of each
        # task's gradient on its own parameters; there is nothing for surgery to combine.
        shared = [p for p in module.parameters() if p.requires_grad]
    tasks = [k for k in range(len(terms)) if bool(present[k])]
    grads = None
    if tasks and (surgery or criterion.needs_task_gradients):
        grads = torch.stack([
            task_gradient(terms[k], shared) for k in tasks
        ])
    loss.backward()
    if grads is None:
        return loss
    if criterion.needs_task_gradients:
        norms = torch.zeros(len(terms), device=grads.device)
        weights = criterion.effective_weights()
        for row, k in enumerate(tasks):
            # The terms carry the (constant) weight: ||grad_W L_k|| = ||grad_W term_k|| / w_k.
            norms[k] = grads[row].norm() / max(float(weights[k]), 1e-12)
        criterion.gradnorm_backward(losses, present, norms)
    if surgery and len(tasks) > 1:
        if net.gradient_method == "pcgrad":
            combined = pcgrad(grads, rng)
        else:
            combined = cagrad(grads, net.cagrad_c)
        # Keep whatever else reached the shared parameters besides the task terms.
        combined = combined + (_flat([p.grad for p in shared], shared) - grads.sum(dim=0))
        offset = 0
        for p in shared:
            size = p.numel()
            part = combined[offset:offset + size].view_as(p)
            if p.grad is None:
                p.grad = part.clone()
            else:
                p.grad.copy_(part)
            offset += size
    return loss
