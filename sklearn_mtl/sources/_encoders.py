"""The encoders of ``X`` and ``Y`` fitted in one pass over batches of rows, for data larger
than memory (:class:`sklearn_mtl.sources.ParquetSource`).

:class:`FeatureStatistics` and :class:`TargetStatistics` see each batch once and keep what does
not grow with the rows: category counts (which grow with the vocabulary), per-column counts,
means and sums of squared deviations, merged batch by batch with Chan et al.'s pairwise update
as ``features._column_mean_std`` merges its blocks, and a uniform sample of at most
``MEDIAN_SAMPLE`` rows for the medians that impute NaN (exact when the data has fewer rows).
``finish()`` returns a fitted :class:`~sklearn_mtl.features.FeatureEncoder` /
:class:`~sklearn_mtl.tasks.TargetEncoder`, the same classes ``fit`` builds in memory, so that
prediction, saving and loading do not know how they were fitted.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._checks import value_kind
from ..features import FeatureEncoder, categorical_columns, category_counts, merge_category_counts
from ..tasks import TargetEncoder, check_kinds, clean_labels, infer_kind, present

# Rows sampled for the medians of columns with NaN.
MEDIAN_SAMPLE = 100_000
# A classification task with more distinct labels than this over the stream is refused.
MAX_STREAM_CLASSES = 100_000


def _merge_moments(count, mean, m2, k, batch_mean, batch_m2):
    """Chan et al.'s update of per-column (count, mean, M2) with a batch's; arrays in place."""
    total = count + k
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = batch_mean - mean
        share = np.where(total > 0, k / np.maximum(total, 1), 0.0)
        mean += np.where(k > 0, delta * share, 0.0)
        m2 += np.where(k > 0, batch_m2 + delta**2 * count * share, 0.0)
    count += k


def _batch_moments(values: np.ndarray):
    """Per column: non-NaN count, mean and sum of squared deviations (two passes, float64)."""
    present = ~np.isnan(values)
    k = present.sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(k > 0, np.nansum(values, axis=0) / np.maximum(k, 1), 0.0)
        m2 = np.nansum((values - mean) ** 2, axis=0)
    return k, mean, m2


class FeatureStatistics:
    """What :meth:`FeatureEncoder.fit` learns, gathered batch by batch.

    Parameters
    ----------
    categorical_features, min_frequency, embedding_dim
        As in :class:`~sklearn_mtl.features.FeatureEncoder`; the embedded columns are decided
        on the first batch's dtypes, and a float ``min_frequency`` counts all rows.
    n_rows : int
        Rows the stream will have (for the median sample's rate).
    seed : int, default=0
        Seed of the median sample.

    Examples
    --------
    >>> import pandas as pd
    >>> stats = FeatureStatistics("auto", None, "auto", n_rows=4)
    >>> stats.update(pd.DataFrame({"age": [20.0, None], "city": ["a", "b"]}))
    >>> stats.update(pd.DataFrame({"age": [40.0, 30.0], "city": ["a", "c"]}))
    >>> enc = stats.finish()
    >>> enc.cardinalities_, enc.indicator_columns_, enc.median_.tolist()
    ([4], ['age'], [30.0])
    """

    def __init__(self, categorical_features, min_frequency, embedding_dim, *, n_rows: int,
                 seed: int = 0):
        self.encoder = FeatureEncoder(categorical_features, min_frequency, embedding_dim)
        self.n_rows = n_rows
        self.rng = np.random.default_rng(seed)
        self.rows = 0
        self.counts = None

    def _start(self, X: pd.DataFrame) -> None:
        enc = self.encoder
        enc.categorical_columns_ = categorical_columns(X, enc.categorical_features)
        chosen = set(enc.categorical_columns_)
        enc.numeric_columns_ = [c for c in X.columns if c not in chosen]
        enc.category_kinds_ = ["none"] * len(enc.categorical_columns_)
        self.counts = [pd.Series(dtype="int64", index=pd.Index([], dtype=object))
                       for _ in enc.categorical_columns_]
        d = len(enc.numeric_columns_)
        self.count, self.mean, self.m2 = np.zeros(d), np.zeros(d), np.zeros(d)
        self.n_nan = np.zeros(d)
        self.sample = []
        self.rate = min(1.0, MEDIAN_SAMPLE / max(self.n_rows, 1))

    def update(self, X: pd.DataFrame) -> None:
        """Take one batch (a DataFrame with the first batch's columns)."""
        if self.counts is None:
            self._start(X)
        enc = self.encoder
        self.rows += len(X)
        for j, c in enumerate(enc.categorical_columns_):
            column = X[c]
            if enc.category_kinds_[j] == "none":
                enc.category_kinds_[j] = value_kind(column)
            self.counts[j] = merge_category_counts(self.counts[j],
                                                   category_counts(column, sort=False))
        values = enc._numeric_block(X)
        if values.shape[1] == 0:
            return
        infinite = np.isinf(values).any(axis=0)
        if infinite.any():
            raise ValueError(
                f"Input X contains infinity in column(s) {enc._numeric_names(infinite)[:10]}; "
                "replace them or use NaN for a missing value."
            )
        self.n_nan += np.isnan(values).sum(axis=0)
        _merge_moments(self.count, self.mean, self.m2, *_batch_moments(values))
        keep = self.rng.random(len(values)) < self.rate
        if keep.any():
            self.sample.append(values[keep])

    def finish(self) -> FeatureEncoder:
        """The fitted encoder; ValueError when no batch was seen or a std overflows."""
        if self.counts is None:
            raise ValueError("The stream has no rows: nothing to fit the feature encoder on.")
        enc = self.encoder
        min_count = enc._min_count(self.rows)
        enc.vocabularies_ = []
        for counts in self.counts:
            counts = counts.sort_values(ascending=False, kind="stable")
            enc.vocabularies_.append(pd.Index(counts[counts >= min_count].index, dtype=object))
        enc.cardinalities_ = [len(v) + 1 for v in enc.vocabularies_]
        enc.embedding_dims_ = [enc._embedding_dim(k) for k in enc.cardinalities_]
        has_nan = self.n_nan > 0
        median = np.zeros(len(has_nan))
        if has_nan.any() and self.sample:
            sample = np.concatenate(self.sample)[:, has_nan]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column -> 0
                median[has_nan] = np.nan_to_num(np.nanmedian(sample, axis=0))
        # Merge each column's observed values with its NaN rows, imputed by the median
        # (a group of variance 0): the statistics of the imputed column, as fit computes them.
        count, mean, m2 = self.count.copy(), self.mean.copy(), self.m2.copy()
        _merge_moments(count, mean, m2, self.n_nan, median, np.zeros_like(median))
        std = np.sqrt(m2 / max(self.rows, 1))
        enc._indicator_mask = has_nan
        enc.indicator_columns_ = [c for c, has in zip(enc.numeric_columns_, has_nan) if has]
        enc.mean_ = mean
        enc.scale_ = np.where(std > 0, std, 1.0)
        enc.median_ = np.where(has_nan, median, mean)
        overflow = ~np.isfinite(std)
        if overflow.any():
            raise ValueError(
                f"Numeric column(s) {enc._numeric_names(overflow)[:10]} of X are too spread out "
                "to standardize: their standard deviation overflows float64; rescale them."
            )
        return enc


class TargetStatistics:
    """What :meth:`TargetEncoder.fit` learns, gathered batch by batch.

    A task's kind is declared by ``tasks`` or inferred from the first batch that labels it
    (as ``fit`` infers it from all rows); its classes are those of every batch, its
    regression scale that of every labelled row.

    Examples
    --------
    >>> import pandas as pd
    >>> stats = TargetStatistics("auto", one_d=False)
    >>> stats.update(pd.DataFrame({"click": [0, 0], "dwell": [1.5, 2.5]}))
    >>> stats.update(pd.DataFrame({"click": [1, 0], "dwell": [3.5, 0.5]}))
    >>> enc = stats.finish()
    >>> enc.kinds_, enc.classes_[0].tolist(), float(enc.mean_[1])
    (['binary', 'regression'], [0, 1], 2.0)
    """

    def __init__(self, tasks, *, one_d: bool):
        self.tasks = tasks
        self.one_d = one_d
        self.names = None

    def update(self, Y: pd.DataFrame) -> None:
        if self.names is None:
            self.names = list(Y.columns)
            self.kinds = check_kinds(self.tasks, self.names)
            T = len(self.names)
            self.classes = [None] * T
            self.count, self.mean, self.m2 = np.zeros(T), np.zeros(T), np.zeros(T)
        for t, name in enumerate(self.names):
            column = Y[name]
            values = clean_labels(name, present(column))
            if len(values) == 0:
                continue
            if self.kinds[t] is None:
                self.kinds[t] = infer_kind(name, values, len(values) < len(column))
            if self.kinds[t] == "regression":
                if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
                    values.dtype
                ):
                    raise ValueError(
                        f"Task {name!r} is a regression task but its values are not numeric "
                        f"(dtype {values.dtype})."
                    )
                arr = values.to_numpy(dtype=float)[:, None]
                k, m, s = _batch_moments(arr)
                view = slice(t, t + 1)  # views: merged in place
                _merge_moments(self.count[view], self.mean[view], self.m2[view], k, m, s)
            else:
                labels = np.unique(values.to_numpy())
                known = self.classes[t]
                self.classes[t] = labels if known is None else np.union1d(known, labels)
                if len(self.classes[t]) > MAX_STREAM_CLASSES:
                    raise ValueError(
                        f"Task {name!r} has more than {MAX_STREAM_CLASSES} distinct labels in the "
                        "stream: it looks like free text or ids, not classes."
                    )

    def finish(self) -> TargetEncoder:
        if self.names is None:
            raise ValueError("The stream has no rows: nothing to fit the target encoder on.")
        enc = TargetEncoder(self.tasks)
        enc.one_d_ = self.one_d
        enc.names_, enc.kinds_, enc.classes_ = list(self.names), [], []
        enc.mean_ = np.zeros(len(self.names))
        enc.scale_ = np.ones(len(self.names))
        for t, (name, kind) in enumerate(zip(self.names, self.kinds)):
            if kind is None:
                raise ValueError(
                    f"Task {name!r} has no labels: every value of its Y column is missing."
                )
            if kind == "regression":
                enc.mean_[t] = self.mean[t]
                std = np.sqrt(self.m2[t] / self.count[t])
                enc.scale_[t] = std if std > 0 else 1.0
                enc.classes_.append(None)
            else:
                classes = self.classes[t]
                if len(classes) < 2:
                    raise ValueError(
                        f"Task {name!r} has only one class ({classes.tolist()[0]!r}) in the whole "
                        "stream; a classification task needs at least two."
                    )
                if kind == "binary" and len(classes) > 2:
                    raise ValueError(
                        f"Task {name!r} is binary but the stream has {len(classes)} classes "
                        f"{classes.tolist()[:10]}; declare it 'multiclass'."
                    )
                kind = "binary" if len(classes) == 2 else "multiclass"
                enc.classes_.append(classes)
            enc.kinds_.append(kind)
        return enc
