"""ESMM's point, measured: conversion-rate AUC over all impressions, entire-space vs clicked-only.

On ``make_ctr_cvr_data`` (purchases observed only after a click), in eight regimes (the share of
the click's user-item interest in the conversion, ``interest_share`` 0.6 or 1.0; clicks at
about 12 % or, with ``ctr_offset=-2``, 2.5 %; with the ``user_id`` / ``item_id`` columns, which
the nets embed, or without them), per seed: a fresh data set, a 70/30 split, then

* ``esmm``: ``MultiTaskRecommender("esmm")`` on (click, purchase), the entire-space cascade;
  its pCVR is ``predict_conditional_proba``;
* ``esmm_ips`` / ``esmm_dr``: the same with ``cascade_debias="ips"`` / ``"dr"`` (ESCM²);
* ``aitm``: ``MultiTaskRecommender("aitm")``, pCVR = min(pCTCVR / pCTR, 1);
* ``mmoe_cascade`` / ``hard_cascade``: MMoE / a shared bottom with ``cascade={"purchase": "click"}``;
* ``naive``: the same tower trained as one task on the purchase labels of clicked rows only
  (``architecture="single"``), the usual CVR model.

``--models`` picks some of them, ``--regimes default`` runs only the default regime with ids
(``interest_share=0.6``, about 12 % clicks). Fit times are also given relative to naive's.

Each pCVR is scored by ROC AUC against the latent conversion of *every* test impression (the
generator's ground truth) and against the latent conversion on the clicked test rows only; the
true pCVR's AUC is the ceiling. Writes ``docs/img/esmm_cvr.png`` and prints a Markdown table.

``--part movielens`` runs the same models and ``PerTaskLGBM`` on MovieLens 100K as an
entire-space cascade: every rating is an impression, click = rating >= 3, purchase = rating 5
(over all impressions, 0 where not clicked), the earliest 80 % of the ratings (by timestamp) to
train and the latest 20 % to test; the seeds only seed the models. Scored by ROC AUC of the
purchase over all test impressions (a cascade's and LightGBM's entire-space probability
``predict_proba``; naive's pCVR, which is what it ranks impressions by) and on the clicked test
rows (pCVR: ``predict_conditional_proba``; LightGBM's P(purchase) / P(click)).

    python benchmarks/bench_esmm.py [--quick] [--seeds 5] [--n-samples 50000]
        [--regimes all|default] [--models naive,esmm,...] [--csv scores.csv]
    python benchmarks/bench_esmm.py --part movielens [--seeds 3] [--max-epochs 12]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.datasets import make_ctr_cvr_data

LABELS = {"esmm": "ESMM (entire space)", "esmm_ips": "ESMM + IPS (ESCM²)",
          "esmm_dr": "ESMM + DR (ESCM²)", "aitm": "AITM", "mmoe_cascade": "MMoE + cascade",
          "hard_cascade": "hard + cascade", "naive": "naive CVR (clicked rows)",
          "truth": "true pCVR (ceiling)"}
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
MODELS = (*ENTIRE_SPACE, "naive")


# (interest_share, ctr_offset, keep the id columns)
REGIMES = tuple((share, offset, ids) for ids in (True, False) for share in (0.6, 1.0)
                for offset in (0.0, -2.0))


def run(seeds, n_samples: int, max_epochs: int, regimes=REGIMES, models=MODELS) -> pd.DataFrame:
    rows = []
    for share, offset, ids in regimes:
        rows += _run_regime(seeds, n_samples, max_epochs, share, offset, ids, models)
    return pd.DataFrame(rows)


def _run_regime(seeds, n_samples, max_epochs, share, offset, ids, models=MODELS):
    rows = []
    for seed in seeds:
        data = make_ctr_cvr_data(n_samples=n_samples, interest_share=share, ctr_offset=offset,
                                 random_state=seed, return_bunch=True)
        index = np.arange(n_samples)
        train, test = train_test_split(index, test_size=0.3, random_state=seed)
        X, Y = data.data, data.target
        if not ids:
            X = X.drop(columns=["user_id", "item_id"])
        X_train, Y_train, X_test = X.iloc[train], Y.iloc[train], X.iloc[test]
        conversion = data.conversion[test]
        clicked = Y["click"].to_numpy()[test] == 1
        regime = dict(interest_share=share, ctr_offset=offset, ids=ids,
                      click_rate=float(Y["click"].to_numpy()[train].mean()))
        common = dict(random_state=seed, max_epochs=max_epochs)
        pctr = data.pctr[test]
        start_rows = len(rows)
        rows.append({**regime, **_row(seed, "truth", data.pcvr[test], conversion, clicked, 0.0)})
        for name in models:
            if name == "naive":
                continue
            model = MultiTaskRecommender(**ENTIRE_SPACE[name], **common)
            start = time.perf_counter()
            model.fit(X_train, Y_train)
            seconds = time.perf_counter() - start
            pcvr = model.predict_conditional_proba(X_test)[1][:, 1]
            click = model.predict_proba(X_test)[0][:, 1]
            rows.append({**regime, **_row(seed, name, pcvr, conversion, clicked, seconds),
                         "epochs": model.n_epochs_,
                         # The click tower against the true pCTR: ESMM divides by it.
                         "ctr_auc": roc_auc_score(Y["click"].to_numpy()[test], click),
                         "ctr_corr": float(np.corrcoef(click, pctr)[0, 1])})
        if "naive" in models:
            on_click = Y_train["click"].to_numpy() == 1
            naive = MultiTaskRecommender("single", **common)
            start = time.perf_counter()
            naive.fit(X_train[on_click], Y_train["purchase"][on_click].astype(int))
            seconds = time.perf_counter() - start
            pcvr = naive.predict_proba(X_test)[:, 1]
            rows.append({**regime, **_row(seed, "naive", pcvr, conversion, clicked, seconds),
                         "epochs": naive.n_epochs_})
        print(pd.DataFrame(rows[start_rows:]).to_string(index=False), flush=True)
    return rows


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
                fit_s=seconds)


def table(scores: pd.DataFrame) -> str:
    """Mean ± sd per regime and model, each model's per-seed delta to naive, fit time / naive's."""
    lines = ["| ids | interest_share | clicks | model | CVR AUC, all impressions |"
             " CVR AUC, clicked rows | − naive, per seed (ahead) | fit s (× naive) |",
             "|---|---|---|---|---|---|---|---|"]
    keys = ["ids", "interest_share", "ctr_offset"]
    # A seed run in pieces (--models) scores the true pCVR once per piece.
    scores = scores.drop_duplicates(subset=[*keys, "seed", "model"], keep="last")
    for (ids, share, _offset), part in scores.groupby(keys, sort=False):
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
            if name not in ("naive", "truth") and "naive" in wide:
                diff = (wide[name] - wide["naive"]).dropna()
                delta = (f"{diff.mean():+.4f}: {', '.join(f'{d:+.3f}' for d in diff)} "
                         f"({int((diff > 0).sum())} of {len(diff)})")
            fit = ""
            if name != "truth":
                fit = f"{rows['fit_s'].mean():.1f}"
                if np.isfinite(naive_fit) and naive_fit > 0:
                    fit += f" ({rows['fit_s'].mean() / naive_fit:.1f}×)"
            lines.append(f"| {'yes' if ids else 'no'} | {share} | {clicks} | {label} | {cells[0]} |"
                         f" {cells[1]} | {delta} | {fit} |")
    return "\n".join(lines)


def plot(scores: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(scores.groupby(["ids", "interest_share", "ctr_offset"], sort=False))
    n_cols = min(4, len(groups))
    n_rows = -(-len(groups) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 3.6 * n_rows), sharey=True,
                             squeeze=False)
    for ax, ((ids, share, _), part) in zip(axes.ravel(), groups):
        names = [name for name in LABELS if (part["model"] == name).any()]
        for i, name in enumerate(names):
            values = part.loc[part["model"] == name, "auc_all"]
            ax.scatter(np.full(len(values), i), values, alpha=0.6, s=14)
            ax.errorbar(i + 0.2, values.mean(), yerr=values.std(ddof=1) if len(values) > 1 else 0,
                        fmt="D", color="black", capsize=3, markersize=4)
        ax.set_xticks(range(len(names)), [LABELS[n].replace(" (", "\n(").replace(" + ", " +\n")
                                          for n in names], fontsize=7, rotation=45)
        ax.set_title(f"{'with' if ids else 'without'} id columns, interest_share={share}\n"
                     f"clicks {100 * part['click_rate'].mean():.1f} %", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("CVR AUC over all test impressions\n(vs latent conversion)")
    fig.suptitle(f"make_ctr_cvr_data, {scores['seed'].nunique()} seeds (dots), mean ± sd",
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("generator", "movielens"), default="generator",
                        help="movielens: MovieLens 100K as a cascade, time-ordered 80/20")
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
    parser.add_argument("--n-samples", type=int, default=50000)
    parser.add_argument("--csv", type=Path, default=None,
                        help="append the per-seed scores to this CSV and plot all of it")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "docs/img/esmm_cvr.png")
    args = parser.parse_args(argv)
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
    models = tuple(m for m in args.models.split(",") if m)
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"--models: unknown {unknown}; use some of {', '.join(MODELS)}")
    seeds, n_samples, epochs = args.seeds, args.n_samples, args.max_epochs
    regimes = REGIMES if args.regimes == "all" else REGIMES[:1]
    if args.quick:
        seeds, n_samples, epochs, regimes = 1, 2000, 1, REGIMES[:1]
    scores = run(range(args.first_seed, args.first_seed + seeds), n_samples, epochs, regimes,
                 models)
    if args.csv is not None:
        if args.csv.exists():
            scores = pd.concat([pd.read_csv(args.csv), scores], ignore_index=True)
        scores.to_csv(args.csv, index=False)
    print()
    print(table(scores))
    if not args.quick:
        plot(scores, args.out)


if __name__ == "__main__":
    main()
