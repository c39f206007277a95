"""A TransferReport in words: its header, the per-model sentences, the Markdown and the repr."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._stats import TESTS, repeats_to_halve
from ._where import where_lines

_P_NAMES = {"bonferroni": "Bonferroni p", None: "p"}
_UNITS = {"r2": "R²", "roc_auc": "AUC", "gauc": "GAUC", "average_precision": "AP",
          "accuracy": "accuracy", "log_loss": "log loss", "rmse": "RMSE", "mae": "MAE"}
# Metrics scored in [0, 1], whose deltas lie in [-1, 1]: an interval reaching past that sizes
# nothing, and its bounds are not printed. R² can fall below -1, so its bounds are printed, but
# an interval that spans 0 and a loss of 1 (the whole explained variance) sizes nothing either.
_UNIT_RANGE = {"roc_auc", "gauc", "average_precision", "accuracy"}


def _number(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:+.3f}".replace("-", "−")


def _p(x: float) -> str:
    return "= n/a" if not np.isfinite(x) else "< 0.001" if x < 0.001 else f"= {x:.3f}"


def _unit(metric: str) -> str:
    return _UNITS.get(metric, metric.upper() if metric.startswith("ndcg") else metric)


def _bounded(metric: str) -> bool:
    return metric in _UNIT_RANGE or metric.startswith("ndcg")


def _percent(x: float) -> str:
    """``x`` as a percentage with the decimals it needs (95%, 98.75%, 99.9%, 99.17%), never
    rounded up to 100% below 1."""
    value = 100 * x
    digits = next((d for d in range(3) if abs(round(value, d) - value) < 1e-9), 2)
    while value < 100 and float(f"{value:.{digits}f}") >= 100 and digits < 9:
        digits += 1
    return f"{value:.{digits}f}%"


def _nan_note(report) -> str:
    scores = report.scores
    missing = scores[scores["score"].isna()]
    if not len(missing):
        return ""
    counts = missing.groupby(["model", "task"], sort=False).size()
    n_splits = scores["fold"].nunique()
    return "; NaN fold scores left out: " + ", ".join(
        f"{m} on {t} ({n} of {n_splits})" for (m, t), n in counts.items())


def reference_name(report) -> str:
    """How the report names its reference: a ``PerDomain`` reference names itself."""
    return getattr(report, "reference_label", None) or "the single-task reference"


def protocol(report, alpha, test, correction) -> str:
    """The header: resampling, metric, reference, test, correction, and the NaN folds."""
    metrics = set(report.metric.values())
    named = (f"metric {metrics.pop()}" if len(metrics) == 1
             else "metrics " + ", ".join(f"{t}: {m}" for t, m in report.metric.items()))
    resampling = f"{report.n_folds}-fold CV" + (" grouped by groups=" if report.grouped else "")
    if report.n_repeats > 1:
        resampling += f" × {report.n_repeats} repeats"
    design = getattr(report, "sequential", None)
    if design:  # compare_transfer(sequential=...): the intervals are the stopping look's
        resampling += (f" (sequential, {design['spending']}-type alpha spending over at most "
                       f"{design['max_repeats']} repeats: {design['stop_reason']})")
    summary = report.summary(alpha, test, correction)
    n_tests = int(summary["p_value"].notna().sum())
    level = summary.attrs["interval_level"]
    if correction and n_tests > 1:
        adjusted = (f", {n_tests} intervals at {_percent(level)} each, simultaneous "
                    f"(Bonferroni): all verdicts hold together with {_percent(1 - alpha)} "
                    "confidence")
    else:
        adjusted = f", {_percent(level)} intervals" + ("" if correction or n_tests <= 1 else
                                                       ", no multiplicity correction")
    return (f"{resampling}, {named}, against {reference_name(report)} ({TESTS[test]}"
            f"{adjusted}){_cascade_note(report)}{_nan_note(report)}")


def _cascade_note(report) -> str:
    """What a cascaded child's score is (``compare_transfer(cascade_scoring=)``)."""
    cascade = getattr(report, "cascade", None) or {}
    if not cascade:
        return ""
    if getattr(report, "cascade_scoring", "entire_space") == "parent_positive":
        return "; cascaded " + ", ".join(
            f"{c!r} scored on the {p!r}-positive rows (a cascade's P({c} | {p}, x))"
            for c, p in cascade.items())
    return "; cascaded " + ", ".join(
        f"{c!r} scored over the entire space ({c} read 0 where {p} is 0; a cascade's "
        f"P({p} and {c} | x))" for c, p in cascade.items())


