"""Does tuning change the verdict? Defaults, tuning on all rows, and nested tuning, measured.

On census (income + never married) and MovieLens 100K (liked + rating), models hard, mmoe, ple
and PerTaskLGBM face the single-task reference under three protocols, on the same outer folds:

(a) **defaults**: every model as it is;
(b) **tune on all rows, then compare** (the leaky path: ``sklearn-mtl tune`` on the file, then
    ``compare --params``): each model and the reference get ``--trials`` Optuna trials on all
    the rows (``tune()``'s 20 % hold-out is drawn from them), then the best parameters are
    compared on the folds; every test fold has helped to choose them;
(c) **nested**: ``compare_transfer(tune=N)``, the same budget per model, inside each outer
    split on its training rows only.

Folds: 3 × 2 repeats (``--quick``: 3 × 1), the same in the three protocols.

The optimism of (b) is its mean test score minus (c)'s, per model and task: what choosing the
hyperparameters on the scored rows adds. Rows are a random sample (``--rows``), the nets are
small and short-trained so that the whole run takes minutes on 2 cores.

    python benchmarks/bench_fair_verdict.py [--quick] [--data census|movielens|all]
                                            [--rows 3000] [--trials 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import optuna
import pandas as pd
import torch

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
from sklearn_mtl.datasets import fetch_census_income, fetch_movielens_100k
from sklearn_mtl.tuning import tune

NET = dict(max_epochs=6, batch_size=256, lr=3e-3)


def load(name: str, rows: int, seed: int):
    home = os.environ.get("SKLEARN_MTL_DATA")
    if name == "census":
        X, Y = fetch_census_income(data_home=home, download_if_missing=False, return_X_y=True)
    else:
        X, Y = fetch_movielens_100k(data_home=home, download_if_missing=False, return_X_y=True)
    index = np.random.default_rng(seed).choice(len(X), size=min(rows, len(X)), replace=False)
    return X.iloc[index].reset_index(drop=True), Y.iloc[index].reset_index(drop=True)


def models(names, seed: int) -> dict:
    out = {}
    for name in names:
        out[name] = (PerTaskLGBM(n_jobs=1, random_state=seed) if name == "lgbm"
                     else MultiTaskRecommender(name, random_state=seed, **NET))
    return out


def reference(seed: int):
    return MultiTaskRecommender("single", random_state=seed, **NET)


def rows_of(report, protocol: str) -> list[dict]:
    summary = report.summary()
    return [dict(protocol=protocol, model=model, task=task, mean=r["mean"],
                 reference_mean=r["reference_mean"], delta=r["delta"], mde=r["mde"],
                 verdict=r["verdict"]) for (model, task), r in summary.iterrows()]


def run(data: str, names, rows: int, trials: int, seed: int, quick: bool = False) -> pd.DataFrame:
    X, Y = load(data, rows, seed)
    common = dict(cv=3, n_repeats=1 if quick else 2, random_state=seed)
    out = []
    start = time.perf_counter()
    out += rows_of(compare_transfer(models(names, seed), X, Y, **common), "a: defaults")
    print(f"  {data} (a) defaults: {time.perf_counter() - start:.0f} s", flush=True)

    start = time.perf_counter()
    leaky = {}
    for name, est in [*models(names, seed).items(), ("reference", reference(seed))]:
        best = tune(est, X, Y, n_trials=trials, random_state=seed, refit=False).best_params_
        leaky[name] = est.set_params(**(best or {}))
    ref = leaky.pop("reference")
    out += rows_of(compare_transfer(leaky, X, Y, reference=ref, **common),
                   "b: tune on all rows")
    print(f"  {data} (b) tune on all rows: {time.perf_counter() - start:.0f} s", flush=True)

    start = time.perf_counter()
    nested = compare_transfer(models(names, seed), X, Y, reference=reference(seed),
                              tune=trials, **common)
    out += rows_of(nested, "c: nested")
    print(f"  {data} (c) nested, {trials} trials a study: {time.perf_counter() - start:.0f} s",
          flush=True)
    frame = pd.DataFrame(out)
    frame.insert(0, "data", data)
    return frame


def table(frame: pd.DataFrame) -> str:
    lines = ["| data | model | task | (a) delta, verdict | (b) delta, verdict | (c) delta, "
             "verdict | optimism of (b) over (c) |", "|---|---|---|---|---|---|---|"]
    for (data, model, task), block in frame.groupby(["data", "model", "task"], sort=False):
        by = block.set_index("protocol")
        cells = [f"{by.loc[p, 'delta']:+.4f}, {by.loc[p, 'verdict']}"
                 for p in ("a: defaults", "b: tune on all rows", "c: nested")]
        optimism = by.loc["b: tune on all rows", "mean"] - by.loc["c: nested", "mean"]
        lines.append(f"| {data} | {model} | {task} | " + " | ".join(cells) + f" | {optimism:+.4f} |")
    refs = frame.groupby(["data", "task", "protocol"], sort=False)["reference_mean"].first()
    lines.append("")
    lines.append("Reference (single-task net) mean test score per protocol: " + "; ".join(
        f"{d} {t} {p[0]}: {v:.4f}" for (d, t, p), v in refs.items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="census, 600 rows, 2 trials (CI)")
    parser.add_argument("--data", choices=["census", "movielens", "all"], default="all")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning)
    names = ["hard", "lgbm"] if args.quick else ["hard", "mmoe", "ple", "lgbm"]
    datasets = ["census"] if args.quick else (
        ["census", "movielens"] if args.data == "all" else [args.data])
    rows, trials = (600, 2) if args.quick else (args.rows, args.trials)
    if args.quick:
        NET["max_epochs"] = 2
    frames = []
    for data in datasets:
        repeats = 1 if args.quick else 2
        print(f"== {data}: {rows} rows (seed {args.seed}), 3 folds x {repeats} repeats, models "
              f"{names}, {trials} trials a study", flush=True)
        frames.append(run(data, names, rows, trials, args.seed, args.quick))
    print(table(pd.concat(frames, ignore_index=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
