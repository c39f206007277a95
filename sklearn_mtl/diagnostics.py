"""Gradient-conflict diagnostic: do the tasks pull the shared parameters in opposite directions?

After every epoch, :class:`GradientConflict` computes each task's loss on a fixed sample of the
training rows, takes its gradient with respect to the parameters every task reaches (the input
layer and bottom of ``"hard"``, the input layer and experts of ``"mmoe"``) and records the cosine
similarity of every pair of task gradients. Cosines that stay negative mean the tasks' updates
undo each other on the shared layers, a leading sign of negative transfer (Yu et al., "Gradient
Surgery for Multi-Task Learning", NeurIPS 2020, call it conflicting gradients).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.utils.data import Subset

from ._checks import in_range
from .gradients import task_gradient


class GradientConflict(Callback):
    """Record per-epoch cosines between task gradients on the shared parameters.

    Adds to the history, per epoch, ``grad_cosine`` (``{"task_a|task_b": cosine}``) and
    ``grad_cosine_mean``. Nothing is recorded for architectures without shared parameters
    ("soft", "single") or for a single task. The measurement runs the module in eval mode,
    takes gradients with ``torch.autograd.grad`` (no ``.grad`` buffer, no optimizer step) and
    restores the mode, so the fit is the same with or without it. It costs one forward and one
    backward pass per task on ``sample_size`` rows per epoch.

    ``MultiTaskRecommender(track_gradient_conflict=True)`` adds it with the fitted task names;
    pass it yourself through ``callbacks=`` to choose ``sample_size``.

    Parameters
    ----------
    names : list of str
        Task names, in output order.
    sample_size : int, default=2048
        Training rows (the first ones) the gradients are computed on.

    Examples
    --------
    Two unrelated tasks (correlation 0) through a shared bottom, one cosine per epoch:

    >>> from sklearn_mtl import MultiTaskRecommender
    >>> from sklearn_mtl.datasets import make_multitask_data
    >>> X, Y = make_multitask_data(500, 5, task_correlation=0.0, random_state=0)
    >>> m = MultiTaskRecommender("hard", track_gradient_conflict=True, max_epochs=3,
    ...                          early_stopping=False, random_state=0).fit(X, Y)
    >>> cosines = m.history_[:, "grad_cosine_mean"]
    >>> len(cosines), all(-1 <= c <= 1 for c in cosines)
    (3, True)
    >>> cb = GradientConflict(["task_0", "task_1"], sample_size=256)
    >>> m = MultiTaskRecommender("mmoe", callbacks=[cb], max_epochs=2).fit(X, Y)
    >>> list(m.history_[-1, "grad_cosine"])
    ['task_0|task_1']
    """

    def __init__(self, names, sample_size: int = 2048):
        self.names = names
        self.sample_size = sample_size

    def initialize(self):
        if not in_range(self.sample_size, integer=True, low=1):
            raise ValueError(f"sample_size={self.sample_size!r} is not valid: it must be an int >= 1.")
        return super().initialize()

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        module = net.module_
        shared = [p for p in module.shared_parameters() if p.requires_grad]
        if not shared or dataset_train is None or len(self.names) < 2:
            return
        if isinstance(dataset_train, Subset):
            dataset_train = dataset_train.dataset.subset(dataset_train.indices)
        X, y = dataset_train.take(slice(0, self.sample_size))
        was_training = module.training
        # eval(): no dropout, so the measurement draws no random numbers and the fit that
        # follows is the one it would have been without the callback.
        module.eval()
        try:
            with torch.enable_grad():
                losses, present = net.criterion_.task_losses(module(**X), y["y"], y.get("w"))
                if len(losses) != len(self.names):
                    raise ValueError(f"GradientConflict got {len(self.names)} task names "
                                     f"{list(self.names)} for a net with {len(losses)} tasks.")
                grads = [task_gradient(losses[k], shared) if bool(present[k]) else None
                         for k in range(len(self.names))]
        finally:
            module.train(was_training)
        cosines = {}
        for a, b in combinations(range(len(self.names)), 2):
            if grads[a] is None or grads[b] is None:
                continue
            cos = torch.nn.functional.cosine_similarity(grads[a], grads[b], dim=0, eps=1e-12)
            cosines[f"{self.names[a]}|{self.names[b]}"] = float(cos)
        net.history.record("grad_cosine", cosines)
        net.history.record("grad_cosine_mean", float(np.mean(list(cosines.values()))) if cosines else np.nan)
