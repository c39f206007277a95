"""MovieLens 100K as a multi-task recommendation problem (one row per rating)."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import fetch_archive, frame_to_numpy, get_data_home, missing_data_message

MOVIELENS_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
SUBDIR = "ml-100k"
FILES = ("u.data", "u.user", "u.item", "u.genre")
_ITEM_ENCODING = "latin-1"
_ITEM_FIXED = ["item_id", "title", "release_date", "video_release_date", "imdb_url"]
_LIKED_MIN_RATING = 4


def fetch_movielens_100k(
    data_home: str | os.PathLike | None = None,
    *,
    download_if_missing: bool = True,
    as_frame: bool = True,
    return_X_y: bool = False,
    url: str | None = None,
) -> Bunch | tuple:
    """Load MovieLens 100K (GroupLens) with one row per rating and two tasks.

    100,000 ratings (1 to 5) from 943 users on 1,682 movies, 1997-98. Each row joins the
    rating's user and movie features. Tasks: ``liked`` (rating >= 4, int 0/1) and ``rating``
    (float). The data may not be redistributed (GroupLens research licence), so it is read
    from ``<data_home>/ml-100k/`` (files ``u.data``, ``u.user``, ``u.item``, ``u.genre``)
    and downloaded from ``MOVIELENS_100K_URL`` when missing and ``download_if_missing``.

    Feature columns, in order:

    * ``user_id``, ``item_id``: ``category`` of the integer ids, with every user of ``u.user``
      and every movie of ``u.item`` as categories (high-cardinality, for embeddings);
    * ``age``: int64;
    * ``gender``, ``occupation``, ``zip_code``: ``category``;
    * ``release_year``: float64, NaN when the release date is missing;
    * ``genre_<name>``: int64 0/1, one per genre of ``u.genre`` (names lower-cased, with
      non-alphanumeric runs replaced by ``_``, e.g. ``genre_sci_fi``, ``genre_childrens``).

    The rating time is not a feature: it is returned separately as ``timestamp`` (unix
    seconds), for temporal train/test splits.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; None means ``SKLEARN_MTL_DATA`` or ``~/sklearn_mtl_data``
        (see :func:`get_data_home`).
    download_if_missing : bool, default=True
        Download missing files; when False a missing file raises OSError.
    as_frame : bool, default=True
        When False, ``data`` is a float64 array in which each category column holds its
        category codes (the categories are in ``categories``; for ``user_id`` code ``k`` is
        ``categories["user_id"][k]``), ``target`` a float64 array (columns liked, rating),
        ``timestamp`` an int64 array and ``frame`` is None.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.
    url : str, default=None
        Where to download from; None means the module attribute ``MOVIELENS_100K_URL``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` (100000, 26) features; ``target`` with columns ``liked`` and ``rating``;
        ``frame`` data and target side by side; ``feature_names``; ``target_names``;
        ``categorical_features``; ``categories``; ``timestamp``; ``DESCR``.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    OSError
        When a file is missing and cannot be downloaded, a download fails, or a file does not
        have the expected structure.

    Examples
    --------
    >>> from sklearn_mtl.datasets import fetch_movielens_100k
    >>> ml = fetch_movielens_100k(download_if_missing=False)  # doctest: +SKIP
    >>> ml.data.shape, ml.data["user_id"].nunique(), ml.data["item_id"].nunique()  # doctest: +SKIP
    ((100000, 26), 943, 1682)
    >>> ml.target.mean().round(2).tolist()  # doctest: +SKIP
    [0.55, 3.53]
    """
    url = MOVIELENS_100K_URL if url is None else url
    folder = get_data_home(data_home) / SUBDIR
    missing = [folder / name for name in FILES if not (folder / name).is_file()]
    if missing:
        if not download_if_missing:
            raise OSError(missing_data_message(missing, url, "MovieLens 100K data"))
        verifiers = {
            "u.data": _verify_data,
            "u.user": _verify_user,
            "u.item": _verify_item,
            "u.genre": _verify_genre,
        }
        fetch_archive(url, folder, verifiers, required=[p.name for p in missing])

    try:
        genres = _read_genres(folder / "u.genre")
        ratings = pd.read_csv(
            folder / "u.data",
            sep="\t",
            header=None,
            names=["user_id", "item_id", "rating", "timestamp"],
            dtype=np.int64,
        )
        users = pd.read_csv(
            folder / "u.user",
            sep="|",
            header=None,
            names=["user_id", "age", "gender", "occupation", "zip_code"],
            dtype={"user_id": np.int64, "age": np.int64},
            keep_default_na=False,
        ).set_index("user_id")
        items = _read_items(folder / "u.item", genres)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise OSError(f"the MovieLens 100K files in {folder} could not be read: {exc}") from exc
    for ids, table, what in ((ratings.user_id, users, "u.user"), (ratings.item_id, items, "u.item")):
        unknown = ~ids.isin(table.index)
        if unknown.any():
            raise OSError(f"u.data has ids missing from {what}, e.g. {ids[unknown].iloc[0]}")

    user_rows = users.loc[ratings.user_id.to_numpy()].reset_index(drop=True)
    item_rows = items.loc[ratings.item_id.to_numpy()].reset_index(drop=True)
    data = pd.DataFrame(
        {
            "user_id": pd.Categorical(ratings.user_id, categories=np.sort(users.index)),
            "item_id": pd.Categorical(ratings.item_id, categories=np.sort(items.index)),
            "age": user_rows["age"],
            "gender": user_rows["gender"].astype("category"),
            "occupation": user_rows["occupation"].astype("category"),
            "zip_code": user_rows["zip_code"].astype("category"),
            "release_year": item_rows["release_year"],
        }
    )
    genre_columns = item_rows.drop(columns="release_year")
    data = pd.concat([data, genre_columns], axis=1)
    target = pd.DataFrame(
        {
            "liked": (ratings.rating >= _LIKED_MIN_RATING).astype(np.int64),
            "rating": ratings.rating.astype(np.float64),
        }
    )
    timestamp = ratings.timestamp.rename("timestamp")
    feature_names = list(data.columns)
    categorical = [c for c in feature_names if isinstance(data[c].dtype, pd.CategoricalDtype)]
    descr = _describe(folder, data, target)

    if as_frame:
        frame = pd.concat([data, target], axis=1)
        categories = {c: data[c].cat.categories.tolist() for c in categorical}
    else:
        frame = None
        data, categories = frame_to_numpy(data)
        target = target.to_numpy(dtype=np.float64)
        timestamp = timestamp.to_numpy()
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=feature_names,
        target_names=["liked", "rating"],
        categorical_features=categorical,
        categories=categories,
        timestamp=timestamp,
        DESCR=descr,
    )


def genre_column_name(genre: str) -> str:
    """``"Children's"`` -> ``"genre_childrens"``, ``"Sci-Fi"`` -> ``"genre_sci_fi"``."""
    name = re.sub(r"[^0-9a-z]+", "_", genre.lower().replace("'", "")).strip("_")
    return f"genre_{name}"


def _read_genres(path: Path) -> list[str]:
    pairs = []
    with path.open(encoding=_ITEM_ENCODING) as fh:
        for line in fh:
            if line.strip():
                name, index = line.rstrip("\r\n").rsplit("|", 1)
                pairs.append((int(index), name))
    pairs.sort()
    if [i for i, _ in pairs] != list(range(len(pairs))):
        raise ValueError(f"{path} does not number its genres 0, 1, 2, ...")
    return [name for _, name in pairs]


def _read_items(path: Path, genres: list[str]) -> pd.DataFrame:
    genre_names = [genre_column_name(g) for g in genres]
    if len(set(genre_names)) != len(genre_names):
        raise ValueError(f"genre names {genres} collide once sanitized")
    items = pd.read_csv(
        path,
        sep="|",
        header=None,
        names=_ITEM_FIXED + genre_names,
        encoding=_ITEM_ENCODING,
        quoting=csv.QUOTE_NONE,
        dtype={"item_id": np.int64, **{g: np.int64 for g in genre_names}},
        keep_default_na=False,
    )
    # The release date reads like "01-Jan-1995"; only the year is kept, and parsing it with a
    # regular expression avoids depending on the locale's month names.
    year = items["release_date"].str.extract(r"(\d{4})\s*$", expand=False)
    items["release_year"] = pd.to_numeric(year, errors="coerce").astype(np.float64)
    return items.set_index("item_id")[["release_year", *genre_names]]


def _head(path: Path, n: int = 20, encoding: str = "ascii") -> list[str]:
    lines = []
    with path.open(encoding=encoding, newline="") as fh:
        for line in fh:
            lines.append(line.rstrip("\r\n"))
            if len(lines) == n:
                break
    if not lines:
        raise ValueError("the file is empty")
    return lines


def _verify_data(path: Path) -> None:
    for line in _head(path):
        fields = line.split("\t")
        if len(fields) != 4 or not all(f.isdigit() for f in fields):
            raise ValueError(f"expected 'user<TAB>item<TAB>rating<TAB>time', got {line[:80]!r}")


def _verify_user(path: Path) -> None:
    for line in _head(path, encoding=_ITEM_ENCODING):
        fields = line.split("|")
        if len(fields) != 5 or not (fields[0].isdigit() and fields[1].isdigit()):
            raise ValueError(f"expected 'id|age|gender|occupation|zip', got {line[:80]!r}")


def _verify_item(path: Path) -> None:
    for line in _head(path, encoding=_ITEM_ENCODING):
        fields = line.split("|")
        if len(fields) < 6 or not fields[0].isdigit() or not all(f in "01" for f in fields[5:]):
            raise ValueError(f"expected 'id|title|date|video date|url|genre flags', got {line[:80]!r}")


def _verify_genre(path: Path) -> None:
    _read_genres(path)


def _describe(folder: Path, data: pd.DataFrame, target: pd.DataFrame) -> str:
    return (
        "MovieLens 100K data set\n"
        "=======================\n\n"
        "Ratings of movies by users of the MovieLens web site, 1997-98 (GroupLens Research, "
        "University of Minnesota; F. M. Harper and J. A. Konstan, 'The MovieLens Datasets: "
        "History and Context', ACM TiiS 5(4), 2015). Research licence: not redistributable.\n\n"
        f"Folder: {folder}.\n"
        f"Rows (ratings): {len(data)}; users: {data['user_id'].nunique()}; movies: "
        f"{data['item_id'].nunique()}.\n"
        f"Tasks: liked (rating >= {_LIKED_MIN_RATING}, positive rate "
        f"{target['liked'].mean():.1%}) and rating (mean {target['rating'].mean():.2f}).\n"
        "The rating time is in `timestamp` (unix seconds) and is not a feature.\n"
    )
