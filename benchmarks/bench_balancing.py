"""Loss balancing and gradient surgery against plain hard sharing and the single-task reference.

Each method is a ``MultiTaskRecommender("hard")`` with small layers; ``compare_transfer``
trains it and the single-task reference (``architecture="single"``, same settings) on the
same folds, and the package's own verdict is read from its summary (the paired test across
folds, alpha 0.05: ``worse`` = negative transfer, ``better`` = significantly better, ``n.s.``
otherwise). Every seed re-seeds the folds and the nets. Fit time: the summed epoch durations
of skorch's history (early stopping included), relative to plain hard sharing on the same fold;
epoch time: the same per epoch, which isolates the per-step cost of the method.

* ``census``: 5,000 random Census-Income rows (seed 0), tasks income and never-married (ROC AUC),
  hidden_units=(32,), tower_units=(8,), 10 epochs, batch 256.
* ``conflict``: ``make_multitask_data`` at ``task_correlation=0`` (2 regression tasks, 3,000
  rows, 20 features), a narrow shared bottom ``hidden_units=(4,)`` that the tasks must fight
  over, 15 epochs, batch 128, lr 3e-3 (R2).

    python benchmarks/bench_balancing.py --dataset census --seeds 0 1 2 --out census.json
    python benchmarks/bench_balancing.py --table census.json conflict.json
    python benchmarks/bench_balancing.py --quick

Pieces run separately (each well under the 8-minute limit of the shared machine), then
``--table`` merges their JSON into the Markdown table of docs/balancing.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import warnings

import numpy as np
import torch

from sklearn_mtl import MultiTaskRecommender, compare_transfer
from sklearn_mtl.datasets import fetch_census_income, make_multitask_data

METHODS = {
    "hard": {},
    "uncertainty": {"task_weights": "uncertainty"},
    "gradnorm": {"task_weights": "gradnorm"},
    "dwa": {"task_weights": "dwa"},
    "pcgrad": {"gradient_method": "pcgrad"},
    "cagrad": {"gradient_method": "cagrad"},
}


def load(dataset: str, quick: bool):
    if dataset == "census":
        X, Y = fetch_census_income(return_X_y=True)
        idx = np.random.default_rng(0).choice(len(X), size=1000 if quick else 5000, replace=False)
        X, Y = X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)
        params = dict(hidden_units=(32,), tower_units=(8,), max_epochs=2 if quick else 10,
                      batch_size=256)
    else:
        X, Y = make_multitask_data(n_samples=1000 if quick else 3000, n_features=20,
                                   task_correlation=0.0, random_state=0)
        params = dict(hidden_units=(4,), tower_units=(8,), max_epochs=2 if quick else 15,
                      batch_size=128, lr=3e-3)
    return X, Y, params


def run(dataset: str, seeds, quick: bool, cv: int) -> list[dict]:
    X, Y, params = load(dataset, quick)
    rows = []
    for seed in seeds:
        models = {name: MultiTaskRecommender("hard", random_state=seed, **params, **extra)
                  for name, extra in METHODS.items()}
        report = compare_transfer(models, X, Y, cv=cv, random_state=seed, return_estimators=True)
        summary = report.summary()
        seconds, per_epoch = {}, {}
        for (name, fold), model in report.estimators.items():
            seconds.setdefault(name, {})[fold] = float(sum(model.history_[:, "dur"]))
            per_epoch.setdefault(name, {})[fold] = seconds[name][fold] / model.n_epochs_
        for (name, task), row in summary.iterrows():
            ratio = np.mean([seconds[name][f] / seconds["hard"][f] for f in seconds["hard"]])
            epoch_ratio = np.mean([per_epoch[name][f] / per_epoch["hard"][f] for f in per_epoch["hard"]])
            significant = np.isfinite(row["p_value"]) and row["p_value"] < 0.05
            verdict = row.get("verdict")
            if verdict is None:
                verdict = "worse" if row["negative_transfer"] else (
                    "better" if significant and row["delta"] > 0 else "n.s.")
            rows.append(dict(dataset=dataset, seed=seed, method=name, task=str(task),
                             metric=row["metric"], mean=row["mean"],
                             reference=row["reference_mean"], delta=row["delta"],
                             p_value=row["p_value"], verdict=str(verdict), time_ratio=ratio,
                             epoch_ratio=epoch_ratio))
            print(f"{dataset} seed {seed} {name:11s} {task}: delta {row['delta']:+.4f} "
                  f"p {row['p_value']:.3f} {verdict} time x{ratio:.2f}", flush=True)
    return rows


def affinity(dataset: str, seeds, quick: bool) -> None:
    """Lookahead affinity of plain hard sharing on all rows, the groups it proposes, its cost."""
    import time

    from sklearn_mtl.affinity import propose_task_groups

    X, Y, params = load(dataset, quick)
    for seed in seeds:
        times = {}
        for track in (False, True):
            start = time.perf_counter()
            model = MultiTaskRecommender("hard", random_state=seed, track_task_affinity=track,
                                         **params).fit(X, Y)
            times[track] = time.perf_counter() - start
        Z = model.task_affinity_
        cells = ", ".join(f"Z({a}->{b})={Z[i, j]:+.2e}" for i, a in enumerate(model.task_names_)
                          for j, b in enumerate(model.task_names_))
        groups = propose_task_groups(Z, n_groups=2, names=model.task_names_)
        print(f"{dataset} seed {seed}: {cells}; groups (at most 2): {groups}; "
              f"fit time with tracking x{times[True] / times[False]:.2f}", flush=True)


def table(rows: list[dict]) -> str:
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        part = [r for r in rows if r["dataset"] == dataset]
        seeds = sorted({r["seed"] for r in part})
        lines += [f"\n**{dataset}** (seeds {', '.join(map(str, seeds))}; delta = score - single-task "
                  "reference, mean (min to max) over seeds; verdict counts over seeds)\n",
                  "| method | task | metric | reference | delta | verdicts | fit time vs hard "
                  "| epoch time vs hard |",
                  "|---|---|---|---|---|---|---|---|"]
        for method in METHODS:
            for task in dict.fromkeys(r["task"] for r in part):
                cell = [r for r in part if r["method"] == method and r["task"] == task]
                if not cell:
                    continue
                d = np.array([r["delta"] for r in cell])
                counts = {v: sum(r["verdict"] == v for r in cell) for v in dict.fromkeys(
                    r["verdict"] for r in cell)}
                verdicts = ", ".join(f"{v} {n}/{len(cell)}" for v, n in counts.items())
                ref = np.mean([r["reference"] for r in cell])
                ratio = np.mean([r["time_ratio"] for r in cell])
                epoch_ratio = np.mean([r["epoch_ratio"] for r in cell])
                lines.append(f"| {method} | {task} | {cell[0]['metric']} | {ref:.4f} | "
                             f"{d.mean():+.4f} ({d.min():+.4f} to {d.max():+.4f}) | {verdicts} | "
                             f"{ratio:.2f}x | {epoch_ratio:.2f}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (CI)")
    parser.add_argument("--dataset", choices=["census", "conflict"], nargs="+",
                        default=["census", "conflict"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--out", help="write the rows to this JSON file")
    parser.add_argument("--table", nargs="+", metavar="JSON", help="merge JSON files into the table")
    parser.add_argument("--affinity", action="store_true",
                        help="instead: the task affinity of plain hard sharing and its groups")
    args = parser.parse_args(argv)
    if args.table:
        rows = [r for path in args.table for r in json.load(open(path))]
        print(table(rows))
        return 0
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    seeds = args.seeds[:1] if args.quick else args.seeds
    cv = 2 if args.quick else args.cv
    if args.affinity:
        for d in args.dataset:
            affinity(d, seeds, args.quick)
        return 0
    rows = [r for d in args.dataset for r in run(d, seeds, args.quick, cv)]
    print(f"\n{datetime.date.today()}, torch threads 1, cv {cv}")
    print(table(rows))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
