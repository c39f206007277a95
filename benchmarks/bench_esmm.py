"""ESMM's point, measured: conversion-rate AUC over all impressions, entire-space vs clicked-only.

On ``make_ctr_cvr_data`` (purchases observed only after a click, and a per-impression purchase
intent behind both that no column carries, ``intent_strength=1`` by default), in eight regimes
(the share of the click's user-item interest in the conversion, ``interest_share`` 0.6 or 1.0;
about 12 % or 2.3 % clicks, ``ctr_offset`` -0.25 or -2.4 at the default intent; with the
``user_id`` / ``item_id`` columns, which the nets embed, or without them), per seed: a fresh
data set, a 70/30 split, then

* ``esmm``: ``MultiTaskRecommender("esmm")`` on (click, purchase), the entire-space cascade;
  its pCVR is ``predict_conditional_proba``;
* ``esmm_ips`` / ``esmm_dr``: the same with ``cascade_debias="ips"`` / ``"dr"`` (ESCM²);
* ``aitm``: ``MultiTaskRecommender("aitm")``, pCVR = min(pCTCVR / pCTR, 1);
* ``mmoe_cascade`` / ``hard_cascade``: MMoE / a shared bottom with ``cascade={"purchase": "click"}``;
* ``mmoe``: MMoE on (click, purchase) without a cascade, the purchase missing off the clicked
  rows, pCVR = its purchase probability: sharing without the product structure;
* ``naive``: the same tower trained as one task on the purchase labels of clicked rows only
  (``architecture="single"``), the usual CVR model;
* ``random_rows``: a diagnostic, not a model one could train: the naive tower on as many
  *random* training impressions as there are clicked ones, with their latent conversions (no
  selection at all). Where it ranks better than naive, the selection costs naive something.

``--models`` picks some of them, ``--regimes default`` runs only the default regime with ids
(``interest_share=0.6``, about 12 % clicks). Fit times are also given relative to naive's.

Each pCVR is scored by ROC AUC against the latent conversion of *every* test impression (the
generator's ground truth) and against the latent conversion on the clicked test rows only. Three
rows come from the generator, not a model: the true pCVR with the intent (no model of ``X`` can
reach it), ``P(conversion | X)`` (the intent integrated out: the ceiling of a model of ``X``)
and ``P(conversion | click, X)``, which naive, ESMM's pCTCVR / pCTR and IPS / DR with a
propensity from ``X`` all estimate. Writes ``docs/img/esmm_cvr.png`` and prints a Markdown
table. With ``--csv`` each seed of each regime is appended as soon as it is done, and a rerun
skips the (regime, seed, model) rows the file already has: a long run can be stopped and resumed.

``--part selection`` fits no model: per intent strength, the generator's click rate, the
conversion rate of clicked and unclicked rows, and the AUC over all impressions of the true pCVR,
``P(conversion | X)`` and ``P(conversion | click, X)`` (the cost in ranking of estimating the
second in place of the first).

``--part movielens`` runs the same models and ``PerTaskLGBM`` on MovieLens 100K as an
entire-space cascade: every rating is an impression, click = rating >= 3, purchase = rating 5
(over all impressions, 0 where not clicked), the earliest 80 % of the ratings (by timestamp) to
train and the latest 20 % to test; the seeds only seed the models. Scored by ROC AUC of the
purchase over all test impressions (a cascade's and LightGBM's entire-space probability
``predict_proba``; naive's pCVR, which is what it ranks impressions by) and on the clicked test
rows (pCVR: ``predict_conditional_proba``; LightGBM's P(purchase) / P(click)).

    OMP_NUM_THREADS=1 python benchmarks/bench_esmm.py [--quick] [--seeds 5] [--n-samples 40000]
        [--regimes all|default] [--models naive,esmm,...] [--intent-strength 1]
        [--ctr-offsets -0.25,-2.4] [--csv scores.csv]
    python benchmarks/bench_esmm.py --part selection [--seeds 5] [--n-samples 40000]
    python benchmarks/bench_esmm.py --part movielens [--seeds 3] [--max-epochs 12]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.datasets import make_ctr_cvr_data

LABELS = {"esmm": "ESMM (entire space)", "esmm_ips": "ESMM + IPS (ESCM²)",
          "esmm_dr": "ESMM + DR (ESCM²)", "aitm": "AITM", "mmoe_cascade": "MMoE + cascade",
          "hard_cascade": "hard + cascade", "mmoe": "MMoE, no cascade",
          "naive": "naive CVR (clicked rows)",
          "random_rows": "naive tower, random rows' latent labels (diagnostic)",
          "truth": "true pCVR with the intent (unreachable)",
          "truth_x": "P(conversion given X) (ceiling from X)",
          "truth_click_x": "P(conversion given click, X) (what the models estimate)"}
TRUTHS = ("truth", "truth_x", "truth_click_x")
CASCADE = {"purchase": "click"}
# The entire-space models: name -> MultiTaskRecommender arguments (besides the seed).
ENTIRE_SPACE = {
    "esmm": dict(architecture="esmm"),
    "esmm_ips": dict(architecture="esmm", cascade_debias="ips"),
    "esmm_dr": dict(architecture="esmm", cascade_debias="dr"),
    "aitm": dict(architecture="aitm"),
    "mmoe_cascade": dict(architecture="mmoe", cascade=CASCADE),
    "hard_cascade": dict(architecture="hard", cascade=CASCADE),
}
MODELS = (*ENTIRE_SPACE, "mmoe", "naive", "random_rows")
REGIME_KEYS = ["ids", "interest_share", "ctr_offset", "intent_strength"]
# ctr_offset giving about 12 % and 2.3 % clicks at the generator's default intent (1.0).
CTR_OFFSETS = (-0.25, -2.4)


def all_regimes(offsets=CTR_OFFSETS):
    """(interest_share, ctr_offset, keep the id columns), the default regime first."""
    return tuple((share, offset, ids) for ids in (True, False) for share in (0.6, 1.0)
                 for offset in offsets)


def run(seeds, n_samples: int, max_epochs: int, regimes=None, models=MODELS,
        intent_strength: float = 1.0, csv: Path | None = None) -> pd.DataFrame:
    """Every regime, then every seed in it; with ``csv``, each (regime, seed) appended when
    done and the models it already holds skipped."""
    done = pd.read_csv(csv) if csv is not None and csv.exists() else None
    if done is not None and "intent_strength" not in done:  # before the generator's intent
        done = done.assign(intent_strength=0.0)
    rows = []
    for share, offset, ids in regimes or all_regimes():
        for seed in seeds:
            todo = models
            if done is not None:
                key = ((done["ids"] == ids) & np.isclose(done["interest_share"], share)
                       & np.isclose(done["ctr_offset"], offset)
                       & np.isclose(done["intent_strength"], intent_strength)
                       & (done["seed"] == seed))
                have = set(done.loc[key, "model"])
                todo = tuple(m for m in models if m not in have)
                if not todo:
                    continue
            part = _run_one(seed, n_samples, max_epochs, share, offset, ids, todo,
                            intent_strength)
            print(pd.DataFrame(part).to_string(index=False), flush=True)
            if csv is not None:
                pd.DataFrame(part).to_csv(csv, mode="a", header=not csv.exists(), index=False)
            rows += part
    return pd.DataFrame(rows)


def _run_one(seed, n_samples, max_epochs, share, offset, ids, models, intent_strength):
    data = make_ctr_cvr_data(n_samples=n_samples, interest_share=share, ctr_offset=offset,
                             intent_strength=intent_strength, random_state=seed,
                             return_bunch=True)
    train, test = train_test_split(np.arange(n_samples), test_size=0.3, random_state=seed)
    X, Y = data.data, data.target
    if not ids:
        X = X.drop(columns=["user_id", "item_id"])
    X_train, Y_train, X_test = X.iloc[train], Y.iloc[train], X.iloc[test]
    conversion = data.conversion[test]
    clicked = Y["click"].to_numpy()[test] == 1
    on_click = Y_train["click"].to_numpy() == 1
    regime = dict(ids=ids, interest_share=share, ctr_offset=offset,
                  intent_strength=intent_strength, click_rate=float(on_click.mean()))
    common = dict(random_state=seed, max_epochs=max_epochs)
    pctr = data.pctr[test]
    rows = [{**regime, **_row(seed, name, truth[test], conversion, clicked, 0.0)}
            for name, truth in (("truth", data.pcvr), ("truth_x", data.pcvr_given_x),
                                ("truth_click_x", data.pcvr_given_click_x))]
    for name in models:
        start = time.perf_counter()
        extra = {}
        if name in ENTIRE_SPACE:
            model = MultiTaskRecommender(**ENTIRE_SPACE[name], **common).fit(X_train, Y_train)
            seconds = time.perf_counter() - start
            pcvr = model.predict_conditional_proba(X_test)[1][:, 1]
            click = model.predict_proba(X_test)[0][:, 1]
        elif name == "mmoe":
            model = MultiTaskRecommender("mmoe", **common).fit(X_train, Y_train)
            seconds = time.perf_counter() - start
            proba = model.predict_proba(X_test)
            pcvr, click = proba[1][:, 1], proba[0][:, 1]
        else:
            if name == "naive":
                on, y = on_click, Y_train["purchase"].to_numpy()
            else:
                # As many random training impressions as clicked ones, their latent labels.
                on = np.zeros(len(train), dtype=bool)
                on[np.random.RandomState(seed).choice(len(train), size=int(on_click.sum()),
                                                      replace=False)] = True
                y = data.conversion[train]
            model = MultiTaskRecommender("single", **common).fit(X_train[on], y[on].astype(int))
            seconds = time.perf_counter() - start
            pcvr, click = model.predict_proba(X_test)[:, 1], None
        if click is not None:
            # The click tower against the clicks and the true pCTR: ESMM divides by it.
            extra = dict(ctr_auc=roc_auc_score(Y["click"].to_numpy()[test], click),
                         ctr_corr=float(np.corrcoef(click, pctr)[0, 1]))
        rows.append({**regime, **_row(seed, name, pcvr, conversion, clicked, seconds),
                     "epochs": model.n_epochs_, **extra})
    return rows


def selection(seeds, n_samples: int, strengths=(0.0, 0.5, 1.0, 1.5, 2.0),
              offsets=CTR_OFFSETS) -> pd.DataFrame:
    """The generator alone, no model: how much the intent separates the clicked rows from the
    others, and how much it costs a ranking to estimate P(conversion | click, X) in place of
    P(conversion | X), per intent strength (``interest_share=0.6``)."""
    rows = []
    for strength in strengths:
        for offset in offsets:
            for seed in seeds:
                data = make_ctr_cvr_data(n_samples=n_samples, ctr_offset=offset,
                                         intent_strength=strength, random_state=seed,
                                         return_bunch=True)
                clicked = data.target["click"].to_numpy() == 1
                conversion = data.conversion
                unclicked_x = ((data.pcvr_given_x - data.pctr_given_x * data.pcvr_given_click_x)
                               / (1 - data.pctr_given_x))
                rows.append(dict(
                    intent_strength=strength, ctr_offset=offset, seed=seed,
                    click_rate=clicked.mean(), conv_clicked=conversion[clicked].mean(),
                    conv_unclicked=conversion[~clicked].mean(),
                    odds=np.mean(data.pcvr_given_click_x / unclicked_x),
                    auc_truth=roc_auc_score(conversion, data.pcvr),
                    auc_x=roc_auc_score(conversion, data.pcvr_given_x),
                    auc_click_x=roc_auc_score(conversion, data.pcvr_given_click_x)))
    return pd.DataFrame(rows)


def selection_table(frame: pd.DataFrame) -> str:
    lines = ["| intent_strength | ctr_offset | clicks | conversion rate, clicked / unclicked rows |"
             " P(conv given click, X) / P(conv given no click, X), mean over rows |"
             " AUC, all impressions: true pCVR / P(conv given X) / P(conv given click, X) |"
             " cost of the selection in AUC |",
             "|---|---|---|---|---|---|---|"]
    for (strength, offset), part in frame.groupby(["intent_strength", "ctr_offset"], sort=False):
        m = part.mean(numeric_only=True)
        lines.append(f"| {strength:g} | {offset:g} | {100 * m['click_rate']:.1f} % |"
                     f" {m['conv_clicked']:.3f} / {m['conv_unclicked']:.3f} | {m['odds']:.2f} |"
                     f" {m['auc_truth']:.4f} / {m['auc_x']:.4f} / {m['auc_click_x']:.4f} |"
                     f" {m['auc_x'] - m['auc_click_x']:.4f} |")
    return "\n".join(lines)


MOVIELENS_MODELS = ("naive", "esmm", "esmm_ips", "esmm_dr", "aitm", "mmoe_cascade", "lgbm")


def movielens_cascade():
    """MovieLens 100K as (X, Y, train, test): click = rating >= 3, purchase = rating 5, the
    earliest 80 % of the ratings to train (a stable sort of the timestamps)."""
    from sklearn_mtl.datasets import fetch_movielens_100k

    data = fetch_movielens_100k(download_if_missing=False)
    rating = data.target["rating"].to_numpy()
    Y = pd.DataFrame({"click": (rating >= 3).astype(float), "purchase": (rating == 5).astype(float)})
    order = np.argsort(np.asarray(data.timestamp), kind="stable")
    cut = int(0.8 * len(order))
    return data.data, Y, order[:cut], order[cut:]


def run_movielens(seeds, max_epochs: int, models=MOVIELENS_MODELS) -> pd.DataFrame:
    from sklearn_mtl import PerTaskLGBM

    X, Y, train, test = movielens_cascade()
    X_train, Y_train, X_test = X.iloc[train], Y.iloc[train], X.iloc[test]
    purchase = Y["purchase"].to_numpy()[test]
    clicked = Y["click"].to_numpy()[test] == 1
    rows = []
    for seed in seeds:
        common = dict(random_state=seed, max_epochs=max_epochs)
        for name in models:
            start = time.perf_counter()
            if name == "naive":
                on_click = Y_train["click"].to_numpy() == 1
                model = MultiTaskRecommender("single", **common).fit(
                    X_train[on_click], Y_train["purchase"][on_click].astype(int))
                seconds = time.perf_counter() - start
                entire = conditional = model.predict_proba(X_test)[:, 1]
            elif name == "lgbm":
                model = PerTaskLGBM(random_state=seed, n_jobs=1, verbose=-1).fit(X_train, Y_train)
                seconds = time.perf_counter() - start
                proba = model.predict_proba(X_test)
                entire = proba[1][:, 1]
                conditional = np.minimum(entire / np.maximum(proba[0][:, 1], 1e-12), 1.0)
            else:
                model = MultiTaskRecommender(**ENTIRE_SPACE[name], **common).fit(X_train, Y_train)
                seconds = time.perf_counter() - start
                entire = model.predict_proba(X_test)[1][:, 1]
                conditional = model.predict_conditional_proba(X_test)[1][:, 1]
            rows.append(dict(seed=seed, model=name, auc_all=roc_auc_score(purchase, entire),
                             auc_clicked=roc_auc_score(purchase[clicked], conditional[clicked]),
                             fit_s=seconds, epochs=getattr(model, "n_epochs_", np.nan)))
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def movielens_table(scores: pd.DataFrame) -> str:
    """Mean ± sd per model over the seeds, the per-seed delta to naive, fit time / naive's."""
    lines = ["| model | purchase AUC, all test impressions | pCVR AUC, clicked test rows |"
             " − naive (all), per seed (ahead) | epochs | fit s (× naive) |",
             "|---|---|---|---|---|---|"]
    wide = scores.pivot(index="seed", columns="model", values="auc_all")
    naive_fit = scores.loc[scores["model"] == "naive", "fit_s"].mean()
    labels = {**LABELS, "lgbm": "PerTaskLGBM (entire space)"}
    for name in MOVIELENS_MODELS:
        rows = scores[scores["model"] == name]
        if rows.empty:
            continue
        cells = [f"{rows[c].mean():.4f} ± {rows[c].std(ddof=1) if len(rows) > 1 else 0:.4f}"
                 for c in ("auc_all", "auc_clicked")]
        delta = ""
        if name != "naive" and "naive" in wide:
            diff = (wide[name] - wide["naive"]).dropna()
            delta = (f"{diff.mean():+.4f}: {', '.join(f'{d:+.3f}' for d in diff)} "
                     f"({int((diff > 0).sum())} of {len(diff)})")
        epochs = "" if rows["epochs"].isna().all() else f"{rows['epochs'].mean():.1f}"
        fit = f"{rows['fit_s'].mean():.1f}"
        if np.isfinite(naive_fit) and naive_fit > 0:
            fit += f" ({rows['fit_s'].mean() / naive_fit:.1f}×)"
        lines.append(f"| {labels[name]} | {cells[0]} | {cells[1]} | {delta} | {epochs} | {fit} |")
    return "\n".join(lines)


