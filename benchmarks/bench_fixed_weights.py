"""Does any remedy beat the tuned fixed weighting? Loss balancing and gradient surgery judged
against the same net with tuned static task weights, under the same tuning budget.

Xin et al. (NeurIPS 2022) and Kurin et al. (NeurIPS 2022) found that the gains of loss balancing
and gradient methods over a *tuned* fixed task weighting vanish under equal tuning. This script
runs that comparison with the package's own verdict: ``compare_transfer`` with the reference set
to ``MultiTaskRecommender("hard")`` whose study tunes a fixed weight per task
(``task_weights[k]``, log-uniform in [0.1, 10], mean 1) besides ``lr`` and ``dropout``, and each
remedy the same net with ``task_weights="uncertainty" | "gradnorm" | "dwa"`` or
``gradient_method="pcgrad" | "cagrad"`` whose study tunes ``lr`` and ``dropout`` only; ``equal``
is the net with equal weights, tuned the same way. Every study has the same number of trials
(the first one the net's defaults) on its split's training rows (20 % hold-out). A delta above 0
means the remedy beats the tuned fixed weighting; the intervals are simultaneous over the
report's remedies and tasks (Bonferroni, 95 %).

* ``census``: 2,000 random Census-Income rows (seed 0; ``--rows``), income and never-married
  (AUC).
* ``movielens``: 2,000 random MovieLens 100K ratings (seed 0; ``--rows``), liked (AUC) and
  rating (R²).

Nets: hidden_units=(32,), tower_units=(8,), batch 128, at most 4 epochs (``--epochs``; early
stopping, patience 2), random_state 0; 3-fold x 2 repeats; 3 trials a study (``--trials``).
The published run: ``--rows 6000 --epochs 8 --trials 4``.

    python benchmarks/bench_fixed_weights.py --data census --rows 6000 --epochs 8 --trials 4
    python benchmarks/bench_fixed_weights.py --data movielens --rows 6000 --epochs 8 --trials 4
    python benchmarks/bench_fixed_weights.py --quick
"""

from __future__ import annotations

import argparse
import datetime
import time
import warnings

import numpy as np
from bench_balancing import METHODS  # this folder is on sys.path when a script runs from it
from optuna.distributions import FloatDistribution

from sklearn_mtl import MultiTaskRecommender, compare_transfer
from sklearn_mtl.datasets import fetch_census_income, fetch_movielens_100k
from sklearn_mtl.tuning import default_search_space

# The remedies of bench_balancing.py (which compares them with equal weights, untuned); "equal"
# is plain hard sharing with equal weights, tuned like the remedies.
REMEDIES = {"equal": {}, **{k: v for k, v in METHODS.items() if k != "hard"}}


def spaces(net, n_tasks: int) -> tuple[dict, dict]:
    """(the tuned fixed weighting's space, a remedy's space): the same but the weights."""
    common = {"lr": FloatDistribution(1e-3, 1e-2, log=True), "dropout": FloatDistribution(0.0, 0.3)}
    weights = {k: d for k, d in default_search_space(net, n_tasks=n_tasks).items()
               if k.startswith("task_weights[")}
    return {**common, **weights}, common


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("census", "movielens"), default="census")
    parser.add_argument("--methods", nargs="+", choices=list(REMEDIES), default=list(REMEDIES))
    parser.add_argument("--trials", type=int, default=3, help="trials per study (default 3)")
    parser.add_argument("--rows", type=int, default=2_000, help="random rows (default 2,000)")
    parser.add_argument("--epochs", type=int, default=4, help="at most (default 4)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # on a shared 2-core box one thread wastes less time waiting
    fetch = fetch_census_income if args.data == "census" else fetch_movielens_100k
    X, Y = fetch(return_X_y=True)
    idx = np.random.default_rng(0).choice(len(X), size=600 if args.quick else args.rows, replace=False)
    X, Y = X.iloc[idx].reset_index(drop=True), Y.iloc[idx].reset_index(drop=True)
    params = dict(hidden_units=(32,), tower_units=(8,), batch_size=128, patience=2,
                  max_epochs=2 if args.quick else args.epochs, random_state=0)
    fixed = MultiTaskRecommender("hard", **params)
    fixed_space, remedy_space = spaces(fixed, Y.shape[1])
    models = {m: MultiTaskRecommender("hard", **params, **REMEDIES[m]) for m in args.methods}
    trials = 2 if args.quick else args.trials
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        report = compare_transfer(
            models, X, Y, reference=fixed, cv=3, n_repeats=1 if args.quick else 2,
            random_state=0, tune={"n_trials": trials,
                                  "space": {**{m: remedy_space for m in models},
                                            "reference": fixed_space}})
    seconds = time.perf_counter() - start
    print(f"\n### {args.data}: {len(X):,} rows, remedies {args.methods} against hard sharing with "
          f"tuned fixed task weights; {trials} trials a study, 3-fold x {report.n_repeats} "
          f"({seconds:.0f} s, {datetime.date.today().isoformat()}, seed 0)\n")
    summary = report.summary().reset_index()
    print(summary[["model", "task", "mean", "reference_mean", "delta", "ci_low", "ci_high",
                   "verdict"]].to_markdown(index=False, floatfmt="+.4f"))
    scores = report.scores[report.scores["model"].isin(["reference", args.methods[0]])]
    print("\nper split (the reference and the first remedy):\n"
          + scores.pivot(index="fold", columns=["model", "task"], values="score").round(4)
          .to_markdown())
    suspect = report.suspect_fits()
    if len(suspect):
        print("\nsuspect fits (far below the same model's other splits):\n"
              + suspect.to_markdown(index=False, floatfmt=".4f"))
    print("\nthe reference's chosen parameters per split:")
    for split, params in report.tuning.loc[report.tuning["model"] == "reference",
                                           ["split", "best_params"]].itertuples(index=False):
        print(f"  {split}: {params or 'the defaults'}")
    weights = [p["task_weights"] for p in report.tuning.loc[report.tuning["model"] == "reference",
                                                            "best_params"] if "task_weights" in p]
    print("\nthe reference's tuned weights per split:",
          [[round(w, 2) for w in ws] for ws in weights] or "the defaults won every study")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
