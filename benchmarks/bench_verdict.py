"""Calibration and power of compare_transfer's verdict, old test against new, on synthetic data.

Three experiments on ``make_multitask_data`` (two regression tasks, R²), every seed fixed:

- **A/A**: a hard-sharing net against a clone of itself with another ``random_state`` as the
  reference. Nothing differs, so every "worse", "worse within margin" or "better" verdict is
  false: the rate should stay at or below alpha (0.05). (``benchmarks/bench_calibration.py``
  measures the default's calibration under a null with data variance.)
- **planted**: a one-unit shared bottom, ``task_weights=[1, 10]``, task correlation 0, against
  the default per-task reference: task_0 (weight 1) must lose. Detection = its verdict is "worse".
- **flip** (subtler): the same one-unit bottom with equal weights: both tasks lose on average,
  but which one loses changes between splits, so per-task tests lose power; the per-model
  mean over tasks per split (``report.overall()``, a check beside the per-task verdicts, not
  the ship decision) is what should detect it.
- **mde** (no fits): does the summary's minimum detectable effect mean what it says? Per-split
  differences are drawn as ``delta + sqrt(r) * z0 + z_j`` (one shared draw z0 per replicate and
  one per split, ``r = n_test / n_train``), whose mean has exactly the variance the corrected
  test assumes; with ``delta`` set to the MDE, the test should find it in about 80 % of the
  replicates, at every fold count, repeat count and level.

The old protocol (the package before 2026-11-23: every fold refits with the model's own seed,
scipy's paired t-test, no multiplicity correction) is refitted fold by fold beside the new one.
The new protocol runs ``cv=5`` with the largest ``n_repeats`` and reads the smaller ones off its
first repeats (repeat r never depends on later ones).

    python benchmarks/bench_verdict.py [--quick] [--part aa|planted|flip|mde|all]
                                       [--first 0] [--n 20] [--repeats 3] [--csv rows.csv]
    python benchmarks/bench_verdict.py --table rows.csv   # the table of runs saved with --csv
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import KFold

from sklearn_mtl import MultiTaskRecommender, TransferReport, compare_transfer
from sklearn_mtl.datasets import make_multitask_data
from sklearn_mtl.metrics import per_task_scores

ALPHA = 0.05
CV = 5
# Small nets and few epochs so that the benchmark runs in minutes on 2 cores.
AA_NET = dict(hidden_units=(8,), tower_units=(4,), lr=1e-2, batch_size=128, max_epochs=10)
AA_CORRELATIONS = (0.0, 0.5, 0.9, 1.0)
PLANTED_NET = dict(hidden_units=(1,), tower_units=(8,), lr=1e-2, batch_size=128, max_epochs=20)


def _old_protocol(model, reference, X, Y, seed, cv=CV) -> pd.Series:
    """The package's test before the fix: one seed in every fold, naive paired t, no correction."""
    rows = []
    for train, test in KFold(cv, shuffle=True, random_state=seed).split(X):
        for name, est in (("model", model), ("reference", reference)):
            fitted = clone(est).fit(X[train], Y[train])
            rows += [dict(name=name, task=t, score=s)
                     for t, s in per_task_scores(fitted, X[test], Y[test]).items()]
    frame = pd.DataFrame(rows)
    out = {}
    for task, block in frame.groupby("task"):
        a = block[block["name"] == "model"]["score"].to_numpy()
        b = block[block["name"] == "reference"]["score"].to_numpy()
        out[task] = float(stats.ttest_rel(a, b).pvalue)
    return pd.Series(out)


def _first_repeats(report: TransferReport, n_repeats: int) -> TransferReport:
    scores = report.scores[report.scores["repeat"] < n_repeats]
    return TransferReport(scores, metric=report.metric, n_folds=report.n_folds,
                          n_repeats=n_repeats, test_train_ratio=report.test_train_ratio,
                          shared=report.shared)


def _new_protocol(report: TransferReport, max_repeats: int) -> list[dict]:
    rows = []
    for r in range(1, max_repeats + 1):
        sub = _first_repeats(report, r)
        for label, kwargs in (("new test, no correction", dict(correction=None)),
                              ("naive t on reseeded splits", dict(test="ttest", correction=None)),
                              ("new default (corrected + Bonferroni)", {})):
            summary, overall = sub.summary(**kwargs), sub.overall(**kwargs)
            rows.append(dict(protocol=label, n_repeats=r,
                             verdicts=summary["verdict"].to_dict(),
                             overall=overall["verdict"].iloc[0]))
    return rows


def _dataset(kind: str, seed: int, quick: bool):
    n = 300 if quick else (600 if kind == "aa" else 1000)
    corr = AA_CORRELATIONS[seed % len(AA_CORRELATIONS)] if kind == "aa" else 0.0
    X, Y = make_multitask_data(n_samples=n, n_features=10, task_correlation=corr,
                               random_state=seed)
    return X, Y, corr


