"""Calibration of compare_transfer's outcomes under a null with data variance, and its power.

The claim under test (``correction="bonferroni"``, the default): every (model, task) interval is
simultaneous, so the chance that a report states anything false, whatever the outcome ("better",
"worse", "worse within margin", "equivalent", "inconclusive") or ship decision, is at most
``alpha`` (0.05).

**Generator.** Eight features ``x ~ N(0, I)``, three binary tasks, ``P(y_t = 1) =
sigmoid(b_t + w_t . x + 0.5 sin(x_2 x_3))``, labels drawn from those probabilities (reference
ROC AUC 0.71-0.79). The weights ``w`` are drawn once (``GENERATOR_SEED``) and fixed; every
replicate draws a fresh, independent data set from this one distribution (``random_state`` =
the replicate's number), fresh model seeds and fresh folds.

**Null with data variance** (``--part null``). Features 0 and 1 have the same weight in every
task, so they are exchangeable. The model is ``PerTaskLGBM`` on every feature but ``x_0``, the
reference the same estimator (same parameters, bagging and feature fraction seeded through
``random_state``, another seed) on every feature but ``x_1``. The two are different functions of
each data set (which one scores higher depends on the draw of the data, and that part is shared
by all the splits of one data set, which is what the corrected t-test's ``n_test / n_train``
term is for), but by symmetry their expected scores are equal at every training size: the true
delta of every task is exactly 0. So "better", "worse" and "worse within margin" are false
outcomes, "equivalent" and "inconclusive" true ones; "cannot ship" is a false decision.
``--part seed`` is the weaker null of the earlier A/A runs: model and reference both drop
``x_1`` and differ only in their seed.

**Power** (``--part power``, census-sized data: 200,000 rows as census-income's training
file). Task 0's weight on ``x_0`` is raised to ``PLANTED[effect]``, so the model (without
``x_0``) loses ``effect`` ROC AUC on task 0 against the reference (without ``x_1``); tasks 1
and 2 keep a true delta of 0. The weights were calibrated with ``--part pilot``: both
estimators trained on 160,000 rows (the training size of 5-fold splits of 200,000) and scored
on 500,000 fresh rows, 6 seeds; it prints task 0's delta for a grid of weights and the weights
interpolated for each loss. At 0.005 AUC the true loss equals the margin, so "worse" is the
right outcome and "worse within margin", "equivalent" and "can ship" are false; at 0.01 too.

**Sequential against fixed** (``--part sequential``, ``compare_transfer(sequential=...)``).
Each replicate fits one fixed compare of ``--seq-repeats`` repeats (3) per scenario and reads
it twice: as the fixed design, and as the sequential one would have, look by look on the
scores of its first repeats (the scores a sequential compare fits are exactly those of the
fixed compare's first repeats: ``tests/test_sequential.py`` checks it), stopping at the
first look where no outcome is inconclusive or none of the inconclusive ones could be settled
by the remaining repeats (``look_decision``). Scenarios on ``--seq-rows`` rows (2,000): the
null above read with two margins (0.05 AUC: a clear null that equivalence can settle; the
default 0.005: nothing settles at this size), and task 0's weight on ``x_0`` raised to
``SEQ_PLANTED`` (a moderate and a clear loss; tasks 1 and 2 keep a true delta of 0), read
with margin 0.05. Both spending functions are read off the same fits. It reports the
family-wise rate of false outcomes (any "better", "worse" or "worse within margin" where the
true delta is 0), task 0's power (an outcome below 0), the mean number of repeats and the
share of reports whose every outcome agrees with the fixed design's.

Every rate comes with a Wilson 95 % interval. ``cv=5``, ``n_repeats=2`` (the defaults) and
``alpha=0.05`` unless given others. The fits are small (``LGBM`` below, one thread) so that a
thousand null replicates take about twenty minutes of one core, and a power replicate (both
effects) about a minute.

    python benchmarks/bench_calibration.py [--quick]
                                           [--part null|seed|power|pilot|sequential|all]
                                           [--replicates 1000] [--rows 2000]
                                           [--power-replicates 100] [--power-rows 200000]
                                           [--cv 5] [--repeats 2] [--first 0] [--csv rows.csv]
                                           [--seq-replicates 200] [--seq-rows 2000]
                                           [--seq-repeats 3]
    python benchmarks/bench_calibration.py --table rows.csv   # the tables of saved rows
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from sklearn_mtl import PerTaskLGBM, TransferReport, compare_transfer
from sklearn_mtl.transfer._sequential import SPENDING, look_decision

ALPHA = 0.05
GENERATOR_SEED = 20261205
N_FEATURES, N_TASKS = 8, 3
# Stochastic trees (row bagging and feature fraction), seeded through random_state, which
# compare_transfer re-seeds in every split; few trees so that one fit takes milliseconds.
LGBM = dict(n_estimators=30, learning_rate=0.1, num_leaves=15, min_child_samples=20,
            subsample=0.8, subsample_freq=1, colsample_bytree=0.8, n_jobs=1)
# Task 0's weight on x_0 that costs the model (without x_0) this much ROC AUC on task 0 at
# 160,000 training rows; measured by --part pilot (see its output in docs/negative-transfer.md).
PLANTED = {0.005: 0.845, 0.01: 0.891}
FALSE_UNDER_NULL = ("better", "worse", "worse within margin")
OUTCOMES = ("better", "worse", "worse within margin", "equivalent", "inconclusive")
DECISIONS = ("can ship", "cannot ship", "undecided")
CONTRASTS = {"no_correction": dict(correction=None), "plain_t": dict(test="ttest")}


def _weights():
    rng = np.random.default_rng(GENERATOR_SEED)
    W = rng.normal(0.0, 0.6, size=(N_TASKS, N_FEATURES))
    W[:, 0] = W[:, 1] = (0.8, 0.6, 0.7)  # x_0 and x_1 exchangeable in every task
    return W, np.array([-1.0, -0.5, 0.0])


def draw(n_rows: int, seed: int, planted: float | None = None):
    """A fresh data set from the generator; ``planted`` is task 0's weight on x_0."""
    W, b = _weights()
    if planted is not None:
        W[0, 0] = planted
    rng = np.random.default_rng([seed, n_rows])
    X = rng.normal(size=(n_rows, N_FEATURES))
    Z = X @ W.T + b + 0.5 * np.sin(X[:, [2]] * X[:, [3]])
    Y = (rng.random((n_rows, N_TASKS)) < 1.0 / (1.0 + np.exp(-Z))).astype(np.int64)
    return X, Y


