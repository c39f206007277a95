"""Recommender data at the defaults: integer ids, small data, cold start (issue 13).

    python benchmarks/bench_recsys_data.py ids         # 2,000-row click/purchase CSV from MovieLens
    python benchmarks/bench_recsys_data.py small       # 8,400 census rows, max_epochs=4
    python benchmarks/bench_recsys_data.py census ARCH # census at defaults, 70/30 split, seed 0
    python benchmarks/bench_recsys_data.py coldstart [ARCH ...]  # time-ordered MovieLens split

Each part prints a Markdown table (copied into docs/recommender-data.md).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import train_test_split

from sklearn_mtl import MultiTaskRecommender
from sklearn_mtl.datasets import fetch_census_income, fetch_movielens_100k
from sklearn_mtl.metrics import per_task_scores

SEEDS = (0, 1, 2)


def click_purchase_csv(seed: int = 0) -> pd.DataFrame:
    """2,000 events of the 60 most active users on the 150 most rated movies, ids as int64.

    click = rating >= 4, purchase = rating == 5: what a CSV export of an event log looks like.
    """
    bunch = fetch_movielens_100k()
    frame = bunch.frame
    users = frame["user_id"].value_counts().index[:60]
    items = frame["item_id"].value_counts().index[:150]
    rows = frame[frame["user_id"].isin(users) & frame["item_id"].isin(items)]
    rows = rows.sample(2000, random_state=seed)
    return pd.DataFrame({
        "user_id": rows["user_id"].astype(np.int64).to_numpy(),
        "item_id": rows["item_id"].astype(np.int64).to_numpy(),
        "age": rows["age"].to_numpy(),
        "release_year": rows["release_year"].to_numpy(),
        "click": (rows["rating"] >= 4).astype(int).to_numpy(),
        "purchase": (rows["rating"] == 5).astype(int).to_numpy(),
    })


def ids(only=None):
    data = click_purchase_csv()
    X, Y = data.drop(columns=["click", "purchase"]), data[["click", "purchase"]]
    X_tr, X_te, Y_tr, Y_te = train_test_split(X, Y, test_size=0.3, random_state=0)
    settings = {
        "before (ints scaled, batch 1024, no id dropout)":
            dict(categorical_features=None, batch_size=1024, id_dropout=0.0),
        "auto rule only (batch 1024)": dict(batch_size=1024, id_dropout=0.0),
        "ids scaled, new batch size and id dropout": dict(categorical_features=None),
        "new defaults (auto rule, batch auto, id dropout 0.01)": {},
    }
    print(f"click rate {Y['click'].mean():.3f}, purchase rate {Y['purchase'].mean():.3f}, "
          f"{X['user_id'].nunique()} users, {X['item_id'].nunique()} items")
    print("| setting | click AUC (mean ± std) | purchase AUC |\n|---|---|---|")
    for name, extra in settings.items():
        if only is not None and only not in name:
            continue
        click, purchase = [], []
        for seed in SEEDS:
            model = MultiTaskRecommender("hard", random_state=seed, **extra).fit(X_tr, Y_tr)
            s = per_task_scores(model, X_te, Y_te)
            click.append(s["click"])
            purchase.append(s["purchase"])
        print(f"| {name} | {np.mean(click):.3f} ± {np.std(click):.3f} | "
              f"{np.mean(purchase):.3f} ± {np.std(purchase):.3f} |", flush=True)


def small():
    X, Y = fetch_census_income(return_X_y=True)
    idx = np.random.default_rng(0).choice(len(X), size=12_000, replace=False)
    X, Y = X.iloc[idx], Y.iloc[idx]
    X_tr, X_te, Y_tr, Y_te = train_test_split(X, Y, test_size=0.3, random_state=0,
                                              stratify=Y["income"])
    print(f"{len(X_tr)} training rows, {len(X_te)} test rows, max_epochs=4")
    print("| architecture | batch_size | income AUC (seeds 0-2) | never-married AUC |\n|---|---|---|---|")
    for arch in ("hard", "soft", "mmoe"):
        for batch in (1024, "auto"):
            inc, mar = [], []
            for seed in SEEDS:
                model = MultiTaskRecommender(arch, batch_size=batch, max_epochs=4,
                                             random_state=seed).fit(X_tr, Y_tr)
                s = per_task_scores(model, X_te, Y_te)
                inc.append(s["income"])
                mar.append(s["never_married"])
            label = f"auto ({model.batch_size_})" if batch == "auto" else batch
            print(f"| {arch} | {label} | {np.mean(inc):.3f} ± {np.std(inc):.3f} "
                  f"(min {np.min(inc):.3f}) | {np.mean(mar):.3f} ± {np.std(mar):.3f} |", flush=True)


def census(arch: str):
    X, Y = fetch_census_income(return_X_y=True)
    X_tr, X_te, Y_tr, Y_te = train_test_split(X, Y, test_size=0.3, random_state=0,
                                              stratify=Y["income"])
    start = time.perf_counter()
    model = MultiTaskRecommender(arch, random_state=0).fit(X_tr, Y_tr)
    s = per_task_scores(model, X_te, Y_te)
    print(f"| {arch} | {s['income']:.4f} | {s['never_married']:.4f} | {model.n_epochs_} | "
          f"{model.batch_size_} | {time.perf_counter() - start:.0f} s |", flush=True)


def coldstart(archs=("hard", "mmoe")):
    bunch = fetch_movielens_100k()
    order = np.argsort(bunch.timestamp, kind="stable")
    X, Y = bunch.data.iloc[order].reset_index(drop=True), bunch.target.iloc[order].reset_index(drop=True)
    cut = int(0.8 * len(X))
    X_tr, X_te, Y_tr, Y_te = X.iloc[:cut], X.iloc[cut:], Y.iloc[:cut], Y.iloc[cut:]
    new_users = ~X_te["user_id"].isin(set(X_tr["user_id"]))
    print(f"train {len(X_tr)} ratings, test {len(X_te)}; test rows of users unseen in training: "
          f"{new_users.mean():.1%}")
    y = Y_te["rating"].to_numpy()
    mean_rmse = root_mean_squared_error(y, np.full(len(y), Y_tr["rating"].mean()))
    item_mean = Y_tr["rating"].groupby(X_tr["item_id"].astype(object)).mean()
    per_item = X_te["item_id"].astype(object).map(item_mean).astype(float)
    per_item = per_item.fillna(Y_tr["rating"].mean()).to_numpy()
    item_rmse = root_mean_squared_error(y, per_item)
    print("| model | rating RMSE (all test rows) | RMSE on new users | liked AUC |\n|---|---|---|---|")
    mean_new = root_mean_squared_error(y[new_users], np.full(new_users.sum(), Y_tr["rating"].mean()))
    print(f"| training mean | {mean_rmse:.4f} | {mean_new:.4f} | - |")
    print(f"| per-item mean | {item_rmse:.4f} | "
          f"{root_mean_squared_error(y[new_users], per_item[new_users]):.4f} | - |", flush=True)
    for arch in archs:
        for p in (0.0, 0.01, 0.1):
            rmse, rmse_new, auc = [], [], []
            for seed in SEEDS[:2]:
                model = MultiTaskRecommender(arch, tasks=["binary", "regression"], id_dropout=p,
                                             max_epochs=10, random_state=seed).fit(X_tr, Y_tr)
                pred = model.predict(X_te)[:, 1]
                rmse.append(root_mean_squared_error(y, pred))
                rmse_new.append(root_mean_squared_error(y[new_users], pred[new_users]))
                auc.append(per_task_scores(model, X_te, Y_te)["liked"])
            print(f"| {arch}, id_dropout={p} | {np.mean(rmse):.4f} ± {np.std(rmse):.4f} | "
                  f"{np.mean(rmse_new):.4f} | {np.mean(auc):.4f} |", flush=True)


if __name__ == "__main__":
    torch.set_num_threads(2)
    part = sys.argv[1]
    if part == "ids":
        ids(sys.argv[2] if len(sys.argv) > 2 else None)
    elif part == "coldstart":
        coldstart(tuple(sys.argv[2:]) or ("hard", "mmoe"))
    else:
        {"ids": ids, "small": small}.get(part, lambda: census(sys.argv[2]))()
