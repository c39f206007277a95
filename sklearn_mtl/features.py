"""X -> tensors for the nets: numeric scaling with imputation, categorical columns -> embedding indices.

Rules (documented in the user guide):

* Numeric and bool columns are standardized with the mean and standard deviation learned in
  ``fit``. A NaN in a numeric column is replaced by the column's training median; every column
  that had a NaN in ``fit`` also gets a 0/1 missing-indicator input (as scikit-learn's
  ``SimpleImputer(add_indicator=True)``). A NaN at predict time in a column that had none in
  ``fit`` gets the column's training mean (0 after scaling), without an indicator. Infinite
  values are an error.
* Category, ``str`` and object columns, and the columns named in ``categorical_features``,
  become embedding indices. Under ``categorical_features="auto"`` an integer column of a
  DataFrame whose name marks an identifier (see :func:`is_id_name`: ``id``, ``user_id``,
  ``item-id``, ``movieId``, ``userID``) is embedded too: ids are labels, and standardizing them
  as numbers gives the nets a meaningless order (measured in docs/recommender-data.md).
  Index 0 is reserved for "unknown": categories rarer than ``min_frequency`` in ``fit`` and
  categories first seen at predict map to it. A missing value (NaN, or None in an object
  column) is a category of its own.
* ``embedding_dim="auto"`` gives a column with ``k`` categories (the unknown bucket included)
  ``min(50, round(1.6 * k ** 0.56))`` dimensions (the fast.ai rule of thumb).
"""

from __future__ import annotations

import numbers
import re
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.sparsefuncs import mean_variance_axis

from ._checks import check_category_kind, in_range, value_kind

MAX_AUTO_EMBEDDING_DIM = 50


def auto_embedding_dim(n_categories: int) -> int:
    """Embedding width for a column with ``n_categories`` values (unknown bucket included)."""
    return int(min(MAX_AUTO_EMBEDDING_DIM, max(1, round(1.6 * n_categories**0.56))))


def _is_text_like(dtype) -> bool:
    return not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


def is_id_name(name) -> bool:
    """Whether a column name marks an identifier: ``id`` alone or as the last word.

    Examples
    --------
    >>> [is_id_name(n) for n in ["user_id", "movieId", "userID", "id", "paid", "width", 3]]
    [True, True, True, True, False, False, False]
    """
    if not isinstance(name, str):
        return False
    # Case matters for camelCase ("movieId" but not "paid"); "_id" and "id" match in any case.
    return bool(re.search(r"(?:^|[_\-\s.])id$", name, re.IGNORECASE)
                or re.search(r"[a-z0-9](?:Id|ID)$", name))


def _is_integer_id(X, c) -> bool:
    dtype = X[c].dtype
    return (pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            and is_id_name(c))


def categorical_columns(X, categorical_features) -> list:
    """Columns of ``X`` that become embeddings.

    Text-like columns (category, ``str``, object) always; with ``"auto"`` also the integer
    columns whose name marks an id (:func:`is_id_name`); with a list, the columns it names
    instead; with None, no others. ``X`` is a DataFrame (labels are column names) or a 2-D
    array (labels are positions; arrays have no names, so "auto" adds nothing).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"user_id": [1, 2], "age": [30, 40], "city": ["a", "b"]})
    >>> categorical_columns(X, "auto"), categorical_columns(X, None)
    (['user_id', 'city'], ['city'])
    """
    is_frame = isinstance(X, pd.DataFrame)
    columns = list(X.columns) if is_frame else list(range(X.shape[1]))
    auto = [c for c in columns if is_frame and _is_text_like(X[c].dtype)]
    if isinstance(categorical_features, str) and categorical_features == "auto":
        return [c for c in columns if c in auto or (is_frame and _is_integer_id(X, c))]
    if categorical_features is None:
        named = []
    else:
        try:
            named = list(categorical_features)
        except TypeError:
            raise ValueError(
                f"categorical_features={categorical_features!r} is not valid: use 'auto', None "
                "or a list of column names (DataFrame) or positions."
            ) from None
    chosen = []
    for c in named:
        if is_frame and c in columns:
            chosen.append(c)
        elif isinstance(c, numbers.Integral) and not isinstance(c, bool) and 0 <= c < len(columns):
            chosen.append(columns[c])
        else:
            where = f"columns {columns[:20]}" if is_frame else f"{len(columns)} columns"
            raise ValueError(
                f"categorical_features names {c!r}, which is not a column of X ({where})."
            )
    return [c for c in columns if c in set(chosen) | set(auto)]


