"""Data sources larger than memory, read in batches by the estimators' ``fit`` and ``predict``.

* :class:`ParquetSource`: one or more Parquet files (a file, a directory or a glob), read with
  pyarrow in record batches; pass it as ``X`` with ``Y=None``.
"""

from ._parquet import ParquetSource

__all__ = ["ParquetSource"]