def _amount(value: float, metric: str) -> str:
    return f"{abs(value):.3f} {_unit(metric)}" if abs(value) < 10 else f"{abs(value):.3g} {_unit(metric)}"


def _interval(row, metric: str) -> str:
    return (f"{_number(row['delta'])} {_unit(metric)} [{_number(row['ci_low'])}, "
            f"{_number(row['ci_high'])}]")


def _worst_loss(row, greater_is_better: bool) -> float:
    """The largest loss the interval allows (positive = a loss)."""
    return -row["ci_low"] if greater_is_better else row["ci_high"]


def _task_phrase(report, task, row, settings) -> str:
    """One task of a model's line: its outcome, delta and interval, in the metric's units."""
    metric = report.metric[task]
    if row["note"]:
        return f"{task}: untested ({row['note']})"
    loss = _worst_loss(row, report.greater_is_better[task])
    # An interval past a [0, 1] metric's range of deltas (its bounds would be numbers no delta
    # can reach), or unbounded (the signed-rank test's, where its few pairs cannot reach the
    # level): only the delta is printed.
    unbounded = not (np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]))
    beyond = unbounded or (_bounded(metric) and not (-1 <= row["ci_low"] and row["ci_high"] <= 1))
    shown = f"{_number(row['delta'])} {_unit(metric)}" if beyond else _interval(row, metric)
    said = f"{task}: {row['verdict']}, {shown}"
    if row["verdict"] in ("worse", "worse within margin"):
        said += f" (margin {row['margin']:.3g})"
    if unbounded:
        said += (f", too few pairs for an interval at this level ({int(row['n_pairs'])}): it is "
                 "unbounded")
    elif beyond or (metric == "r2" and row["verdict"] == "inconclusive" and loss >= 1):
        said += (f", too noisy to size a {'gain' if row['verdict'] == 'better' else 'loss'} "
                 f"(the interval is wider than {_unit(metric)}'s range)")
    elif row["verdict"] == "inconclusive" and loss > row["margin"]:
        said += (f", could still hide a loss of up to {_amount(loss, metric)} "
                 f"(margin {row['margin']:.3g})")
    return said


