"""The fit kernel: the one place where a ``MultiTaskRecommender``'s net is built and trained.

Every way of training goes through :func:`fit_net`: ``fit`` on data in memory, ``fit`` on a
source (:mod:`._source`), each call of ``partial_fit`` (:mod:`._partial_fit`) and each rank of a
data-parallel fit (:mod:`._distributed`). They differ only in what they hand it: the encoded
batches (:class:`Batches`: a dataset and the loader that reads it, for the training rows and
the validation rows), whether to make one pass (``partial_fit``) and, on a rank, the rank's
plan. The kernel seeds torch's RNG inside ``fork_rng`` (the caller's global RNG is left as it
was), builds the net with ``build`` (the estimator's ``_make_net``: subclasses override that
one method) and trains it with skorch's loop. A fit-time option (a callback, a seed, a
starting point for the weights) is written here once.

:func:`train` adds the one choice left to the caller of an in-memory fit: train here, or on
``devices`` ranks, each of which runs :func:`fit_net`, and rebuild the net from rank 0's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from skorch.helper import predefined_split
from torch.utils.data import Dataset

from ._assembly import make_callbacks, restore_net
from ._distributed import fit_distributed
from ._skorch import IdDropoutLoader, TensorBatchLoader
from ._warm_start import carry_parameters, source_model


@dataclass
class Batches:
    """What the kernel trains on: the training rows (and the validation rows, or None) as
    datasets, and the loader classes that turn them into encoded batches."""

    train: Dataset
    valid: Dataset | None = None
    loader: type = IdDropoutLoader
    valid_loader: type = TensorBatchLoader


def fit_net(build, spec, shape, batches: Batches, *, batch_size: int, seeds, device: str,
            net=None, one_pass: bool = False, rank=None):
    """Build the net (unless ``net`` is given) and train it on ``batches``; returns the net.

    Parameters
    ----------
    build : callable
        ``build(spec, shape, *, batch_size, train_split, callbacks, device, seeds)`` returns
        an unfitted skorch net (``MultiTaskRecommender._make_net``).
    spec, shape : RecommenderSpec, NetShape
        The model's parameters and what the data fixes (see :mod:`._spec`).
    batches : Batches
    batch_size : int
    seeds : tuple of int or None
        ``(torch_seed, loader_seed)`` drawn from ``random_state``; None leaves torch's RNG
        unseeded.
    device : str
    net : MultiTaskNeuralNet or None
        A net to train further (``partial_fit`` after its first call).
    one_pass : bool
        One epoch, no validation split and no early stopping (``partial_fit``); each pass
        reseeded from the number of epochs already run, so a rerun repeats it.
    rank : RankPlan or None
        A data-parallel rank's plan (:class:`._distributed.RankPlan`): its callback, loader,
        wrapped module and seed.
    """
    seeded = seeds is not None
    with torch.random.fork_rng(devices=[] if device == "cpu" else None, enabled=seeded):
        if net is None:
            if seeded:
                torch.manual_seed(seeds[0])
            callbacks = make_callbacks(
                spec, shape, validation=batches.valid is not None,
                early_stopping=spec.early_stopping and not one_pass,
                rank_callback=None if rank is None else rank.callback,
            )
            train_split = None if batches.valid is None else predefined_split(batches.valid)
            net = build(spec, shape, batch_size=batch_size, train_split=train_split,
                        callbacks=callbacks, device=device, seeds=seeds)
            if spec.init is not None:  # fine-tuning: start from the source's weights
                carry_parameters(net.module, source_model(spec.init), shape, spec.freeze)
            # (attributes: skorch's set_params would not take these on the net)
            net.iterator_train, net.iterator_valid = batches.loader, batches.valid_loader
            if rank is not None:
                rank.configure(net, seeded)
            net.initialize()
            if rank is not None:
                rank.wrap(net)
        if one_pass and seeded:
            # Each pass its own dropout, id-dropout and shuffling streams, the same on a rerun
            # (an attribute: skorch's set_params refuses this one on an initialized net).
            torch.manual_seed((seeds[0] + len(net.history) + 1) % 2**31)
            net.iterator_train__seed = (seeds[1] + len(net.history)) % 2**31
        elif rank is not None and seeded:
            torch.manual_seed(rank.train_seed)  # dropout differs by rank
        net.partial_fit(batches.train, None, epochs=1 if one_pass else None)
    if batches.loader is not IdDropoutLoader:
        # An ordinary fitted net from here on: in-memory loaders, no reference to the files.
        net.iterator_train, net.iterator_valid = IdDropoutLoader, TensorBatchLoader
        net.train_split = None
    return net


def train(build, spec, shape, batches: Batches, *, batch_size: int, seeds, data_seed: int,
          n_devices: int = 1):
    """:func:`fit_net` in this process, or on ``n_devices`` data-parallel ranks (the net then
    rebuilt from rank 0's learned state, as a loaded model's is)."""
    if n_devices <= 1:
        return fit_net(build, spec, shape, batches, batch_size=batch_size, seeds=seeds,
                       device=spec.device)
    state = fit_distributed(fit_net, build, spec, shape, batches, n_devices,
                            batch_size=batch_size, seeds=seeds, data_seed=data_seed)
    return restore_net(build, spec, shape, state, batch_size=batch_size, device=spec.device,
                       seeds=seeds)
