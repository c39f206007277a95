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

**Pruners** (``--part pruners``): multi-fidelity tuning against ``tune()``'s default median
pruner. ``tune()`` of the hard net (``max_epochs=--pruner-epochs``, early stopping on, so every
epoch's validation score reaches the pruner) and of ``PerTaskLGBM`` (200 rounds, a 10 %
validation split, every round reported), ``--pruner-trials`` trials per study, one TPE sampler
seed per study shared by the three pruners, on ``--pruner-rows`` training rows of each data set;
the budget spent is the epochs (nets) or boosting rounds (LightGBM) that all trials trained,
and the score reached is the refitted best trial's mean ROC AUC / R² on 30 % held-out test rows
that no trial saw (the test split is never used to choose anything).

    python benchmarks/bench_sequential.py [--quick] [--part fits|pruners|all]
                                          [--rows 3000] [--tuned-rows 1500]
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


PRUNERS = ("median", "successive_halving", "hyperband")


def _spent(result) -> int:
    """Epochs or boosting rounds every trial trained: its last reported step + 1, a trial
    with no report (the default trial beside a pruner that never saw it) counted by its
    estimator's full budget."""
    total = 0
    for trial in result.study.trials:
        steps = sorted(trial.intermediate_values)
        if steps:  # PerTaskLGBM reports task * 100_000 + round: count rounds over tasks
            per_task = {}
            for step in steps:
                per_task[step // 100_000] = step % 100_000 + 1
            total += sum(per_task.values())
    return total


def pruner_runs(name: str, n_rows: int, trials: int, epochs: int, seeds) -> list:
    from sklearn.model_selection import train_test_split

    from sklearn_mtl.metrics import per_task_scores
    from sklearn_mtl.tuning import tune

    X, Y = rows_of(name, n_rows)
    X, Xt, Y, Yt = train_test_split(X, Y, test_size=0.3, random_state=0)
    out = []
    models = {"hard": MultiTaskRecommender("hard", **NET, max_epochs=epochs, early_stopping=True,
                                           patience=epochs, random_state=0),
              "lgbm": PerTaskLGBM(n_estimators=200, num_leaves=15, n_jobs=1, verbose=-1,
                                  validation_fraction=0.1, random_state=0)}
    for model_name, model in models.items():
        for seed in seeds:
            for pruner in PRUNERS:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = tune(model, X, Y, n_trials=trials, pruner=pruner, random_state=seed)
                    scores = per_task_scores(result.best_estimator_, Xt, Yt)
                out.append(dict(data=name, model=model_name, seed=seed, pruner=pruner,
                                spent=_spent(result), seconds=time.perf_counter() - start,
                                pruned=sum(t.state.name == "PRUNED" for t in result.study.trials),
                                test=float(np.nanmean(list(scores.values())))))
                print(f"  {name} {model_name} seed={seed} {pruner}: spent {out[-1]['spent']}, "
                      f"test {out[-1]['test']:.4f}, {out[-1]['seconds']:.0f} s", flush=True)
    return out


def pruner_table(frame: pd.DataFrame) -> str:
    lines = ["| data | model | pruner | budget spent (epochs or rounds; vs median) | trials "
             "pruned | test score of the refitted best (mean over seeds; vs median) | wall s |",
             "|---|---|---|---|---|---|---|"]
    for (data, model), block in frame.groupby(["data", "model"], sort=False):
        median = block[block["pruner"] == "median"].set_index("seed")
        for pruner, rows in block.groupby("pruner", sort=False):
            rows = rows.set_index("seed")
            spent = rows["spent"].sum() / median["spent"].sum()
            gain = (rows["test"] - median["test"]).mean()
            lines.append(f"| {data} | {model} | {pruner} | {rows['spent'].mean():.0f} "
                         f"({100 * spent:.0f} %) | {rows['pruned'].mean():.1f} | "
                         f"{rows['test'].mean():.4f} ({gain:+.4f}; seeds "
                         f"{', '.join(f'{v:+.4f}' for v in rows['test'] - median['test'])}) | "
                         f"{rows['seconds'].mean():.0f} |")
    return "\n".join(lines)


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
    parser.add_argument("--part", choices=["fits", "pruners", "all"], default="fits")
    parser.add_argument("--pruner-rows", type=int, default=3000)
    parser.add_argument("--pruner-trials", type=int, default=12)
    parser.add_argument("--pruner-epochs", type=int, default=8)
    parser.add_argument("--pruner-seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(argv)
    if args.part in ("pruners", "all"):
        begin = time.perf_counter()
        if args.quick:
            args.pruner_rows, args.pruner_trials, args.pruner_seeds = 600, 3, [0]
        rows = [r for name in args.data for r in pruner_runs(
            name, args.pruner_rows, args.pruner_trials, args.pruner_epochs, args.pruner_seeds)]
        frame = pd.DataFrame(rows)
        if args.csv:
            frame.to_csv(args.csv.replace(".csv", "_pruners.csv"), index=False)
        print(f"\n{args.pruner_trials} trials a study, {args.pruner_rows:,} rows (70 % tuned on, "
              f"30 % test), nets up to {args.pruner_epochs} epochs\n")
        print(pruner_table(frame))
        print(f"\nwall time {time.perf_counter() - begin:.0f} s")
        if args.part == "pruners":
            return 0
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
                if args.csv:  # row by row: a run stopped for time keeps what it measured
                    pd.DataFrame(out).to_csv(args.csv, index=False)
                print(f"  {name} tune={tune} seed={seed}: fits {r['fixed_fits']} -> "
                      f"{r['sequential_fits']}, {r['fixed_s']:.0f} s -> {r['sequential_s']:.0f} s, "
                      f"{r['stop_reason']}", flush=True)
    frame = pd.DataFrame(out)
    print(f"\nat most {args.repeats} repeats of 5 folds, nets {args.epochs} epochs\n")
    print(table(frame))
    print(f"\nwall time {time.perf_counter() - begin:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
