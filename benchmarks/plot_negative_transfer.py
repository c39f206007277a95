"""The worked census example of docs/negative-transfer.md: table and plot.

20,000 census rows (seed 0), 3-fold CV; hard sharing, MMoE (with the gradient-conflict diagnostic)
and PerTaskLGBM against the default single-task reference (MMoE's settings, architecture="single").
Writes docs/img/negative_transfer_census.png and prints the report and its Markdown table.

    python benchmarks/plot_negative_transfer.py [--n-rows 20000] [--cv 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from sklearn_mtl import MultiTaskRecommender, PerTaskLGBM, compare_transfer  # noqa: E402
from sklearn_mtl.datasets import fetch_census_income  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "negative_transfer_census.png"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=20_000)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    X, Y = fetch_census_income(return_X_y=True)
    X, Y = X.sample(args.n_rows, random_state=0), Y.sample(args.n_rows, random_state=0)
    models = {
        "mmoe": MultiTaskRecommender("mmoe", track_gradient_conflict=True, random_state=0),
        "hard": MultiTaskRecommender("hard", track_gradient_conflict=True, random_state=0),
        "lgbm": PerTaskLGBM(random_state=0),
    }
    report = compare_transfer(models, X, Y, cv=args.cv, random_state=0)
    print(report)
    print()
    print(report.to_markdown())
    ax = report.plot()
    ax.figure.savefig(args.out, dpi=120, bbox_inches="tight")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
