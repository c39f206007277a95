"""Assembly of MultiTaskRecommender's skorch net: validation split, callbacks, net.

``MultiTaskRecommender.fit`` checks and encodes the data, then calls these in order; the
estimator's parameters are read from it as they were given (already checked by ``_params``).
:func:`restore_net` rebuilds a loaded model's net with the same :func:`make_net`, so that it
equals the fitted one in every parameter.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from skorch.callbacks import EarlyStopping
from skorch.helper import predefined_split
from skorch.history import History

from .._cascade import cascade_links
from ..affinity import TaskAffinity
from ..diagnostics import GradientConflict
from ..losses import MultiTaskLoss, TaskWeightHistory
from ..nets import build_module
from ._params import check_task_weights
from ._skorch import (
    IdDropoutLoader,
    MultiTaskNeuralNet,
    NonFiniteLossCheck,
    TaskScoring,
    TensorBatchLoader,
    has_fused_adam,
)


def split_validation(data, validation_fraction: float, rng: np.random.RandomState):
    """Hold out ``ceil(validation_fraction * n)`` random rows: (training data, skorch train_split)."""
    n = len(data)
    n_valid = int(np.ceil(validation_fraction * n))
    if n - n_valid < 1:
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves no training rows "
            f"out of {n}; lower it or set validation_fraction=None."
        )
    order = rng.permutation(n)
    train_split = predefined_split(data.subset(order[:n_valid]))
    return data.subset(np.sort(order[n_valid:])), train_split


def make_callbacks(est, targets, use_valid: bool) -> list:
    """The net's callbacks, the package's own first, then copies of ``est.callbacks``."""
    # The net's own scoring runs first, so that user callbacks (optuna-integration's
    # SkorchPruningCallback, a checkpoint) find valid_score_* in the epoch's history row.
    callbacks = [("non_finite_loss", NonFiniteLossCheck())]
    if use_valid:
        callbacks.append(
            ("task_scoring", TaskScoring(targets.kinds_, targets.names_, targets.n_outputs_))
        )
    if est.track_gradient_conflict:
        callbacks.append(("gradient_conflict", GradientConflict(targets.names_)))
    callbacks.append(("task_weights", TaskWeightHistory(targets.names_)))
    if est.track_task_affinity:
        callbacks.append(("task_affinity", TaskAffinity(targets.names_)))
    # Shallow copies: skorch initializes callbacks in place, and the user's instances stay
    # untouched; a deep copy would also copy what a callback refers to (an Optuna trial).
    callbacks += [copy.copy(cb) for cb in (est.callbacks or [])]
    if est.early_stopping:
        monitor = "valid_loss" if use_valid else "train_loss"
        callbacks.append(
            ("early_stopping",
             EarlyStopping(monitor=monitor, patience=est.patience, load_best=True))
        )
    return callbacks


def adam_options(device) -> dict:
    """skorch's ``optimizer__*`` arguments: Adam's fused kernel where there is one.

    The fused step updates every parameter in one kernel instead of about a dozen tensor ops
    per parameter: a census MMoE fit takes ~10 % less time on the CPU (docs/benchmarks.md).
    The update is Adam's to rounding.
    """
    return {"optimizer__fused": True} if has_fused_adam(device) else {}


def make_net(est, features, targets, *, hidden_units, tower_units, links, task_weights,
             batch_size, train_split, callbacks, device, seeds) -> MultiTaskNeuralNet:
    """The torch module, its loss and the skorch net, not yet fitted.

    Builds the module, so its weights are drawn from the global torch RNG: the caller seeds
    it. ``seeds`` is ``(torch_seed, loader_seed)``, or None when ``random_state`` is None.
    """
    module = build_module(
        est.architecture,
        n_numeric=features.n_numeric_inputs_,
        cardinalities=features.cardinalities_,
        embedding_dims=features.embedding_dims_,
        n_outputs=targets.n_outputs_,
        hidden_units=hidden_units,
        tower_units=tower_units,
        dropout=float(est.dropout),
        n_experts=int(est.n_experts),
        n_levels=int(est.n_levels),
        n_shared_experts=int(est.n_shared_experts),
        n_task_experts=int(est.n_task_experts),
        cascade=links,
        debias=est.cascade_debias,
        min_propensity=float(est.min_propensity),
        debias_weight=float(est.debias_weight),
        calibration_strength=float(est.calibration_strength),
    )
    criterion = MultiTaskLoss(targets.kinds_, targets.n_outputs_, task_weights,
                              gradnorm_alpha=float(est.gradnorm_alpha),
                              dwa_temperature=float(est.dwa_temperature))
    return MultiTaskNeuralNet(
        module,
        criterion=criterion,
        optimizer=torch.optim.Adam,
        lr=est.lr,
        optimizer__weight_decay=est.weight_decay,
        **adam_options(device),
        batch_size=batch_size,
        max_epochs=int(est.max_epochs),
        train_split=train_split,
        iterator_train=IdDropoutLoader,
        iterator_train__shuffle=True,
        iterator_train__id_dropout=float(est.id_dropout),
        iterator_train__seed=None if seeds is None else seeds[1],
        iterator_valid=TensorBatchLoader,
        callbacks=callbacks,
        device=device,
        verbose=int(est.verbose),
        sharing_strength=float(est.sharing_strength) if est.architecture == "soft" else 0.0,
        gradient_method=est.gradient_method,
        cagrad_c=float(est.cagrad_c),
        # Derived, not drawn: an extra draw would shift every other seeded stream.
        surgery_seed=None if seeds is None else (seeds[0] + 1) % 2**31,
    )


def restore_net(est, *, module: dict, criterion: dict, history: list) -> MultiTaskNeuralNet:
    """The net of a loaded model: :func:`make_net` with the arguments ``fit`` gave it, then the
    learned state (the module's and the loss's ``state_dict``, the history rows).

    Only the validation split and the user's callbacks, which act in ``fit`` alone, are not
    rebuilt. A net trained on CUDA is rebuilt on the CPU when this machine has no GPU.
    """
    params = est._check_params()
    targets = est.target_encoder_
    device = est.device_
    if device.startswith("cuda") and not torch.cuda.is_available():
        device = "cpu"
    use_valid = bool(est.early_stopping) and est.validation_fraction is not None
    # The module draws initial weights that the state replaces: keep the global RNG as it was.
    with torch.random.fork_rng(devices=[]):
        net = make_net(
            est, est._features, targets,
            hidden_units=params["hidden_units"], tower_units=params["tower_units"],
            links=cascade_links(est.cascade_, targets.names_),
            task_weights=check_task_weights(est.task_weights, len(targets.names_)),
            batch_size=est.batch_size_, train_split=None,
            callbacks=make_callbacks(est, targets, use_valid), device=device, seeds=est._seeds,
        )
        net.initialize()
    net.module_.load_state_dict(module)
    net.criterion_.load_state_dict(criterion)
    net.history = History(history)
    return net
