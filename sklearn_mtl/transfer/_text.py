"""A TransferReport in words: its header, the per-model sentences, the Markdown and the repr."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._stats import mde_floor, repeats_to_halve

_TEST_NAMES = {"corrected": "corrected resampled t-test", "ttest": "paired t-test",
               "wilcoxon": "Wilcoxon signed-rank test"}
_P_NAMES = {"holm": "Holm p", "bh": "BH p", None: "p"}
_UNITS = {"r2": "R²", "roc_auc": "AUC"}


def _number(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:+.3f}".replace("-", "−")


def _p(x: float) -> str:
    return "= n/a" if not np.isfinite(x) else "< 0.001" if x < 0.001 else f"= {x:.3f}"


def _nan_note(report) -> str:
    scores = report.scores
    missing = scores[scores["score"].isna()]
    if not len(missing):
        return ""
    counts = missing.groupby(["model", "task"], sort=False).size()
    n_splits = scores["fold"].nunique()
    return "; NaN fold scores left out: " + ", ".join(
        f"{m} on {t} ({n} of {n_splits})" for (m, t), n in counts.items())


def protocol(report, alpha, test, correction) -> str:
    """The header: resampling, metric, reference, test, correction, and the NaN folds."""
    metrics = set(report.metric.values())
    named = (f"metric {metrics.pop()}" if len(metrics) == 1
             else "metrics " + ", ".join(f"{t}: {m}" for t, m in report.metric.items()))
    resampling = f"{report.n_folds}-fold CV" + (" grouped by groups=" if report.grouped else "")
    if report.n_repeats > 1:
        resampling += f" × {report.n_repeats} repeats"
    n_tests = len(report.metric) * len(report._models())
    adjusted = f", {correction.upper() if correction == 'bh' else 'Holm'} over {n_tests} tests" \
        if correction else ", no multiplicity correction"
    return (f"{resampling}, {named}, against the single-task reference ({_TEST_NAMES[test]}"
            f"{adjusted}, alpha={alpha}){_cascade_note(report)}{_nan_note(report)}")


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


def _effect(row, task, report, p_name) -> str:
    unit = _UNITS.get(report.metric[task], report.metric[task])
    return (f"{task}: {_number(row['delta'])} {unit} [{_number(row['ci_low'])}, "
            f"{_number(row['ci_high'])}], {p_name} {_p(row['p_adjusted'])}")


def _size(value: float, task, report) -> str:
    unit = _UNITS.get(report.metric[task], report.metric[task])
    return f"{abs(value):.3g} {unit}"


def _hidden_effects(report, rows: pd.DataFrame, summary: pd.DataFrame, settings) -> str:
    """For the inconclusive tasks: how large an effect could hide, and what would shrink it."""
    alpha, test, correction, _ = settings
    hidden = rows[(rows["verdict"] == "inconclusive") & rows["mde"].notna()]
    if not len(hidden):
        return ""
    sizes = " and ".join(f"{_size(r['mde'], t, report)} on {t}" for t, r in hidden.iterrows())
    text = f"; an effect smaller than {sizes} could hide here"
    n_pairs = int(hidden["n_pairs"].max())
    more = repeats_to_halve(n_pairs, report.n_folds, report.test_train_ratio, test)
    if more is not None:
        return text + f" (about {more} more repeats would halve that)"
    level = report._mde_alpha(alpha, correction, int(summary["p_value"].notna().sum()))
    floors = " and ".join(
        _size(mde_floor(r["mde"], int(r["n_pairs"]), report.test_train_ratio, alpha=level), t,
              report) for t, r in hidden.iterrows())
    return text + f" (no number of repeats gets below {floors}; more rows would)"


def verdict_lines(report, summary: pd.DataFrame, overall: pd.DataFrame, settings) -> list[str]:
    """One sentence per model, from the per-task verdicts and the per-model "any task" test."""
    _, _, correction, _ = settings
    p_name = _P_NAMES[correction]
    lines = []
    for model in report._models():
        rows, total, shares = summary.loc[model], overall.loc[model], report.shared[str(model)]
        worse, better = rows[rows["verdict"] == "worse"], rows[rows["verdict"] == "better"]
        parts = []
        if len(worse):
            verb = "hurts" if shares else "scores below the single-task reference on"
            parts.append(f"{verb} " + "; ".join(_effect(r, t, report, p_name)
                                                for t, r in worse.iterrows()))
        if len(better):
            verb = "helps" if shares else "scores above the single-task reference on"
            parts.append(f"{verb} " + "; ".join(_effect(r, t, report, p_name)
                                                for t, r in better.iterrows()))
        mean = (f"mean Δ over tasks {_number(total['mean_delta'])} [{_number(total['ci_low'])}, "
                f"{_number(total['ci_high'])}], {p_name} {_p(total['p_adjusted'])}")
        if parts:
            line = f"{model} " + ", and ".join(parts)
        elif (rows["note"] != "").all() and not total["n_pairs"]:
            line = (f"{model}: nothing could be tested, no split has a score for every task of "
                    "both this model and the reference (single-row or single-class test folds?)")
        elif total["verdict"] == "worse":
            line = (f"{model} hurts the tasks on average ({mean}), most on "
                    f"{total['worst_task']}; no single task is significant")
        elif total["verdict"] == "better":
            line = f"{model} helps the tasks on average ({mean}); no single task is significant"
        elif (rows["verdict"] == "equivalent").all():
            line = (f"{model} is equivalent to the single-task reference on every task (each "
                    "interval within ±margin)")
        else:
            same = rows.index[rows["verdict"] == "equivalent"].tolist()
            line = (f"{model}: no clear effect on any task ({mean})"
                    + (f"; equivalent on {', '.join(same)}" if same else ""))
        line += _hidden_effects(report, rows, summary, settings)
        untested = rows[rows["note"] != ""]
        if len(untested):
            line += "; untested: " + ", ".join(f"{t} ({n})" for t, n in untested["note"].items())
        lines.append(line)
    return lines


def tuning_line(report) -> str | None:
    """One sentence on the nested studies' budget, or None without nested tuning."""
    studies = report.tuning
    if studies is None or not len(studies):
        return None
    trials = studies["n_trials"]
    budget = f"{trials.iloc[0]} trials" if trials.nunique() == 1 else (
        f"{trials.min()}-{trials.max()} trials")
    models = ", ".join(map(str, dict.fromkeys(studies["model"])))
    return (f"tuning: each model ({models}) had its own study of {budget} in each of "
            f"{studies['split'].nunique()} splits, on the split's training rows only "
            f"({int(studies['n_pruned'].sum())} of {int(trials.sum())} trials pruned; median "
            f"{studies['seconds'].median():.1f} s a study)")


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
    tuned = tuning_line(report)
    return "\n".join([*out, "", *(f"- {line}" for line in lines),
                      *([f"- {tuned}"] if tuned else [])])


def text(report) -> str:
    """The repr: header, table, one sentence per model, capacity and gradient conflict."""
    summary = report.summary()
    cols = ["mean", "reference_mean", "delta", "ci_low", "ci_high", "p_adjusted", "verdict"]
    with pd.option_context("display.width", 120, "display.float_format", "{:.4f}".format):
        body = summary[cols].to_string()
    lines = report.verdict_lines()
    out = f"TransferReport: {report._protocol()}\n{body}\n" + "\n".join(lines)
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
