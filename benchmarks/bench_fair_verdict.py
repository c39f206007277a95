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
                 reference_mean=r["reference_mean"], delta=r["delta"], ci_low=r["ci_low"],
                 ci_high=r["ci_high"], mde=r["mde"], verdict=r["verdict"])
            for (model, task), r in summary.iterrows()]


def run(data: str, names, rows: int, trials: int, seed: int, quick: bool = False,
        protocols: str = "abc", save: str | None = None) -> pd.DataFrame:
    X, Y = load(data, rows, seed)
    common = dict(cv=3, n_repeats=1 if quick else 2, random_state=seed)
    out = []

    def keep(report, protocol):
        # The scores and studies, so that the table can be rebuilt without refitting.
        if save:
            os.makedirs(save, exist_ok=True)
            stem = os.path.join(save, f"{data}_{protocol[0]}")
            report.scores.to_csv(f"{stem}_scores.csv", index=False)
            if report.tuning is not None:
                report.tuning.to_csv(f"{stem}_tuning.csv", index=False)
        return rows_of(report, protocol)

    if "a" in protocols:
        start = time.perf_counter()
        out += keep(compare_transfer(models(names, seed), X, Y, reference=reference(seed),
                                     **common), "a: defaults")
        print(f"  {data} (a) defaults: {time.perf_counter() - start:.0f} s", flush=True)
    if "b" in protocols:
        start = time.perf_counter()
        leaky = {}
        for name, est in [*models(names, seed).items(), ("reference", reference(seed))]:
            best = tune(est, X, Y, n_trials=trials, random_state=seed, refit=False).best_params_
            leaky[name] = est.set_params(**(best or {}))
        ref = leaky.pop("reference")
        out += keep(compare_transfer(leaky, X, Y, reference=ref, **common), "b: tune on all rows")
        print(f"  {data} (b) tune on all rows: {time.perf_counter() - start:.0f} s", flush=True)
    if "c" in protocols:
        start = time.perf_counter()
        nested = compare_transfer(models(names, seed), X, Y, reference=reference(seed),
                                  tune=trials, **common)
        out += keep(nested, "c: nested")
        studies = nested.tuning
        print(f"  {data} (c) nested, {trials} trials a study: {time.perf_counter() - start:.0f} s;"
              f" the defaults stayed best in {int(sum(not p for p in studies['best_params']))} of "
              f"{len(studies)} studies; best minus defaults on the inner validation: median "
              f"{(studies['best_value'] - studies['default_value']).median():+.4f}", flush=True)
    frame = pd.DataFrame(out)
    frame.insert(0, "data", data)
    return frame


def table(frame: pd.DataFrame) -> str:
    protocols = list(dict.fromkeys(frame["protocol"]))
    lines = ["| data | model | task | " + " | ".join(f"({p[0]}) delta, verdict" for p in protocols)
             + (" | optimism of (b) over (c) |" if {"b: tune on all rows", "c: nested"} <= set(
                 protocols) else " |"),
             "|---|---|---|" + "---|" * (len(protocols) + ("b: tune on all rows" in protocols
                                                          and "c: nested" in protocols))]
    for (data, model, task), block in frame.groupby(["data", "model", "task"], sort=False):
        by = block.set_index("protocol")
        cells = [f"{by.loc[p, 'delta']:+.4f} [{by.loc[p, 'ci_low']:+.4f}, {by.loc[p, 'ci_high']:+.4f}]"
                 f", {by.loc[p, 'verdict']}" for p in protocols]
        if {"b: tune on all rows", "c: nested"} <= set(protocols):
            cells.append(f"{by.loc['b: tune on all rows', 'mean'] - by.loc['c: nested', 'mean']:+.4f}")
        lines.append(f"| {data} | {model} | {task} | " + " | ".join(cells) + " |")
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
    parser.add_argument("--models", default="hard,mmoe,ple,lgbm")
    parser.add_argument("--protocols", default="abc", help="a: defaults, b: tuned on all rows, "
                        "c: nested (e.g. 'ac' for untuned and nested side by side)")
    parser.add_argument("--save", default=None, help="folder for each report's scores and "
                        "studies (CSV)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning)
    names = ["hard", "lgbm"] if args.quick else args.models.split(",")
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
        frames.append(run(data, names, rows, trials, args.seed, args.quick, args.protocols,
                          args.save))
    print(table(pd.concat(frames, ignore_index=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
