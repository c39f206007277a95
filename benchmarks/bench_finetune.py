"""Fine-tuning a source model on a small target, against training from scratch: when does the
source help, when does it hurt? (negative transfer in its original sense: Rosenstein et al.
2005; Wang et al., CVPR 2019).

Women's E-Commerce Clothing Reviews, three tasks (recommended, rating, helpful). The features
are a ColumnTransformer fitted on the source rows only: TF-IDF of the review text (2,000 terms)
and of the title (500), one-hot item id (ids seen 5 times or more), division, department and
class, and the standardized age; a sparse matrix that the net reads batch by batch. The source
model is an MMoE fitted once on every Tops and Dresses review (16,787 rows), outside every
comparison: neither it nor the features ever see a target row. Every model of a comparison is
``make_pipeline(FrozenEstimator(features), net)``, so they all read the same columns. Each
target department (Jackets, Intimate) is cut into ``--cv`` folds, ``--repeats`` times
reshuffled; at each target training size the training rows of every split
are subsampled (nested: a smaller size's rows are among a larger one's), the test rows are the
whole fold. On those splits :func:`sklearn_mtl.compare_transfer` gives two verdicts:

* ``fine-tuned`` (``init=FrozenEstimator(source)``, every layer trains) and ``fine-tuned,
  frozen`` (``freeze="bottom"``: only towers and heads train) against ``scratch``, the same
  MMoE from a random start on the same rows (``reference=scratch``);
* the three against the per-task reference (compare's default: the same net with
  ``architecture="single"``, from scratch).

Every net: hidden_units=(32,), tower_units=(8,), 4 experts, lr 1e-3, up to 30 epochs with early
stopping on 10 % of its training rows; seeds derived per split by compare_transfer from
random_state=0. Writes a CSV and a Markdown table to ``--out``.

    OMP_NUM_THREADS=1 python benchmarks/bench_finetune.py [--sizes 100 300 1000] [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_mtl import MultiTaskRecommender, compare_transfer
from sklearn_mtl.datasets import fetch_womens_clothing_reviews

NET = dict(architecture="mmoe", hidden_units=(32,), tower_units=(8,), n_experts=4, lr=1e-3,
           max_epochs=30, patience=3, random_state=0)
SOURCE = ["Tops", "Dresses"]
TARGETS = ["Jackets", "Intimate"]
COLUMNS = ["target", "train_size", "against", "model", "task", "mean", "reference_mean", "delta",
           "ci_low", "ci_high", "mde", "verdict"]


def load():
    X, Y = fetch_womens_clothing_reviews(return_X_y=True, download_if_missing=False)
    return X.fillna({"title": "", "review_text": ""}), Y


def features() -> ColumnTransformer:
    categories = ["clothing_id", "division_name", "department_name", "class_name"]
    return ColumnTransformer([
        ("review", TfidfVectorizer(max_features=2000, min_df=3), "review_text"),
        ("title", TfidfVectorizer(max_features=500, min_df=3), "title"),
        ("ids", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5),
         categories),
        ("age", StandardScaler(), ["age"]),
    ], sparse_threshold=1.0)


def nested_splits(n: int, size: int, cv: int, repeats: int, seed: int) -> list:
    """``cv`` folds ``repeats`` times; each training part subsampled to ``size`` rows by a
    fixed permutation per split (so a smaller size's rows are among a larger size's)."""
    out = []
    for r in range(repeats):
        folds = KFold(cv, shuffle=True, random_state=seed + r).split(np.arange(n))
        for k, (train, test) in enumerate(folds):
            order = np.random.default_rng([seed, r, k]).permutation(train)
            out.append((np.sort(order[:size]), test))
    return out


def rows(report, target, size, against) -> pd.DataFrame:
    table = report.summary().reset_index()
    table.insert(0, "against", against)
    table.insert(0, "train_size", size)
    table.insert(0, "target", target)
    return table[[c for c in COLUMNS if c in table.columns]]


def condensed(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (target, size, task): the scores, fine-tuned minus scratch with its
    simultaneous interval, the mde, and the three verdicts."""
    out = []
    for (target, size, task), group in table.groupby(["target", "train_size", "task"],
                                                     sort=False):
        vs_scratch = group[group["against"] == "scratch"].set_index("model")
        vs_ref = group[group["against"] == "per-task"].set_index("model")
        tuned = vs_scratch.loc["fine-tuned"]
        out.append({
            "target": target, "train rows": size, "task": task,
            "fine-tuned": tuned["mean"],
            "frozen bottom": vs_scratch.loc["fine-tuned, frozen", "mean"],
            "scratch": tuned["reference_mean"],
            "per-task": vs_ref.loc["fine-tuned", "reference_mean"],
            "fine-tuned - scratch [CI]": (f"{tuned['delta']:+.3f} [{tuned['ci_low']:+.3f}, "
                                          f"{tuned['ci_high']:+.3f}]"),
            "mde": tuned["mde"], "fine-tuned vs scratch": tuned["verdict"],
            "frozen vs scratch": vs_scratch.loc["fine-tuned, frozen", "verdict"],
            "fine-tuned vs per-task": vs_ref.loc["fine-tuned", "verdict"],
            "scratch vs per-task": vs_ref.loc["scratch", "verdict"],
        })
    return pd.DataFrame(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("out/finetune"))
    parser.add_argument("--quick", action="store_true", help="one target, sizes 100 and 300, "
                        "a 2,000-row source, 2 folds: a smoke run")
    args = parser.parse_args(argv)
    X, Y = load()
    source_rows = X["department_name"].isin(SOURCE).to_numpy()
    Xs, Ys = X[source_rows], Y[source_rows]
    targets, sizes, cv, repeats = TARGETS, args.sizes, args.cv, args.repeats
    if args.quick:
        Xs, Ys = Xs.iloc[:2000], Ys.iloc[:2000]
        targets, sizes, cv, repeats = TARGETS[:1], [100, 300], 2, 1
    started = time.perf_counter()
    columns = FrozenEstimator(features().fit(Xs))
    source = MultiTaskRecommender(**NET).fit(columns.transform(Xs), Ys)
    print(f"source: {len(Xs)} rows of {SOURCE}, {source.n_epochs_} epochs, "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    tables = []
    for target in targets:
        mask = (X["department_name"] == target).to_numpy()
        Xt, Yt = X[mask].reset_index(drop=True), Y[mask].reset_index(drop=True)
        n_train = len(Xt) - int(np.ceil(len(Xt) / cv))
        for size in sizes:
            size = min(size, n_train)
            splits = nested_splits(len(Xt), size, cv, repeats, seed=0)
            init = FrozenEstimator(source)
            tuned = {
                "fine-tuned": make_pipeline(columns, MultiTaskRecommender(**NET, init=init)),
                "fine-tuned, frozen": make_pipeline(
                    columns, MultiTaskRecommender(**NET, init=init, freeze="bottom")),
            }
            scratch = make_pipeline(columns, MultiTaskRecommender(**NET))
            t0 = time.perf_counter()
            vs_scratch = compare_transfer(tuned, Xt, Yt, reference=scratch, cv=splits,
                                          n_repeats=1)
            # The default reference: the first net with architecture="single", from scratch.
            vs_reference = compare_transfer({**tuned, "scratch": scratch}, Xt, Yt, cv=splits,
                                            n_repeats=1)
            tables += [rows(vs_scratch, target, size, "scratch"),
                       rows(vs_reference, target, size, "per-task")]
            print(f"{target} ({len(Xt)} rows), {size} training rows: "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
            print(tables[-2].to_string(index=False), flush=True)
    table = pd.concat(tables, ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "finetune.csv", index=False)
    (args.out / "finetune.md").write_text(condensed(table).to_markdown(index=False,
                                                                         floatfmt=".3f"))
    print(table.to_string(index=False))
    print(f"total {time.perf_counter() - started:.0f} s; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