def _what_would_help(report, row, settings) -> str:
    _, test, _, _ = settings
    if not (np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"])):
        return ": more repeats (more pairs) would give it a bounded interval"
    more = repeats_to_halve(int(row["n_pairs"]), report.n_folds, report.test_train_ratio, test)
    if more is not None:
        return f": about {more} more repeats would halve the interval"
    return (": more rows would narrow the interval (more repeats cannot: the corrected test's "
            "variance has a floor with overlapping training sets)")


def ship_line(report, model, decision, rows: pd.DataFrame, settings=None) -> str:
    """A model's one-line answer: the ship decision, then every task's outcome with its
    interval, the tasks that decide it first. ``settings``: (alpha, test, correction, margin)
    of ``rows``, the report's own by default."""
    settings = settings or (report.alpha, report.test, report.correction, report.margin)
    what = decision["decision"]
    head = {"can ship": "can ship — no task loses more than its margin",
            "cannot ship": "cannot ship", "undecided": "undecided"}[what]
    first = [t for t in decision["tasks"] if t in rows.index]
    order = [*first, *(t for t in rows.index if t not in first)]
    tasks = "; ".join(_task_phrase(report, t, rows.loc[t], settings) for t in order)
    unsettled = rows[~rows["non_inferior"] & (rows["note"] == "") & (rows["verdict"] != "worse")]
    help_ = ""
    if len(unsettled):
        help_ = " To settle it" + _what_would_help(report, unsettled.iloc[0], settings) + "."
    return f"{model}: {head}. {tasks}.{help_}"


def verdict_lines(report, summary: pd.DataFrame, overall: pd.DataFrame, settings) -> list[str]:
    """One line per model: the ship decision, then every task's outcome with its interval."""
    decisions = report.ship(*settings)
    return list(decisions["line"])


def tuning_line(report) -> str | None:
    """One sentence on the nested studies' budget, or None without nested tuning."""
    studies = report.tuning
    if studies is None or not len(studies):
        return None
    trials = studies["n_trials"]
    budget = f"{trials.iloc[0]} trials" if trials.nunique() == 1 else (
        f"{trials.min()}-{trials.max()} trials")
    models = ", ".join(map(str, dict.fromkeys(studies["model"])))
    line = (f"tuning: each model ({models}) had its own study of {budget} in each of "
            f"{studies['split'].nunique()} splits, on the split's training rows only, the first "
            f"trial its own defaults ({int(studies['n_pruned'].sum())} of {int(trials.sum())} "
            f"trials pruned; median {studies['seconds'].median():.1f} s a study)")
    if "best_params" in studies:
        kept = int(sum(not p for p in studies["best_params"]))
        line += f"; the defaults stayed best in {kept} of {len(studies)} studies"
    if "tuned" in studies and not studies["tuned"].all():
        untuned = studies[~studies["tuned"].astype(bool)]
        line += (f"; {len(untuned)} studies finished no trial and were scored with their "
                 "defaults, untuned: " + ", ".join(
                     f"{m} in split {s}" for m, s in zip(untuned["model"], untuned["split"])))
    return line


def suspect_line(report) -> str | None:
    """The fits far below their model's other splits (``suspect_fits``)."""
    table = report.suspect_fits()
    if not len(table):
        return None
    fits = "; ".join(f"{r.model} in split {r.split}, {r.task}: {r.metric} {r.score:.3f} against "
                     f"{r.others_median:.3f} in its other splits" for r in table.itertuples())
    return (f"suspect fits, far below the same model's other splits: {fits}. They are "
            "kept in (each widens its task's interval); refit that split with another seed to "
            "tell a failed fit from the data (report.suspect_fits()).")


def _cell(value, column) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "**yes**" if value else "no"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return "n/a"
        if column in ("n_params", "reference_n_params"):
            return f"{value:,.0f}"
        signed = ("delta", "ci_low", "ci_high", "mean_delta", "grad_cosine")
        return (f"{value:+.2%}" if column == "relative_delta"
                else f"{value:+.4f}" if column in signed else f"{value:.4f}")
    return str(value).replace("|", r"\|")


def summary_columns(table: pd.DataFrame) -> list[str]:
    """The summary's main columns (of ``summary().reset_index()``), those that say something here:
    the Markdown and the HTML tables show these."""
    columns = ["model", "task", "metric", "mean", "reference_mean", "delta", "ci_low", "ci_high",
               "p_adjusted", "n_pairs", "verdict", "negative_transfer"]
    if not table["shares_parameters"].all():
        columns.insert(-1, "significantly_worse")
    if table[["n_params", "reference_n_params"]].notna().any().any():
        columns += ["n_params", "reference_n_params"]
    if table["grad_cosine"].notna().any():
        columns.append("grad_cosine")
    return columns


def markdown(report, summary: pd.DataFrame, lines: list[str]) -> str:
    """The summary's main columns as a Markdown table, then one bullet per model."""
    table = summary.reset_index()
    columns = summary_columns(table)
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table[columns].itertuples(index=False):
        out.append("| " + " | ".join(_cell(v, c) for v, c in zip(row, columns)) + " |")
    tuned, suspect = tuning_line(report), suspect_line(report)
    lines = [*lines, *where_lines(report), *([suspect] if suspect else [])]
    return "\n".join([*out, "", *(f"- {line}" for line in lines),
                      *([f"- {tuned}"] if tuned else [])])


def text(report) -> str:
    """The repr: header, table, one sentence per model, capacity and gradient conflict."""
    summary = report.summary()
    cols = ["mean", "reference_mean", "delta", "ci_low", "ci_high", "margin", "verdict"]
    with pd.option_context("display.width", 120, "display.float_format", "{:.4f}".format):
        body = summary[cols].to_string()
    lines = report.verdict_lines()
    out = f"TransferReport: {report._protocol()}\n{body}\n" + "\n".join(lines)
    out += "".join(f"\n{line}" for line in where_lines(report))
    suspect = suspect_line(report)
    if suspect:
        out += f"\n{suspect}"
    tuned = tuning_line(report)
    if tuned:
        out += f"\n{tuned}"
    if report.fits_reused:
        total = report.scores["fold"].nunique() * (len(report._models()) + 1)
        out += (f"\nstorage: {report.fits_reused} of {total} fits taken from storage= (finished "
                "before, not refitted)")
    counts = {m: c for m, c in report.n_params.items() if np.isfinite(c)}
    if counts:
        out += "\ntrainable parameters: " + ", ".join(f"{m} {c:,.0f}" for m, c in counts.items())
    final = report._final_cosines()
    if len(final):
        means = final.groupby("model", sort=False)["cosine"].mean()
        out += ("\ngradient cosine on the shared parameters, last epoch (mean over folds and "
                "task pairs): " + ", ".join(f"{m} {c:+.3f}" for m, c in means.items()))
    return out
