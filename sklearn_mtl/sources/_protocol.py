"""What the estimators read of a source: the :class:`RowSource` protocol.

``fit``, ``predict`` and the scores take any object with these members where they take a
:class:`~sklearn_mtl.sources.ParquetSource`, and ask :func:`is_source` rather than for a class,
so a source of another format (a database cursor, a cloud table) is one class that implements
them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class RowSource(Protocol):
    """Rows read in batches: the members the estimators use.

    Attributes
    ----------
    targets, features, key
        As given to the source (see :class:`~sklearn_mtl.sources.ParquetSource`).
    feature_columns, target_columns : list of str
    one_d : bool
        Whether ``targets`` names one task as a str (a 1-D ``y``).
    n_rows : int
    batch_rows, shuffle_rows : int
        Rows per batch read, and rows of the shuffle buffer while training.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from sklearn_mtl.sources import ParquetSource, RowSource
    >>> folder = tempfile.mkdtemp()
    >>> pd.DataFrame({"x": [1.0], "y": [0]}).to_parquet(os.path.join(folder, "a.parquet"))
    >>> isinstance(ParquetSource(folder, "y"), RowSource), isinstance(pd.DataFrame(), RowSource)
    (True, False)
    """

    targets: str | Sequence[str]
    features: Sequence[str] | None
    key: str | None
    batch_rows: int
    shuffle_rows: int

    @property
    def feature_columns(self) -> list[str]: ...

    @property
    def target_columns(self) -> list[str]: ...

    @property
    def one_d(self) -> bool: ...

    @property
    def n_rows(self) -> int: ...

    def row_groups(self) -> list[tuple]:
        """The units read in one go, whose order :meth:`iter_frames` takes (``order``)."""

    def iter_frames(self, columns=None, order=None, with_targets: bool = True
                    ) -> Iterator[tuple[int, pd.DataFrame]]:
        """``(position of the first row, frame)`` for every batch, indexed by row position."""

    def read_columns(self, columns) -> pd.DataFrame:
        """A few columns of every row, in order, as one frame."""

    def check_columns(self, columns, why: str = "") -> None:
        """Raise naming the first of ``columns`` the source lacks."""

    def validation_mask(self, frame: pd.DataFrame, fraction: float) -> np.ndarray:
        """Whether each row of ``frame`` is a validation row (the same rows on every read)."""


def is_source(X) -> bool:
    """Whether the estimators read ``X`` as a :class:`RowSource` (batch by batch).

    Parameters
    ----------
    X : object

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl.sources import ParquetSource, is_source
    >>> is_source(ParquetSource("rows.parquet", "click")), is_source(np.zeros((2, 2)))
    (True, False)
    """
    # Asked of the class, not the instance: a protocol check on the instance would evaluate its
    # properties (a ParquetSource reads its files' footers for n_rows), and a DataFrame with
    # columns of these names would pass an attribute check.
    return not hasattr(X, "__array__") and all(
        callable(getattr(type(X), name, None)) for name in _METHODS)


_METHODS = ("row_groups", "iter_frames", "read_columns", "check_columns", "validation_mask")
