"""Tuning on census: what pruning buys in a fixed time budget, and what 30 trials buy in quality.

1. Pruning: ``tune`` an MMoE (default search space, hold-out validation, TPE seed 0) for a
   fixed wall-clock budget with ``pruner="median"`` and with ``pruner=None``, one after the
   other; count the trials each finishes (complete + pruned), the epochs trained, and the best
   validation ROC AUC (mean over income and never-married) each reaches.
2. Quality: on a train / test split of census, PerTaskLGBM at its defaults and tuned, and an
   MMoE at its defaults and tuned (``n_trials`` trials each, default spaces, pruning on); the
   tuned models are refitted on the whole train part and scored on the test part.

    python benchmarks/bench_tuning.py [--quick] [--budget 120] [--n-trials 30]

Prints Markdown tables (copied into docs/tuning.md). Census is read through
``fetch_census_income`` (``$SKLEARN_MTL_DATA``, e.g. ``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import date

import numpy as np
import optuna
import torch
from optuna.trial import TrialState
from sklearn.model_selection import train_test_split

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM
from sklearn_mtl.datasets import fetch_census_income
from sklearn_mtl.metrics import per_task_scores
from sklearn_mtl.tuning import tune


def table(rows, columns) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sample(X, Y, n: int, seed: int = 0):
    idx = np.random.default_rng(seed).choice(len(X), size=min(n, len(X)), replace=False)
    return X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)


def pruning(X, Y, budget: float, max_epochs: int) -> None:
    rows = []
    for label, pruner in (("median pruner", "median"), ("no pruning", None)):
        start = time.perf_counter()
        result = tune(MultiTaskRecommender("mmoe", max_epochs=max_epochs, random_state=0),
                      X, Y, n_trials=None, timeout=budget, pruner=pruner, random_state=0,
                      refit=False)
        seconds = time.perf_counter() - start
        trials = result.study.trials
        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        pruned = sum(t.state == TrialState.PRUNED for t in trials)
        # A pruned trial reported one value per epoch it trained.
        epochs = sum(t.user_attrs.get("n_epochs", len(t.intermediate_values)) for t in finished)
        scores = result.best_trial_.user_attrs["scores"]
        rows.append((label, len(finished), pruned, epochs, f"{seconds:.0f}", result.best_score_,
                     scores["income"], scores["never_married"]))
        print(f"{label}: {len(finished)} trials ({pruned} pruned), {epochs} epochs, best "
              f"{result.best_score_:.4f} in {seconds:.0f} s", flush=True)
    print(f"\nMMoE, default space, {budget:.0f} s budget per run, {len(X)} census rows "
          f"(80/20 hold-out), max_epochs={max_epochs}\n")
    print(table(rows, ["run", "trials finished", "pruned", "epochs trained", "wall s",
                       "best valid AUC (mean)", "income", "never married"]))
    ratio = rows[0][1] / max(rows[1][1], 1)
    print(f"\ntrials finished with / without pruning: {ratio:.2f}x (target >= 2x)")


def quality(X, Y, n_trials: int, quick: bool) -> None:
    # The split of bench_quality.py, so the defaults rows match docs/benchmarks.md.
    X_train, X_test, Y_train, Y_test = train_test_split(
        X, Y, test_size=0.3, random_state=0, stratify=Y["income"])
    lgbm_extra = {"n_estimators": 50} if quick else {}
    net_extra = {"max_epochs": 3} if quick else {}
    candidates = {
        "PerTaskLGBM defaults": (PerTaskLGBM(random_state=0, **lgbm_extra), False),
        "PerTaskLGBM tuned": (PerTaskLGBM(random_state=0), True),
        "MMoE defaults": (MultiTaskRecommender("mmoe", random_state=0, **net_extra), False),
        "MMoE tuned": (MultiTaskRecommender("mmoe", random_state=0, **net_extra), True),
    }
    rows = []
    for name, (model, tuned) in candidates.items():
        start = time.perf_counter()
        note = ""
        if tuned:
            result = tune(model, X_train, Y_train, n_trials=n_trials, random_state=0)
            model = result.best_estimator_
            pruned = sum(t.state == TrialState.PRUNED for t in result.study.trials)
            note = f"{n_trials} trials, {pruned} pruned"
        else:
            model.fit(X_train, Y_train)
        seconds = time.perf_counter() - start
        scores = per_task_scores(model, X_test, Y_test)
        rows.append((name, scores["income"], scores["never_married"],
                     float(np.mean(list(scores.values()))), f"{seconds:.0f}", note))
        print(f"{name}: {scores} in {seconds:.0f} s {note}", flush=True)
    print(f"\nCensus, {len(X_train)} train / {len(X_test)} test rows (stratified on income), "
          "ROC AUC on the test part\n")
    print(table(rows, ["model", "income AUC", "never-married AUC", "mean", "tune + refit s",
                       "note"]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="3,000 rows, 10 s budget, 4 trials, 3 epochs (a smoke run)")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per pruning run")
    parser.add_argument("--prune-rows", type=int, default=10_000)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=None,
                        help="census rows for the quality part (default: all, 70/30 split)")
    parser.add_argument("--n-trials", type=int, default=30)
    parser.add_argument("--only", choices=["pruning", "quality"])
    args = parser.parse_args(argv)
    if args.quick:
        args.budget, args.prune_rows, args.max_epochs = 10.0, 3000, 6
        args.rows, args.n_trials = 3000, 4
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"{date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPU "
          f"cores, torch {torch.__version__} ({torch.get_num_threads()} threads), CUDA "
          f"{torch.cuda.is_available()}, optuna {optuna.__version__}", flush=True)
    X, Y = fetch_census_income(return_X_y=True)
    if args.only in (None, "pruning"):
        pruning(*sample(X, Y, args.prune_rows), args.budget, args.max_epochs)
    if args.only in (None, "quality"):
        data = (X, Y) if args.rows is None else sample(X, Y, args.rows, seed=1)
        quality(*data, args.n_trials, args.quick)


if __name__ == "__main__":
    main()
