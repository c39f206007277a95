"""Assembly of MultiTaskRecommender's skorch net from its spec: callbacks, net, its rebuild.

Every function here takes plain values (a :class:`~._spec.RecommenderSpec`, a
:class:`~._spec.NetShape`), never the estimator. :func:`make_net` is what the estimator's
``_make_net`` builds by default; :func:`restore_net` rebuilds a trained net from its learned
state with the same builder, for a loaded model and for the calling process of a
data-parallel fit alike.
"""

from __future__ import annotations

import copy

import torch
from skorch.callbacks import EarlyStopping
from skorch.history import History

from ..affinity import TaskAffinity
from ..diagnostics import GradientConflict
from ..losses import MultiTaskLoss, TaskWeightHistory
from ._params import check_task_weights
from ._skorch import (
    IdDropoutLoader,
    MultiTaskNeuralNet,
    NonFiniteLossCheck,
    TaskScoring,
    TensorBatchLoader,
    has_fused_adam,
)
from ._spec import NetShape, RecommenderSpec, build_spec_module
from ._warm_start import freeze_parameters


def make_callbacks(spec: RecommenderSpec, shape: NetShape, *, validation: bool,
                   early_stopping: bool, rank_callback=None) -> list:
    """The net's callbacks, the package's own first, then copies of ``spec.callbacks``, then
    ``rank_callback`` (a data-parallel rank's), then early stopping."""
    # The net's own scoring runs first, so that user callbacks (optuna-integration's
    # SkorchPruningCallback, a checkpoint) find valid_score_* in the epoch's history row.
    callbacks = [("non_finite_loss", NonFiniteLossCheck())]
    if validation:
        callbacks.append(
            ("task_scoring", TaskScoring(list(shape.kinds), list(shape.names),
                                         list(shape.n_outputs)))
        )
    if spec.track_gradient_conflict:
        callbacks.append(("gradient_conflict", GradientConflict(list(shape.names))))
    callbacks.append(("task_weights", TaskWeightHistory(list(shape.names))))
    if spec.track_task_affinity:
        callbacks.append(("task_affinity", TaskAffinity(list(shape.names))))
    # Shallow copies: skorch initializes callbacks in place, and the user's instances stay
    # untouched; a deep copy would also copy what a callback refers to (an Optuna trial).
    callbacks += [copy.copy(cb) for cb in spec.callbacks]
    if rank_callback is not None:
        callbacks.append(rank_callback)
    if early_stopping:
        monitor = "valid_loss" if validation else "train_loss"
        callbacks.append(
            ("early_stopping",
             EarlyStopping(monitor=monitor, patience=spec.patience, load_best=True))
        )
    return callbacks


def adam_options(device) -> dict:
    """skorch's ``optimizer__*`` arguments: Adam's fused kernel where there is one.

    The fused step updates every parameter in one kernel instead of about a dozen tensor ops
    per parameter: a census MMoE fit takes ~10 % less time on the CPU (docs/benchmarks.md).
    The update is Adam's to rounding.
    """
    return {"optimizer__fused": True} if has_fused_adam(device) else {}


def make_net(spec: RecommenderSpec, shape: NetShape, *, batch_size: int, train_split,
             callbacks: list, device: str, seeds) -> MultiTaskNeuralNet:
    """The torch module, its loss and the skorch net, not yet fitted.

    Builds the module, so its weights are drawn from the global torch RNG: the caller seeds
    it. ``seeds`` is ``(torch_seed, loader_seed)``, or None when ``random_state`` is None.
    """
    module = build_spec_module(spec, shape)
    task_weights = check_task_weights(spec.task_weights, len(shape.names))
    criterion = MultiTaskLoss(list(shape.kinds), list(shape.n_outputs), task_weights,
                              gradnorm_alpha=spec.gradnorm_alpha,
                              dwa_temperature=spec.dwa_temperature)
    return MultiTaskNeuralNet(
        module,
        criterion=criterion,
        optimizer=torch.optim.Adam,
        lr=spec.lr,
        optimizer__weight_decay=spec.weight_decay,
        **adam_options(device),
        batch_size=batch_size,
        max_epochs=spec.max_epochs,
        train_split=train_split,
        iterator_train=IdDropoutLoader,
        iterator_train__shuffle=True,
        iterator_train__id_dropout=spec.id_dropout,
        iterator_train__seed=None if seeds is None else seeds[1],
        iterator_valid=TensorBatchLoader,
        callbacks=callbacks,
        device=device,
        verbose=spec.verbose,
        sharing_strength=spec.sharing_strength,
        gradient_method=spec.gradient_method,
        cagrad_c=spec.cagrad_c,
        # Derived, not drawn: an extra draw would shift every other seeded stream.
        surgery_seed=None if seeds is None else (seeds[0] + 1) % 2**31,
    )


def restore_net(build, spec: RecommenderSpec, shape: NetShape, state: dict, *, batch_size: int,
                device: str, seeds) -> MultiTaskNeuralNet:
    """A trained net rebuilt: ``build`` (the estimator's ``_make_net``) with the arguments
    ``fit`` gave it, then the learned ``state`` (the module's and the loss's ``state_dict``,
    the history rows).

    Only the validation split, which acts in ``fit`` alone, is not rebuilt. A net trained on
    CUDA is rebuilt on the CPU when this machine has no GPU.
    """
    if device.startswith("cuda") and not torch.cuda.is_available():
        device = "cpu"
    callbacks = make_callbacks(spec, shape, validation=spec.use_valid,
                               early_stopping=spec.early_stopping)
    # The module draws initial weights that the state replaces: keep the global RNG as it was.
    with torch.random.fork_rng(devices=[]):
        net = build(spec, shape, batch_size=batch_size, train_split=None, callbacks=callbacks,
                    device=device, seeds=seeds)
        net.initialize()
    net.module_.load_state_dict(state["module"])
    freeze_parameters(net.module_, state.get("frozen", ()))  # what a fine-tuning froze
    net.criterion_.load_state_dict(state["criterion"])
    net.history = History(state["history"])
    return net
