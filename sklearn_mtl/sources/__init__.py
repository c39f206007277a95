"""Data sources larger than memory, read in batches by the estimators' ``fit`` and ``predict``.

* :class:`ParquetSource`: one or more Parquet files (a file, a directory or a glob), read with
  pyarrow in record batches; pass it as ``X`` with ``Y=None``.
* :class:`RowSource`: the protocol the estimators read a source through (:func:`is_source`),
  which ``ParquetSource`` implements and a source of another format can.

The encoders fitted in one pass over a source's batches are in ``sources._encoders``.
"""

from ._parquet import ParquetSource
from ._protocol import RowSource, is_source

__all__ = ["ParquetSource", "RowSource", "is_source"]