def category_counts(values, sort: bool = True) -> pd.Series:
    """How often each value of a categorical column occurs, NaN counted as a value of its own.

    Indexed by the values as Python objects (the vocabulary's form); with ``sort`` the most
    frequent first, ties in order of first appearance. ``pd.factorize`` counts in the column's
    own dtype (integer ids, a category's codes, text): casting a million ids to objects first
    takes ten times as long.

    Examples
    --------
    >>> category_counts(pd.Series([3, 1, 3, 2])).to_dict()
    {3: 2, 1: 1, 2: 1}
    """
    codes, uniques = _factorized(values)
    counts = pd.Series(np.bincount(codes, minlength=len(uniques)), index=uniques)
    return counts.sort_values(ascending=False, kind="stable") if sort else counts


def merge_category_counts(counts: pd.Series, more: pd.Series) -> pd.Series:
    """Two ``category_counts(..., sort=False)`` added up, the values in order of first
    appearance and still Python objects (``pd.concat`` would cast integers beside a missing
    value to floats).

    Examples
    --------
    >>> a = category_counts(pd.Series([1, 2, 2]), sort=False)
    >>> b = category_counts(pd.Series([3, 2]), sort=False)
    >>> merge_category_counts(a, b).to_dict()
    {1: 1, 2: 3, 3: 1}
    """
    keys = np.concatenate([np.asarray(counts.index, dtype=object),
                           np.asarray(more.index, dtype=object)])
    codes, uniques = _factorized(keys)
    weights = np.concatenate([counts.to_numpy(dtype=np.float64), more.to_numpy(dtype=np.float64)])
    total = np.bincount(codes, weights=weights, minlength=len(uniques))
    return pd.Series(total.astype(np.int64), index=uniques)


def category_indices(vocabulary: pd.Index, values, factorized=None) -> np.ndarray:
    """Each value's position in ``vocabulary`` plus one, 0 where it is absent (unknown or
    rare): the distinct values are looked up once, as Python objects, then spread back.
    ``factorized`` is the column's ``_factorized`` when the caller has it already."""
    codes, uniques = _factorized(values) if factorized is None else factorized
    return vocabulary.get_indexer(uniques)[codes] + 1


