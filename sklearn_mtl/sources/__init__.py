"""Data sources larger than memory, read in batches by the estimators' ``fit`` and ``predict``.

* :class:`ParquetSource`: one or more Parquet files (a file, a directory or a glob), read with
  pyarrow in record batches; pass it as ``X`` with ``Y=None``.
* :class:`RowSource`: the protocol the estimators read a source through (:func:`is_source`),
  which ``ParquetSource`` implements and a source of another format can.

* :class:`FeatureStatistics`, :class:`TargetStatistics`: the feature and target encoders'
  statistics gathered in one pass over a source's batches (what the estimators fit on a source).

Modules: ``_parquet`` (``ParquetSource``), ``_protocol`` (``RowSource``, ``is_source``),
``_encoders`` (the one-pass statistics).
"""

from ._encoders import FeatureStatistics, TargetStatistics
from ._parquet import ParquetSource
from ._protocol import RowSource, is_source

__all__ = ["FeatureStatistics", "ParquetSource", "RowSource", "TargetStatistics", "is_source"]