def _row(seed, name, pcvr, conversion, clicked, seconds):
    return dict(seed=seed, model=name,
                auc_all=roc_auc_score(conversion, pcvr),
                auc_clicked=roc_auc_score(conversion[clicked], pcvr[clicked]),
                # Mean pCVR minus the latent conversion rate over all test impressions.
                mean_bias=float(pcvr.mean() - conversion.mean()),
                fit_s=seconds)


def table(scores: pd.DataFrame) -> str:
    """Mean ± sd per regime and model, each model's per-seed delta to naive (seeds in order),
    the mean pCVR's bias and fit time / naive's."""
    lines = ["| ids | interest_share | clicks | model | CVR AUC, all impressions |"
             " CVR AUC, clicked rows | − naive, per seed (ahead) | mean pCVR − conversion rate |"
             " fit s (× naive) |",
             "|---|---|---|---|---|---|---|---|---|"]
    if "intent_strength" not in scores:  # written before the generator had an intent
        scores = scores.assign(intent_strength=0.0)
    # A seed run in pieces (--models) scores the generator's rows once per piece.
    scores = scores.drop_duplicates(subset=[*REGIME_KEYS, "seed", "model"], keep="last")
    for (ids, share, _offset, _intent), part in scores.groupby(REGIME_KEYS, sort=False):
        clicks = f"{100 * part['click_rate'].mean():.1f} %"
        wide = part.pivot(index="seed", columns="model", values="auc_all")
        naive_fit = part.loc[part["model"] == "naive", "fit_s"].mean()
        for name, label in LABELS.items():
            rows = part[part["model"] == name]
            if rows.empty:
                continue
            cells = [f"{rows[c].mean():.4f} ± {rows[c].std(ddof=1) if len(rows) > 1 else 0:.4f}"
                     for c in ("auc_all", "auc_clicked")]
            delta = ""
            if name != "naive" and "naive" in wide:
                diff = (wide[name] - wide["naive"]).dropna()
                delta = (f"{diff.mean():+.4f}: {', '.join(f'{d:+.3f}' for d in diff)} "
                         f"({int((diff > 0).sum())} of {len(diff)})")
            bias = f"{rows['mean_bias'].mean():+.3f}" if "mean_bias" in rows else ""
            fit = ""
            if name not in TRUTHS:
                fit = f"{rows['fit_s'].mean():.1f}"
                if np.isfinite(naive_fit) and naive_fit > 0:
                    fit += f" ({rows['fit_s'].mean() / naive_fit:.1f}×)"
            lines.append(f"| {'yes' if ids else 'no'} | {share} | {clicks} | {label} | {cells[0]} |"
                         f" {cells[1]} | {delta} | {bias} | {fit} |")
    return "\n".join(lines)


