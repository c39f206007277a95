"""``MultiTaskRecommender.partial_fit``: training chunk by chunk, scikit-learn's stream contract.

As ``SGDClassifier.partial_fit`` and ``MiniBatchKMeans.partial_fit``: each call makes one pass
over the chunk it is given. The first call fixes everything a later chunk is read with: the
columns and their dtypes, the task kinds and classes (``classes=`` for a stream whose first chunk
misses a class), the numeric statistics and the category vocabularies. Ids first seen in a later
chunk take the unknown embedding, which ``id_dropout`` trains. ``fit`` starts over.

There is no validation split and no early stopping here: the caller decides how many passes to
make over its chunks, and scores a held-out chunk itself.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state

from .._cascade import cascade_links
from ..features import FeatureEncoder
from ..tasks import TargetEncoder, check_classes
from ._assembly import make_callbacks, make_net
from ._fit import (
    check_schema,
    encode_targets,
    input_schema,
    record_fit,
    record_history,
    resolve_links,
)
from ._params import check_sample_weight, check_task_weights, resolve_batch_size, resolve_device
from ._skorch import MultiTaskDataset


def _check_same_classes(est, classes) -> None:
    """scikit-learn's rule: ``classes`` after the first call must be the first call's."""
    if classes is None:
        return
    for name, fitted, new in zip(est.task_names_, est.classes_,
                                 check_classes(classes, est.task_names_)):
        if new is not None and (fitted is None or not np.array_equal(fitted, new)):
            raise ValueError(
                f"classes for task {name!r} is {new.tolist()[:10]} but the first call to "
                f"partial_fit fixed {None if fitted is None else fitted.tolist()[:10]}; "
                "classes cannot change between calls."
            )


def _start(est, X, y, classes):
    """The first call: schema, encoders and the net, built as ``fit`` builds them."""
    params = est._check_params()
    device = resolve_device(est.device)
    schema = input_schema(X)
    X = est._validate_X(X, reset=True)
    targets = TargetEncoder(est.tasks).fit(y, classes=classes)
    features = FeatureEncoder(est.categorical_features, est.min_frequency,
                              est.embedding_dim).fit(X)
    task_weights = check_task_weights(est.task_weights, len(targets.names_))
    cascade, links = resolve_links(est, targets)
    rng = check_random_state(est.random_state)
    seeds = tuple(int(s) for s in rng.randint(0, 2**31 - 1, size=2))
    seeded = est.random_state is not None
    batch_size = resolve_batch_size(est.batch_size, X.shape[0])
    callbacks = [cb for cb in make_callbacks(est, targets, use_valid=False)
                 if not (isinstance(cb, tuple) and cb[0] == "early_stopping")]
    with torch.random.fork_rng(devices=[] if device == "cpu" else None, enabled=seeded):
        if seeded:
            torch.manual_seed(seeds[0])
        net = make_net(est, features, targets, hidden_units=params["hidden_units"],
                       tower_units=params["tower_units"], links=links,
                       task_weights=task_weights, batch_size=batch_size, train_split=None,
                       callbacks=callbacks, device=device, seeds=seeds if seeded else None)
        net.initialize()
    record_fit(est, net, targets, features, cascade=cascade, batch_size=batch_size,
               device=device, seeds=seeds if seeded else None, schema=schema)
    return X


def _continue(est, X, classes):
    """A later call: the chunk must have the first chunk's columns, dtypes and classes."""
    _check_same_classes(est, classes)
    schema = getattr(est, "_input_schema", None)
    X_checked = est._validate_X(X, reset=False)  # names missing or extra columns
    if schema is not None:
        check_schema(schema, X)
    net = est.net_
    fit_only = {"early_stopping", "task_scoring"}
    if net.train_split is not None or any(name in fit_only for name, _ in net.callbacks_):
        # A model fitted by fit (or loaded: its net is rebuilt as fit's): go on from it, one
        # pass a call, without its validation rows and early stopping, which would restore
        # the best epoch of the fit at the end of every call.
        net.train_split = None
        net.callbacks_ = [(name, cb) for name, cb in net.callbacks_ if name not in fit_only]
    return X_checked


def partial_fit(est, X, y, classes=None, sample_weight=None):
    """One pass over the chunk ``(X, y)``; see ``MultiTaskRecommender.partial_fit``."""
    if y is None:
        raise ValueError(
            f"{type(est).__name__} requires y to be passed, but the target y is None."
        )
    if est.devices not in (None, 1):
        raise ValueError(
            f"devices={est.devices!r} is not supported by partial_fit, which trains in this "
            "process: use fit for data-parallel training, or devices=None."
        )
    first = not hasattr(est, "net_")
    X = _start(est, X, y, classes) if first else _continue(est, X, classes)
    targets, features, net = est.target_encoder_, est._features, est.net_
    n = X.shape[0]
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)}: one target row per row of X.")
    sw = check_sample_weight(sample_weight, n)
    y_enc = encode_targets(y, targets, sw, cascade_links(est.cascade_, targets.names_))
    x_num, x_cat = features.encode(X)
    data = MultiTaskDataset(x_num, x_cat, y_enc, sw, device=est.device_,
                            offset=features.input_offset_, scale=features.input_scale_).row_major()
    seeded = est._seeds is not None
    with torch.random.fork_rng(devices=[] if est.device_ == "cpu" else None, enabled=seeded):
        if seeded:
            # Each call its own dropout, id-dropout and shuffling streams, the same on a rerun
            # (an attribute: skorch's set_params refuses this one on an initialized net).
            torch.manual_seed((est._seeds[0] + len(net.history) + 1) % 2**31)
            net.iterator_train__seed = (est._seeds[1] + len(net.history)) % 2**31
        net.partial_fit(data, None, epochs=1)
    record_history(est, net, targets)
    return est
