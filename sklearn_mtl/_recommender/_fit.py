"""``MultiTaskRecommender.fit`` on data in memory, and what every kind of fit fixes.

Three paths train the net: :func:`fit_in_memory` here, ``partial_fit`` chunk by chunk
(``_stream``) and a Parquet source record batch by record batch (``_source``). They share what
is defined here: the input's schema (columns and dtypes, which later chunks and batches must
keep), the cascade checked against the tasks, the encoded targets, and the fitted attributes
set from the encoders and the trained net (:func:`record_fit` once, :func:`record_history`
after every pass).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length

from .._cascade import apply_cascade_labels, cascade_links, check_debias, resolve_cascade
from ..affinity import task_affinity_matrix
from ..features import FeatureEncoder, describe_columns
from ..tasks import TargetEncoder, check_task_sample_weight
from ._assembly import make_callbacks, make_net, split_validation
from ._distributed import check_devices, fit_distributed, rebuild_net
from ._params import check_sample_weight, check_task_weights, resolve_batch_size, resolve_device
from ._skorch import MultiTaskDataset


def input_schema(X) -> list[tuple]:
    """``(column, dtype)`` of every column of a DataFrame; ``[(None, dtype)]`` for an array."""
    if isinstance(X, pd.DataFrame):
        return [(c, str(dtype)) for c, dtype in X.dtypes.items()]
    dtype = getattr(X, "dtype", None)
    return [(None, str(dtype if dtype is not None else np.asarray(X).dtype))]


def check_schema(schema: list[tuple], X, where: str = "partial_fit: ") -> None:
    """Raise naming the first column whose dtype differs from the first chunk's."""
    now = dict(input_schema(X))
    for column, dtype in schema:
        if column not in now:  # a missing column was named by the column check already
            continue
        if now[column] != dtype:
            what = "X" if column is None else f"column {column!r} of X"
            cast = "X.astype" if column is None else f"X[{column!r}].astype"
            raise ValueError(
                f"{where}{what} has dtype {now[column]} in this chunk but {dtype} in the "
                f"first one; every chunk of a stream needs the first chunk's dtypes (cast it, "
                f"e.g. {cast}({dtype!r}))."
            )


def resolve_links(est, targets) -> tuple[dict, list]:
    """The cascade ``{child: parent}`` and its links, checked against the tasks."""
    cascade = resolve_cascade(est.cascade, est.architecture, targets.names_, targets.kinds_)
    check_debias(est.cascade_debias, cascade, est.architecture)
    return cascade, cascade_links(cascade, targets.names_)


def encode_targets(y, targets, sw, links) -> np.ndarray:
    """``y`` encoded, with the cascade's entire-space labels; warns on unlabelled rows."""
    y_enc = targets.transform(y)
    y_enc = apply_cascade_labels(y_enc, links, targets.names_)
    check_task_sample_weight(targets.names_, y_enc, sw)
    unlabelled = int(np.isnan(y_enc).all(axis=1).sum())
    if unlabelled:
        warnings.warn(
            f"{unlabelled} of {len(y_enc)} rows have no label for any task; they carry no loss.",
            UserWarning,
            stacklevel=4,  # the caller of fit or partial_fit
        )
    return y_enc


def record_fit(est, net, targets, features, *, cascade, batch_size, device, seeds,
               schema) -> None:
    """The fitted attributes that the encoders and the net fix (every fit, the first partial_fit)."""
    est.target_encoder_ = targets
    est._features = features
    est._seeds = seeds
    est._input_schema = schema
    est.net_ = net
    est.device_ = device
    est.tasks_ = list(targets.kinds_)
    est.task_names_ = list(targets.names_)
    est.classes_ = list(targets.classes_)
    est.categorical_features_ = list(features.categorical_columns_)
    est.batch_size_ = batch_size
    est.n_params_ = int(sum(p.numel() for p in net.module_.parameters() if p.requires_grad))
    est.cascade_ = cascade


def record_history(est, net, targets) -> None:
    """The fitted attributes that each epoch updates."""
    est.history_ = net.history
    est.n_epochs_ = len(net.history)
    # The weights the last epoch trained with (DWA has already computed the next ones).
    est.task_weights_ = np.array(
        [net.history[-1, f"task_weight_{name}"] for name in targets.names_], dtype=float
    )
    if est.track_task_affinity:
        est.task_affinity_ = task_affinity_matrix(net.history, targets.names_)


def fit_in_memory(est, X, y, sample_weight):
    """``est.fit(X, y, sample_weight)`` for an array or a DataFrame: check and encode, hold out
    the validation rows, build the net and train it (in this process, or on ``devices``)."""
    params = est._check_params()
    hidden, tower = params["hidden_units"], params["tower_units"]
    device = resolve_device(est.device)
    schema = input_schema(X)
    X = est._validate_X(X, reset=True)
    if y is None:
        raise ValueError(
            f"{type(est).__name__} requires y to be passed, but the target y is None."
        )
    targets = TargetEncoder(est.tasks).fit(y)
    check_consistent_length(X, y)
    n = X.shape[0]
    task_weights = check_task_weights(est.task_weights, len(targets.names_))
    sw = check_sample_weight(sample_weight, n)

    features = FeatureEncoder(est.categorical_features, est.min_frequency, est.embedding_dim)
    x_num, x_cat = features.fit_encode(X)
    if est.verbose:
        print(describe_columns(features), flush=True)
    cascade, links = resolve_links(est, targets)
    y_enc = encode_targets(y, targets, sw, links)

    rng = check_random_state(est.random_state)
    seeded = est.random_state is not None
    torch_seed, loader_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
    use_valid = bool(est.early_stopping) and est.validation_fraction is not None
    data = MultiTaskDataset(x_num, x_cat, y_enc, sw, device=device,
                            offset=features.input_offset_, scale=features.input_scale_)
    train_split = None
    if use_valid:
        data, train_split = split_validation(data, est.validation_fraction, rng)
    data = data.row_major()  # training reads rows at random
    batch_size = resolve_batch_size(est.batch_size, len(data))
    callbacks = make_callbacks(est, targets, use_valid)

    n_devices = check_devices(est, device)
    seeds = (torch_seed, loader_seed) if seeded else None
    net_kwargs = dict(hidden_units=hidden, tower_units=tower, links=links,
                      task_weights=task_weights, batch_size=batch_size, callbacks=callbacks,
                      seeds=seeds)
    if n_devices > 1:
        valid = None if train_split is None else train_split.keywords["valid_ds"]
        state = fit_distributed(est, n_devices, data=data, valid=valid, features=features,
                                targets=targets, net_kwargs=net_kwargs,
                                torch_seed=torch_seed, device=device)
        net = rebuild_net(est, features, targets, net_kwargs, device, state)
    else:
        with torch.random.fork_rng(devices=[] if device == "cpu" else None, enabled=seeded):
            if seeded:
                torch.manual_seed(torch_seed)
            net = make_net(est, features, targets, train_split=train_split, device=device,
                           **net_kwargs)
            net.fit(data, None)

    record_fit(est, net, targets, features, cascade=cascade, batch_size=batch_size,
               device=device, seeds=seeds, schema=schema)
    record_history(est, net, targets)
    return est