def without(column: int, seed: int) -> Pipeline:
    """PerTaskLGBM on every feature but ``column``."""
    keep = [c for c in range(N_FEATURES) if c != column]
    return Pipeline([("select", ColumnTransformer([("keep", "passthrough", keep)])),
                     ("lgbm", PerTaskLGBM(random_state=seed, **LGBM))])


def replicate(kind: str, i: int, n_rows: int, cv: int, n_repeats: int, effect: float = 0.0):
    """One report: rows of (task, outcome, delta, se, mde) plus the ship decision."""
    planted = PLANTED[effect] if effect else None
    X, Y = draw(n_rows, i, planted)
    seeds = np.random.SeedSequence([GENERATOR_SEED, i]).generate_state(2) % (2**31 - 1)
    model = without(1 if kind == "seed" else 0, int(seeds[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = compare_transfer({"model": model}, X, Y, reference=without(1, int(seeds[1])),
                                  cv=cv, n_repeats=n_repeats, random_state=i, alpha=ALPHA)
    full = report.summary()
    level = 1 - full.attrs["interval_level"]  # alpha / m: each interval's own level
    summary = full.loc["model"]
    decision = report.ship().loc["model", "decision"]
    # The same splits read by weaker protocols, to show what the null would catch: the
    # corrected test without Bonferroni, and the plain paired t-test (which ignores the
    # overlap of the training sets) with it.
    others = {name: report.summary(**settings).loc["model", "verdict"]
              for name, settings in CONTRASTS.items()}
    rows = []
    for task, row in summary.iterrows():
        crit = stats.t.ppf(1 - level / 2, row["n_pairs"] - 1)
        rows.append(dict(kind=kind, effect=effect, replicate=i, rows=n_rows, cv=cv,
                         n_repeats=n_repeats, task=task, verdict=row["verdict"],
                         delta=row["delta"], se=(row["ci_high"] - row["ci_low"]) / (2 * crit),
                         mde=row["mde"], reference_mean=row["reference_mean"],
                         decision=decision,
                         **{f"verdict_{name}": v[task] for name, v in others.items()}))
    return rows


# Task 0's weight on x_0 for a moderate and a clear loss at 2,000 rows (the null's is 0.8).
SEQ_PLANTED = {"moderate": 1.3, "clear": 2.0}
SEQ_MARGIN = 0.05


def look_by_look(report: TransferReport, spending: str, margin) -> tuple:
    """What ``compare_transfer(sequential=spending)`` reports on ``report``'s splits: the
    repeats it runs, its summary (the looks read the first repeats' scores) and why it
    stopped (``look_decision``: "settled", "futile" or None)."""
    most = report.n_repeats
    for ran in range(1, most + 1):
        part = TransferReport(
            report.scores[report.scores["repeat"] < ran], metric=report.metric,
            n_folds=report.n_folds, n_repeats=ran, test_train_ratio=report.test_train_ratio,
            alpha=ALPHA, margin=margin,
            sequential=dict(spending=spending, max_repeats=most, repeats_run=ran, stop_reason=""))
        decision, _ = look_decision(part)
        if decision is not None:
            break
    return ran, part.summary(), decision


def sequential_replicate(i: int, n_rows: int, cv: int, n_repeats: int) -> list:
    """One fixed compare per scenario, read by the fixed and both sequential designs."""
    seeds = np.random.SeedSequence([GENERATOR_SEED, i]).generate_state(2) % (2**31 - 1)
    fitted = {}
    for name, weight in (("null", None), *SEQ_PLANTED.items()):
        X, Y = draw(n_rows, i, weight)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted[name] = compare_transfer(
                {"model": without(0, int(seeds[0]))}, X, Y, reference=without(1, int(seeds[1])),
                cv=cv, n_repeats=n_repeats, random_state=i, alpha=ALPHA)
    rows = []
    readings = [("null, margin 0.05", "null", SEQ_MARGIN), ("null, margin 0.005", "null", None),
                *((f"{name} loss, margin 0.05", name, SEQ_MARGIN) for name in SEQ_PLANTED)]
    for scenario, name, margin in readings:
        report = fitted[name]
        fixed = report.summary(margin=margin)
        for design in ("fixed", *SPENDING):
            ran, summary, decision = ((report.n_repeats, fixed, None) if design == "fixed"
                                      else look_by_look(report, design, margin))
            for task, row in summary.loc["model"].iterrows():
                rows.append(dict(scenario=scenario, design=design, replicate=i, rows=n_rows,
                                 task=task, verdict=row["verdict"], delta=row["delta"],
                                 repeats=ran, stopped=decision or "last look",
                                 agrees=row["verdict"] == fixed.loc[
                                     ("model", task), "verdict"]))
    return rows


def sequential_table(frame: pd.DataFrame) -> str:
    """Per scenario and design: false outcomes, task 0's power, repeats, agreement."""
    lines = ["| scenario | design | reports | any false outcome [Wilson 95 %] | task 0 below 0 "
             "(power) | mean repeats (fits vs fixed) | stopped: settled / futile / last look "
             "| every outcome as the fixed design's |",
             "|---|---|---|---|---|---|---|---|"]
    for (scenario, design), block in frame.groupby(["scenario", "design"], sort=False):
        per = block.groupby("replicate")
        n = per.ngroups
        null = scenario.startswith("null")
        # The true delta is 0 on every task of the null, on tasks 1 and 2 of a planted loss.
        zero = block if null else block[block["task"] != "task_0"]
        false = zero.groupby("replicate")["verdict"].agg(lambda v: v.isin(FALSE_UNDER_NULL).any())
        if not null:  # task 0 loses: "better" is false there too
            t0 = block[block["task"] == "task_0"].set_index("replicate")["verdict"]
            false = false | (t0 == "better").reindex(false.index, fill_value=False)
            below = int(t0.isin(("worse", "worse within margin")).sum())
            power = f"{_rate(below, n)} (mean delta {block[block['task'] == 'task_0']['delta'].mean():+.4f})"
        else:
            power = "—"
        repeats = per["repeats"].first()
        fixed_repeats = frame[(frame["scenario"] == scenario) & (frame["design"] == "fixed")][
            "repeats"].iloc[0]
        agree = int(per["agrees"].all().sum())
        stopped = per["stopped"].first().value_counts() if "stopped" in block else {}
        how = " / ".join(str(int(stopped.get(k, 0))) for k in ("settled", "futile", "last look"))
        lines.append(f"| {scenario} | {design} | {n} | {_rate(int(false.sum()), n)} | {power} | "
                     f"{repeats.mean():.2f} ({100 * repeats.mean() / fixed_repeats:.0f} %) | "
                     f"{how} | {_rate(agree, n)} |")
    return "\n".join(lines)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion k / n."""
    if n == 0:
        return np.nan, np.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k} / {n} = {100 * k / n:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"


def null_table(frame: pd.DataFrame) -> str:
    """Rates of each outcome and decision over null replicates, with Wilson intervals."""
    per = frame.groupby("replicate")
    n = per.ngroups
    any_false = int(per["verdict"].agg(lambda v: v.isin(FALSE_UNDER_NULL).any()).sum())
    decisions = per["decision"].first()
    n_tests = len(frame)
    lines = ["| quantity | counted over | false? | rate [Wilson 95 %] |", "|---|---|---|---|",
             f"| **any false outcome in the report** (family-wise) | {n} reports | false | "
             f"**{_rate(any_false, n)}** |"]
    for name, label in (("no_correction", "corrected t-test, no Bonferroni (each interval 95 %)"),
                        ("plain_t", "plain paired t-test, Bonferroni")):
        column = f"verdict_{name}"
        if column in frame:
            k = int(per[column].agg(lambda v: v.isin(FALSE_UNDER_NULL).any()).sum())
            lines.append(f"| contrast: any false outcome, {label} | {n} reports | false | "
                         f"{_rate(k, n)} |")
    for verdict in OUTCOMES:
        k = int((frame["verdict"] == verdict).sum())
        false = "false" if verdict in FALSE_UNDER_NULL else "true"
        lines.append(f"| outcome \"{verdict}\" | {n_tests} (report, task) pairs | {false} | "
                     f"{_rate(k, n_tests)} |")
    for decision in DECISIONS:
        k = int((decisions == decision).sum())
        false = "false" if decision == "cannot ship" else "true"
        lines.append(f"| decision \"{decision}\" | {n} reports | {false} | {_rate(k, n)} |")
    # Does the corrected standard error cover the spread of the delta over data sets?
    spread = frame.groupby("task")["delta"].std(ddof=1)
    se = frame.groupby("task")["se"].apply(lambda s: float(np.sqrt(np.nanmean(s ** 2))))
    ratio = ", ".join(f"{t} {spread[t] / se[t]:.2f}" for t in spread.index)
    lines.append("")
    lines.append(f"sd over data sets of the mean delta / RMS corrected standard error: {ratio} "
                 "(1 = the corrected test's variance is right; below 1 = conservative). "
                 f"Mean delta {frame['delta'].mean():+.5f} (true 0); reference AUC "
                 f"{frame['reference_mean'].mean():.3f}; median MDE "
                 f"{frame['mde'].median():.4f}.")
    return "\n".join(lines)


def power_table(frame: pd.DataFrame) -> str:
    """Per planted effect: task 0's outcomes, the decisions, and false outcomes elsewhere."""
    lines = ["| planted loss (task 0) | reports | task 0 \"worse\" | task 0 \"worse within margin\" "
             "| task 0 either | \"cannot ship\" | \"can ship\" (false) | false outcome on tasks 1-2 "
             "| median MDE task 0 |", "|---|---|---|---|---|---|---|---|---|"]
    for effect, block in frame.groupby("effect"):
        t0 = block[block["task"] == "task_0"]
        rest = block[block["task"] != "task_0"]
        n = len(t0)
        decisions = block.groupby("replicate")["decision"].first()
        rest_false = int(rest.groupby("replicate")["verdict"].agg(
            lambda v: v.isin(FALSE_UNDER_NULL).any()).sum())
        worse = int((t0["verdict"] == "worse").sum())
        within = int((t0["verdict"] == "worse within margin").sum())
        lines.append(
            f"| {effect:.3f} AUC (measured mean delta {t0['delta'].mean():+.4f}) | {n} "
            f"| {_rate(worse, n)} | {_rate(within, n)} | {_rate(worse + within, n)} "
            f"| {_rate(int((decisions == 'cannot ship').sum()), n)} "
            f"| {_rate(int((decisions == 'can ship').sum()), n)} | {_rate(rest_false, n)} "
            f"| {t0['mde'].median():.4f} |")
    return "\n".join(lines)


PILOT_WEIGHTS = (0.8, 0.82, 0.84, 0.86, 0.88, 0.9, 0.92)


def pilot(train_rows: int, test_rows: int, seeds: int) -> str:
    """Task 0's true delta against its weight on x_0: large test sets, mean over seeds.

    Every weight uses the same data draws and model seeds (common random numbers: only the
    labels' dependence on x_0 changes), and 0.8, the null, has a true delta of exactly 0, so
    its measured delta is pure noise shared by the other weights: subtracting it seed by seed
    (a control variate) leaves the effect of the weight with a much smaller spread.
    """
    deltas = np.empty((len(PILOT_WEIGHTS), seeds, N_TASKS))
    for s in range(seeds):
        for k, weight in enumerate(PILOT_WEIGHTS):
            X, Y = draw(train_rows, 10_000 + s, weight)
            Xt, Yt = draw(test_rows, 20_000 + s, weight)
            pm = without(0, 2 * s + 1).fit(X, Y).predict_proba(Xt)
            pr = without(1, 2 * s + 2).fit(X, Y).predict_proba(Xt)
            deltas[k, s] = [roc_auc_score(Yt[:, t], pm[t][:, 1])
                            - roc_auc_score(Yt[:, t], pr[t][:, 1]) for t in range(N_TASKS)]
    adjusted = deltas[:, :, 0] - deltas[0, :, 0]
    lines = [f"{seeds} seeds, {train_rows:,} training rows, {test_rows:,} test rows", "",
             "| weight of x_0 in task 0 | raw delta task 0 (sd) | control-variate delta task 0 "
             "(sd) | raw delta task 1, task 2 |", "|---|---|---|---|"]
    for k, weight in enumerate(PILOT_WEIGHTS):
        raw = deltas[k, :, 0]
        lines.append(f"| {weight:.2f} | {raw.mean():+.5f} ({raw.std(ddof=1):.5f}) | "
                     f"{adjusted[k].mean():+.5f} ({adjusted[k].std(ddof=1):.5f}) | "
                     f"{deltas[k, :, 1].mean():+.5f}, {deltas[k, :, 2].mean():+.5f} |")
    curve = adjusted.mean(axis=1)
    for effect in (0.005, 0.01):
        # the weight where the (decreasing) control-variate curve crosses -effect
        lines.append(f"\nweight for a loss of {effect}: "
                     f"{np.interp(-effect, curve[::-1], np.array(PILOT_WEIGHTS)[::-1]):.4f}")
    return "\n".join(lines)


def run(kind: str, first: int, n: int, rows: int, cv: int, n_repeats: int,
        effects=(0.0,), csv: str | None = None) -> pd.DataFrame:
    """``n`` replicates; with several effects, replicate i runs each of them in turn (so a run
    stopped early has about as many of each)."""
    out = []
    start = time.perf_counter()
    for i in range(first, first + n):
        for effect in effects:
            block = replicate(kind, i, rows, cv, n_repeats, effect)
            out += block
            if csv:
                pd.DataFrame(block).to_csv(csv, mode="a", index=False, header=not _exists(csv))
        done = i - first + 1
        if done % max(1, n // 20) == 0 or done == n:
            print(f"  {kind}: {done}/{n} replicates, {time.perf_counter() - start:.0f} s",
                  flush=True)
    return pd.DataFrame(out)


def _exists(path: str) -> bool:
    from pathlib import Path

    return Path(path).exists()


def tables(frame: pd.DataFrame) -> str:
    parts = []
    for kind, title in (("null", "Null with data variance"), ("seed", "Seed-only null")):
        block = frame[frame["kind"] == kind]
        if len(block):
            s = block.iloc[0]
            parts.append(f"### {title}: {block['replicate'].nunique()} replicates, "
                         f"{s['rows']:,} rows, cv={s['cv']}, n_repeats={s['n_repeats']}, "
                         f"alpha={ALPHA}\n\n{null_table(block)}")
    block = frame[frame["kind"] == "power"]
    if len(block):
        s = block.iloc[0]
        parts.append(f"### Power: {s['rows']:,} rows, cv={s['cv']}, n_repeats={s['n_repeats']}, "
                     f"alpha={ALPHA}\n\n{power_table(block)}")
    return "\n\n".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few small replicates (CI)")
    parser.add_argument("--part", choices=["null", "seed", "power", "pilot", "sequential", "all"],
                        default="all", help="all = null and power")
    parser.add_argument("--replicates", type=int, default=1000, help="null replicates")
    parser.add_argument("--rows", type=int, default=2000, help="rows of a null data set")
    parser.add_argument("--power-replicates", type=int, default=100,
                        help="replicates per planted effect")
    parser.add_argument("--power-rows", type=int, default=200_000)
    parser.add_argument("--effects", type=float, nargs="+", default=sorted(PLANTED))
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--first", type=int, default=0, help="first replicate number")
    parser.add_argument("--csv", default=None, help="append the per-(report, task) rows here")
    parser.add_argument("--seq-replicates", type=int, default=200,
                        help="replicates of the sequential-against-fixed part")
    parser.add_argument("--seq-rows", type=int, default=2000)
    parser.add_argument("--seq-repeats", type=int, default=3)
    parser.add_argument("--table", default=None, metavar="CSV",
                        help="print the tables of rows saved with --csv (no fits)")
    args = parser.parse_args(argv)
    if args.table:
        frame = pd.read_csv(args.table)
        print(sequential_table(frame) if "design" in frame else tables(frame))
        return 0
    if args.quick:
        args.replicates, args.rows, args.power_replicates, args.power_rows = 6, 1000, 2, 5000
        args.seq_replicates, args.seq_rows = 2, 1000
    start = time.perf_counter()
    if args.part == "pilot":
        print(pilot(*((5000, 20_000, 2) if args.quick else (160_000, 500_000, 6))))
        return 0
    if args.part in ("sequential", "all"):
        rows, begin = [], time.perf_counter()
        for i in range(args.first, args.first + args.seq_replicates):
            block = sequential_replicate(i, args.seq_rows, args.cv, args.seq_repeats)
            rows += block
            if args.csv:
                pd.DataFrame(block).to_csv(args.csv, mode="a", index=False,
                                           header=not _exists(args.csv))
            done = i - args.first + 1
            if done % max(1, args.seq_replicates // 20) == 0:
                print(f"  sequential: {done}/{args.seq_replicates} replicates, "
                      f"{time.perf_counter() - begin:.0f} s", flush=True)
        print(f"### Sequential against fixed: {args.seq_rows:,} rows, cv={args.cv}, at most "
              f"{args.seq_repeats} repeats, alpha={ALPHA}\n\n{sequential_table(pd.DataFrame(rows))}")
        if args.part == "sequential":
            return 0
    frames = []
    for kind in ("null", "seed"):
        if args.part in (kind, "all") and not (kind == "seed" and args.part == "all"):
            frames.append(run(kind, args.first, args.replicates, args.rows, args.cv,
                              args.repeats, csv=args.csv))
    if args.part in ("power", "all"):
        frames.append(run("power", args.first, args.power_replicates, args.power_rows,
                          args.cv, args.repeats, args.effects, csv=args.csv))
    print(tables(pd.concat(frames, ignore_index=True)))
    print(f"\nwall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
