"""``sklearn-mtl datasets``: the fetchers and where each looks for its files."""

from __future__ import annotations


def cmd_datasets(args) -> int:
    from ..datasets import dataset_files, get_data_home

    home = get_data_home(None)
    print(f"data folder: {home}  (data_home=, else $SKLEARN_MTL_DATA, else ~/sklearn_mtl_data)\n")
    rows = [("make_multitask_data", "generated in memory (MMoE paper, KDD 2018)", True)]
    rows += [(name, str(path), path.is_file()) for name, path in dataset_files(home)]
    width = max(len(r[0]) for r in rows)
    for name, where, present in rows:
        print(f"{name:<{width}}  {'found  ' if present else 'missing'}  {where}")
    print("\nmissing files are downloaded on first use (download_if_missing=True)")
    return 0
