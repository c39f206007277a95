"""The worked census example of docs/negative-transfer.md: table and plot.

20,000 census rows (seed 0), 3-fold CV; hard sharing, MMoE (both with the gradient-conflict
diagnostic) and PerTaskLGBM against the default single-task reference (MMoE's settings,
architecture="single"). Writes docs/img/negative_transfer_census.png and prints the report and
its Markdown table. ``--quick`` is a smoke run (2,000 rows, 2 folds, 3 epochs) that writes its
plot to a temporary folder instead.

Run from the project root::

    SKLEARN_MTL_DATA=../shared/data .venv/bin/python benchmarks/plot_negative_transfer.py \\
        [--n-rows 20000] [--cv 3] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
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
    parser.add_argument("--data-home", default=None, help="default: $SKLEARN_MTL_DATA")
    parser.add_argument("--out", default=None, help=f"PNG path (default: {OUT})")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n_rows, cv, epochs = (2_000, 2, 3) if args.quick else (args.n_rows, args.cv, 20)
    out = Path(args.out or (Path(tempfile.mkdtemp()) / OUT.name if args.quick else OUT))

    X, Y = fetch_census_income(data_home=args.data_home, return_X_y=True)
    X, Y = X.sample(n_rows, random_state=0), Y.sample(n_rows, random_state=0)
    models = {
        "mmoe": MultiTaskRecommender("mmoe", max_epochs=epochs, track_gradient_conflict=True,
                                     random_state=0),
        "hard": MultiTaskRecommender("hard", max_epochs=epochs, track_gradient_conflict=True,
                                     random_state=0),
        "lgbm": PerTaskLGBM(random_state=0, verbose=-1),
    }
    start = time.perf_counter()
    report = compare_transfer(models, X, Y, cv=cv, random_state=0)
    print(f"{n_rows} rows, {cv}-fold CV, {len(models) + 1} models: "
          f"{time.perf_counter() - start:.0f} s\n")
    print(report)
    print()
    print(report.to_markdown())
    ax = report.plot()
    ax.figure.savefig(out, dpi=120, bbox_inches="tight")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
