"""``sklearn-mtl compare --train-sizes``: the verdict at several training sizes (transfer_curve)."""

from __future__ import annotations

import argparse
from pathlib import Path

# The files one setting's curve writes, after its report's files.
CURVE_FILES = ["curve_summary.csv", "crossover.csv", "learning_curve.png", "curve.html"]


def train_sizes(text: str) -> list:
    """``"2000,8000,32000"`` (rows per split) or ``"0.1,0.5,1"`` (fractions of them)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        sizes = [int(p) if p.isdigit() else float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of sizes: give training rows per split (2000,8000,32000) "
            "or fractions of them (0.1,0.5,1)") from None
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: a curve needs at least two sizes")
    if any(isinstance(s, float) for s in sizes):
        sizes = [float(s) for s in sizes]  # "0.25,1" is two fractions
    return sizes


def write_curve(title: str, models: dict, reference, X, Y, args, out: Path, stem: str, tune,
                extra: dict, settings: dict) -> None:
    """Run transfer_curve with the compare's settings; print its sentences, write its files."""
    import matplotlib.pyplot as plt

    from .._csv import write_csv
    from ..transfer import transfer_curve

    print(f"\n== {title}: the verdict at training sizes {args.train_sizes} per split "
          "(the same splits and test rows)", flush=True)
    curve = transfer_curve(
        models, X, Y, reference=reference, train_sizes=args.train_sizes, cv=args.cv,
        n_repeats=args.repeats, n_jobs=args.n_jobs, random_state=args.seed, tune=tune,
        cascade_scoring=args.cascade_scoring,
        storage=None if args.storage is None else Path(args.storage) / f"{stem}curve", **extra)
    print(curve)
    write_csv(curve.summary(), out / f"{stem}curve_summary.csv", index=False)
    write_csv(curve.crossover(), out / f"{stem}crossover.csv", index=False)
    figure = curve.plot(title=title)
    figure.savefig(out / f"{stem}learning_curve.png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    curve.to_html(out / f"{stem}curve.html", title=title, settings=settings)
