"""``MultiTaskRecommender.fit(source)``, and ``predict(source)`` and the other methods that take
rows, for a :class:`~sklearn_mtl.sources.ParquetSource`: data larger than memory, in bounded
memory.

``fit`` makes one pass over the source to fit the encoders
(:mod:`sklearn_mtl.sources._encoders`) and count the validation rows (:func:`source_data`), then
hands the fit kernel a :class:`SourceDataset` per side: its loader
reads the row groups in a new random order every epoch, encodes each record batch and mixes the
rows in a shuffle buffer before slicing batches, so memory holds a buffer, never the data.
Validation rows are those whose key (or position) hash falls in ``validation_fraction``: the
same rows every epoch and every rerun. The kernel trains on them as on rows in memory.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .._cascade import apply_cascade_labels
from ..sources import FeatureStatistics, TargetStatistics
from ._fit import FitData, check_schema, draw_seeds, input_schema, resolve_links
from ._kernel import Batches
from ._params import check_task_weights, resolve_batch_size
from ._skorch import MultiTaskDataset, rows_of
from ._warm_start import start_features


class SourceDataset(Dataset):
    """The training or validation rows of a source, encoded record batch by record batch.

    ``part`` is ``"train"``, ``"valid"`` or ``"all"``; ``n_rows`` its number of rows (counted
    by the encoders' pass), which skorch reads as the length.
    """

    def __init__(self, source, features, targets, links, *, part, fraction, n_rows, device):
        self.source, self.features, self.targets, self.links = source, features, targets, links
        self.part, self.fraction, self.n_rows, self.device = part, fraction, n_rows, device
        self.epochs = 0

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, i):  # pragma: no cover - skorch reads it through SourceLoader only
        raise TypeError("SourceDataset is read in batches by SourceLoader, not row by row.")

    def encoded(self, order=None):
        """``(x_num, x_cat, y)`` tensors of this part's rows, one record batch at a time.

        ``x_num`` is standardized to float32 here, as :class:`MultiTaskDataset` standardizes a
        batch in memory (the same numbers), and ``x_cat`` is int32: a row of the shuffle
        buffer holds 4 bytes a value, not 8.
        """
        for _, frame in self.source.iter_frames(order=order):
            arrays = self._encode(frame)
            del frame  # (and its Arrow buffers) before the loader trains on a full window
            if arrays is not None:
                yield arrays

    def _encode(self, frame):
        source = self.source
        if self.part != "all":
            valid = source.validation_mask(frame, self.fraction)
            frame = frame[valid if self.part == "valid" else ~valid]
            if not len(frame):
                return None
        x_num, x_cat = self.features.encode(frame[source.feature_columns])
        y = self.targets.transform(frame[source.target_columns])
        y = apply_cascade_labels(y, self.links, self.targets.names_)
        scaled = MultiTaskDataset(x_num, x_cat, offset=self.features.input_offset_,
                                  scale=self.features.input_scale_).numeric(slice(None))
        return scaled, torch.from_numpy(x_cat).to(torch.int32), torch.as_tensor(y)


class _Window:
    """The shuffle buffer: tensors of ``capacity`` rows that record batches are copied into.

    Filled in place, so no list of record batches is held beside a concatenated copy of them;
    ``take`` gathers a batch (a copy, as ``MultiTaskDataset.take`` gives), ``keep`` moves the
    rows left over to the front for the next fill.
    """

    def __init__(self, first, capacity: int, device):
        self.tensors = [torch.empty((capacity, *t.shape[1:]), dtype=t.dtype, device=device)
                        for t in first]
        self.rows = 0

    def append(self, arrays) -> None:
        n = len(arrays[0])
        if self.rows + n > len(self.tensors[0]):  # a record batch above batch_rows: grow
            self.tensors = [torch.cat([b[: self.rows], t.to(b.device)])
                            for b, t in zip(self.tensors, arrays)]
        else:
            for b, t in zip(self.tensors, arrays):
                b[self.rows : self.rows + n] = t
        self.rows += n

    def take(self, index):
        x_num, x_cat, y = (rows_of(b, index) for b in self.tensors)
        return {"x_num": x_num, "x_cat": x_cat.long()}, {"y": y}

    def keep(self, rest) -> None:
        for b in self.tensors:
            b[: len(rest)] = b[rest]
        self.rows = len(rest)


class SourceLoader:
    """Batches of a :class:`SourceDataset` (skorch's ``iterator_train`` / ``iterator_valid``).

    Shuffled: row groups in a random order each epoch, rows mixed in a buffer of at least
    ``source.shuffle_rows`` rows, full batches sliced from the buffer, the remainder kept for
    the next fill. Not shuffled: rows in file order. ``id_dropout`` as in
    :class:`~sklearn_mtl._recommender._skorch.IdDropoutLoader`.
    """

    def __init__(self, dataset, batch_size: int = 1024, shuffle: bool = False, seed=None,
                 id_dropout: float = 0.0):
        self.dataset, self.batch_size, self.shuffle = dataset, int(batch_size), shuffle
        self.seed, self.id_dropout = seed, id_dropout

    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        data = self.dataset
        rng = None
        order = None
        if self.shuffle:
            # A new order every epoch, the same sequence of orders on a rerun.
            rng = np.random.default_rng(None if self.seed is None else [self.seed, data.epochs])
            data.epochs += 1
            order = rng.permutation(len(data.source.row_groups()))
        generator = None
        if self.id_dropout:
            generator = torch.Generator()
            generator.manual_seed(int(rng.integers(2**31)) if rng is not None else 0)
        fill = max(int(data.source.shuffle_rows), self.batch_size) if self.shuffle else 1
        fill = max(fill, self.batch_size)
        window = None
        for arrays in data.encoded(order):
            if window is None:
                window = _Window(arrays, fill + int(data.source.batch_rows), data.device)
            window.append(arrays)
            del arrays
            if window.rows >= fill:
                # Emit every full batch of the buffer, keep the rest for the next fill.
                yield from self._batches(window, rng, generator, keep=True)
        if window is not None and window.rows:
            yield from self._batches(window, rng, generator, keep=False)

    def _batches(self, window, rng, generator, keep: bool):
        """Yield the batches of ``window``; keep its rows left over (with ``keep``)."""
        rows = window.rows
        index = torch.as_tensor(rng.permutation(rows) if self.shuffle else np.arange(rows))
        index = index.to(window.tensors[0].device)
        stop = rows - rows % self.batch_size if keep else rows
        for start in range(0, stop, self.batch_size):
            yield self._dropout(window.take(index[start : start + self.batch_size]), generator)
        window.keep(index[stop:] if keep else index[:0])

    def _dropout(self, batch, generator):
        X, y = batch
        x_cat = X["x_cat"]
        if self.id_dropout and x_cat.numel():
            drop = torch.rand(x_cat.shape, generator=generator) < self.id_dropout
            X["x_cat"] = x_cat.masked_fill(drop.to(x_cat.device), 0)
        return X, y


def source_data(spec, source, y, sample_weight, check) -> FitData:
    """``fit(source)``: one pass over ``source`` (its frames checked by ``check``, the
    estimator's ``_validate_X``) fits the encoders and counts the validation rows; the kernel
    then reads the rows through a :class:`SourceDataset` per side. See
    ``MultiTaskRecommender.fit``."""
    if y is not None:
        raise ValueError(
            f"y must be None when X is a {type(source).__name__}: its targets are the columns "
            f"named by targets= ({source.target_columns})."
        )
    if sample_weight is not None:
        raise ValueError(f"sample_weight is not supported when X is a {type(source).__name__}.")
    if not source.target_columns:
        raise ValueError(
            f"{source!r} names no target column: give targets=[...] to fit on it."
        )
    if spec.devices not in (None, 1):
        raise ValueError(
            f"devices={spec.devices!r} is not supported when X is a {type(source).__name__}: "
            "fit on a source trains in this process; use devices=None."
        )
    use_valid = spec.use_valid
    fraction = spec.validation_fraction if use_valid else 0.0
    _, seeds = draw_seeds(spec.random_state)

    # One pass: the encoders, the schema, the validation rows.
    feature_stats = FeatureStatistics(spec.categorical_features, spec.min_frequency,
                                      spec.embedding_dim, n_rows=source.n_rows, seed=seeds[0])
    target_stats = TargetStatistics(spec.tasks, one_d=source.one_d)
    schema, n_rows, n_valid = None, 0, 0
    for start, frame in source.iter_frames():
        X = frame[source.feature_columns]
        if schema is None:
            schema = input_schema(X)
            X = check(X, reset=True)
        else:
            check_schema(schema, X, where=f"{source!r}, rows from {start}: ")
            X = check(X, reset=False)
        feature_stats.update(X)
        target_stats.update(frame[source.target_columns])
        n_rows += len(frame)
        if use_valid:
            n_valid += int(source.validation_mask(frame, fraction).sum())
    if schema is None:
        raise ValueError(f"{source!r} has no rows.")
    features, targets = feature_stats.finish(), target_stats.finish()
    features = start_features(spec, features, targets)  # the source's, with init=
    if use_valid and (n_valid == 0 or n_valid == n_rows):
        raise ValueError(
            f"validation_fraction={spec.validation_fraction} picks {n_valid} of the {n_rows} "
            f"rows of {source!r} for validation"
            f"{' (by key ' + repr(source.key) + ')' if source.key else ''}; "
            "change it, or set validation_fraction=None."
        )
    cascade, links = resolve_links(spec, targets)
    check_task_weights(spec.task_weights, len(targets.names_))
    common = dict(fraction=fraction, device=spec.device)
    train = SourceDataset(source, features, targets, links, part="train" if use_valid else "all",
                          n_rows=n_rows - n_valid, **common)
    valid = None
    if use_valid:
        valid = SourceDataset(source, features, targets, links, part="valid", n_rows=n_valid,
                              **common)
    return FitData.of(spec, features, targets,
                      Batches(train, valid, loader=SourceLoader, valid_loader=SourceLoader),
                      cascade=cascade, links=links,
                      batch_size=resolve_batch_size(spec.batch_size, len(train)), seeds=seeds,
                      schema=schema)


def source_frames(source, fit_columns: list | None):
    """The record batches of ``source`` as frames of a fitted model's feature columns
    (``fit_columns``, those of ``fit``, when ``source.features`` is None, whatever else the files
    hold)."""
    columns = fit_columns if source.features is None and fit_columns else None
    columns = source.feature_columns if columns is None else list(columns)
    source.check_columns(columns)
    empty = True
    for _, frame in source.iter_frames(columns=columns):
        empty = False
        yield frame
    if empty:
        raise ValueError(f"{source!r} has no rows.")