def _factorized(values) -> tuple[np.ndarray, pd.Index]:
    """``(codes, distinct values)`` of a column, the values as objects and a missing value (NaN,
    None, ``pd.NA`` of a nullable dtype) as one of them, always NaN."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    uniques = np.asarray(uniques, dtype=object)
    missing = pd.isna(uniques)
    if missing.any():
        uniques[missing] = np.nan
    return codes, pd.Index(uniques, dtype=object)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


# A std below this may have lost its squares to underflow (float64's smallest normal is 2.2e-308).
_TINY_STD = 1e-150


def _column_mean_std(values: np.ndarray, dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """Column means and (population) standard deviations, as float64.

    One pass over the data in blocks of rows small enough to stay in cache (about 1 MB):
    each block is taken relative to the first row and centred on its own mean, which keeps a
    float64 column like ``1e12 + N(0, 1)`` apart, and the blocks are merged in float64 with
    Chan et al.'s pairwise update. Blocks are computed in float32 for float32 input (it holds
    no more digits) and in float64 otherwise; a float32 column that overflows float32 on the
    way is done again in float64. Whole-array ``values - mean`` would allocate and page in
    hundreds of MB on census one-hot; this takes a quarter of the time of two passes over
    large float64 blocks.
    """
    n, d = values.shape
    mean, m2 = np.zeros(d), np.zeros(d)
    if n == 0:
        return mean, np.ones(d)
    if sp.issparse(values):  # over the stored values, as StandardScaler(with_mean=False) does
        mean, var = mean_variance_axis(values.astype(np.float64), axis=0)
        return np.asarray(mean, dtype=np.float64), np.sqrt(np.asarray(var, dtype=np.float64))
    if dtype is None:
        dtype = np.float32 if values.dtype == np.float32 else np.float64
    rows = max(1, 2**18 // max(d, 1))
    count = 0
    shift = values[0].astype(dtype)  # sums of x - shift stay small: 1e12 + N(0, 1)
    ones = np.ones(min(rows, n), dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing std is refused by name
        for start in range(0, n, rows):
            block = values[start : start + rows].astype(dtype)
            block -= shift
            k = block.shape[0]
            block_mean = (ones[:k] @ block).astype(np.float64) / k
            block -= block_mean.astype(dtype)
            np.square(block, out=block)
            delta = block_mean - mean
            total = count + k
            mean += delta * (k / total)
            m2 += (ones[:k] @ block).astype(np.float64) + delta**2 * (count * k / total)
            count = total
    std = np.sqrt(m2 / n)
    mean += shift
    if dtype == np.float32:
        # Columns that overflowed float32 on the way (or hold NaN or inf) are done again in
        # float64, alone: a NaN column stays NaN, and the others keep their one pass.
        redo = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
        if len(redo):
            mean[redo], std[redo] = _column_mean_std(values[:, redo], np.float64)
    # Deviations below ~1e-154 square to subnormals and then to 0: a column at the 1e-200 scale
    # would look constant. Such columns are done again divided by their largest deviation.
    tiny = np.flatnonzero(std < _TINY_STD)
    if len(tiny):
        deviation = values[:, tiny].astype(np.float64) - mean[tiny]
        spread = np.abs(deviation).max(axis=0)
        moving = spread > 0  # a constant column stays at std 0
        tiny, deviation, spread = tiny[moving], deviation[:, moving], spread[moving]
        if len(tiny):
            # Divided by its largest deviation a column's std is at least 1 / n: never tiny.
            rescued_mean, rescued_std = _column_mean_std(deviation / spread, np.float64)
            mean[tiny] += rescued_mean * spread
            std[tiny] = rescued_std * spread
    return mean, std


def _non_finite_columns(values: np.ndarray) -> np.ndarray:
    """Mask of the columns holding a NaN or an infinity.

    A column sum is finite exactly when the column is (or it overflowed): one cheap reduction,
    with the element-wise check only for the columns whose sum is not finite.
    """
    if values.shape[0] == 0:
        return np.zeros(values.shape[1], dtype=bool)
    if sp.issparse(values):
        bad = np.zeros(values.shape[1], dtype=bool)
        bad[values.tocsr().indices[~np.isfinite(values.tocsr().data)]] = True
        return bad
    suspect = ~np.isfinite(np.add.reduce(values, axis=0))
    if suspect.any():
        suspect[suspect] = ~np.isfinite(values[:, suspect]).all(axis=0)
    return suspect


def _column(X, c):
    if isinstance(X, pd.DataFrame):
        return X[c]
    return X[:, [c]].toarray().ravel() if sp.issparse(X) else X[:, c]


def _dense_rows(values, rows: slice) -> np.ndarray:
    """Rows of a numeric block as a dense array (a sparse block densified for these rows only)."""
    block = values[rows]
    return block.toarray() if sp.issparse(block) else block


class FeatureEncoder:
    """Learn the numeric scaling and the category vocabularies of ``X``; encode to arrays.

    ``transform`` returns ``(x_num, x_cat)``: a float32 (n, n_numeric + n_indicators) array and an
    int64 (n, n_categorical) array of embedding indices (0 = unknown).

    Parameters
    ----------
    categorical_features : "auto", None or list
        As in ``MultiTaskRecommender``.
    min_frequency : int, float or None
        Categories seen fewer times than this in ``fit`` (a fraction of the rows when a float
        in (0, 1)) map to the unknown index.
    embedding_dim : "auto" or int
        Width of every embedding, or the rule above.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [20.0, 30.0, None], "city": ["a", "b", "a"]})
    >>> enc = FeatureEncoder().fit(X)
    >>> enc.categorical_columns_, enc.cardinalities_
    (['city'], [3])
    >>> x_num, x_cat = enc.transform(pd.DataFrame({"age": [25.0], "city": ["z"]}))
    >>> x_cat.tolist()
    [[0]]
    """

    def __init__(self, categorical_features="auto", min_frequency=None, embedding_dim="auto"):
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency
        self.embedding_dim = embedding_dim

    def fit(self, X) -> FeatureEncoder:
        self._fit(X)
        return self

    def fit_encode(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``fit(X).encode(X)``, reading ``X`` once: the numeric block and the factorized
        categorical columns that ``fit`` reads are encoded as they are."""
        values, has_nan, factorized = self._fit(X)
        codes = np.empty((X.shape[0], len(self.categorical_columns_)), dtype=np.int64)
        for j, vocab in enumerate(self.vocabularies_):
            codes[:, j] = category_indices(vocab, None, factorized[j])
        return self._numeric_inputs(values, has_nan), codes

    def _fit(self, X) -> tuple[np.ndarray, np.ndarray, list]:
        """Fit; return the numeric block, its NaN columns and each categorical column's
        ``_factorized``, for :meth:`fit_encode`."""
        n = X.shape[0]
        self.categorical_columns_ = categorical_columns(X, self.categorical_features)
        cat_set = set(self.categorical_columns_)
        all_columns = list(X.columns) if isinstance(X, pd.DataFrame) else list(range(X.shape[1]))
        self.numeric_columns_ = [c for c in all_columns if c not in cat_set]
        min_count = self._min_count(n)

        self.vocabularies_, self.category_kinds_, factorized = [], [], []
        for c in self.categorical_columns_:
            column = _column(X, c)
            self.category_kinds_.append(value_kind(column))
            factorized.append(_factorized(column))
            codes, uniques = factorized[-1]
            counts = pd.Series(np.bincount(codes, minlength=len(uniques)), index=uniques)
            counts = counts.sort_values(ascending=False, kind="stable")
            kept = counts[counts >= min_count].index
            self.vocabularies_.append(pd.Index(kept, dtype=object))
        self.cardinalities_ = [len(v) + 1 for v in self.vocabularies_]
        self.embedding_dims_ = [self._embedding_dim(k) for k in self.cardinalities_]

        # One pass over the numeric block gives the statistics, and finds the columns with a
        # NaN or an infinity on the way: theirs are the only statistics that are not finite.
        values = self._numeric_block(X)
        if sp.issparse(values):
            self._refuse_sparse_non_finite(values)
        mean, std = _column_mean_std(values)
        suspect = ~(np.isfinite(mean) & np.isfinite(std))
        has_nan = np.zeros(values.shape[1], dtype=bool)
        if suspect.any():  # or a std that overflows float64, refused below
            has_nan[suspect] = ~np.isfinite(values[:, suspect]).all(axis=0)
        self._check_infinite(values, has_nan)
        self._indicator_mask = has_nan
        self.indicator_columns_ = [c for c, has in zip(self.numeric_columns_, has_nan) if has]
        # Medians only where fit saw a NaN; a column first missing at predict time gets its
        # training mean (0 once scaled) instead, which saves a full sort of the data.
        median = np.full(values.shape[1], np.nan)
        if has_nan.any() and values.shape[0]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column -> 0
                median[has_nan] = np.nan_to_num(np.nanmedian(values[:, has_nan], axis=0))
            sub = values[:, has_nan]
            filled = np.where(np.isnan(sub), median[has_nan], sub).astype(values.dtype)
            mean[has_nan], std[has_nan] = _column_mean_std(filled)
        self.mean_ = mean
        self.scale_ = np.where(std > 0, std, 1.0)
        self.median_ = np.where(has_nan, median, self.mean_)
        # Standardized training values are bounded by sqrt(n - 1) (Samuelson's inequality), so
        # only a std that overflows float64 (it would scale the column to a constant) is refused.
        overflow = ~np.isfinite(std)
        if overflow.any():
            cols = self._numeric_names(overflow)
            raise ValueError(
                f"Numeric column(s) {cols[:10]} of X are too spread out to standardize: their "
                "standard deviation overflows float64; rescale these columns (e.g. divide by "
                "a power of ten) before fitting."
            )
        return values, has_nan, factorized

    @property
    def input_offset_(self) -> np.ndarray:
        """Per numeric input (indicators last): what ``transform`` subtracts before scaling."""
        return np.concatenate([self.mean_, np.zeros(len(self.indicator_columns_))])

    @property
    def input_scale_(self) -> np.ndarray:
        """Per numeric input (indicators last): what ``transform`` divides by."""
        return np.concatenate([self.scale_, np.ones(len(self.indicator_columns_))])

    def _numeric_names(self, mask: np.ndarray) -> list:
        """The numeric columns selected by the boolean ``mask``, for messages."""
        return np.array(self.numeric_columns_, dtype=object)[mask].tolist()

    def check_representable(self, X) -> None:
        """Raise naming the numeric columns of ``X`` that overflow float32 once standardized."""
        filled = self._impute(*self._checked_block(X))
        spread = np.zeros(filled.shape[1])
        for start in range(0, filled.shape[0], 8192):
            centered = _dense_rows(filled, slice(start, start + 8192)) - self.mean_
            np.maximum(spread, np.abs(centered).max(axis=0, initial=0.0), out=spread)
        scaled_max = spread / self.scale_
        too_large = ~(scaled_max <= _FLOAT32_MAX)
        if too_large.any():
            raise ValueError(
                f"Numeric column(s) {self._numeric_names(too_large)[:10]} of X have values that "
                f"are too large for float32 once standardized (|x - mean| / std up to "
                f"{np.max(scaled_max[too_large]):.3g}, float32 holds up to {_FLOAT32_MAX:.3g}); "
                "rescale or clip these columns."
            )

    @property
    def n_numeric_inputs_(self) -> int:
        return len(self.numeric_columns_) + len(self.indicator_columns_)

    def _min_count(self, n: int) -> int:
        mf = self.min_frequency
        if mf is None:
            return 1
        if in_range(mf, integer=True, low=1):
            return int(mf)
        if isinstance(mf, numbers.Real) and 0 < mf < 1:
            return max(1, int(np.ceil(mf * n)))
        raise ValueError(
            f"min_frequency={mf!r} is not valid: use None, an int >= 1 or a float in (0, 1)."
        )

    def _embedding_dim(self, k: int) -> int:
        d = self.embedding_dim
        if isinstance(d, str) and d == "auto":
            return auto_embedding_dim(k)
        if in_range(d, integer=True, low=1):
            return int(d)
        raise ValueError(f"embedding_dim={d!r} is not valid: use 'auto' or an int >= 1.")

    def _numeric_block(self, X) -> np.ndarray:
        if not self.numeric_columns_:
            return np.zeros((X.shape[0], 0))
        if isinstance(X, pd.DataFrame):
            block = X[self.numeric_columns_]
            try:
                values = block.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                bad = [c for c in self.numeric_columns_ if _is_text_like(block[c].dtype)]
                raise ValueError(
                    f"Numeric columns {bad or self.numeric_columns_} of X cannot be read as "
                    f"numbers: {exc}"
                ) from exc
        else:
            # No copy when every column is numeric and already float: census one-hot is 35M values.
            if len(self.numeric_columns_) < X.shape[1]:
                X = X[:, self.numeric_columns_]
            # A sparse block stays sparse: the net densifies it batch by batch.
            values = X.tocsr() if sp.issparse(X) else np.asarray(X)
            if values.dtype not in (np.float32, np.float64):
                values = values.astype(np.float64)
        return values

    def _refuse_sparse_non_finite(self, values) -> None:
        bad = _non_finite_columns(values)
        if bad.any():
            raise ValueError(
                f"Sparse X holds NaN or infinity in column(s) {self._numeric_names(bad)[:10]}; a "
                "sparse block is read as it is stored: impute it first (e.g. "
                "SimpleImputer(strategy='constant', fill_value=0) in the pipeline) or pass X "
                "dense."
            )

    def _check_infinite(self, values, non_finite):
        if not non_finite.any():
            return
        if sp.issparse(values):
            self._refuse_sparse_non_finite(values)
        inf = np.isinf(values[:, non_finite])
        if inf.any():
            cols = [c for c, bad in zip(self._numeric_names(non_finite), inf.any(axis=0)) if bad]
            raise ValueError(
                f"Input X contains infinity in column(s) {cols[:10]} "
                f"({int(inf.sum())} values); replace them or use NaN for a missing value."
            )

    def _impute(self, values, has_nan):
        """``values`` with NaN replaced by the training medians (a copy only when needed)."""
        if not has_nan.any():
            return values
        values = values.copy()
        sub = values[:, has_nan]
        values[:, has_nan] = np.where(np.isnan(sub), self.median_[has_nan], sub)
        return values

    def _checked_block(self, X):
        values = self._numeric_block(X)
        has_nan = _non_finite_columns(values)
        self._check_infinite(values, has_nan)
        return values, has_nan

    def encode(self, X, check: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(x_num, x_cat)`` before scaling: the imputed numeric block (float32 or float64, as
        ``X``; no copy when ``X`` is a float array without NaN) with the missing indicators
        appended, and the int64 embedding indices.

        ``(x_num - input_offset_) / input_scale_`` is what ``transform`` returns; the estimator
        applies it batch by batch, so that no standardized copy of ``X`` is ever held.

        ``check=False`` skips the pass that looks for NaN and infinity when ``fit`` saw no NaN
        (no indicator inputs): for callers that detect them downstream, as the estimator's
        predict does from non-finite outputs, then encodes again with ``check=True``.
        """
        if check or self.indicator_columns_:
            values, has_nan = self._checked_block(X)
        else:
            values = self._numeric_block(X)
            has_nan = np.zeros(values.shape[1], dtype=bool)
        codes = np.zeros((X.shape[0], len(self.categorical_columns_)), dtype=np.int64)
        kinds = getattr(self, "category_kinds_", [None] * len(self.vocabularies_))
        for j, (c, vocab) in enumerate(zip(self.categorical_columns_, self.vocabularies_)):
            column = _column(X, c)
            check_category_kind(c, kinds[j], column)
            codes[:, j] = category_indices(vocab, column)
        return self._numeric_inputs(values, has_nan), codes

    def _numeric_inputs(self, values, has_nan) -> np.ndarray:
        """The numeric block imputed where ``has_nan``, with the missing indicators appended."""
        indicators = None
        if self.indicator_columns_:
            missing = values[:, self._indicator_mask]
            missing = missing.toarray() if sp.issparse(missing) else missing
            indicators = np.isnan(missing).astype(values.dtype)
        filled = self._impute(values, has_nan)
        if indicators is not None:
            filled = (sp.hstack([filled, indicators], format="csr") if sp.issparse(filled)
                      else np.hstack([filled, indicators]))
        return filled

    def transform(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(x_num, x_cat)``: the standardized numeric inputs as float32 and the indices.

        Centring and scaling run in float64 (in row chunks) and are cast to float32 last, so
        that a float64 column like ``1e12 + N(0, 1)`` keeps its information.
        """
        values, codes = self.encode(X)
        offset, scale = self.input_offset_, self.input_scale_
        scaled = np.empty(values.shape, dtype=np.float32)
        for start in range(0, values.shape[0], 8192):
            rows = slice(start, start + 8192)
            scaled[rows] = (_dense_rows(values, rows) - offset) / scale
        return scaled, codes


def describe_columns(encoder: FeatureEncoder, max_listed: int = 12) -> str:
    """Two lines naming what a fitted :class:`FeatureEncoder` embeds and what it scales.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"user_id": [1, 2, 2], "age": [30, 40, 50]})
    >>> print(describe_columns(FeatureEncoder().fit(X)))
    embedded (1): user_id (2 values)
    numeric (1): age
    """
    def listing(items):
        shown = ", ".join(items[:max_listed])
        return shown + (f", ... ({len(items) - max_listed} more)" if len(items) > max_listed else "")

    embedded = [f"{c} ({k - 1} values)"
                for c, k in zip(encoder.categorical_columns_, encoder.cardinalities_)]
    numeric = [str(c) for c in encoder.numeric_columns_]
    return (f"embedded ({len(embedded)}): {listing(embedded) or '-'}\n"
            f"numeric ({len(numeric)}): {listing(numeric) or '-'}")