def delta_table(scores: pd.DataFrame) -> str:
    """One row per regime: naive's AUC over all impressions, then each other model's mean
    difference to it and the seeds on which it is ahead."""
    if "intent_strength" not in scores:
        scores = scores.assign(intent_strength=0.0)
    scores = scores.drop_duplicates(subset=[*REGIME_KEYS, "seed", "model"], keep="last")
    names = [n for n in LABELS if n not in ("naive", "truth") and (scores["model"] == n).any()]
    short = {"random_rows": "random rows (diagnostic)", "truth_x": "P(conv given X)",
             "truth_click_x": "P(conv given click, X)"}
    lines = ["| ids | interest_share | clicks | naive CVR | "
             + " | ".join(short.get(n, LABELS[n]) for n in names) + " |",
             "|---" * (4 + len(names)) + "|"]
    for (ids, share, _offset, _intent), part in scores.groupby(REGIME_KEYS, sort=False):
        wide = part.pivot(index="seed", columns="model", values="auc_all")
        if "naive" not in wide:
            continue
        cells = []
        for name in names:
            diff = (wide[name] - wide["naive"]).dropna() if name in wide else pd.Series()
            cells.append(f"{diff.mean():+.3f} ({int((diff > 0).sum())}/{len(diff)})"
                         if len(diff) else "")
        lines.append(f"| {'yes' if ids else 'no'} | {share} | "
                     f"{100 * part['click_rate'].mean():.1f} % | "
                     f"{wide['naive'].mean():.4f} ± {wide['naive'].std(ddof=1):.4f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(scores: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "intent_strength" not in scores:
        scores = scores.assign(intent_strength=0.0)
    scores = scores.drop_duplicates(subset=[*REGIME_KEYS, "seed", "model"], keep="last")
    groups = list(scores.groupby(REGIME_KEYS, sort=False))
    n_cols = min(4, len(groups))
    n_rows = -(-len(groups) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 4.0 * n_rows), sharey=True,
                             squeeze=False)
    # The models and the naive model's diagnostic twin; the ceiling of a model of X is in the
    # title (as a column it would squeeze the models' spread into a sliver).
    short = {"esmm": "ESMM", "esmm_ips": "ESMM + IPS", "esmm_dr": "ESMM + DR", "aitm": "AITM",
             "mmoe_cascade": "MMoE + cascade", "hard_cascade": "hard + cascade",
             "mmoe": "MMoE, no cascade", "naive": "naive CVR",
             "random_rows": "random rows\n(diagnostic)"}
    for ax, ((ids, share, _, intent), part) in zip(axes.ravel(), groups):
        names = [name for name in short if (part["model"] == name).any()]
        for i, name in enumerate(names):
            values = part.loc[part["model"] == name, "auc_all"]
            ax.scatter(np.full(len(values), i), values, alpha=0.6, s=14)
            ax.errorbar(i + 0.2, values.mean(), yerr=values.std(ddof=1) if len(values) > 1 else 0,
                        fmt="D", color="black", capsize=3, markersize=4)
        naive = part.loc[part["model"] == "naive", "auc_all"]
        if len(naive):
            ax.axhline(naive.mean(), color="grey", linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(names)), [short[n] for n in names], fontsize=7, rotation=90)
        ceiling = part.loc[part["model"] == "truth_x", "auc_all"]
        ceiling = f", P(conv | X) {ceiling.mean():.3f}" if len(ceiling) else ""
        ax.set_title(f"{'with' if ids else 'without'} id columns, interest_share={share}\n"
                     f"clicks {100 * part['click_rate'].mean():.1f} %, intent {intent:g}{ceiling}",
                     fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("CVR AUC over all test impressions\n(vs latent conversion)")
    fig.suptitle(f"make_ctr_cvr_data, {scores['seed'].nunique()} seeds (dots), mean ± sd; "
                 "dashed: naive CVR's mean", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def _offsets(text: str) -> tuple[float, float]:
    values = tuple(float(v) for v in text.split(","))
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: give two numbers, as -0.25,-2.4")
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("generator", "selection", "movielens"),
                        default="generator",
                        help="selection: the generator's selection bias per intent strength, no "
                        "model; movielens: MovieLens 100K as a cascade, time-ordered 80/20")
    parser.add_argument("--quick", action="store_true",
                        help="1 seed, 2,000 rows, 1 epoch, the default regime (CI smoke run)")
    parser.add_argument("--regimes", choices=("all", "default"), default="all",
                        help="default: only ids, interest_share=0.6, ~12 %% clicks")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="start at this seed (to split a long run into pieces)")
    parser.add_argument("--n-samples", type=int, default=40000)
    parser.add_argument("--intent-strength", type=float, default=1.0,
                        help="make_ctr_cvr_data's intent_strength (default: its default, 1)")
    parser.add_argument("--ctr-offsets", type=_offsets, default=CTR_OFFSETS,
                        help="the two ctr_offset values, many and few clicks (default: "
                             "-0.25,-2.4, about 12 %% and 2.3 %% clicks at the default intent)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: one core per run)")
    parser.add_argument("--csv", type=Path, default=None,
                        help="append each seed's scores to this CSV as it is done, skip what it "
                             "already holds, and table and plot all of it")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "docs/img/esmm_cvr.png")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.part == "movielens":
        seeds, epochs = (1, 1) if args.quick else (args.seeds, args.max_epochs)
        scores = run_movielens(range(args.first_seed, args.first_seed + seeds), epochs)
        if args.csv is not None:
            if args.csv.exists():
                scores = pd.concat([pd.read_csv(args.csv), scores], ignore_index=True)
            scores.to_csv(args.csv, index=False)
        print()
        print(movielens_table(scores))
        return
    if args.part == "selection":
        seeds, n_samples = (1, 2000) if args.quick else (args.seeds, args.n_samples)
        frame = selection(range(args.first_seed, args.first_seed + seeds), n_samples,
                          offsets=args.ctr_offsets)
        print(selection_table(frame))
        return
    models = tuple(m for m in args.models.split(",") if m)
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"--models: unknown {unknown}; use some of {', '.join(MODELS)}")
    seeds, n_samples, epochs = args.seeds, args.n_samples, args.max_epochs
    regimes = all_regimes(args.ctr_offsets)
    regimes = regimes if args.regimes == "all" else regimes[:1]
    if args.quick:
        seeds, n_samples, epochs, regimes = 1, 2000, 1, regimes[:1]
    scores = run(range(args.first_seed, args.first_seed + seeds), n_samples, epochs, regimes,
                 models, args.intent_strength, args.csv)
    if args.csv is not None and args.csv.exists():
        scores = pd.read_csv(args.csv)
    print()
    print(table(scores))
    print()
    print(delta_table(scores))
    if not args.quick and len(scores):
        plot(scores, args.out)


if __name__ == "__main__":
    main()
