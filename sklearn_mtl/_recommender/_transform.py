"""``MultiTaskRecommender.transform``: the net's shared representation as features.

What the towers read, computed batch by batch in eval mode by the module's
``representation`` (see :class:`~sklearn_mtl.nets.MultiTaskModule`):

* ``"hard"``: the shared bottom's output, once (every tower reads it);
* ``"omoe"``: the one gate's mixture of the experts, once;
* ``"mmoe"``, ``"cgc"``, ``"ple"``: each task's gate-weighted mixture of the experts (on the last
  level for ple), task after task: what each task's tower reads, not the raw expert outputs;
* ``"soft"``, ``"single"``, ``"esmm"``, ``"aitm"``: each task's own bottom (esmm: its MLP over
  the shared embeddings; aitm: after the transfer from its parent), task after task.

A cascade reads the representation of the module it wraps. Feeding these to a per-task
learner (``make_pipeline(MultiTaskRecommender(...), PerTaskLGBM())``) is the neural-embeddings
then gradient-boosted-trees hybrid.
"""

from __future__ import annotations

import numpy as np
import torch

from ._skorch import as_numpy


def representation(parts: list) -> np.ndarray:
    """The (n, n_features_out) float32 representation from the module's ``representation``
    outputs, one a batch (see the module doc)."""
    return as_numpy(torch.cat(parts)).astype(np.float32, copy=False)


def representation_widths(module, features, device: str) -> list[int]:
    """The width of each block of the representation of a fitted module (``features``: its
    fitted encoder): one block when the tasks share it, else one per task."""
    with torch.no_grad():
        x_num = torch.zeros(1, features.n_numeric_inputs_, device=device)
        x_cat = torch.zeros(1, len(features.cardinalities_), dtype=torch.long, device=device)
        training = module.training
        module.eval()
        try:
            inputs = module.tower_inputs(x_num, x_cat)
        finally:
            module.train(training)
    widths = [int(h.shape[1]) for h in inputs]
    return widths[:1] if module.shares_representation else widths


def feature_names(module, features, device: str, task_names) -> list[str]:
    """``shared_0, shared_1, ...`` for a representation every task reads, else
    ``<task>_0, <task>_1, ...`` per task (task names as text)."""
    widths = representation_widths(module, features, device)
    if module.shares_representation:
        return [f"shared_{i}" for i in range(widths[0])]
    return [f"{name}_{i}" for name, width in zip(task_names, widths) for i in range(width)]
