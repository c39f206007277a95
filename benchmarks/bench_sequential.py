"""Fewer fits for the same verdict: compare_transfer's fixed design against sequential=True.

On census income (KDD) and MovieLens 100K, every setting runs the same comparison twice on the
same rows, folds and seeds: the fixed design (``n_repeats`` repeats) and the sequential one
(``sequential=True``: at most ``n_repeats``, stopping at the first repeat after which no
outcome is inconclusive). It prints, per (data, tune, seed): the fits each used (outer fits,
plus the nested trials with ``tune=``), their wall time, the repeats the sequential run used
and why it stopped, and whether every (model, task) outcome and every ship decision agree.

Models: ``MultiTaskRecommender("hard")`` (small: ``NET`` below) and ``PerTaskLGBM``
(``LGBM``) against the default single-task reference, 5 folds, at most 3 repeats, alpha 0.05,
default margins. Rows are drawn at random (seed 0) from each data set: ``--rows`` (3,000) for
the untuned runs (seeds 0 and 1), ``--tuned-rows`` (1,500) with ``--trials`` (2) trials per
study for the tuned ones (seed 0), nets trained ``--epochs`` (3) epochs: sizes that finish in
about ten minutes on a busy two-core machine, not the sizes a team would decide on.

    python benchmarks/bench_sequential.py [--quick] [--rows 3000] [--tuned-rows 1500]
                                          [--trials 2] [--epochs 3] [--repeats 3]
                                          [--seeds 0 1] [--tuned-seeds 0]
                                          [--data census movielens] [--csv rows.csv]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer
from sklearn_mtl.datasets import fetch_census_income, fetch_movielens_100k

NET = dict(hidden_units=(32,), tower_units=(8,), batch_size=256, lr=5e-3)
LGBM = dict(n_estimators=50, num_leaves=15, n_jobs=1, verbose=-1)
FETCH = {"census": fetch_census_income, "movielens": fetch_movielens_100k}


def rows_of(name: str, n: int):
    X, Y = FETCH[name](return_X_y=True)
    pick = np.random.default_rng(0).choice(len(X), size=min(n, len(X)), replace=False)
    return X.iloc[pick].reset_index(drop=True), Y.iloc[pick].reset_index(drop=True)


def fits(report) -> int:
    """Outer (model, split) fits plus the nested trials of every study."""
    outer = len(report.scores[["model", "fold"]].drop_duplicates())
    return outer + (0 if report.tuning is None else int(report.tuning["n_trials"].sum()))


def one(name: str, X, Y, tune, seed: int, epochs: int, repeats: int) -> dict:
    models = {"hard": MultiTaskRecommender("hard", **NET, max_epochs=epochs, random_state=seed),
              "lgbm": PerTaskLGBM(**LGBM, random_state=seed)}
    runs = {}
    designs = [("fixed", False), ("sequential", True)]
    # Alternate which design runs first (warm caches and imports favour the second).
    for design, sequential in designs[::-1] if seed % 2 else designs:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = compare_transfer(models, X, Y, cv=5, n_repeats=repeats, random_state=seed,
                                      tune=tune, sequential=sequential)
        runs[design] = (report, time.perf_counter() - start)
    (fixed, fixed_s), (seq, seq_s) = runs["fixed"], runs["sequential"]
    a, b = fixed.summary()["verdict"], seq.summary()["verdict"]
    ships = fixed.ship()["decision"], seq.ship()["decision"]
    return dict(data=name, rows=len(X), tune=tune or 0, seed=seed,
                fixed_fits=fits(fixed), sequential_fits=fits(seq),
                fixed_s=fixed_s, sequential_s=seq_s, repeats_used=seq.n_repeats,
                stop_reason=seq.sequential["stop_reason"],
                outcomes_agree=int((a == b).sum()), outcomes=len(a),
                ships_agree=bool((ships[0] == ships[1]).all()),
                fixed_outcomes="; ".join(f"{m}/{t}: {v}" for (m, t), v in a.items()),
                sequential_outcomes="; ".join(f"{m}/{t}: {v}" for (m, t), v in b.items()))


def table(frame: pd.DataFrame) -> str:
    lines = ["| data | rows | tune | seed | fits fixed → sequential | wall s fixed → sequential "
             "| repeats used | outcomes agree | ship lines agree | why it stopped |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in frame.itertuples():
        lines.append(f"| {r.data} | {r.rows:,} | {r.tune or '—'} | {r.seed} | {r.fixed_fits} → "
                     f"{r.sequential_fits} ({100 * r.sequential_fits / r.fixed_fits:.0f} %) | "
                     f"{r.fixed_s:.0f} → {r.sequential_s:.0f} | {r.repeats_used} | "
                     f"{r.outcomes_agree} / {r.outcomes} | {'yes' if r.ships_agree else 'no'} | "
                     f"{r.stop_reason} |")
    share = frame["sequential_fits"].sum() / frame["fixed_fits"].sum()
    time_share = frame["sequential_s"].sum() / frame["fixed_s"].sum()
    lines.append("")
    lines.append(f"Over the {len(frame)} runs: the sequential design used "
                 f"{100 * frame.eval('sequential_fits / fixed_fits').mean():.0f} % of the fixed "
                 f"design's fits on average ({100 * share:.0f} % of all fits, "
                 f"{100 * time_share:.0f} % of the wall time); "
                 f"{int((frame['outcomes_agree'] == frame['outcomes']).sum())} of {len(frame)} "
                 f"runs gave every outcome as the fixed design did, "
                 f"{int(frame['ships_agree'].sum())} every ship line.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one seed (CI)")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--tuned-rows", type=int, default=1500)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--tuned-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data", nargs="+", choices=sorted(FETCH), default=sorted(FETCH))
    parser.add_argument("--no-tune", action="store_true", help="only the untuned runs")
    parser.add_argument("--csv", default=None, help="write the rows here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.seeds, args.data, args.epochs, args.no_tune = 600, [0], ["census"], 1, True
        args.repeats = 2
    out = []
    begin = time.perf_counter()
    for name in args.data:
        settings = [(args.rows, None, args.seeds)] + (
            [] if args.no_tune else [(args.tuned_rows, args.trials, args.tuned_seeds)])
        for n, tune, seeds in settings:
            X, Y = rows_of(name, n)
            for seed in seeds:
                out.append(one(name, X, Y, tune, seed, args.epochs, args.repeats))
                r = out[-1]
                print(f"  {name} tune={tune} seed={seed}: fits {r['fixed_fits']} -> "
                      f"{r['sequential_fits']}, {r['fixed_s']:.0f} s -> {r['sequential_s']:.0f} s, "
                      f"{r['stop_reason']}", flush=True)
    frame = pd.DataFrame(out)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    print(f"\nat most {args.repeats} repeats of 5 folds, nets {args.epochs} epochs\n")
    print(table(frame))
    print(f"\nwall time {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
