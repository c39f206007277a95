"""What every fit of ``MultiTaskRecommender`` fixes, and the data of an in-memory fit.

Three entries feed the fit kernel (:mod:`._kernel`): data in memory (:func:`memory_data`
here), a source read record batch by record batch (:mod:`._source`) and ``partial_fit`` chunk
by chunk (:mod:`._partial_fit`). Each returns a :class:`FitData`: the fitted encoders, the
cascade, the net's shape, the encoded batches, the batch size and the seeds, all plain values
that the estimator records once the kernel has trained. They share what is defined here: the
input's schema (columns and dtypes, which later chunks and batches must keep), the seeds, the
cascade checked against the tasks and the encoded targets.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length

from .._cascade import apply_cascade_labels, cascade_links, check_debias, resolve_cascade
from ..features import FeatureEncoder, describe_columns
from ..tasks import TargetEncoder, check_task_sample_weight
from ._distributed import check_devices
from ._kernel import Batches
from ._params import check_sample_weight, check_task_weights, resolve_batch_size
from ._skorch import MultiTaskDataset
from ._spec import NetShape
from ._warm_start import start_features


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


def resolve_links(spec, targets) -> tuple[dict, list]:
    """The cascade ``{child: parent}`` and its links, checked against the tasks."""
    cascade = resolve_cascade(spec.cascade, spec.architecture, targets.names_, targets.kinds_)
    check_debias(spec.cascade_debias, cascade, spec.architecture)
    return cascade, cascade_links(cascade, targets.names_)


def draw_seeds(random_state):
    """``(rng, (torch_seed, loader_seed))``: the two seeds every fit draws first from
    ``random_state``, and the generator the validation split draws from next."""
    rng = check_random_state(random_state)
    return rng, tuple(int(s) for s in rng.randint(0, 2**31 - 1, size=2))


@dataclass
class FitData:
    """What an entry hands the kernel and the estimator records: plain values."""

    features: FeatureEncoder
    targets: TargetEncoder
    cascade: dict
    shape: NetShape
    batches: Batches
    batch_size: int
    seeds: tuple | None  # None when random_state is None
    data_seed: int  # the torch seed, drawn even without random_state (data-parallel shards)
    schema: list
    n_devices: int = 1

    @classmethod
    def of(cls, spec, features, targets, batches, *, cascade, links, batch_size, seeds, schema,
           n_devices=1):
        """The fit's data once its encoders are fitted and its rows encoded (``cascade`` and
        ``links`` from :func:`resolve_links`): the one place every entry passes through."""
        return cls(features=features, targets=targets, cascade=cascade,
                   shape=NetShape.of(features, targets, links), batches=batches,
                   batch_size=batch_size,
                   seeds=seeds if spec.random_state is not None else None,
                   data_seed=seeds[0], schema=schema, n_devices=n_devices)


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


def split_validation(data, validation_fraction: float, rng: np.random.RandomState):
    """Hold out ``ceil(validation_fraction * n)`` random rows: (training rows, validation rows)."""
    n = len(data)
    n_valid = int(np.ceil(validation_fraction * n))
    if n - n_valid < 1:
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves no training rows "
            f"out of {n}; lower it or set validation_fraction=None."
        )
    order = rng.permutation(n)
    valid = data.subset(order[:n_valid])
    return data.subset(np.sort(order[n_valid:])), valid


def memory_data(spec, X, y, sample_weight, check) -> FitData:
    """``fit(X, y, sample_weight)`` for an array or a DataFrame: ``X`` checked (``check``, the
    estimator's ``_validate_X``), the encoders fitted, the rows encoded and the validation
    rows held out."""
    schema = input_schema(X)
    X = check(X, reset=True)
    if y is None:
        raise ValueError(
            "MultiTaskRecommender requires y to be passed, but the target y is None."
        )
    targets = TargetEncoder(spec.tasks).fit(y)
    check_consistent_length(X, y)
    n = X.shape[0]
    check_task_weights(spec.task_weights, len(targets.names_))
    sw = check_sample_weight(sample_weight, n)

    features = FeatureEncoder(spec.categorical_features, spec.min_frequency, spec.embedding_dim)
    x_num, x_cat = features.fit_encode(X)
    carried = start_features(spec, features, targets)
    if carried is not features:  # fine-tuning reads X with the source's encoder, extended
        features = carried
        x_num, x_cat = features.encode(X)
    if spec.verbose:
        print(describe_columns(features), flush=True)
    cascade, links = resolve_links(spec, targets)
    y_enc = encode_targets(y, targets, sw, links)

    rng, seeds = draw_seeds(spec.random_state)
    data = MultiTaskDataset(x_num, x_cat, y_enc, sw, device=spec.device,
                            offset=features.input_offset_, scale=features.input_scale_)
    valid = None
    if spec.use_valid:
        data, valid = split_validation(data, spec.validation_fraction, rng)
    data = data.row_major()  # training reads rows at random
    return FitData.of(spec, features, targets, Batches(data, valid), cascade=cascade, links=links,
                      batch_size=resolve_batch_size(spec.batch_size, len(data)), seeds=seeds,
                      schema=schema, n_devices=check_devices(spec, spec.device))
