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

from .._cascade import cascade_links
from ..features import FeatureEncoder
from ..tasks import TargetEncoder, check_classes
from ._fit import FitData, check_schema, draw_seeds, encode_targets, input_schema, resolve_links
from ._kernel import Batches
from ._params import check_sample_weight, check_task_weights, resolve_batch_size
from ._skorch import MultiTaskDataset
from ._warm_start import start_features


def check_same_classes(names, fitted_classes, classes) -> None:
    """scikit-learn's rule: ``classes`` after the first call must be the first call's."""
    if classes is None:
        return
    for name, fitted, new in zip(names, fitted_classes, check_classes(classes, names)):
        if new is not None and (fitted is None or not np.array_equal(fitted, new)):
            raise ValueError(
                f"classes for task {name!r} is {new.tolist()[:10]} but the first call to "
                f"partial_fit fixed {None if fitted is None else fitted.tolist()[:10]}; "
                "classes cannot change between calls."
            )


def check_chunk_call(spec, y) -> None:
    """What every call refuses before reading the chunk."""
    if y is None:
        raise ValueError(
            "MultiTaskRecommender requires y to be passed, but the target y is None."
        )
    if spec.devices not in (None, 1):
        raise ValueError(
            f"devices={spec.devices!r} is not supported by partial_fit, which trains in this "
            "process: use fit for data-parallel training, or devices=None."
        )


def _chunk(X, y, sample_weight, features, targets, links, device) -> MultiTaskDataset:
    n = X.shape[0]
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)}: one target row per row of X.")
    sw = check_sample_weight(sample_weight, n)
    y_enc = encode_targets(y, targets, sw, links)
    x_num, x_cat = features.encode(X)
    return MultiTaskDataset(x_num, x_cat, y_enc, sw, device=device,
                            offset=features.input_offset_, scale=features.input_scale_).row_major()


def first_chunk(spec, X, y, classes, sample_weight, check) -> FitData:
    """The first call: schema, encoders and the chunk's batches, fitted as ``fit`` fits them
    (``check`` is the estimator's ``_validate_X``)."""
    schema = input_schema(X)
    X = check(X, reset=True)
    targets = TargetEncoder(spec.tasks).fit(y, classes=classes)
    features = FeatureEncoder(spec.categorical_features, spec.min_frequency,
                              spec.embedding_dim).fit(X)
    features = start_features(spec, features, targets)  # the source's, with init=
    check_task_weights(spec.task_weights, len(targets.names_))
    cascade, links = resolve_links(spec, targets)
    _, seeds = draw_seeds(spec.random_state)
    data = _chunk(X, y, sample_weight, features, targets, links, spec.device)
    return FitData.of(spec, features, targets, Batches(data), cascade=cascade, links=links,
                      batch_size=resolve_batch_size(spec.batch_size, X.shape[0]), seeds=seeds,
                      schema=schema)


def next_chunk(X, y, classes, sample_weight, check, *, schema, features, targets, cascade,
               device) -> Batches:
    """A later call: the chunk must have the first chunk's columns, dtypes and classes."""
    check_same_classes(targets.names_, targets.classes_, classes)
    X_checked = check(X, reset=False)  # names missing or extra columns
    if schema is not None:
        check_schema(schema, X)
    links = cascade_links(cascade, targets.names_)
    return Batches(_chunk(X_checked, y, sample_weight, features, targets, links, device))


def streaming_net(net):
    """``net`` ready for one pass a call: a net fitted by ``fit`` (or loaded: its net is
    rebuilt as fit's) goes on without its validation rows and early stopping, which would
    restore the best epoch of the fit at the end of every call."""
    fit_only = {"early_stopping", "task_scoring"}
    if net.train_split is not None or any(name in fit_only for name, _ in net.callbacks_):
        net.train_split = None
        net.callbacks_ = [(name, cb) for name, cb in net.callbacks_ if name not in fit_only]
    return net
