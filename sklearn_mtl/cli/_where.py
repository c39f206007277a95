"""``sklearn-mtl compare --segments / --fused / --domains``: where sharing hurts, on what is served,
and one model for all domains against one per domain."""

from __future__ import annotations

import re
from pathlib import Path

MIN_DOMAIN_ROWS = 200
_TERM = re.compile(r"^\s*(?:([0-9.eE+-]+)\s*\*\s*)?([^*+]+?)\s*$")


def parse_segments(entries, X) -> dict:
    """``--segments`` entries as ``compare_transfer(segments=)``: ``COLUMN``, ``COLUMN:N`` (a
    numeric column in N quantile bins), ``COLUMN:activity`` (cold / warm / heavy ids by their
    training rows) or ``user_activity`` (the users of --group-by)."""
    import pandas as pd

    from ..transfer import ActivitySegments

    out = {}
    for entry in entries or []:
        column, _, how = entry.partition(":")
        if entry == "user_activity":
            out["user activity"] = "user_activity"
        elif how == "activity":
            out[f"{column} activity"] = ActivitySegments(column)
        elif how:
            if not how.isdigit() or int(how) < 2:
                raise ValueError(f"--segments {entry!r}: after the colon give 'activity' or a "
                                 "number of quantile bins >= 2 (age:4).")
            if column not in X.columns:
                raise ValueError(f"--segments {entry!r}: {column!r} is not a column of X.")
            # Bins of the feature alone (no label): the same for every split.
            out[column] = pd.qcut(X[column], int(how), duplicates="drop").astype(str).to_numpy()
        else:
            out[column] = column
    return out


def parse_fused(entries) -> list:
    """``--fused`` entries as FusedScores: ``click*purchase`` (a product, judged on the last
    task's label) or ``click+2*like`` (a weighted sum), each optionally ``...:ndcg@10``."""
    from ..transfer import FusedScore

    out = []
    for entry in entries or []:
        formula, _, metric = entry.partition(":")
        metric = metric or "gauc"
        if "+" in formula:
            terms = [_TERM.match(term) for term in formula.split("+")]
            if not all(terms):
                raise ValueError(f"--fused {entry!r} is not valid: write a sum as "
                                 "'click+2*like'.")
            weights = [float(t.group(1) or 1) for t in terms]
            out.append(FusedScore([t.group(2) for t in terms], how="sum", weights=weights,
                                  metric=metric))
        else:
            tasks = [t.strip() for t in formula.split("*")]
            if not all(tasks):
                raise ValueError(f"--fused {entry!r} is not valid: write a product as "
                                 "'click*purchase'.")
            out.append(FusedScore(tasks, metric=metric))
    return out


def where_options(args, X, Y, models: dict, reference):
    """``(X, Y, reference, compare_transfer keywords)`` for --segments, --fused and --domains."""
    from ..domains import PerDomain

    fused = parse_fused(getattr(args, "fused", None))
    if fused and args.group_by is None:
        raise ValueError("--fused scores the fused ranking per user: give --group-by COLUMN.")
    domain = getattr(args, "domains", None)
    if domain is not None:
        if domain not in X.columns:
            raise ValueError(f"--domains {domain!r} is not a column of X.")
        counts = X[domain].value_counts()
        small = counts.index[counts < MIN_DOMAIN_ROWS].tolist()
        dropped = X[domain].isna() | X[domain].isin(small)
        if dropped.any():
            # A model of its own needs rows of every class in every training split.
            print(f"  --domains: {int(dropped.sum())} rows left out: "
                  f"{int(X[domain].isna().sum())} without a {domain!r}, the others of domains "
                  f"with fewer than {MIN_DOMAIN_ROWS} rows {small}", flush=True)
            X, Y = X[~dropped.to_numpy()], Y[~dropped.to_numpy()]
        # One model for all domains (each compared model) against one per domain (the first).
        reference = PerDomain(next(iter(models.values())), domain)
    segments = parse_segments(getattr(args, "segments", None), X)
    if domain is not None:
        segments.setdefault(domain, domain)
        print(f"  --domains {domain!r}: the reference is one {next(iter(models))} per domain, "
              "compared domain by domain", flush=True)
    extra = {}
    if segments:
        extra["segments"] = segments
    if fused:
        extra["fused"] = fused
    return X, Y, reference, extra


def where_files(report) -> list[str]:
    """The file names --segments adds to a setting's outputs."""
    return ["segments.csv", "segments.png"] if report.segment_scores is not None else []


def write_where(report, out: Path, stem: str, title: str) -> None:
    """segments.csv and segments.png, with --segments or --domains."""
    if report.segment_scores is None:
        return
    import matplotlib.pyplot as plt

    from .._csv import write_csv

    write_csv(report.segments(), out / f"{stem}segments.csv")
    ax = report.plot_segments(title=title)
    ax.figure.savefig(out / f"{stem}segments.png", dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