def run(kind: str, seeds, max_repeats: int, quick: bool) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        X, Y, corr = _dataset(kind, seed, quick)
        if kind == "aa":
            model = MultiTaskRecommender("hard", **AA_NET, random_state=seed)
            reference = clone(model).set_params(random_state=seed + 1000)
        else:
            weights = [1.0, 10.0] if kind == "planted" else None
            model = MultiTaskRecommender("hard", **PLANTED_NET, task_weights=weights,
                                         random_state=seed)
            reference = clone(model).set_params(architecture="single")
        if quick:
            model.set_params(max_epochs=3)
            reference.set_params(max_epochs=3)
        start = time.perf_counter()
        old = _old_protocol(model, reference, X, Y, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = compare_transfer({"model": model}, X, Y, reference=reference, cv=CV,
                                      n_repeats=max_repeats, random_state=seed)
        delta = report.summary()["delta"].to_dict()
        for task, p in old.items():
            d = delta[("model", task)]
            rows.append(dict(kind=kind, seed=seed, corr=corr, protocol="old (one seed, naive t)",
                             n_repeats=1, task=task, delta=d,
                             verdict="inconclusive" if not p < ALPHA
                             else ("better" if d > 0 else "worse"), overall=np.nan))
        for r in _new_protocol(report, max_repeats):
            for (_, task), v in r["verdicts"].items():
                rows.append(dict(kind=kind, seed=seed, corr=corr, protocol=r["protocol"],
                                 n_repeats=r["n_repeats"], task=task, delta=delta[("model", task)],
                                 verdict=v, overall=r["overall"]))
        print(f"  {kind} seed {seed} (correlation {corr}): {time.perf_counter() - start:.1f} s, "
              f"delta {', '.join(f'{d:+.3f}' for d in delta.values())}", flush=True)
    return pd.DataFrame(rows)


def table(results: pd.DataFrame) -> str:
    """Rates per experiment and protocol as Markdown."""
    out = ["| experiment | protocol | n_repeats | tests | per-task rate | any-task line rate |",
           "|---|---|---|---|---|---|"]
    for (kind, protocol, r), block in results.groupby(["kind", "protocol", "n_repeats"], sort=False):
        if kind == "aa":  # false verdicts: any worse (within the margin or not) or better
            false = ["worse", "worse within margin", "better"]
            rate = block["verdict"].isin(false).mean()
            line = block.drop_duplicates("seed")["overall"].isin(false).mean()
            what = "false worse/better"
        elif kind == "planted":  # task_0 (weight 1) must be worse
            rate = (block[block["task"] == "task_0"]["verdict"] == "worse").mean()
            line = (block.drop_duplicates("seed")["overall"] == "worse").mean()
            what = "task_0 worse"
        else:  # flip: any task found worse
            rate = block.groupby("seed")["verdict"].apply(lambda v: (v == "worse").any()).mean()
            line = (block.drop_duplicates("seed")["overall"] == "worse").mean()
            what = "some task worse"
        n = len(block) if kind == "aa" else block["seed"].nunique()
        line_text = "n/a" if protocol.startswith("old") else f"{line:.0%}"
        out.append(f"| {kind} ({what}) | {protocol} | {r} | {n} | {rate:.0%} | {line_text} |")
    return "\n".join(out)


def mde_power(replicates: int, seed: int = 0) -> str:
    """Detection rate of an effect of the size ``minimum_detectable_effect`` reports."""
    from sklearn_mtl.transfer._stats import POWER, minimum_detectable_effect, paired_test

    rng = np.random.default_rng(seed)
    rows = ["| folds × repeats | pairs | level | MDE (true se) | median MDE (estimated) | "
            "found | replicates |", "|---|---|---|---|---|---|---|"]
    for folds, repeats in ((3, 2), (5, 2), (5, 5), (10, 3)):
        for level in (ALPHA, ALPHA / 4):
            pairs, ratio = folds * repeats, 1 / (folds - 1)
            true_se = np.sqrt(1 / pairs + ratio)
            delta = minimum_detectable_effect(true_se, pairs, alpha=level)
            diffs = (delta + np.sqrt(ratio) * rng.standard_normal((replicates, 1))
                     + rng.standard_normal((replicates, pairs)))
            found, estimated = 0, []
            for d in diffs:
                r = paired_test(d, test_train_ratio=ratio, alpha=level)
                found += r["p_value"] < level
                estimated.append(minimum_detectable_effect(r["se"], pairs, alpha=level))
            rows.append(f"| {folds} × {repeats} | {pairs} | {level:g} | {delta:.3f} | "
                        f"{np.median(estimated):.3f} | {found / replicates:.1%} | {replicates} |")
    return (f"Target power {POWER:.0%} (seed {seed}):\n" + "\n".join(rows))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 tiny data sets per part (CI)")
    parser.add_argument("--part", choices=["aa", "planted", "flip", "mde", "all"], default="all")
    parser.add_argument("--first", type=int, default=0, help="first data seed")
    parser.add_argument("--n", type=int, default=None, help="data sets (20 A/A, 10 otherwise)")
    parser.add_argument("--repeats", type=int, default=3, help="largest n_repeats measured")
    parser.add_argument("--csv", default=None, help="append the per-test rows to this CSV")
    parser.add_argument("--table", default=None, metavar="CSV",
                        help="print the table of rows saved with --csv (no fits)")
    args = parser.parse_args(argv)
    if args.table:
        print(table(pd.read_csv(args.table)))
        return 0
    if args.part in ("mde", "all"):
        print("== mde: detection rate of an effect of the reported minimum detectable size")
        print(mde_power(200 if args.quick else 4000), flush=True)
        if args.part == "mde":
            return 0
    torch.set_num_threads(1)
    parts = ["aa", "planted", "flip"] if args.part == "all" else [args.part]
    frames = []
    for kind in parts:
        n = 1 if args.quick else (args.n or (20 if kind == "aa" else 10))
        repeats = 1 if args.quick else args.repeats
        print(f"== {kind}: data seeds {args.first}..{args.first + n - 1}, cv={CV}, "
              f"n_repeats up to {repeats}", flush=True)
        frames.append(run(kind, range(args.first, args.first + n), repeats, args.quick))
        if args.csv:  # after each part, so that a cut-off run keeps what it measured
            frames[-1].to_csv(args.csv, mode="a", header=not Path(args.csv).exists(), index=False)
    print(table(pd.concat(frames, ignore_index=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
