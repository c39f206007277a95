"""The MMoE paper's task-correlation sweep (Ma et al., KDD 2018, section 4.2) on this package.

Two regression tasks from ``make_multitask_data`` with task correlation 1.0, 0.9, 0.5 and 0.0;
hard sharing, MMoE and the single-task reference, several seeds; test R² per task on a 30 % split.
The paper finds that the shared bottom suffers most as the tasks become less related, MMoE
less; docs/benchmarks.md has what this code measures (not that trend, at these sizes).
Writes ``docs/img/correlation_sweep.png`` and prints a Markdown table.

    python benchmarks/bench_correlation.py [--quick | --large] [--seeds 3]
                                           [--out docs/img/correlation_sweep.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.datasets import make_multitask_data
from sklearn_mtl.metrics import per_task_scores

CORRELATIONS = (1.0, 0.9, 0.5, 0.0)
MODELS = ("hard", "mmoe", "single")
PARAMS = dict(hidden_units=(8,), tower_units=(8,), n_experts=4, lr=5e-3, batch_size=128,
              max_epochs=60, patience=8)
# --large: the generator's default 10,000 rows and the paper's 8 experts, wider, at a lower lr.
LARGE = dict(hidden_units=(16,), tower_units=(8,), n_experts=8, lr=1e-3, batch_size=128,
             max_epochs=100, patience=10)
LABELS = {"hard": "shared bottom (hard)", "mmoe": "MMoE", "single": "single-task"}


def sweep(n_samples: int, seeds: int, params: dict) -> pd.DataFrame:
    rows = []
    for corr in CORRELATIONS:
        for seed in range(seeds):
            X, Y = make_multitask_data(n_samples=n_samples, n_features=100, task_correlation=corr,
                                       random_state=seed)
            X_train, X_test, Y_train, Y_test = train_test_split(X, Y, test_size=0.3, random_state=seed)
            for name in MODELS:
                model = MultiTaskRecommender(name, random_state=seed, **params).fit(X_train, Y_train)
                for task, score in per_task_scores(model, X_test, Y_test).items():
                    rows.append(dict(correlation=corr, seed=seed, model=name, task=task, r2=score))
            print(f"correlation {corr} seed {seed} done", flush=True)
    return pd.DataFrame(rows)


def plot(scores: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Different seeds draw different data sets whose difficulty varies a lot, so compare each
    # model with the single-task reference on the same data set (paired), then average.
    per_seed = scores.groupby(["model", "correlation", "seed"])["r2"].mean().unstack("model")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, marker in zip(("hard", "mmoe"), "os"):
        delta = (per_seed[name] - per_seed["single"]).groupby("correlation").agg(["mean", "std"])
        delta = delta.sort_index()
        ax.errorbar(delta.index, delta["mean"], yerr=delta["std"].fillna(0), marker=marker,
                    capsize=3, label=LABELS[name])
    ax.axhline(0.0, color="grey", lw=1, label="single-task reference")
    ax.set_xlabel("task correlation (cosine of the task weight vectors)")
    ax.set_ylabel("test R² minus single-task R² (mean of 2 tasks)")
    ax.set_title("Sharing against task relatedness (MMoE paper, section 4)")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="1 seed, 1,500 rows, 10 epochs")
    size.add_argument("--large", action="store_true",
                      help="10,000 rows, 8 experts, 16-unit bottoms / experts, lr 1e-3, 100 epochs")
    parser.add_argument("--seeds", type=int, default=3)
    default_out = Path(__file__).resolve().parents[1] / "docs" / "img" / "correlation_sweep.png"
    parser.add_argument("--out", default=str(default_out))
    args = parser.parse_args(argv)
    if args.quick:
        n, seeds, params = 1500, 1, dict(PARAMS, max_epochs=10)
    else:
        n, seeds, params = (10000, args.seeds, LARGE) if args.large else (3000, args.seeds, PARAMS)
    scores = sweep(n, seeds, params)
    table = scores.groupby(["correlation", "model"])["r2"].mean().unstack("model")[list(MODELS)]
    table = table.sort_index(ascending=False)
    print(f"\nmean test R² over tasks and {seeds} seed(s), {n} rows per data set\n")
    print("| correlation | " + " | ".join(MODELS) + " | hard - single | mmoe - single |")
    print("|---" * (len(MODELS) + 3) + "|")
    for corr, row in table.iterrows():
        cells = " | ".join(f"{row[m]:.4f}" for m in MODELS)
        deltas = f"{row['hard'] - row['single']:+.4f} | {row['mmoe'] - row['single']:+.4f}"
        print(f"| {corr} | {cells} | {deltas} |")
    if not args.quick:
        plot(scores, Path(args.out))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
