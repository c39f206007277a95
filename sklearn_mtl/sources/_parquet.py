"""ParquetSource: rows of Parquet files read in record batches, never all at once."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is in the parquet and dev extras
        raise ImportError(
            "ParquetSource reads files with pyarrow: pip install 'sklearn-mtl[parquet]'."
        ) from exc
    return pq


def _value_type(arrow_type):
    """A dictionary type's value type (its index width varies with the file's categories)."""
    return getattr(arrow_type, "value_type", arrow_type)


def _lost_categoricals(schema) -> list:
    """Columns that pandas wrote as category but Arrow reads back as plain values.

    Arrow keeps a dictionary type for text only: a category column of integers (census'
    industry and occupation codes) comes back as int64, as from ``pandas.read_parquet``; the
    source gives it back as category, so a model fitted from the files embeds the columns a fit
    on the frame that wrote them embeds.
    """
    import json

    meta = (schema.metadata or {}).get(b"pandas")
    if meta is None:
        return []
    try:
        columns = json.loads(meta).get("columns", [])
    except ValueError:
        return []
    names = set(schema.names)
    return [c["name"] for c in columns
            if c.get("pandas_type") == "categorical" and c.get("name") in names
            and not str(schema.field(c["name"]).type).startswith("dictionary")]


def _to_frame(batch, start: int, categorical, casts=None) -> pd.DataFrame:
    """A record batch as a DataFrame indexed by row position, category columns restored and
    the columns that files store differently read with one dtype (``casts``)."""
    # split_blocks: each column its own block, taken over from Arrow without the copy that
    # consolidating same-dtype columns into one 2-D block makes.
    frame = batch.to_pandas(split_blocks=True)
    for c in categorical:
        if c in frame:
            frame[c] = frame[c].astype("category")
    for c, dtype in (casts or {}).items():
        if c in frame and frame[c].dtype != dtype:
            frame[c] = frame[c].astype(dtype)
    frame.index = pd.RangeIndex(start, start + len(frame))
    return frame


def _refuse_partitions(root: str, files: list) -> None:
    """A Hive layout (``region=a/part.parquet``) keeps a column in its folder names, which
    pandas and pyarrow read as a column; reading the files alone would drop it without a word."""
    for f in files:
        keys = [part for part in f.relative_to(root).parent.parts if "=" in part]
        if keys:
            column = keys[0].partition("=")[0]
            raise ValueError(
                f"ParquetSource: {f} is in a partitioned (Hive) layout: its folder {keys[0]!r} "
                f"holds column {column!r}, which is in no file and which ParquetSource does not "
                "read from folder names. Write the column into the files (e.g. "
                "pd.read_parquet(path).to_parquet(folder, partition_cols=None)), or drop it on "
                "purpose by passing the files themselves (a list or a glob) as path."
            )


def _common_dtype(column: str, seen: dict):
    """The pandas dtype every batch of ``column`` is read as, when files disagree.

    pandas reads an int64 column as ``int64`` from a file written without missing values and
    as the nullable ``Int64`` from one written with them: every batch gets ``Int64`` then (an
    integer and a float column: float64), as one frame of all the rows would hold them.
    """
    dtypes = list(seen)
    if all(pd.api.types.is_integer_dtype(d) for d in dtypes):
        return pd.Int64Dtype()
    if all(pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d)
           for d in dtypes):
        return np.dtype("float64")
    (first, first_file), (other, other_file) = list(seen.items())[:2]
    raise ValueError(
        f"ParquetSource: files disagree on column {column!r}: pandas reads it as {first} from "
        f"{first_file} but as {other} from {other_file}. Write it with one dtype in every file."
    )


class ParquetSource:
    """Rows of one or more Parquet files, for ``fit(source)``, ``predict(source)`` and the rest.

    Pass it as ``X`` with ``Y=None`` (as skorch takes a Dataset): the estimator reads it in
    record batches of ``batch_rows`` rows with pyarrow, so its memory does not grow with the
    number of rows. ``MultiTaskRecommender.fit`` makes one streaming pass to fit its encoders
    (vocabularies, numeric statistics, task classes), then reads the row groups in a new random
    order every epoch through a shuffle buffer of ``shuffle_rows`` rows. ``predict``,
    ``predict_proba``, ``gate_weights`` and ``predict_conditional_proba`` read the rows in
    file order and hold only their results; ``score(source)`` and
    :func:`~sklearn_mtl.metrics.per_task_scores` take the labels from the ``targets`` columns
    (read alone). Columns that pandas wrote as category are read back as category, integer
    categories included (which ``pandas.read_parquet`` gives back as integers).

    Parameters
    ----------
    path : str or path-like, or a list of them
        A Parquet file, a directory (its ``*.parquet`` files, recursively) or a glob pattern.
        Files are read in sorted order, which fixes every row's position.
    targets : str or list of str, default=()
        The target columns (the tasks, in this order). A str is one task, read as a 1-D ``y``.
        Every file must have them; they are not features. Empty for prediction-only data.
    features : list of str or None, default=None
        The feature columns, in this order; None takes every column that is not a target.
    key : str or None, default=None
        A column whose hash picks the validation rows, so that all rows of a key (e.g. a
        user) fall on the same side; None hashes each row's position. Either way a rerun on
        the same files picks the same rows.
    batch_rows : int, default=65_536
        Rows per record batch read.
    shuffle_rows : int, default=262_144
        Rows held in the shuffle buffer while training: row groups are read in a random
        order and mixed in windows of at least this many rows. More rows mix better and hold
        more memory: 4 bytes per encoded value and target, ``shuffle_rows + batch_rows`` rows
        (at the defaults, 20 MB for 13 features and 2 targets).

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from sklearn_mtl.sources import ParquetSource
    >>> folder = tempfile.mkdtemp()
    >>> pd.DataFrame({"x": [1.0, 2.0, 3.0], "click": [0, 1, 0]}).to_parquet(
    ...     os.path.join(folder, "part-0.parquet"))
    >>> source = ParquetSource(folder, targets=["click"])
    >>> source.n_rows, source.feature_columns
    (3, ['x'])
    >>> [len(frame) for _, frame in source.iter_frames()]
    [3]
    """

    def __init__(self, path, targets: str | Sequence[str] = (), *, features=None, key=None,
                 batch_rows: int = 65_536, shuffle_rows: int = 262_144):
        self.path = path
        self.targets = targets
        self.features = features
        self.key = key
        self.batch_rows = batch_rows
        self.shuffle_rows = shuffle_rows
        self._checked = None

    def __repr__(self) -> str:
        return f"ParquetSource({self.path!r}, targets={self.targets!r})"

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_checked"] = None  # metadata is read again where the source is unpickled
        return state

    # ------------------------------------------------------------------ files and schema
    @property
    def target_columns(self) -> list[str]:
        return [self.targets] if isinstance(self.targets, str) else list(self.targets)

    @property
    def one_d(self) -> bool:
        """Whether ``targets`` was one name, read as a 1-D ``y``."""
        return isinstance(self.targets, str)

    def files(self) -> list[Path]:
        """The Parquet files, sorted; ValueError naming ``path`` when there are none."""
        paths = self.path if isinstance(self.path, (list, tuple)) else [self.path]
        found = []
        for p in paths:
            p = os.fspath(p)
            if os.path.isdir(p):
                inside = sorted(Path(p).rglob("*.parquet"))
                _refuse_partitions(p, inside)
                found += inside
            elif os.path.isfile(p):
                found.append(Path(p))
            else:
                matches = sorted(glob.glob(p, recursive=True))
                if not matches and not glob.has_magic(p):
                    raise ValueError(f"ParquetSource: path {p!r} does not exist.")
                found += [Path(m) for m in matches if os.path.isfile(m)]
        if not found:
            raise ValueError(f"ParquetSource: path {self.path!r} matches no Parquet file.")
        return found

    def _check(self):
        """Read every file's footer once: columns agree, targets present; row groups."""
        if self._checked is not None:
            return self._checked
        pq = _pyarrow_parquet()
        files = self.files()
        targets = self.target_columns
        first_names, first_schema = None, None
        dtypes: dict = {}  # column -> {pandas dtype: first file read that way}
        groups = []  # (file, row group, first row position, rows)
        position = 0
        for f in files:
            try:
                handle = pq.ParquetFile(f)
            except Exception as exc:
                raise ValueError(f"ParquetSource: {f} is not a readable Parquet file: {exc}") from exc
            meta, schema = handle.metadata, handle.schema_arrow
            names = list(schema.names)
            missing = [t for t in targets if t not in names]
            if missing:
                raise ValueError(
                    f"ParquetSource: target column {missing[0]!r} is missing from {f} "
                    f"(its columns: {names[:20]})."
                )
            if first_names is None:
                first_names, first_schema, first_file = names, schema, f
            elif names != first_names:
                extra = [c for c in names if c not in first_names]
                lost = [c for c in first_names if c not in names]
                what = (f"has column {extra[0]!r}, which {first_file} has not" if extra
                        else f"lacks column {lost[0]!r}, which {first_file} has" if lost
                        else f"orders its columns {names[:20]}, {first_file} {first_names[:20]}")
                raise ValueError(f"ParquetSource: files disagree on columns: {f} {what}.")
            else:
                for field in schema:
                    other = first_schema.field(field.name).type
                    if _value_type(field.type) != _value_type(other):
                        raise ValueError(
                            f"ParquetSource: files disagree on column {field.name!r}: it is "
                            f"{field.type} in {f} but {other} in {first_file}."
                        )
            # The dtypes pandas gives this file's batches (its pandas metadata included).
            for name, dtype in schema.empty_table().to_pandas().dtypes.items():
                if pd.api.types.is_numeric_dtype(dtype):
                    dtypes.setdefault(name, {}).setdefault(dtype, f)
            for g in range(meta.num_row_groups):
                rows = meta.row_group(g).num_rows
                groups.append((f, g, position, rows))
                position += rows
        features = self.features
        if features is None:
            features = [c for c in first_names if c not in targets]
        else:
            features = list(features)
            unknown = [c for c in features if c not in first_names]
            if unknown:
                raise ValueError(
                    f"ParquetSource: features names {unknown[0]!r}, which is not a column of "
                    f"{files[0]} (its columns: {first_names[:20]})."
                )
            both = [c for c in features if c in targets]
            if both:
                raise ValueError(f"ParquetSource: column {both[0]!r} is both a feature and a target.")
        if self.key is not None and self.key not in first_names:
            raise ValueError(
                f"ParquetSource: key={self.key!r} is not a column of {files[0]} (its columns: "
                f"{first_names[:20]})."
            )
        if not features:
            raise ValueError(f"ParquetSource: {files[0]} has no feature column besides the targets.")
        casts = {name: _common_dtype(name, seen) for name, seen in dtypes.items()
                 if len(seen) > 1}
        self._checked = {"features": features, "groups": groups, "n_rows": position,
                         "names": first_names, "categorical": _lost_categoricals(first_schema),
                         "casts": casts}
        return self._checked

    def check_columns(self, columns, why: str = ", which the model was fitted on,") -> None:
        """Raise naming the first of ``columns`` that the files lack (``why`` it is needed)."""
        names = self._check()["names"]
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(
                f"ParquetSource: column {missing[0]!r}{why} is missing from {self.files()[0]} "
                f"(its columns: {names[:20]})."
            )

    @property
    def feature_columns(self) -> list[str]:
        return list(self._check()["features"])

    @property
    def n_rows(self) -> int:
        """Rows in all files (from the footers, nothing else read)."""
        return int(self._check()["n_rows"])

    def row_groups(self) -> list[tuple]:
        """``(file, row group, position of its first row, rows)`` of every row group."""
        return list(self._check()["groups"])

    # ------------------------------------------------------------------ reading
    def iter_frames(self, columns=None, order=None, with_targets: bool = True
                    ) -> Iterator[tuple[int, pd.DataFrame]]:
        """``(position of the first row, frame)`` for every record batch.

        ``columns``: the columns to read (default: the features, then the targets when
        ``with_targets``, then the key). ``order``: indices into :meth:`row_groups`, the
        order to read them in (default: file order).
        """
        pq = _pyarrow_parquet()
        checked = self._check()
        if columns is None:
            columns = list(checked["features"])
            if with_targets:
                columns += [t for t in self.target_columns if t not in columns]
            if self.key is not None and self.key not in columns:
                columns.append(self.key)
        groups = checked["groups"]
        order = range(len(groups)) if order is None else order
        handle, handle_path = None, None
        for i in order:
            path, group, position, _ = groups[i]
            if handle_path != path:
                handle, handle_path = pq.ParquetFile(path), path
            start = position
            for batch in handle.iter_batches(batch_size=int(self.batch_rows), row_groups=[group],
                                             columns=columns, use_pandas_metadata=True):
                rows = batch.num_rows
                frame = [_to_frame(batch, start, checked["categorical"], checked["casts"])]
                del batch
                # Popped as it is yielded: this generator keeps no reference to the frame (nor
                # to its Arrow buffers) while the caller works on it, which may mean training
                # on a whole shuffle window before it asks for the next record batch.
                yield start, frame.pop()
                start += rows

    def read_columns(self, columns) -> pd.DataFrame:
        """The ``columns`` of every row, in file order, as one DataFrame.

        For a few narrow columns (the targets and users that ``score`` and
        :func:`~sklearn_mtl.metrics.per_task_scores` read): Parquet reads only these columns,
        and the frame holds only them. Raises naming a column the files lack.

        Examples
        --------
        >>> import pandas as pd, tempfile, os
        >>> from sklearn_mtl.sources import ParquetSource
        >>> folder = tempfile.mkdtemp()
        >>> pd.DataFrame({"x": [1.0, 2.0], "click": [0, 1]}).to_parquet(
        ...     os.path.join(folder, "part-0.parquet"))
        >>> ParquetSource(folder, "click").read_columns(["click"])["click"].tolist()
        [0, 1]
        """
        columns = list(columns)
        self.check_columns(columns, why="")
        frames = [frame for _, frame in self.iter_frames(columns=columns)]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames) if len(frames) > 1 else frames[0]

    def validation_mask(self, frame: pd.DataFrame, fraction: float) -> np.ndarray:
        """Whether each row of ``frame`` (from :meth:`iter_frames`) is a validation row.

        A row is when the hash of its key (or of its position, the frame's index) falls in
        the first ``fraction`` of the hash range: the same rows on every read and rerun.
        """
        if self.key is not None:
            hashed = pd.util.hash_pandas_object(frame[self.key], index=False).to_numpy()
        else:
            hashed = pd.util.hash_array(frame.index.to_numpy(dtype=np.int64))
        return (hashed >> np.uint64(11)).astype(np.float64) / 2.0**53 < fraction
